//! Finnish public holidays, computed for any year, and a branch's calendar made of them: its
//! week, what it does on each holiday (closed, short hours, as usual) and its own named
//! exceptions, turned into the dated exceptions a [`Schedule`](crate::hours::Schedule) reads.
//!
//! The days (Act 1961/2 and the Church Act's holy days, as libraries keep them): New Year's Day,
//! Epiphany (6 January), Good Friday, Easter Sunday and Monday, May Day, Ascension Day (Easter +
//! 39 days), Whit Sunday (Easter + 49), Midsummer Eve (the Friday from 19 to 25 June) and
//! Midsummer Day (the Saturday from 20 to 26 June), All Saints' Day (the Saturday from 31 October
//! to 6 November), Independence Day (6 December), Christmas Eve, Christmas Day and Boxing Day.
//! Easter is the Gregorian computus (the anonymous algorithm of Meeus). Checked against an
//! outside list for 2020-2040 (`tests/fixtures`).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::hours::{DayHours, Exception};

/// A Finnish public holiday (or eve a library keeps as one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Holiday {
    /// 1 January.
    NewYear,
    /// 6 January.
    Epiphany,
    /// Easter − 2.
    GoodFriday,
    /// Easter.
    EasterSunday,
    /// Easter + 1.
    EasterMonday,
    /// 1 May.
    MayDay,
    /// Easter + 39 (a Thursday).
    AscensionDay,
    /// Easter + 49 (a Sunday).
    WhitSunday,
    /// The Friday from 19 to 25 June.
    MidsummerEve,
    /// The Saturday from 20 to 26 June.
    MidsummerDay,
    /// The Saturday from 31 October to 6 November.
    AllSaintsDay,
    /// 6 December.
    IndependenceDay,
    /// 24 December.
    ChristmasEve,
    /// 25 December.
    ChristmasDay,
    /// 26 December.
    BoxingDay,
}

impl Holiday {
    /// Every holiday, in the order of a year.
    pub const ALL: [Self; 15] = [
        Self::NewYear,
        Self::Epiphany,
        Self::GoodFriday,
        Self::EasterSunday,
        Self::EasterMonday,
        Self::MayDay,
        Self::AscensionDay,
        Self::WhitSunday,
        Self::MidsummerEve,
        Self::MidsummerDay,
        Self::AllSaintsDay,
        Self::IndependenceDay,
        Self::ChristmasEve,
        Self::ChristmasDay,
        Self::BoxingDay,
    ];

    /// Its stable code (`midsummer-eve`), as stored and sent.
    pub fn code(self) -> &'static str {
        match self {
            Self::NewYear => "new-year",
            Self::Epiphany => "epiphany",
            Self::GoodFriday => "good-friday",
            Self::EasterSunday => "easter-sunday",
            Self::EasterMonday => "easter-monday",
            Self::MayDay => "may-day",
            Self::AscensionDay => "ascension-day",
            Self::WhitSunday => "whit-sunday",
            Self::MidsummerEve => "midsummer-eve",
            Self::MidsummerDay => "midsummer-day",
            Self::AllSaintsDay => "all-saints-day",
            Self::IndependenceDay => "independence-day",
            Self::ChristmasEve => "christmas-eve",
            Self::ChristmasDay => "christmas-day",
            Self::BoxingDay => "boxing-day",
        }
    }

    /// Reads a code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.code() == code)
    }

    /// Its name in `fi`, `sv` or `en` (anything else: English).
    pub fn name(self, lang: &str) -> &'static str {
        let (fi, sv, en) = match self {
            Self::NewYear => ("Uudenvuodenpäivä", "Nyårsdagen", "New Year's Day"),
            Self::Epiphany => ("Loppiainen", "Trettondagen", "Epiphany"),
            Self::GoodFriday => ("Pitkäperjantai", "Långfredagen", "Good Friday"),
            Self::EasterSunday => ("Pääsiäispäivä", "Påskdagen", "Easter Sunday"),
            Self::EasterMonday => ("2. pääsiäispäivä", "Annandag påsk", "Easter Monday"),
            Self::MayDay => ("Vappu", "Första maj", "May Day"),
            Self::AscensionDay => ("Helatorstai", "Kristi himmelsfärdsdag", "Ascension Day"),
            Self::WhitSunday => ("Helluntaipäivä", "Pingstdagen", "Whit Sunday"),
            Self::MidsummerEve => ("Juhannusaatto", "Midsommarafton", "Midsummer Eve"),
            Self::MidsummerDay => ("Juhannuspäivä", "Midsommardagen", "Midsummer Day"),
            Self::AllSaintsDay => ("Pyhäinpäivä", "Alla helgons dag", "All Saints' Day"),
            Self::IndependenceDay => (
                "Itsenäisyyspäivä",
                "Självständighetsdagen",
                "Independence Day",
            ),
            Self::ChristmasEve => ("Jouluaatto", "Julafton", "Christmas Eve"),
            Self::ChristmasDay => ("Joulupäivä", "Juldagen", "Christmas Day"),
            Self::BoxingDay => ("Tapaninpäivä", "Annandag jul", "Boxing Day"),
        };
        match lang {
            "fi" => fi,
            "sv" => sv,
            _ => en,
        }
    }

    /// Its date in `year` (a year chrono can hold: −262143..=262142).
    pub fn date(self, year: i32) -> Option<NaiveDate> {
        let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d);
        let from_easter = |days: i64| easter(year).map(|e| e + Duration::days(days));
        match self {
            Self::NewYear => fixed(1, 1),
            Self::Epiphany => fixed(1, 6),
            Self::GoodFriday => from_easter(-2),
            Self::EasterSunday => from_easter(0),
            Self::EasterMonday => from_easter(1),
            Self::MayDay => fixed(5, 1),
            Self::AscensionDay => from_easter(39),
            Self::WhitSunday => from_easter(49),
            Self::MidsummerEve => first_weekday_from(fixed(6, 19)?, Weekday::Fri),
            Self::MidsummerDay => first_weekday_from(fixed(6, 20)?, Weekday::Sat),
            Self::AllSaintsDay => first_weekday_from(fixed(10, 31)?, Weekday::Sat),
            Self::IndependenceDay => fixed(12, 6),
            Self::ChristmasEve => fixed(12, 24),
            Self::ChristmasDay => fixed(12, 25),
            Self::BoxingDay => fixed(12, 26),
        }
    }
}

/// The first `weekday` on or after `day`.
fn first_weekday_from(day: NaiveDate, weekday: Weekday) -> Option<NaiveDate> {
    let ahead = (7 + weekday.num_days_from_monday() - day.weekday().num_days_from_monday()) % 7;
    day.checked_add_signed(Duration::days(i64::from(ahead)))
}

/// Easter Sunday of a Gregorian year (Meeus's anonymous algorithm; valid for every year after
/// 1582, and computed the same way before).
pub fn easter(year: i32) -> Option<NaiveDate> {
    let y = year;
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    NaiveDate::from_ymd_opt(y, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The holidays of `year`, in date order.
pub fn in_year(year: i32) -> Vec<(NaiveDate, Holiday)> {
    let mut days: Vec<_> = Holiday::ALL
        .into_iter()
        .filter_map(|h| Some((h.date(year)?, h)))
        .collect();
    days.sort();
    days
}

/// What a branch does on a holiday.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HolidayRule {
    /// Closed all day (the default: Finnish libraries close on every one of them).
    #[default]
    Closed,
    /// Open these hours instead of the weekday's.
    Hours(DayHours),
    /// The weekday's hours, as on any other day.
    AsUsual,
}

/// A branch's calendar as staff keep it: the week, a rule per holiday (missing: closed), and
/// the branch's own named exceptions (which win over a holiday on the same day).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    /// Monday first.
    pub week: [DayHours; 7],
    /// Holidays whose rule is not the default.
    pub holidays: BTreeMap<Holiday, HolidayRule>,
    /// The branch's own exceptions (inventory, a closed week in July, an evening event).
    pub exceptions: Vec<Exception>,
}

impl Calendar {
    /// The rule a branch keeps on `h`.
    pub fn rule(&self, h: Holiday) -> HolidayRule {
        self.holidays.get(&h).cloned().unwrap_or_default()
    }

    /// The dated exceptions between `first` and `last` (both included) for a schedule: each
    /// holiday not kept as usual, named in `lang`, then the branch's own exceptions that touch
    /// the range (a schedule lets a later exception win, so the branch's own do).
    pub fn exceptions_between(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        lang: &str,
    ) -> Vec<Exception> {
        let mut out = vec![];
        for year in first.year()..=last.year() {
            for (date, h) in in_year(year) {
                if date < first || date > last {
                    continue;
                }
                let hours = match self.rule(h) {
                    HolidayRule::AsUsual => continue,
                    HolidayRule::Closed => DayHours::default(),
                    HolidayRule::Hours(hours) => hours,
                };
                out.push(Exception {
                    first: date,
                    last: date,
                    name: h.name(lang).to_owned(),
                    hours,
                });
            }
        }
        out.extend(
            self.exceptions
                .iter()
                .filter(|e| e.last >= first && e.first <= last)
                .cloned(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::Span;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// The outside list: every line `YYYY-MM-DD Finnish name`.
    fn published() -> Vec<(NaiveDate, String)> {
        include_str!("../tests/fixtures/fi-holidays-2020-2040.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (date, name) = l.split_once(' ').unwrap();
                (date.parse().unwrap(), name.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_year_2020_to_2040_matches_the_published_list_date_for_date_and_name_for_name() {
        let theirs = published();
        assert_eq!(theirs.len(), 21 * 15);
        let ours: Vec<(NaiveDate, String)> = (2020..=2040)
            .flat_map(in_year)
            .map(|(date, h)| (date, h.name("fi").to_owned()))
            .collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn easter_on_known_dates_including_the_extremes() {
        // The earliest and latest Easters possible (22 March, 25 April) and some in between.
        assert_eq!(easter(1818), Some(d(1818, 3, 22)));
        assert_eq!(easter(2285), Some(d(2285, 3, 22)));
        assert_eq!(easter(1943), Some(d(1943, 4, 25)));
        assert_eq!(easter(2038), Some(d(2038, 4, 25)));
        assert_eq!(easter(2000), Some(d(2000, 4, 23)));
        assert_eq!(easter(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter(2027), Some(d(2027, 3, 28)));
    }

    #[test]
    fn the_rules_hold_in_every_year_of_five_centuries() {
        for year in 1600..=2600 {
            let e = easter(year).unwrap();
            assert_eq!(e.weekday(), Weekday::Sun, "{year}");
            assert!(e >= d(year, 3, 22) && e <= d(year, 4, 25), "{year}: {e}");
            let date = |h: Holiday| h.date(year).unwrap();
            assert_eq!(date(Holiday::GoodFriday).weekday(), Weekday::Fri);
            assert_eq!(date(Holiday::AscensionDay).weekday(), Weekday::Thu);
            assert_eq!(date(Holiday::WhitSunday).weekday(), Weekday::Sun);
            let eve = date(Holiday::MidsummerEve);
            assert_eq!(eve.weekday(), Weekday::Fri);
            assert!(eve >= d(year, 6, 19) && eve <= d(year, 6, 25));
            assert_eq!(date(Holiday::MidsummerDay), eve.succ_opt().unwrap());
            let saints = date(Holiday::AllSaintsDay);
            assert_eq!(saints.weekday(), Weekday::Sat);
            assert!(saints >= d(year, 10, 31) && saints <= d(year, 11, 6));
            assert_eq!(in_year(year).len(), 15);
        }
    }

    #[test]
    fn codes_read_back_and_every_holiday_has_three_names() {
        for h in Holiday::ALL {
            assert_eq!(Holiday::from_code(h.code()), Some(h));
            let names = [h.name("fi"), h.name("sv"), h.name("en")];
            assert!(names.iter().all(|n| !n.is_empty()));
            assert_eq!(
                serde_json::to_string(&h).unwrap(),
                format!("\"{}\"", h.code())
            );
        }
        assert_eq!(Holiday::from_code("midsummer"), None);
    }

    #[test]
    fn years_at_the_edge_of_the_calendar_do_not_panic() {
        for year in [i32::MIN, -262_144, -262_143, 0, 262_142, 262_143, i32::MAX] {
            let _ = in_year(year);
        }
    }

    fn hours(list: &[&str]) -> DayHours {
        DayHours {
            self_service: list.iter().map(|s| Span::parse(s).unwrap()).collect(),
            staffed: vec![],
        }
    }

    #[test]
    fn a_calendar_closes_holidays_unless_told_otherwise_and_its_own_exceptions_win() {
        let mut c = Calendar {
            week: std::array::from_fn(|_| hours(&["07:00-22:00"])),
            ..Calendar::default()
        };
        c.holidays.insert(
            Holiday::ChristmasEve,
            HolidayRule::Hours(hours(&["07:00-12:00"])),
        );
        c.holidays.insert(Holiday::MayDay, HolidayRule::AsUsual);
        c.exceptions.push(Exception {
            first: d(2026, 12, 6),
            last: d(2026, 12, 6),
            name: "Itsenäisyyspäivän juhla".into(),
            hours: hours(&["18:00-20:00"]),
        });
        let ex = c.exceptions_between(d(2026, 12, 1), d(2027, 1, 31), "fi");
        let names: Vec<(NaiveDate, &str)> = ex.iter().map(|e| (e.first, e.name.as_str())).collect();
        assert_eq!(
            names,
            [
                (d(2026, 12, 6), "Itsenäisyyspäivä"),
                (d(2026, 12, 24), "Jouluaatto"),
                (d(2026, 12, 25), "Joulupäivä"),
                (d(2026, 12, 26), "Tapaninpäivä"),
                (d(2027, 1, 1), "Uudenvuodenpäivä"),
                (d(2027, 1, 6), "Loppiainen"),
                (d(2026, 12, 6), "Itsenäisyyspäivän juhla"),
            ]
        );
        assert_eq!(ex[1].hours, hours(&["07:00-12:00"]));
        assert_eq!(ex[0].hours, DayHours::default());
        let schedule = crate::hours::Schedule {
            zone: crate::zone::Zone::HELSINKI,
            week: c.week.clone(),
            exceptions: ex,
            last_entry_minutes: 0,
        };
        // The branch's own evening event wins over the holiday it falls on.
        assert_eq!(
            schedule.day(d(2026, 12, 6)).1,
            Some("Itsenäisyyspäivän juhla")
        );
        let may = c.exceptions_between(d(2027, 5, 1), d(2027, 5, 1), "en");
        assert!(may.is_empty(), "May Day kept as usual: {may:?}");
    }
}
