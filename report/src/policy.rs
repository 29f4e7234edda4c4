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
use access::policy::Rules;
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
    /// Who may let themselves in, as the library decides it for the branch; none leaves each
    /// door's own `[rules]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryRules>,
}

/// Who may let themselves in at the branch: the library's rules, which replace a door's own
/// `[rules]` except what is the door's (its branch code, and whether hours apply at all: a
/// staff-only door's). Each is as in `access::policy::Rules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRules {
    /// Self-service terms must be accepted (when the library system says).
    pub require_terms: bool,
    /// Self-service permission must not be revoked (when the library system says).
    pub require_permission: bool,
    /// A permission the library system does not mention counts as missing.
    pub permission_must_be_stated: bool,
    /// The card must be valid and not expired.
    pub require_valid_card: bool,
    /// A lost card is refused.
    pub refuse_lost_card: bool,
    /// A lending ban keeps the patron out.
    pub refuse_lending_ban: bool,
    /// Fines over the limit keep the patron out.
    pub refuse_fines: bool,
    /// Minimum age; 0 for no age rule.
    pub min_age: u8,
    /// A guardian's consent admits a younger patron.
    pub consent_admits_minors: bool,
    /// A patron whose age is unknown is let in.
    pub admit_unknown_age: bool,
    /// Only these patron categories; every category when empty.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Blocks at this branch (or all) keep the patron out.
    pub honour_blocks: bool,
}

impl EntryRules {
    /// The library's part of a door's rules.
    pub fn of(r: &Rules) -> Self {
        Self {
            require_terms: r.require_terms,
            require_permission: r.require_permission,
            permission_must_be_stated: r.permission_must_be_stated,
            require_valid_card: r.require_valid_card,
            refuse_lost_card: r.refuse_lost_card,
            refuse_lending_ban: r.refuse_lending_ban,
            refuse_fines: r.refuse_fines,
            min_age: r.min_age.unwrap_or(0),
            consent_admits_minors: r.consent_admits_minors,
            admit_unknown_age: r.admit_unknown_age,
            categories: r.categories.clone(),
            honour_blocks: r.honour_blocks,
        }
    }

    /// A door's rules with these in place of the library's part; the door's branch code and
    /// whether hours apply stay the door's.
    pub fn onto(&self, door: &Rules) -> Rules {
        Rules {
            branch: door.branch.clone(),
            enforce_hours: door.enforce_hours,
            require_terms: self.require_terms,
            require_permission: self.require_permission,
            permission_must_be_stated: self.permission_must_be_stated,
            require_valid_card: self.require_valid_card,
            refuse_lost_card: self.refuse_lost_card,
            refuse_lending_ban: self.refuse_lending_ban,
            refuse_fines: self.refuse_fines,
            min_age: (self.min_age > 0).then_some(self.min_age),
            consent_admits_minors: self.consent_admits_minors,
            admit_unknown_age: self.admit_unknown_age,
            categories: self.categories.clone(),
            honour_blocks: self.honour_blocks,
        }
    }
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
            entry: None,
        }
    }

    #[test]
    fn the_librarys_rules_replace_the_doors_own_but_not_its_branch_or_its_hours_switch() {
        let door = Rules {
            branch: "LEMI".into(),
            enforce_hours: false,
            min_age: None,
            categories: vec!["ADULT".into()],
            ..Rules::default()
        };
        let library = EntryRules {
            min_age: 18,
            categories: vec![],
            refuse_fines: false,
            ..EntryRules::of(&Rules::default())
        };
        let r = library.onto(&door);
        assert_eq!(r.branch, "LEMI");
        assert!(!r.enforce_hours);
        assert_eq!(r.min_age, Some(18));
        assert!(r.categories.is_empty() && !r.refuse_fines);
        assert_eq!(EntryRules::of(&r), library);
        // No age rule is 0 on the wire, and comes back as none.
        let none = EntryRules {
            min_age: 0,
            ..library
        };
        assert_eq!(none.onto(&door).min_age, None);
        // A bundle without rules reads as before; one with them reads back.
        let with = Policy {
            entry: Some(none.clone()),
            ..policy()
        };
        let json = serde_json::to_vec(&with).unwrap();
        assert_eq!(Policy::parse(&json).unwrap(), with);
        assert!(
            !String::from_utf8(serde_json::to_vec(&policy()).unwrap())
                .unwrap()
                .contains("\"entry\"")
        );
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
