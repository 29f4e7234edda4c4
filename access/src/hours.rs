//! A branch's week: self-service hours, staffed hours, exceptions (public holidays, closed days,
//! special hours) and a last-entry margin, read in the branch's wall-clock time. Everything is a
//! function of an instant given by the caller.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::zone::Zone;

/// Edges (span starts and ends, midnights) walked before giving up: two weeks of busy days.
const EDGES_LOOKED_AT: usize = 14 * 24;

/// Minutes since local midnight, 0..=1440 (1440 is 24:00, the end of the day).
pub type Minute = u16;

/// One span of a day, `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First minute.
    pub start: Minute,
    /// Minute after the last (1440 for midnight).
    pub end: Minute,
}

impl Span {
    /// Parses `HH:MM-HH:MM` (`24:00` ends a day). Spans past midnight are written as two.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (a, b) = text
            .split_once('-')
            .ok_or_else(|| format!("`{text}`: expected HH:MM-HH:MM"))?;
        let start = minute(a.trim()).ok_or_else(|| format!("`{a}`: expected HH:MM"))?;
        let end = minute(b.trim()).ok_or_else(|| format!("`{b}`: expected HH:MM"))?;
        if start >= end {
            return Err(format!(
                "`{text}`: the end must be after the start (write a span past midnight as two, ending 24:00 and starting 00:00)"
            ));
        }
        Ok(Self { start, end })
    }

    fn contains(&self, m: Minute) -> bool {
        self.start <= m && m < self.end
    }
}

fn minute(text: &str) -> Option<Minute> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Formats a minute of the day as `HH:MM`.
pub fn hhmm(m: Minute) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The hours of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayHours {
    /// When patrons may let themselves in with card and PIN.
    pub self_service: Vec<Span>,
    /// When staff are in (the door may stand open).
    pub staffed: Vec<Span>,
}

impl DayHours {
    fn state(&self, m: Minute) -> LibraryState {
        if self.staffed.iter().any(|s| s.contains(m)) {
            LibraryState::Staffed
        } else if self.self_service.iter().any(|s| s.contains(m)) {
            LibraryState::SelfService
        } else {
            LibraryState::Closed
        }
    }
}

/// A day or run of days with their own hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// First day.
    pub first: NaiveDate,
    /// Last day (the same as `first` for one day).
    pub last: NaiveDate,
    /// What it is ("Itsenäisyyspäivä", "Inventory"), for staff.
    pub name: String,
    /// The hours those days; empty when closed.
    pub hours: DayHours,
}

/// The library's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LibraryState {
    /// Staff are in.
    Staffed,
    /// Open to patrons with card and PIN.
    SelfService,
    /// Closed.
    Closed,
}

impl LibraryState {
    /// Parses the configuration's names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staffed" => Some(Self::Staffed),
            "self-service" => Some(Self::SelfService),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }

    /// The configuration's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Staffed => "staffed",
            Self::SelfService => "self-service",
            Self::Closed => "closed",
        }
    }

    /// Staffed or self-service.
    pub fn is_open(&self) -> bool {
        !matches!(self, Self::Closed)
    }
}

/// A branch's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The branch's wall clock.
    pub zone: Zone,
    /// Monday first.
    pub week: [DayHours; 7],
    /// Exceptions; a later one wins where two cover a day.
    pub exceptions: Vec<Exception>,
    /// No new entries this many minutes before self-service ends.
    pub last_entry_minutes: u16,
}

/// May a patron let themselves in now?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Yes; self-service lasts until this wall-clock time.
    Open {
        /// End of the open period.
        until: NaiveDateTime,
    },
    /// Staff are in.
    Staffed,
    /// Open, but the last entry was at `last_entry` (the library closes at `closes`).
    LastEntryPassed {
        /// The last entry time.
        last_entry: NaiveDateTime,
        /// Closing time.
        closes: NaiveDateTime,
    },
    /// Closed; opens next at this wall-clock time when one is found within two weeks.
    Closed {
        /// Next opening.
        opens: Option<NaiveDateTime>,
        /// The exception that closes the day, if one does.
        because: Option<String>,
    },
}

impl Schedule {
    /// The hours of a date, and the name of the exception that sets them.
    pub fn day(&self, date: NaiveDate) -> (&DayHours, Option<&str>) {
        match self
            .exceptions
            .iter()
            .rev()
            .find(|e| e.first <= date && date <= e.last)
        {
            Some(e) => (&e.hours, Some(e.name.as_str())),
            None => {
                let i = date.weekday().num_days_from_monday() as usize;
                (&self.week[i], None)
            }
        }
    }

    /// The state at a wall-clock time.
    pub fn state_local(&self, local: NaiveDateTime) -> LibraryState {
        let (hours, _) = self.day(local.date());
        hours.state(minute_of(local.time()))
    }

    /// The state at an instant.
    pub fn state_at(&self, now: DateTime<Utc>) -> LibraryState {
        self.state_local(self.zone.local(now))
    }

    /// Whether the state is one of `states` at any minute in `[now - lag, now + lead]`: outputs
    /// that come on before a state begins and stay on after it ends.
    pub fn any_state_within(
        &self,
        now: DateTime<Utc>,
        states: &[LibraryState],
        lead_minutes: u16,
        lag_minutes: u16,
    ) -> bool {
        if states.contains(&self.state_at(now)) {
            return true;
        }
        let local = self.zone.local(now);
        let probe = |m: i64| states.contains(&self.state_local(local + Duration::minutes(m)));
        (1..=i64::from(lead_minutes)).any(probe) || (1..=i64::from(lag_minutes)).any(|m| probe(-m))
    }

    /// When the current open period (staffed or self-service, run together across midnight) ends,
    /// as wall-clock time; `None` when closed now or open for more than two weeks.
    pub fn closes_after(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        self.end_of_run(local, |s| s.is_open())
    }

    /// When self-service (and staffed hours run on from it) ends.
    fn end_of_run(
        &self,
        local: NaiveDateTime,
        keep: impl Fn(LibraryState) -> bool,
    ) -> Option<NaiveDateTime> {
        if !keep(self.state_local(local)) {
            return None;
        }
        self.first_edge_where(local, |s| !keep(s))
    }

    /// The first span edge (or midnight) after `t` where the state satisfies `found`. Only edges
    /// can change the state, so this steps from edge to edge.
    fn first_edge_where(
        &self,
        t: NaiveDateTime,
        found: impl Fn(LibraryState) -> bool,
    ) -> Option<NaiveDateTime> {
        let mut t = t;
        for _ in 0..EDGES_LOOKED_AT {
            let next = self.next_edge(t)?;
            if found(self.state_local(next)) {
                return Some(next);
            }
            t = next;
        }
        None
    }

    /// The first span edge or midnight strictly after `t`.
    fn next_edge(&self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let date = t.date();
        let now_m = minute_of(t.time());
        let (hours, _) = self.day(date);
        let edge = hours
            .self_service
            .iter()
            .chain(hours.staffed.iter())
            .flat_map(|s| [s.start, s.end])
            .filter(|m| *m > now_m && *m < 1440)
            .min();
        Some(match edge {
            Some(m) => at_minute(date, m),
            None => at_minute(date.succ_opt()?, 0),
        })
    }

    /// May a patron let themselves in at this instant?
    pub fn entry_at(&self, now: DateTime<Utc>) -> Entry {
        let local = self.zone.local(now);
        match self.state_local(local) {
            LibraryState::Staffed => Entry::Staffed,
            LibraryState::SelfService => {
                let closes = self
                    .end_of_run(local, |s| s == LibraryState::SelfService)
                    .unwrap_or(local + Duration::days(14));
                let last_entry = closes - Duration::minutes(i64::from(self.last_entry_minutes));
                // A run that continues into staffed hours has no last-entry cut.
                let closing = self.state_local(closes) == LibraryState::Closed;
                if closing && local >= last_entry {
                    Entry::LastEntryPassed { last_entry, closes }
                } else {
                    Entry::Open { until: closes }
                }
            }
            LibraryState::Closed => Entry::Closed {
                opens: self.opens_after(local),
                because: self.day(local.date()).1.map(str::to_owned),
            },
        }
    }

    /// The next wall-clock time the library opens (staffed or self-service), within two weeks.
    pub fn opens_after(&self, local: NaiveDateTime) -> Option<NaiveDateTime> {
        self.first_edge_where(local, |s| s.is_open())
    }
}

fn minute_of(t: NaiveTime) -> Minute {
    use chrono::Timelike;
    // hour() < 24 and minute() < 60: the product fits.
    u16::try_from(t.hour() * 60 + t.minute()).unwrap_or(0)
}

fn at_minute(date: NaiveDate, m: Minute) -> NaiveDateTime {
    date.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::minutes(i64::from(m))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn spans(list: &[&str]) -> Vec<Span> {
        list.iter().map(|s| Span::parse(s).unwrap()).collect()
    }

    /// Lemi: self-service 07-22 every day, staffed Tue and Thu 12-19, Sat 10-14.
    pub(crate) fn lemi() -> Schedule {
        let day = |staffed: &[&str]| DayHours {
            self_service: spans(&["07:00-22:00"]),
            staffed: spans(staffed),
        };
        Schedule {
            zone: Zone::HELSINKI,
            week: [
                day(&[]),
                day(&["12:00-19:00"]),
                day(&[]),
                day(&["12:00-19:00"]),
                day(&[]),
                day(&["10:00-14:00"]),
                day(&[]),
            ],
            exceptions: vec![
                Exception {
                    first: d("2026-12-06"),
                    last: d("2026-12-06"),
                    name: "Itsenäisyyspäivä".into(),
                    hours: DayHours::default(),
                },
                Exception {
                    first: d("2026-12-24"),
                    last: d("2026-12-26"),
                    name: "Joulu".into(),
                    hours: DayHours::default(),
                },
                Exception {
                    first: d("2026-12-31"),
                    last: d("2026-12-31"),
                    name: "Uudenvuodenaatto".into(),
                    hours: DayHours {
                        self_service: spans(&["07:00-16:00"]),
                        staffed: vec![],
                    },
                },
            ],
            last_entry_minutes: 15,
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn l(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }
    fn at(s: &str) -> DateTime<Utc> {
        Zone::HELSINKI.instant(l(s))
    }

    #[test]
    fn spans_parse_and_refuse_nonsense() {
        assert_eq!(
            Span::parse("07:00-22:00").unwrap(),
            Span {
                start: 420,
                end: 1320
            }
        );
        assert_eq!(Span::parse("22:00-24:00").unwrap().end, 1440);
        for bad in [
            "",
            "7-22",
            "07:00",
            "22:00-07:00",
            "07:00-07:00",
            "25:00-26:00",
            "07:60-08:00",
            "24:30-24:40",
            "07:00-x",
        ] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_january_evening_in_lemi() {
        let s = lemi();
        assert_eq!(
            s.state_at(at("2026-01-13 21:00")),
            LibraryState::SelfService
        );
        assert_eq!(
            s.entry_at(at("2026-01-13 21:00")),
            Entry::Open {
                until: l("2026-01-13 22:00")
            }
        );
        assert_eq!(
            s.entry_at(at("2026-01-13 21:45")),
            Entry::LastEntryPassed {
                last_entry: l("2026-01-13 21:45"),
                closes: l("2026-01-13 22:00")
            }
        );
        assert_eq!(
            s.entry_at(at("2026-01-13 21:44")),
            Entry::Open {
                until: l("2026-01-13 22:00")
            }
        );
        assert_eq!(
            s.entry_at(at("2026-01-13 22:00")),
            Entry::Closed {
                opens: Some(l("2026-01-14 07:00")),
                because: None
            }
        );
        assert_eq!(s.state_at(at("2026-01-13 12:00")), LibraryState::Staffed);
        assert_eq!(s.entry_at(at("2026-01-13 13:00")), Entry::Staffed);
        // Self-service before staffed hours runs on into them: no last-entry cut at 11:45.
        assert_eq!(
            s.entry_at(at("2026-01-13 11:50")),
            Entry::Open {
                until: l("2026-01-13 12:00")
            }
        );
    }

    #[test]
    fn holidays_close_and_special_days_shorten() {
        let s = lemi();
        assert_eq!(
            s.entry_at(at("2026-12-06 12:00")),
            Entry::Closed {
                opens: Some(l("2026-12-07 07:00")),
                because: Some("Itsenäisyyspäivä".into())
            }
        );
        assert_eq!(
            s.entry_at(at("2026-12-24 10:00")),
            Entry::Closed {
                opens: Some(l("2026-12-27 07:00")),
                because: Some("Joulu".into())
            }
        );
        assert_eq!(s.state_at(at("2026-12-31 16:30")), LibraryState::Closed);
        assert_eq!(
            s.entry_at(at("2026-12-31 15:50")),
            Entry::LastEntryPassed {
                last_entry: l("2026-12-31 15:45"),
                closes: l("2026-12-31 16:00")
            }
        );
        // Closed on the 23rd evening: next opening skips the three Christmas days.
        assert_eq!(
            s.opens_after(l("2026-12-23 23:00")),
            Some(l("2026-12-27 07:00"))
        );
    }

    #[test]
    fn dst_edges_keep_wall_clock_hours() {
        let s = lemi();
        // The Sundays the clocks change: opening is at 07:00 local either way.
        for day in ["2026-03-29", "2026-10-25"] {
            assert_eq!(
                s.state_at(at(&format!("{day} 06:59"))),
                LibraryState::Closed
            );
            assert_eq!(
                s.state_at(at(&format!("{day} 07:00"))),
                LibraryState::SelfService
            );
            assert_eq!(
                s.state_at(at(&format!("{day} 21:59"))),
                LibraryState::SelfService
            );
            assert_eq!(
                s.state_at(at(&format!("{day} 22:00"))),
                LibraryState::Closed
            );
        }
        // In UTC the opening moves by the hour.
        assert_eq!(
            at("2026-03-28 07:00").to_rfc3339(),
            "2026-03-28T05:00:00+00:00"
        );
        assert_eq!(
            at("2026-03-29 07:00").to_rfc3339(),
            "2026-03-29T04:00:00+00:00"
        );
    }

    #[test]
    fn round_the_clock_runs_across_midnight() {
        let mut s = lemi();
        for day in s.week.iter_mut() {
            *day = DayHours {
                self_service: spans(&["00:00-24:00"]),
                staffed: vec![],
            };
        }
        s.exceptions.clear();
        s.exceptions.push(Exception {
            first: d("2026-02-01"),
            last: d("2026-02-01"),
            name: "Inventory".into(),
            hours: DayHours::default(),
        });
        assert_eq!(
            s.entry_at(at("2026-01-30 12:00")),
            Entry::Open {
                until: l("2026-02-01 00:00")
            }
        );
        assert_eq!(
            s.entry_at(at("2026-01-31 23:50")),
            Entry::LastEntryPassed {
                last_entry: l("2026-01-31 23:45"),
                closes: l("2026-02-01 00:00")
            }
        );
        assert_eq!(
            s.opens_after(l("2026-02-01 10:00")),
            Some(l("2026-02-02 00:00"))
        );
    }

    #[test]
    fn outputs_lead_and_lag_the_state() {
        let s = lemi();
        let open = [LibraryState::SelfService, LibraryState::Staffed];
        assert!(!s.any_state_within(at("2026-01-13 06:44"), &open, 15, 10));
        assert!(s.any_state_within(at("2026-01-13 06:45"), &open, 15, 10));
        assert!(s.any_state_within(at("2026-01-13 22:09"), &open, 15, 10));
        assert!(!s.any_state_within(at("2026-01-13 22:10"), &open, 15, 10));
    }

    #[test]
    fn closing_time_of_an_open_run() {
        let s = lemi();
        assert_eq!(
            s.closes_after(l("2026-01-13 13:00")),
            Some(l("2026-01-13 22:00"))
        );
        assert_eq!(s.closes_after(l("2026-01-13 23:00")), None);
    }
}
