//! Statistics for the library's own reporting: self-service entries (visits) per branch per day
//! and per hour of the day, denials by reason, kiosk loans and returns online and offline; and
//! the CSV a library's yearly statistics take (visits per branch and day).
//!
//! Counted from the events devices reported (each stored once), in the library's wall clock:
//! a day is a local calendar day across DST changes. [`aggregate`] is pure; [`rows`] reads the
//! events of a range.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use sqlx::Row as _;

use crate::db::{Db, DbError};

/// One counted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The reporting device's branch.
    pub branch: String,
    /// `entry`, `denied`, `loan` or `return`.
    pub kind: String,
    /// The reason of a denial; `online` or `offline` for a loan or return.
    pub code: Option<String>,
    /// When (Unix ms, the device's clock).
    pub at: i64,
}

/// A branch's counts for a day (or a range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Self-service entries: visits.
    pub entries: u64,
    /// Entries refused.
    pub denied: u64,
    /// Kiosk loans the library system answered.
    pub loans_online: u64,
    /// Kiosk loans made offline (queued).
    pub loans_offline: u64,
    /// Kiosk returns answered online.
    pub returns_online: u64,
    /// Kiosk returns made offline.
    pub returns_offline: u64,
}

impl Counts {
    fn add(&mut self, o: &Self) {
        self.entries += o.entries;
        self.denied += o.denied;
        self.loans_online += o.loans_online;
        self.loans_offline += o.loans_offline;
        self.returns_online += o.returns_online;
        self.returns_offline += o.returns_offline;
    }
}

/// What a range of events adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// By (local day, branch).
    pub days: BTreeMap<(Date, String), Counts>,
    /// Entries by branch and local hour of the day (0-23).
    pub hours: BTreeMap<String, [u64; 24]>,
    /// Denials by reason code.
    pub denials: BTreeMap<String, u64>,
    /// Every branch seen.
    pub branches: BTreeSet<String>,
}

impl Stats {
    /// A branch's counts over the whole range.
    pub fn total(&self, branch: &str) -> Counts {
        let mut c = Counts::default();
        for ((_, b), d) in &self.days {
            if b == branch {
                c.add(d);
            }
        }
        c
    }

    /// Entries per local day, summed over `branch` (all when `None`), for every day from `first`
    /// to `last`.
    pub fn entries_per_day(
        &self,
        first: Date,
        last: Date,
        branch: Option<&str>,
    ) -> Vec<(Date, u64)> {
        days(first, last)
            .map(|d| {
                let n = self
                    .days
                    .iter()
                    .filter(|((day, b), _)| *day == d && branch.is_none_or(|x| x == b))
                    .map(|(_, c)| c.entries)
                    .sum();
                (d, n)
            })
            .collect()
    }
}

/// Every day from `first` to `last`.
pub fn days(first: Date, last: Date) -> impl Iterator<Item = Date> {
    let mut d = Some(first);
    std::iter::from_fn(move || {
        let today = d.filter(|x| *x <= last)?;
        d = today.tomorrow().ok();
        Some(today)
    })
}

/// Adds the events up in the library's time zone.
pub fn aggregate(rows: &[Row], tz: &TimeZone) -> Stats {
    let mut s = Stats::default();
    for r in rows {
        let Ok(t) = jiff::Timestamp::from_millisecond(r.at) else {
            continue;
        };
        let local = t.to_zoned_datetime(tz.clone());
        let c = s.days.entry((local.date(), r.branch.clone())).or_default();
        let code = r.code.as_deref();
        match (r.kind.as_str(), code) {
            ("entry", _) => {
                c.entries += 1;
                let h = s.hours.entry(r.branch.clone()).or_insert([0; 24]);
                if let Some(slot) = h.get_mut(usize::try_from(local.hour()).unwrap_or(0)) {
                    *slot += 1;
                }
            }
            ("denied", _) => {
                c.denied += 1;
                *s.denials.entry(code.unwrap_or("?").to_owned()).or_default() += 1;
            }
            ("loan", Some("offline")) => c.loans_offline += 1,
            ("loan", _) => c.loans_online += 1,
            ("return", Some("offline")) => c.returns_offline += 1,
            ("return", _) => c.returns_online += 1,
            _ => continue,
        }
        s.branches.insert(r.branch.clone());
    }
    s
}

/// The CSV for the library's statistics: one line per day and branch from `first` to `last`
/// (days with nothing too, so a year has every day), visits first.
pub fn csv_by_day(s: &Stats, first: Date, last: Date) -> String {
    let mut out = String::from(
        "date,branch,visits,denied,loans_online,loans_offline,returns_online,returns_offline\r\n",
    );
    for d in days(first, last) {
        for b in &s.branches {
            let c = s.days.get(&(d, b.clone())).copied().unwrap_or_default();
            out.push_str(&format!(
                "{d},{},{},{},{},{},{},{}\r\n",
                csv_field(b),
                c.entries,
                c.denied,
                c.loans_online,
                c.loans_offline,
                c.returns_online,
                c.returns_offline
            ));
        }
    }
    out
}

/// The CSV of visits by hour of the day, per branch.
pub fn csv_by_hour(s: &Stats) -> String {
    let mut out = String::from("branch,hour,visits\r\n");
    for b in &s.branches {
        let h = s.hours.get(b).copied().unwrap_or([0; 24]);
        for (i, n) in h.iter().enumerate() {
            out.push_str(&format!("{},{i:02},{n}\r\n", csv_field(b)));
        }
    }
    out
}

/// A CSV field (RFC 4180), and never a formula a spreadsheet would run.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The first and the last instant (Unix ms, end exclusive) of local days `first` to `last`.
pub fn bounds(first: Date, last: Date, tz: &TimeZone) -> Option<(i64, i64)> {
    let start = first
        .to_zoned_datetime(tz.clone())
        .ok()?
        .timestamp()
        .as_millisecond();
    let end = last
        .tomorrow()
        .ok()?
        .to_zoned_datetime(tz.clone())
        .ok()?
        .timestamp()
        .as_millisecond();
    Some((start, end))
}

/// The counted events between `from` (included) and `to` (excluded), Unix ms.
pub async fn rows(db: &Db, from: i64, to: i64) -> Result<Vec<Row>, DbError> {
    let rows = sqlx::query(
        "SELECT d.branch, e.kind, e.code, e.at FROM events e JOIN devices d ON d.device_id = e.device_id \
         WHERE e.kind IN ('entry', 'denied', 'loan', 'return') AND e.at >= $1 AND e.at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Row {
                branch: r.try_get("branch")?,
                kind: r.try_get("kind")?,
                code: r.try_get("code")?,
                at: r.try_get("at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(local: &str) -> i64 {
        let tz = TimeZone::get("Europe/Helsinki").unwrap();
        local
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned_datetime(tz)
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    fn row(branch: &str, kind: &str, code: Option<&str>, local: &str) -> Row {
        Row {
            branch: branch.into(),
            kind: kind.into(),
            code: code.map(Into::into),
            at: at(local),
        }
    }

    #[test]
    fn events_add_up_by_local_day_and_hour_across_the_autumn_clock_change() {
        let tz = TimeZone::get("Europe/Helsinki").unwrap();
        // 25 October 2026: clocks go back at 04:00 (EEST → EET); the day has 25 hours.
        let rows = vec![
            row("LEMI", "entry", Some("online"), "2026-10-25T00:30"),
            row("LEMI", "entry", Some("offline:7"), "2026-10-25T23:30"),
            row("LEMI", "denied", Some("closed"), "2026-10-25T23:40"),
            row("LEMI", "denied", Some("wrong-pin"), "2026-10-26T07:05"),
            row("LEMI", "denied", Some("wrong-pin"), "2026-10-26T07:06"),
            row("LEMI", "loan", Some("online"), "2026-10-26T12:00"),
            row("LEMI", "loan", Some("offline"), "2026-10-26T12:01"),
            row("LEMI", "return", Some("offline"), "2026-10-26T12:02"),
            row("HEINOLA", "entry", Some("online"), "2026-10-26T07:10"),
            row("HEINOLA", "exit", None, "2026-10-26T07:30"),
        ];
        let s = aggregate(&rows, &tz);
        let d = |s: &str| s.parse::<Date>().unwrap();
        let lemi25 = s.days[&(d("2026-10-25"), "LEMI".into())];
        assert_eq!((lemi25.entries, lemi25.denied), (2, 1));
        let lemi26 = s.days[&(d("2026-10-26"), "LEMI".into())];
        assert_eq!(
            lemi26,
            Counts {
                entries: 0,
                denied: 2,
                loans_online: 1,
                loans_offline: 1,
                returns_online: 0,
                returns_offline: 1
            }
        );
        assert_eq!(s.hours["LEMI"][0], 1);
        assert_eq!(s.hours["LEMI"][23], 1);
        assert_eq!(s.hours["HEINOLA"][7], 1);
        assert_eq!(s.denials["wrong-pin"], 2);
        assert_eq!(s.total("LEMI").entries, 2);
        // Exits are not visits.
        assert_eq!(s.total("HEINOLA").entries, 1);
        let csv = csv_by_day(&s, d("2026-10-24"), d("2026-10-26"));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 3 * 2, "{csv}");
        assert!(lines.contains(&"2026-10-24,LEMI,0,0,0,0,0,0"));
        assert!(lines.contains(&"2026-10-25,LEMI,2,1,0,0,0,0"));
        assert!(lines.contains(&"2026-10-26,LEMI,0,2,1,1,0,1"));
        assert!(lines.contains(&"2026-10-26,HEINOLA,1,0,0,0,0,0"));
        // The day's bounds hold the 25-hour day whole.
        let (a, b) = bounds(d("2026-10-25"), d("2026-10-25"), &tz).unwrap();
        assert_eq!(b - a, 25 * 3_600_000);
    }

    #[test]
    fn a_branch_name_cannot_break_the_csv_or_run_in_a_spreadsheet() {
        assert_eq!(csv_field("LEMI"), "LEMI");
        assert_eq!(csv_field("A, B"), "\"A, B\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
