//! Each branch's calendar, and the signed policy bundles devices take from it.
//!
//! Staff keep a branch's calendar on the console's pages: its week of self-service and staffed
//! hours, what it does on each Finnish public holiday (closed, short hours, as usual: computed
//! for every year by `access::holidays`), and its own named exceptions. Every change is signed
//! at once into a new bundle (`allowlist::envelope`, purpose policy, scope the branch) with the
//! console's policy key: the holidays and exceptions as dated days from yesterday to
//! `days_ahead` days on, valid for `valid_days`. A bundle is signed again daily, so a device
//! that is reached always holds one in force; one that is not keeps its last.
//!
//! Devices learn the newest version from the answer to each report (`Ack::policy`) and fetch it
//! with `GET /v1/policy`; their status says which version they run.

use std::collections::BTreeMap;

use access::holidays::{Calendar, Holiday, HolidayRule};
use access::hours::{DayHours, Span};
use allowlist::SigningKey;
use allowlist::envelope::Purpose;
use chrono::{Duration, NaiveDate};
use report::policy::{DatedHours, DaySpans, EntryRules, Policy};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::db::{Db, DbError};

/// A bundle is signed again when the newest is this old.
const RESIGN_AFTER_MS: i64 = 24 * 3_600_000;
/// Bundles kept per branch.
const KEPT: i64 = 5;

/// What a branch does on a holiday, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HolidayChoice {
    /// Closed all day.
    #[default]
    Closed,
    /// The weekday's hours.
    AsUsual,
    /// These hours instead.
    Hours(DaySpans),
}

/// A branch's calendar as staff keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchCalendar {
    /// The branch (the devices' certificate OU, their `[rules] branch`).
    pub branch: String,
    /// Its wall clock.
    pub time_zone: String,
    /// Monday first, seven days.
    pub week: Vec<DaySpans>,
    /// Holidays whose choice is not "closed", by code.
    pub holidays: BTreeMap<String, HolidayChoice>,
    /// The branch's own dated exceptions.
    pub exceptions: Vec<DatedHours>,
    /// No new entries this many minutes before self-service ends.
    pub last_entry_minutes: u16,
    /// Who may let themselves in, when the library decides it here; none leaves each door's
    /// own `[rules]`.
    pub entry: Option<EntryRules>,
    /// When it was last changed (Unix ms), and by whom.
    pub updated: Option<(i64, String)>,
}

impl BranchCalendar {
    /// A new branch's calendar: self-service 07-22 every day, no staffed hours, closed on every
    /// holiday, last entry 15 minutes before closing.
    pub fn new(branch: &str) -> Self {
        Self {
            branch: branch.to_owned(),
            time_zone: "Europe/Helsinki".into(),
            week: vec![
                DaySpans {
                    self_service: vec!["07:00-22:00".into()],
                    staffed: vec![],
                };
                7
            ],
            holidays: BTreeMap::new(),
            exceptions: vec![],
            last_entry_minutes: 15,
            entry: None,
            updated: None,
        }
    }

    /// The choice for `h`.
    pub fn choice(&self, h: Holiday) -> HolidayChoice {
        self.holidays.get(h.code()).cloned().unwrap_or_default()
    }

    /// Checks every span, date and the zone; the first problem in words.
    pub fn check(&self) -> Result<(), String> {
        access::zone::Zone::parse(&self.time_zone)
            .map_err(|e| format!("{}: {e}", self.time_zone))?;
        if self.week.len() != 7 {
            return Err("a week has seven days".into());
        }
        self.calendar().map(drop)
    }

    /// As the pure calendar.
    fn calendar(&self) -> Result<Calendar, String> {
        let mut week: [DayHours; 7] = Default::default();
        for (i, d) in self.week.iter().take(7).enumerate() {
            week[i] = d.hours()?;
        }
        let mut holidays = BTreeMap::new();
        for (code, c) in &self.holidays {
            let h = Holiday::from_code(code).ok_or_else(|| format!("{code}: not a holiday"))?;
            holidays.insert(
                h,
                match c {
                    HolidayChoice::Closed => HolidayRule::Closed,
                    HolidayChoice::AsUsual => HolidayRule::AsUsual,
                    HolidayChoice::Hours(d) => HolidayRule::Hours(d.hours()?),
                },
            );
        }
        let exceptions = self
            .exceptions
            .iter()
            .map(DatedHours::exception)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Calendar {
            week,
            holidays,
            exceptions,
        })
    }

    /// The policy for the days from `today` − 1 to `today` + `days_ahead`.
    pub fn policy(&self, today: NaiveDate, days_ahead: u32) -> Result<Policy, String> {
        let cal = self.calendar()?;
        let first = today - Duration::days(1);
        let last = today + Duration::days(i64::from(days_ahead));
        let exceptions = cal
            .exceptions_between(first, last, "fi")
            .into_iter()
            .map(|e| DatedHours {
                first: e.first.to_string(),
                last: e.last.to_string(),
                name: e.name,
                hours: spans(&e.hours),
            })
            .collect();
        Ok(Policy {
            branch: self.branch.clone(),
            time_zone: self.time_zone.clone(),
            week: self.week.clone(),
            exceptions,
            last_entry_minutes: self.last_entry_minutes,
            first_day: first.to_string(),
            last_day: last.to_string(),
            entry: self.entry.clone(),
        })
    }
}

fn spans(h: &DayHours) -> DaySpans {
    let text = |l: &[Span]| {
        l.iter()
            .map(|s| {
                format!(
                    "{}-{}",
                    access::hours::hhmm(s.start),
                    access::hours::hhmm(s.end)
                )
            })
            .collect()
    };
    DaySpans {
        self_service: text(&h.self_service),
        staffed: text(&h.staffed),
    }
}

/// Reads spans typed by a person: `07:00-12:00, 13:00-22:00` (commas, spaces or new lines
/// between); empty is none. Each is checked.
pub fn parse_spans(text: &str) -> Result<Vec<String>, String> {
    text.split([',', ';', '\n', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.replace(['–', '—'], "-").replace('.', ":");
            let span = Span::parse(&s)?;
            Ok(format!(
                "{}-{}",
                access::hours::hhmm(span.start),
                access::hours::hhmm(span.end)
            ))
        })
        .collect()
}

/// The console's signer of bundles.
#[derive(Debug)]
pub struct Publisher {
    key: SigningKey,
    /// How long a bundle is trusted.
    pub valid_days: u32,
    /// How many days of holidays and exceptions a bundle carries.
    pub days_ahead: u32,
}

impl Publisher {
    /// A signer with `key`.
    pub fn new(key: SigningKey, valid_days: u32, days_ahead: u32) -> Self {
        Self {
            key,
            valid_days,
            days_ahead,
        }
    }

    pub(crate) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The key devices pin (`[console] policy_keys`).
    pub fn public(&self) -> allowlist::PublicKey {
        self.key.public()
    }

    /// Signs the branch's calendar into a new bundle and keeps it; its version.
    pub async fn publish(
        &self,
        db: &Db,
        cal: &BranchCalendar,
        now_ms: i64,
    ) -> Result<u64, DbError> {
        let zone = access::zone::Zone::parse(&cal.time_zone)
            .map_err(|e| DbError::Invalid(format!("{}: {e}", cal.time_zone)))?;
        let now = chrono::DateTime::from_timestamp_millis(now_ms)
            .ok_or_else(|| DbError::Invalid(format!("{now_ms}: not a time")))?;
        let today = zone.local(now).date();
        let policy = cal
            .policy(today, self.days_ahead)
            .map_err(DbError::Invalid)?;
        let body = serde_json::to_vec(&policy).map_err(|e| DbError::Invalid(e.to_string()))?;
        let mut tx = db.begin_write().await?;
        let newest: Option<i64> =
            sqlx::query("SELECT MAX(version) AS v FROM policy_bundles WHERE branch = $1")
                .bind(&cal.branch)
                .fetch_one(&mut *tx)
                .await?
                .try_get("v")?;
        // Versions only grow: past the newest, and at least the time (so a database restored
        // from an old backup still signs versions the devices take).
        let version = newest.map_or(now_ms, |v| v.saturating_add(1).max(now_ms));
        let issued = now_ms / 1000;
        let expires = issued + i64::from(self.valid_days) * 86_400;
        let bytes = self.seal(
            Purpose::Policy,
            version as u64,
            issued,
            expires,
            vec![cal.branch.clone()],
            &body,
        );
        sqlx::query(
            "INSERT INTO policy_bundles (branch, version, issued_at, expires_at, bundle) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&cal.branch)
        .bind(version)
        .bind(now_ms)
        .bind(expires * 1000)
        .bind(crate::hex(&bytes))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM policy_bundles WHERE branch = $1 AND version < (SELECT MIN(version) FROM (SELECT version FROM policy_bundles WHERE branch = $2 ORDER BY version DESC LIMIT $3) AS kept)",
        )
        .bind(&cal.branch)
        .bind(&cal.branch)
        .bind(KEPT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version as u64)
    }

    /// Signs again every branch whose newest bundle is a day old (or that has none).
    pub async fn refresh(&self, db: &Db, now_ms: i64) -> Result<usize, DbError> {
        let mut n = 0;
        for cal in calendars(db).await? {
            let newest = latest(db, &cal.branch).await?;
            if newest.is_none_or(|b| now_ms - b.issued_at >= RESIGN_AFTER_MS) {
                self.publish(db, &cal, now_ms).await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// A bundle as kept.
#[derive(Debug, Clone)]
pub struct StoredBundle {
    /// Its version.
    pub version: u64,
    /// When it was signed (Unix ms).
    pub issued_at: i64,
    /// When it expires (Unix ms).
    pub expires_at: i64,
    /// The envelope.
    pub bytes: Vec<u8>,
}

/// The newest bundle of a branch, without its bytes: what each report's answer and the pages
/// need (a device's every report asks this, so the envelope is not read for it).
pub async fn latest(db: &Db, branch: &str) -> Result<Option<Published>, DbError> {
    let row = sqlx::query(
        "SELECT version, issued_at, expires_at FROM policy_bundles WHERE branch = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(branch)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| {
        Ok(Published {
            version: row.try_get::<i64, _>("version")? as u64,
            issued_at: row.try_get("issued_at")?,
            expires_at: row.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// A published bundle's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Its version.
    pub version: u64,
    /// When it was signed (Unix ms).
    pub issued_at: i64,
    /// When it expires (Unix ms).
    pub expires_at: i64,
}

/// The newest bundle of a branch, with its bytes (for `GET /v1/policy`).
pub async fn newest(db: &Db, branch: &str) -> Result<Option<StoredBundle>, DbError> {
    let row = sqlx::query(
        "SELECT version, issued_at, expires_at, bundle FROM policy_bundles WHERE branch = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(branch)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let hex: String = row.try_get("bundle")?;
    Ok(Some(StoredBundle {
        version: row.try_get::<i64, _>("version")? as u64,
        issued_at: row.try_get("issued_at")?,
        expires_at: row.try_get("expires_at")?,
        bytes: allowlist::unhex(&hex)
            .ok_or_else(|| DbError::Invalid("a stored bundle is not hex".into()))?,
    }))
}

fn calendar_row(row: &sqlx::any::AnyRow) -> Result<BranchCalendar, DbError> {
    let json = |col: &str| -> Result<String, DbError> { Ok(row.try_get::<String, _>(col)?) };
    let bad = |e: serde_json::Error| DbError::Invalid(format!("a stored calendar: {e}"));
    Ok(BranchCalendar {
        branch: row.try_get("branch")?,
        time_zone: row.try_get("time_zone")?,
        week: serde_json::from_str(&json("week")?).map_err(bad)?,
        holidays: serde_json::from_str(&json("holidays")?).map_err(bad)?,
        exceptions: serde_json::from_str(&json("exceptions")?).map_err(bad)?,
        last_entry_minutes: u16::try_from(row.try_get::<i64, _>("last_entry_minutes")?)
            .unwrap_or(15),
        entry: row
            .try_get::<Option<String>, _>("entry_rules")?
            .map(|j| serde_json::from_str(&j))
            .transpose()
            .map_err(bad)?,
        updated: Some((row.try_get("updated_at")?, row.try_get("updated_by")?)),
    })
}

/// A branch's calendar, if staff made one.
pub async fn calendar(db: &Db, branch: &str) -> Result<Option<BranchCalendar>, DbError> {
    sqlx::query("SELECT * FROM calendars WHERE branch = $1")
        .bind(branch)
        .fetch_optional(db.pool())
        .await?
        .as_ref()
        .map(calendar_row)
        .transpose()
}

/// Every calendar.
pub async fn calendars(db: &Db) -> Result<Vec<BranchCalendar>, DbError> {
    sqlx::query("SELECT * FROM calendars ORDER BY branch")
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(calendar_row)
        .collect()
}

/// Stores a calendar (checked first), as changed by `by` at `now_ms`.
pub async fn save(db: &Db, cal: &BranchCalendar, by: &str, now_ms: i64) -> Result<(), DbError> {
    cal.check().map_err(DbError::Invalid)?;
    let j = |v: serde_json::Result<String>| v.map_err(|e| DbError::Invalid(e.to_string()));
    sqlx::query(
        "INSERT INTO calendars (branch, time_zone, week, holidays, exceptions, last_entry_minutes, updated_at, updated_by, entry_rules) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (branch) DO UPDATE SET time_zone = excluded.time_zone, week = excluded.week, holidays = excluded.holidays, exceptions = excluded.exceptions, last_entry_minutes = excluded.last_entry_minutes, updated_at = excluded.updated_at, updated_by = excluded.updated_by, entry_rules = excluded.entry_rules",
    )
    .bind(&cal.branch)
    .bind(&cal.time_zone)
    .bind(j(serde_json::to_string(&cal.week))?)
    .bind(j(serde_json::to_string(&cal.holidays))?)
    .bind(j(serde_json::to_string(&cal.exceptions))?)
    .bind(i64::from(cal.last_entry_minutes))
    .bind(now_ms)
    .bind(by)
    .bind(
        cal.entry
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DbError::Invalid(e.to_string()))?,
    )
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The branches the console knows: its devices' and its calendars'.
pub async fn branches(db: &Db) -> Result<Vec<String>, DbError> {
    let rows = sqlx::query(
        "SELECT branch FROM devices WHERE branch <> '' UNION SELECT branch FROM calendars ORDER BY branch",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>("branch")?))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn typed_spans_are_read_as_a_person_writes_them_and_nonsense_is_refused() {
        assert_eq!(
            parse_spans("7.00-12.00, 13:00–22:00").unwrap(),
            vec!["07:00-12:00", "13:00-22:00"]
        );
        assert_eq!(parse_spans("  ").unwrap(), Vec::<String>::new());
        assert!(parse_spans("22:00-07:00").is_err());
        assert!(parse_spans("koko päivä").is_err());
    }

    #[test]
    fn a_calendar_becomes_a_policy_with_its_holidays_dated() {
        let mut c = BranchCalendar::new("LEMI");
        c.holidays.insert(
            Holiday::ChristmasEve.code().into(),
            HolidayChoice::Hours(DaySpans {
                self_service: vec!["07:00-12:00".into()],
                staffed: vec![],
            }),
        );
        c.holidays
            .insert(Holiday::MayDay.code().into(), HolidayChoice::AsUsual);
        c.exceptions.push(DatedHours {
            first: "2026-12-03".into(),
            last: "2026-12-03".into(),
            name: "Inventaario".into(),
            hours: DaySpans::default(),
        });
        c.check().unwrap();
        let p = c
            .policy(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(), 200)
            .unwrap();
        assert_eq!(p.first_day, "2026-12-01");
        assert_eq!(p.last_day, "2027-06-20");
        let named: Vec<(&str, &str)> = p
            .exceptions
            .iter()
            .map(|e| (e.first.as_str(), e.name.as_str()))
            .collect();
        assert!(named.contains(&("2026-12-06", "Itsenäisyyspäivä")));
        assert!(named.contains(&("2026-12-03", "Inventaario")));
        assert!(named.contains(&("2027-05-06", "Helatorstai")));
        assert!(!named.iter().any(|(_, n)| *n == "Vappu"), "{named:?}");
        let eve = p
            .exceptions
            .iter()
            .find(|e| e.name == "Jouluaatto")
            .unwrap();
        assert_eq!(eve.hours.self_service, vec!["07:00-12:00"]);
        // What the door makes of it: the same parse as its own file.
        let json = serde_json::to_vec(&p).unwrap();
        assert_eq!(Policy::parse(&json).unwrap(), p);
    }

    #[test]
    fn a_calendar_with_a_bad_span_zone_or_date_is_refused_in_words() {
        let mut c = BranchCalendar::new("LEMI");
        c.time_zone = "Europe/Lemi".into();
        assert!(c.check().unwrap_err().contains("Europe/Lemi"));
        let mut c = BranchCalendar::new("LEMI");
        c.exceptions.push(DatedHours {
            first: "2026-12-05".into(),
            last: "2026-12-03".into(),
            name: "Väärin päin".into(),
            hours: DaySpans::default(),
        });
        assert!(c.check().unwrap_err().contains("Väärin päin"));
    }
}
