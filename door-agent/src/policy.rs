//! The console's policy bundle, for the door: its calendar as the door's [`Schedule`]. The
//! bundle is checked and kept by `uplink::policy`; here its words become hours, with the same
//! parsing as the configuration file's `[hours]`. The file's own hours apply until a bundle is
//! taken, and whenever the one kept cannot be used.

use access::hours::{DayHours, Exception, Schedule, Span};
use access::zone::Zone;
use chrono::NaiveDate;
use report::policy::{DaySpans, Policy};

/// The bundle's calendar as a schedule, or why it cannot be one.
pub fn schedule(p: &Policy) -> Result<Schedule, String> {
    let zone = Zone::parse(&p.time_zone).map_err(|e| format!("time zone: {e}"))?;
    let day = |what: &str, d: &DaySpans| -> Result<DayHours, String> {
        let spans = |list: &[String]| -> Result<Vec<Span>, String> {
            list.iter()
                .map(|s| Span::parse(s).map_err(|e| format!("{what}: {e}")))
                .collect()
        };
        Ok(DayHours {
            self_service: spans(&d.self_service)?,
            staffed: spans(&d.staffed)?,
        })
    };
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut week: [DayHours; 7] = Default::default();
    if p.week.len() != 7 {
        return Err(format!("a week of {} days", p.week.len()));
    }
    for (i, d) in p.week.iter().enumerate() {
        week[i] = day(names[i], d)?;
    }
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}`: not a date"))
    };
    let mut exceptions = Vec::with_capacity(p.exceptions.len());
    for e in &p.exceptions {
        let (first, last) = (date(&e.first)?, date(&e.last)?);
        if last < first {
            return Err(format!("{}: ends before it begins", e.name));
        }
        exceptions.push(Exception {
            first,
            last,
            name: e.name.clone(),
            hours: day(&e.name, &e.hours)?,
        });
    }
    if p.last_entry_minutes > 120 {
        return Err(format!(
            "last entry {} minutes before closing; at most 120",
            p.last_entry_minutes
        ));
    }
    Ok(Schedule {
        zone,
        week,
        exceptions,
        last_entry_minutes: p.last_entry_minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use report::policy::DatedHours;

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
        let s = schedule(&policy()).unwrap();
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
            assert!(schedule(&broken).is_err(), "{broken:?}");
        }
    }
}
