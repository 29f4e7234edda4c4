//! Security incidents for the GDPR's 72-hour clock (article 33: a personal-data breach is told
//! to the supervisory authority within 72 hours of becoming aware of it). The security events
//! devices reported (a forced door, tampering, a refused list, bundle or command, a clock jump,
//! a card locked after wrong PINs) are grouped per branch: an event within [`GAP_MS`] of the
//! branch's previous one belongs to the same incident. Each incident's clock runs from its
//! first sign; the library's decision (not a breach, or reported) is kept with who made it.
//!
//! [`group`] is pure; [`recent`] reads the events and decisions.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::db::{Db, DbError};

/// Events of a branch closer together than this are one incident.
pub const GAP_MS: i64 = 24 * 3_600_000;

/// The GDPR's clock.
pub const CLOCK_MS: i64 = 72 * 3_600_000;

/// The events that count: security and tamper events, a forced door, a card locked out.
const SECURITY: &str = "(e.kind IN ('security', 'tamper') OR (e.kind = 'alarm' AND e.code = 'forced-open') OR (e.kind = 'denied' AND e.code IN ('pin-locked-out', 'too-many-attempts')))";

/// One security event, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// The reporting device.
    pub device_id: String,
    /// Its id there.
    pub event_id: String,
    /// The device's branch.
    pub branch: String,
    /// When (Unix ms).
    pub at: i64,
    /// `security`, `tamper`, `alarm` or `denied`, and its code.
    pub what: String,
}

/// What the library decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Looked at: no personal data was at risk.
    NoBreach,
    /// Told to the supervisory authority.
    Reported,
}

impl Decision {
    /// Its code in the database and forms.
    pub fn code(self) -> &'static str {
        match self {
            Self::NoBreach => "no-breach",
            Self::Reported => "reported",
        }
    }

    /// From its code.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "no-breach" => Some(Self::NoBreach),
            "reported" => Some(Self::Reported),
            _ => None,
        }
    }
}

/// A decision with who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// What was decided.
    pub decision: Decision,
    /// Why, in the person's words.
    pub note: String,
    /// When (Unix ms).
    pub at: i64,
    /// Who.
    pub by: String,
}

/// A branch's security events close together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// The first event's device and id: stable while events are added.
    pub key: String,
    /// The branch.
    pub branch: String,
    /// The first sign (Unix ms): the clock starts here.
    pub first_at: i64,
    /// The latest event.
    pub last_at: i64,
    /// How many events of each kind.
    pub counts: BTreeMap<String, u64>,
    /// The devices that reported.
    pub devices: Vec<String>,
    /// The library's decision, if made.
    pub assessment: Option<Assessment>,
}

/// Where an incident stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Decided.
    Assessed(Decision),
    /// Not decided; this many ms of the 72 hours left.
    Open {
        /// Until the deadline.
        left_ms: i64,
    },
    /// Not decided and past the 72 hours, by this many ms.
    Overdue {
        /// Since the deadline.
        past_ms: i64,
    },
}

impl Incident {
    /// The 72 hours' end.
    pub fn deadline(&self) -> i64 {
        self.first_at.saturating_add(CLOCK_MS)
    }

    /// Where it stands at `now`.
    pub fn standing(&self, now: i64) -> Standing {
        match &self.assessment {
            Some(a) => Standing::Assessed(a.decision),
            None if now < self.deadline() => Standing::Open {
                left_ms: self.deadline() - now,
            },
            None => Standing::Overdue {
                past_ms: now - self.deadline(),
            },
        }
    }
}

/// Groups `events` into incidents per branch, newest first; `assessed` by incident key.
pub fn group(
    mut events: Vec<SecurityEvent>,
    assessed: &BTreeMap<String, Assessment>,
) -> Vec<Incident> {
    events.sort_by(|a, b| {
        (&a.branch, a.at, &a.device_id, &a.event_id).cmp(&(
            &b.branch,
            b.at,
            &b.device_id,
            &b.event_id,
        ))
    });
    let mut out: Vec<Incident> = vec![];
    for e in events {
        let joins = out
            .last()
            .is_some_and(|i| i.branch == e.branch && e.at - i.last_at < GAP_MS);
        if !joins {
            let key = format!("{}/{}", e.device_id, e.event_id);
            out.push(Incident {
                assessment: assessed.get(&key).cloned(),
                key,
                branch: e.branch.clone(),
                first_at: e.at,
                last_at: e.at,
                counts: BTreeMap::new(),
                devices: vec![],
            });
        }
        if let Some(i) = out.last_mut() {
            i.last_at = e.at;
            *i.counts.entry(e.what).or_default() += 1;
            if !i.devices.contains(&e.device_id) {
                i.devices.push(e.device_id);
            }
        }
    }
    out.sort_by(|a, b| b.first_at.cmp(&a.first_at).then(a.branch.cmp(&b.branch)));
    out
}

/// The incidents whose events fall in the `days` before `now`, with their decisions.
pub async fn recent(db: &Db, now: i64, days: i64) -> Result<Vec<Incident>, DbError> {
    let since = now.saturating_sub(days.saturating_mul(86_400_000));
    let rows = sqlx::query(&format!(
        "SELECT e.device_id, e.event_id, d.branch, e.at, e.kind, e.code FROM events e JOIN devices d ON d.device_id = e.device_id WHERE e.at >= $1 AND {SECURITY}"
    ))
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for r in &rows {
        let kind: String = r.try_get("kind")?;
        let code: Option<String> = r.try_get("code")?;
        events.push(SecurityEvent {
            device_id: r.try_get("device_id")?,
            event_id: r.try_get("event_id")?,
            branch: r.try_get("branch")?,
            at: r.try_get("at")?,
            what: match code {
                Some(c) if !c.is_empty() => format!("{kind}:{c}"),
                _ => kind,
            },
        });
    }
    let mut assessed = BTreeMap::new();
    for r in sqlx::query(
        "SELECT incident_key, decision, note, assessed_at, assessed_by FROM incident_assessments",
    )
    .fetch_all(db.pool())
    .await?
    {
        let decision: String = r.try_get("decision")?;
        let Some(decision) = Decision::parse(&decision) else {
            continue;
        };
        assessed.insert(
            r.try_get::<String, _>("incident_key")?,
            Assessment {
                decision,
                note: r.try_get("note")?,
                at: r.try_get("assessed_at")?,
                by: r.try_get("assessed_by")?,
            },
        );
    }
    Ok(group(events, &assessed))
}

/// Keeps the library's decision about incident `key` (a later one replaces it).
pub async fn assess(
    db: &Db,
    key: &str,
    decision: Decision,
    note: &str,
    by: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO incident_assessments (incident_key, decision, note, assessed_at, assessed_by) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (incident_key) DO UPDATE SET decision = excluded.decision, note = excluded.note, assessed_at = excluded.assessed_at, assessed_by = excluded.assessed_by",
    )
    .bind(key)
    .bind(decision.code())
    .bind(note)
    .bind(now)
    .bind(by)
    .execute(db.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const H: i64 = 3_600_000;

    fn ev(device: &str, id: &str, branch: &str, at: i64, what: &str) -> SecurityEvent {
        SecurityEvent {
            device_id: device.into(),
            event_id: id.into(),
            branch: branch.into(),
            at,
            what: what.into(),
        }
    }

    #[test]
    fn events_close_together_at_a_branch_are_one_incident_and_the_clock_runs_from_the_first() {
        let t0 = 1_800_000_000_000;
        let events = vec![
            // Given out of order, as a database may.
            ev(
                "lemi-kiosk-1",
                "k1",
                "LEMI",
                t0 + 30 * H,
                "security:clock-jump",
            ),
            ev("lemi-door-1", "a", "LEMI", t0, "alarm:forced-open"),
            ev("lemi-door-1", "b", "LEMI", t0 + 20 * H, "tamper:tamper"),
            // Another branch at the same time: its own incident.
            ev("kirj-door-1", "x", "KIRJ", t0 + H, "security:list-refused"),
            // 24 hours after LEMI's last event: a new incident.
            ev("lemi-door-1", "c", "LEMI", t0 + 54 * H, "alarm:forced-open"),
        ];
        let mut assessed = BTreeMap::new();
        assessed.insert(
            "kirj-door-1/x".to_owned(),
            Assessment {
                decision: Decision::NoBreach,
                note: "a stale list after a restore".into(),
                at: t0 + 2 * H,
                by: "kirsi".into(),
            },
        );
        let got = group(events, &assessed);
        let keys: Vec<&str> = got.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["lemi-door-1/c", "kirj-door-1/x", "lemi-door-1/a"]);
        let first = &got[2];
        assert_eq!((first.first_at, first.last_at), (t0, t0 + 30 * H));
        assert_eq!(first.devices, ["lemi-door-1", "lemi-kiosk-1"]);
        assert_eq!(first.counts.values().sum::<u64>(), 3);
        assert_eq!(first.deadline(), t0 + 72 * H);
        assert_eq!(
            first.standing(t0 + 70 * H),
            Standing::Open { left_ms: 2 * H }
        );
        assert_eq!(
            first.standing(t0 + 75 * H),
            Standing::Overdue { past_ms: 3 * H }
        );
        assert_eq!(
            got[1].standing(t0 + 100 * H),
            Standing::Assessed(Decision::NoBreach)
        );
        // Exactly at the deadline it is overdue; a millisecond before, open.
        assert_eq!(
            first.standing(t0 + 72 * H),
            Standing::Overdue { past_ms: 0 }
        );
        assert_eq!(
            first.standing(t0 + 72 * H - 1),
            Standing::Open { left_ms: 1 }
        );
    }

    #[test]
    fn an_event_just_inside_the_gap_joins_and_just_outside_starts_anew() {
        let t0 = 1_800_000_000_000;
        let inside = group(
            vec![
                ev("d", "1", "B", t0, "tamper"),
                ev("d", "2", "B", t0 + GAP_MS - 1, "tamper"),
            ],
            &BTreeMap::new(),
        );
        assert_eq!(inside.len(), 1);
        let outside = group(
            vec![
                ev("d", "1", "B", t0, "tamper"),
                ev("d", "2", "B", t0 + GAP_MS, "tamper"),
            ],
            &BTreeMap::new(),
        );
        assert_eq!(outside.len(), 2);
        assert!(group(vec![], &BTreeMap::new()).is_empty());
        for d in [Decision::NoBreach, Decision::Reported] {
            assert_eq!(Decision::parse(d.code()), Some(d));
        }
        assert_eq!(Decision::parse("maybe"), None);
    }
}
