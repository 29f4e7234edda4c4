//! A branch's policy as the console signs it into a bundle (`allowlist::envelope`, purpose
//! policy) and a device applies it: the branch's time zone, its week, the dated exceptions the
//! console computed from its holidays and its own closed days for the days the bundle covers,
//! and the last-entry margin. The device's own file keeps what is the device's (pins, readers,
//! addresses, keys): nothing here can name those.
//!
//! Hours are written as the configuration file writes them (`"07:00-22:00"`), dates as ISO
//! dates, and read into the door's own types (`access::hours`) with the same span parser as its
//! `[hours]`: [`Policy::schedule`] on the device, [`DaySpans::hours`] and
//! [`DatedHours::exception`] where the console checks what staff typed.

use access::hours::{DayHours, Exception, Schedule, Span};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The body of a policy bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The branch it is for (the device's `[rules] branch`, its certificate's OU).
    pub branch: String,
    /// The branch's wall clock (`Europe/Helsinki`).
    pub time_zone: String,
    /// Monday first: seven days.
    pub week: Vec<DaySpans>,
    /// Dated exceptions in force between `first_day` and `last_day`; a later one wins where two
    /// cover a day.
    pub exceptions: Vec<DatedHours>,
    /// No new self-service entries this many minutes before self-service ends.
    pub last_entry_minutes: u16,
    /// The first day the exceptions were computed for (ISO date).
    pub first_day: String,
    /// The last (ISO date): past it, only the week applies.
    pub last_day: String,
}

/// A day's spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DaySpans {
    /// When patrons may let themselves in (`HH:MM-HH:MM`).
    #[serde(default)]
    pub self_service: Vec<String>,
    /// When staff are in.
    #[serde(default)]
    pub staffed: Vec<String>,
}

/// A day or run of days with their own hours; none when closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedHours {
    /// First day (ISO date).
    pub first: String,
    /// Last day (ISO date).
    pub last: String,
    /// What it is, for staff and for the patron told the door is shut.
    pub name: String,
    /// Its hours.
    #[serde(flatten)]
    pub hours: DaySpans,
}

impl Policy {
    /// Reads a bundle's body.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let p: Self =
            serde_json::from_slice(body).map_err(|e| format!("not a policy bundle: {e}"))?;
        if p.week.len() != 7 {
            return Err(format!("a week of {} days; expected 7", p.week.len()));
        }
        Ok(p)
    }
}

impl DaySpans {
    /// As the door's hours; the first span that is not `HH:MM-HH:MM` (end after start) in words.
    pub fn hours(&self) -> Result<DayHours, String> {
        let spans = |l: &[String]| {
            l.iter()
                .map(|s| Span::parse(s))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(DayHours {
            self_service: spans(&self.self_service)?,
            staffed: spans(&self.staffed)?,
        })
    }
}

impl DatedHours {
    /// As the door's exception; bad dates, a run that ends before it begins and bad spans are
    /// refused in words naming it.
    pub fn exception(&self) -> Result<Exception, String> {
        let date = |s: &str| {
            s.parse::<NaiveDate>()
                .map_err(|_| format!("{}: `{s}` is not a date (YYYY-MM-DD)", self.name))
        };
        let (first, last) = (date(&self.first)?, date(&self.last)?);
        if last < first {
            return Err(format!("{}: ends before it begins", self.name));
        }
        Ok(Exception {
            first,
            last,
            name: self.name.clone(),
            hours: self
                .hours
                .hours()
                .map_err(|e| format!("{}: {e}", self.name))?,
        })
    }
}

impl Policy {
    /// The calendar as the door's schedule, or why it cannot be one (the device keeps the hours
    /// in force then).
    pub fn schedule(&self) -> Result<Schedule, String> {
        let zone =
            access::zone::Zone::parse(&self.time_zone).map_err(|e| format!("time zone: {e}"))?;
        if self.week.len() != 7 {
            return Err(format!("a week of {} days", self.week.len()));
        }
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut week: [DayHours; 7] = Default::default();
        for (i, d) in self.week.iter().enumerate() {
            week[i] = d.hours().map_err(|e| format!("{}: {e}", names[i]))?;
        }
        let exceptions = self
            .exceptions
            .iter()
            .map(DatedHours::exception)
            .collect::<Result<Vec<_>, _>>()?;
        if self.last_entry_minutes > 120 {
            return Err(format!(
                "last entry {} minutes before closing; at most 120",
                self.last_entry_minutes
            ));
        }
        Ok(Schedule {
            zone,
            week,
            exceptions,
            last_entry_minutes: self.last_entry_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use access::hours::{DayHours, Span};
    use chrono::NaiveDate;

    fn policy() -> Policy {
        Policy {
            branch: "LEMI".into(),
            time_zone: "Europe/Helsinki".into(),
            week: vec![
                DaySpans {
                    self_service: vec!["07:00-22:00".into()],
                    staffed: vec!["12:00-19:00".into()],
                };
                7
            ],
            exceptions: vec![DatedHours {
                first: "2026-12-24".into(),
                last: "2026-12-26".into(),
                name: "Joulu".into(),
                hours: DaySpans::default(),
            }],
            last_entry_minutes: 15,
            first_day: "2026-12-01".into(),
            last_day: "2027-12-31".into(),
        }
    }

    #[test]
    fn a_bundle_becomes_the_same_schedule_a_file_would_give() {
        let s = policy().schedule().unwrap();
        assert_eq!(
            s.week[0].self_service,
            vec![Span::parse("07:00-22:00").unwrap()]
        );
        let (hours, name) = s.day(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap());
        assert_eq!((hours, name), (&DayHours::default(), Some("Joulu")));
        assert_eq!(s.last_entry_minutes, 15);
    }

    #[test]
    fn a_bundle_with_words_the_door_cannot_read_is_not_used() {
        for broken in [
            Policy {
                time_zone: "Mars/Olympus".into(),
                ..policy()
            },
            Policy {
                week: vec![DaySpans::default(); 6],
                ..policy()
            },
            Policy {
                exceptions: vec![DatedHours {
                    first: "2026-12-26".into(),
                    last: "2026-12-24".into(),
                    name: "x".into(),
                    hours: DaySpans::default(),
                }],
                ..policy()
            },
            Policy {
                week: vec![
                    DaySpans {
                        self_service: vec!["22:00-07:00".into()],
                        staffed: vec![],
                    };
                    7
                ],
                ..policy()
            },
        ] {
            assert!(broken.schedule().is_err(), "{broken:?}");
        }
    }
}
