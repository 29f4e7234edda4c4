//! What raises an alarm, what clears it, who is told and when: pure, no I/O and no clock.
//!
//! A rule fires on an event a device reported (a forced or held door, tampering, a refused
//! list, a card locked after wrong PINs, an offline queue conflict), on a gauge (a printer out
//! of paper), or on silence (the console's own sweep: a device that has not reported for N
//! minutes). Quiet hours hold a recipient's non-urgent alarms until they end; a forced door,
//! a door held open and tampering are told at once, whatever the hour.

use std::collections::BTreeMap;

use jiff::civil::Time;
use jiff::tz::TimeZone;

/// An alarm rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The door opened with no grant and no exit press.
    ForcedOpen,
    /// The door stood open too long.
    HeldOpen,
    /// A tamper switch tripped: the door's own or a card reader's.
    Tamper,
    /// The device has not reported for the configured minutes.
    Silent,
    /// The device refused an offline list (a bad signature, a rollback, a frozen publisher).
    ListRefused,
    /// A card was locked after wrong PINs.
    PinGuessing,
    /// The kiosk's receipt printer is out of paper.
    PaperOut,
    /// A loan made offline conflicted with the library system's record.
    QueueConflict,
    /// A door's card reader stopped answering or could no longer be trusted (an OSDP reader:
    /// no reply, another key than the door's, a bad MAC, a power failure). A reader's tamper
    /// switch is [`Rule::Tamper`].
    ReaderLost,
}

impl Rule {
    /// Every rule, in the order pages list them.
    pub const ALL: [Self; 9] = [
        Self::ForcedOpen,
        Self::HeldOpen,
        Self::Tamper,
        Self::Silent,
        Self::ListRefused,
        Self::PinGuessing,
        Self::PaperOut,
        Self::QueueConflict,
        Self::ReaderLost,
    ];

    /// Its name in `central.toml`, the database and messages.
    pub fn code(self) -> &'static str {
        match self {
            Self::ForcedOpen => "forced-open",
            Self::HeldOpen => "held-open",
            Self::Tamper => "tamper",
            Self::Silent => "silent",
            Self::ListRefused => "list-refused",
            Self::PinGuessing => "pin-guessing",
            Self::PaperOut => "paper-out",
            Self::QueueConflict => "queue-conflict",
            Self::ReaderLost => "reader-lost",
        }
    }

    /// The rule with this name.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Told at once, even in a recipient's quiet hours: someone may be in the building.
    pub fn urgent(self) -> bool {
        matches!(self, Self::ForcedOpen | Self::HeldOpen | Self::Tamper)
    }

    /// A condition that lasts (one alarm stays open until the condition ends), rather than a
    /// happening (one alarm per event).
    pub fn lasting(self) -> bool {
        matches!(
            self,
            Self::HeldOpen | Self::ForcedOpen | Self::Silent | Self::PaperOut | Self::ReaderLost
        )
    }
}

/// Whether an alarm of this rule carries its event's detail to the console's page and the
/// messages: only where the detail is the device's own words about a part of itself (which card
/// reader was tampered with or lost, and why). The other rules' events may say more than a
/// message to a phone should.
pub fn tells_detail(rule: Rule) -> bool {
    matches!(rule, Rule::Tamper | Rule::ReaderLost)
}

/// The rule an event raises, if any.
pub fn raised_by(kind: &str, code: Option<&str>) -> Option<Rule> {
    match (kind, code) {
        ("alarm", Some("forced-open")) => Some(Rule::ForcedOpen),
        ("alarm", Some("held-open")) => Some(Rule::HeldOpen),
        ("tamper", _) => Some(Rule::Tamper),
        ("security", Some("list-refused")) => Some(Rule::ListRefused),
        ("denied", Some("pin-locked-out")) => Some(Rule::PinGuessing),
        // A kiosk's security event for a loan or return the library system refused; kiosks
        // before it reported a `queue-conflict` event of its own.
        ("security", Some("offline-refused")) | ("queue-conflict", _) => Some(Rule::QueueConflict),
        ("device", Some("reader-lost")) => Some(Rule::ReaderLost),
        _ => None,
    }
}

/// The rules whose open alarms an event ends. A door that starts again knows nothing of the
/// alarms before (it raises again what is still so): its old forced and held alarms end.
pub fn cleared_by(kind: &str, code: Option<&str>) -> &'static [Rule] {
    match (kind, code) {
        ("alarm-cleared", Some("forced-open")) => &[Rule::ForcedOpen],
        ("alarm-cleared", Some("held-open")) => &[Rule::HeldOpen],
        ("device", Some("reader-found")) => &[Rule::ReaderLost],
        // A door that starts again opens its readers again, and says again which it lost.
        ("daemon", Some("started")) => &[Rule::ForcedOpen, Rule::HeldOpen, Rule::ReaderLost],
        _ => &[],
    }
}

/// The gauge that says a kiosk's printer is out of paper (1) or has paper (0).
pub const PAPER_OUT_GAUGE: &str = "omatoimi_printer_paper_out";

/// What a status snapshot says of a lasting gauge rule: `Some(true)` raised, `Some(false)`
/// cleared, `None` not reported.
pub fn paper_out(gauges: &BTreeMap<String, f64>) -> Option<bool> {
    gauges.get(PAPER_OUT_GAUGE).map(|v| *v >= 1.0)
}

/// A recipient's quiet hours: from `start` to `end` in the library's time zone, across
/// midnight when `end` is earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// When quiet starts.
    pub start: Time,
    /// When it ends.
    pub end: Time,
}

impl QuietHours {
    /// Parses `"22:00-07:00"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("{text:?} is not HH:MM-HH:MM"))?;
        let time = |s: &str| {
            Time::strptime("%H:%M", s.trim())
                .map_err(|_| format!("{:?} is not a time of day (HH:MM)", s.trim()))
        };
        let (start, end) = (time(a)?, time(b)?);
        if start == end {
            return Err(format!("{text:?} is empty: start and end are the same"));
        }
        Ok(Self { start, end })
    }

    fn contains(&self, t: Time) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When an alarm raised at `now_ms` may be told: `now_ms` outside quiet hours, else when
    /// they end (the zone's rules decide the hour, so a DST change moves nothing).
    pub fn release_at(&self, now_ms: i64, tz: &TimeZone) -> i64 {
        let Ok(ts) = jiff::Timestamp::from_millisecond(now_ms) else {
            return now_ms;
        };
        let local = ts.to_zoned_datetime(tz.clone());
        if !self.contains(local.time()) {
            return now_ms;
        }
        let mut day = local.date();
        if local.time() >= self.end {
            day = day.tomorrow().unwrap_or(day);
        }
        day.to_datetime(self.end)
            .to_zoned_datetime(tz.clone())
            .map_or(now_ms, |z| z.timestamp().as_millisecond().max(now_ms))
    }
}

/// When a delivery that failed `attempts` times is tried again, or `None` to give up: 10 s,
/// 30 s, 1, 2, 5, 10, 15, 30, 60 minutes; then no more (a full day of tries is over by then).
pub fn retry_after_ms(attempts: u32) -> Option<i64> {
    const STEPS: [i64; 9] = [10, 30, 60, 120, 300, 600, 900, 1800, 3600];
    STEPS
        .get(attempts.saturating_sub(1) as usize)
        .map(|s| s * 1000)
}

/// The id of an alarm raised by a device's event (the same event replayed raises the same id).
pub fn alarm_id(device_id: &str, rule: Rule, cause: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [device_id, rule.code(), cause] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    crate::hex(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn helsinki() -> TimeZone {
        TimeZone::get("Europe/Helsinki").unwrap()
    }

    fn ms(text: &str) -> i64 {
        text.parse::<jiff::ZonedDateTime>()
            .unwrap()
            .timestamp()
            .as_millisecond()
    }

    #[test]
    fn every_rule_has_a_name_that_reads_back() {
        for r in Rule::ALL {
            assert_eq!(Rule::from_code(r.code()), Some(r));
        }
        assert_eq!(Rule::from_code("fire"), None);
    }

    #[test]
    fn events_raise_and_clear_the_rules_named_for_them() {
        assert_eq!(
            raised_by("alarm", Some("forced-open")),
            Some(Rule::ForcedOpen)
        );
        assert_eq!(raised_by("alarm", Some("held-open")), Some(Rule::HeldOpen));
        assert_eq!(raised_by("tamper", Some("tamper")), Some(Rule::Tamper));
        assert_eq!(
            raised_by("security", Some("list-refused")),
            Some(Rule::ListRefused)
        );
        assert_eq!(
            raised_by("denied", Some("pin-locked-out")),
            Some(Rule::PinGuessing)
        );
        assert_eq!(raised_by("queue-conflict", None), Some(Rule::QueueConflict));
        assert_eq!(
            raised_by("security", Some("offline-refused")),
            Some(Rule::QueueConflict)
        );
        assert_eq!(
            raised_by("device", Some("reader-lost")),
            Some(Rule::ReaderLost)
        );
        assert_eq!(
            cleared_by("device", Some("reader-found")),
            &[Rule::ReaderLost]
        );
        assert_eq!(raised_by("device", Some("reader-found")), None);
        for (kind, code) in [
            ("entry", None),
            ("denied", Some("wrong-pin")),
            ("security", Some("clock-jump")),
            ("alarm-cleared", Some("held-open")),
            ("alarm", Some("something-new")),
        ] {
            assert_eq!(raised_by(kind, code), None, "{kind} {code:?}");
        }
        assert_eq!(
            cleared_by("alarm-cleared", Some("held-open")),
            &[Rule::HeldOpen]
        );
        assert_eq!(
            cleared_by("daemon", Some("started")),
            &[Rule::ForcedOpen, Rule::HeldOpen, Rule::ReaderLost]
        );
        assert!(cleared_by("alarm", Some("held-open")).is_empty());
    }

    #[test]
    fn quiet_hours_across_midnight_hold_until_morning_in_local_time() {
        let q = QuietHours::parse("22:00-07:00").unwrap();
        let tz = helsinki();
        // 23:10 in January (UTC+2): held to 07:00 the next morning.
        let late = ms("2027-01-14T23:10:00+02:00[Europe/Helsinki]");
        assert_eq!(
            q.release_at(late, &tz),
            ms("2027-01-15T07:00:00+02:00[Europe/Helsinki]")
        );
        // 03:00: to 07:00 the same day.
        let night = ms("2027-01-15T03:00:00+02:00[Europe/Helsinki]");
        assert_eq!(
            q.release_at(night, &tz),
            ms("2027-01-15T07:00:00+02:00[Europe/Helsinki]")
        );
        // 12:00 and the edges: 07:00 is out, 22:00 is in.
        for t in [
            "2027-01-15T12:00:00+02:00[Europe/Helsinki]",
            "2027-01-15T07:00:00+02:00[Europe/Helsinki]",
            "2027-01-15T21:59:59+02:00[Europe/Helsinki]",
        ] {
            assert_eq!(q.release_at(ms(t), &tz), ms(t), "{t}");
        }
        assert_ne!(
            q.release_at(ms("2027-01-15T22:00:00+02:00[Europe/Helsinki]"), &tz),
            ms("2027-01-15T22:00:00+02:00[Europe/Helsinki]")
        );
        // The night the clocks go forward (28 March 2027, 03:00 → 04:00): still 07:00 local.
        assert_eq!(
            q.release_at(ms("2027-03-28T01:00:00+02:00[Europe/Helsinki]"), &tz),
            ms("2027-03-28T07:00:00+03:00[Europe/Helsinki]")
        );
    }

    #[test]
    fn daytime_quiet_hours_and_bad_ones() {
        let q = QuietHours::parse("12:00-13:00").unwrap();
        let tz = helsinki();
        let t = ms("2027-06-01T12:30:00+03:00[Europe/Helsinki]");
        assert_eq!(
            q.release_at(t, &tz),
            ms("2027-06-01T13:00:00+03:00[Europe/Helsinki]")
        );
        for bad in ["22:00", "25:00-07:00", "07:00-07:00", "night"] {
            assert!(QuietHours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urgent_rules_are_the_doors_physical_ones() {
        let urgent: Vec<_> = Rule::ALL.into_iter().filter(|r| r.urgent()).collect();
        assert_eq!(urgent, [Rule::ForcedOpen, Rule::HeldOpen, Rule::Tamper]);
    }

    #[test]
    fn retries_back_off_and_end() {
        assert_eq!(retry_after_ms(1), Some(10_000));
        assert_eq!(retry_after_ms(9), Some(3_600_000));
        assert_eq!(retry_after_ms(10), None);
        let total: i64 = (1..10).filter_map(retry_after_ms).sum();
        assert!(total < 24 * 3_600_000);
    }

    #[test]
    fn alarm_ids_are_stable_and_separate_their_parts() {
        let a = alarm_id("lemi-door-1", Rule::Tamper, "e1");
        assert_eq!(a, alarm_id("lemi-door-1", Rule::Tamper, "e1"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, alarm_id("lemi-door-1", Rule::Tamper, "e2"));
        assert_ne!(
            alarm_id("ab", Rule::Tamper, "c"),
            alarm_id("a", Rule::Tamper, "bc")
        );
    }

    #[test]
    fn paper_is_read_from_its_gauge() {
        let mut g = BTreeMap::new();
        assert_eq!(paper_out(&g), None);
        g.insert(PAPER_OUT_GAUGE.to_owned(), 1.0);
        assert_eq!(paper_out(&g), Some(true));
        g.insert(PAPER_OUT_GAUGE.to_owned(), 0.0);
        assert_eq!(paper_out(&g), Some(false));
    }
}
