//! What the library's state switches: outputs (lights, intruder alarm, public PCs and kiosks) that
//! follow chosen states with a lead and a lag in minutes, and closing announcements played a set
//! time before the library closes and then at intervals until it does.

use chrono::{DateTime, Duration, Utc};

use crate::hours::{LibraryState, Schedule};

/// An output that is on in some states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRule {
    /// Its name, for logs and staff ("lights", "alarm-disarm", "public-pcs").
    pub name: String,
    /// On in these states.
    pub when: Vec<LibraryState>,
    /// On this many minutes before such a state begins.
    pub lead_minutes: u16,
    /// Still on this many minutes after it ends.
    pub lag_minutes: u16,
}

impl OutputRule {
    /// Should the output be on at this instant?
    pub fn is_on(&self, schedule: &Schedule, now: DateTime<Utc>) -> bool {
        schedule.any_state_within(now, &self.when, self.lead_minutes, self.lag_minutes)
    }
}

/// A closing announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// What to play (a sound file the player is given).
    pub file: String,
    /// First played this many minutes before closing.
    pub before_minutes: u16,
    /// Then again every this many minutes until closing; 0 for once.
    pub every_minutes: u16,
}

impl Announcement {
    /// The instants in `(after, until]` at which this announcement is due. The daemon calls this
    /// with the span since its previous tick, so none is missed or played twice.
    pub fn due(
        &self,
        schedule: &Schedule,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        if until <= after {
            return out;
        }
        // The closing that matters is the end of the open period running at `until`.
        let local = schedule.zone.local(until);
        let Some(closes_local) = schedule.closes_after(local) else {
            return out;
        };
        let closes = schedule.zone.instant(closes_local);
        let first = closes - Duration::minutes(i64::from(self.before_minutes));
        let step = Duration::minutes(i64::from(self.every_minutes.max(1)));
        let mut t = first;
        while t < closes {
            if t > after && t <= until {
                out.push(t);
            }
            if self.every_minutes == 0 {
                break;
            }
            t += step;
        }
        out
    }
}

/// Everything the state switches, evaluated at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switched {
    /// The state now.
    pub state: LibraryState,
    /// Each output rule's name and whether it is on.
    pub outputs: Vec<(String, bool)>,
}

/// The state and every output at this instant.
pub fn switched(schedule: &Schedule, rules: &[OutputRule], now: DateTime<Utc>) -> Switched {
    Switched {
        state: schedule.state_at(now),
        outputs: rules
            .iter()
            .map(|r| (r.name.clone(), r.is_on(schedule, now)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::tests::lemi;
    use chrono::NaiveDateTime;

    fn at(s: &str) -> DateTime<Utc> {
        crate::zone::Zone::HELSINKI
            .instant(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
    }

    #[test]
    fn closing_announcements_come_before_closing_and_repeat() {
        let s = lemi();
        let a = Announcement {
            file: "closing.wav".into(),
            before_minutes: 15,
            every_minutes: 5,
        };
        let times = a.due(&s, at("2026-01-13 21:00"), at("2026-01-13 21:59"));
        assert_eq!(
            times,
            vec![
                at("2026-01-13 21:45"),
                at("2026-01-13 21:50"),
                at("2026-01-13 21:55")
            ]
        );
        // Ticking minute by minute finds each once.
        let mut t = at("2026-01-13 20:00");
        let mut all = vec![];
        while t < at("2026-01-13 23:00") {
            all.extend(a.due(&s, t, t + Duration::seconds(1)));
            t += Duration::seconds(1);
        }
        assert_eq!(all.len(), 3);
        // Staffed hours running into self-service do not count as closing.
        assert!(
            a.due(&s, at("2026-01-13 18:00"), at("2026-01-13 19:00"))
                .is_empty()
        );
        let once = Announcement {
            every_minutes: 0,
            ..a
        };
        assert_eq!(
            once.due(&s, at("2026-01-13 21:00"), at("2026-01-13 21:59")),
            vec![at("2026-01-13 21:45")]
        );
    }

    #[test]
    fn outputs_follow_states_with_offsets() {
        let s = lemi();
        let rules = [
            OutputRule {
                name: "lights".into(),
                when: vec![LibraryState::Staffed, LibraryState::SelfService],
                lead_minutes: 15,
                lag_minutes: 10,
            },
            OutputRule {
                name: "public-pcs".into(),
                when: vec![LibraryState::Staffed],
                lead_minutes: 5,
                lag_minutes: 0,
            },
        ];
        let on = |t: &str| {
            switched(&s, &rules, at(t))
                .outputs
                .iter()
                .map(|o| o.1)
                .collect::<Vec<_>>()
        };
        assert_eq!(on("2026-01-13 06:40"), vec![false, false]);
        assert_eq!(on("2026-01-13 06:50"), vec![true, false]);
        assert_eq!(on("2026-01-13 11:56"), vec![true, true]);
        assert_eq!(on("2026-01-13 19:00"), vec![true, false]);
        assert_eq!(on("2026-01-13 22:05"), vec![true, false]);
        assert_eq!(on("2026-01-13 22:15"), vec![false, false]);
        assert_eq!(
            switched(&s, &rules, at("2026-01-13 12:30")).state,
            LibraryState::Staffed
        );
    }
}
