//! Wall-clock time of a European library: a standard offset plus the EU summer-time rule (since
//! 1996: from the last Sunday of March to the last Sunday of October, both at 01:00 UTC). That
//! rule is all Finland and its neighbours use, so no time-zone database is needed on the device.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A zone with the EU summer-time rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    name: &'static str,
    /// Standard (winter) offset east of UTC, in seconds.
    standard: i32,
    summer_time: bool,
}

/// The zones a configuration may name.
const ZONES: &[Zone] = &[
    Zone::eu("Europe/Helsinki", 2),
    Zone::eu("Europe/Mariehamn", 2),
    Zone::eu("Europe/Tallinn", 2),
    Zone::eu("Europe/Riga", 2),
    Zone::eu("Europe/Vilnius", 2),
    Zone::eu("Europe/Stockholm", 1),
    Zone::eu("Europe/Oslo", 1),
    Zone::eu("Europe/Copenhagen", 1),
    Zone::eu("Europe/Berlin", 1),
    Zone {
        name: "UTC",
        standard: 0,
        summer_time: false,
    },
];

impl Zone {
    const fn eu(name: &'static str, hours: i32) -> Self {
        Self {
            name,
            standard: hours * 3600,
            summer_time: true,
        }
    }

    /// Finland.
    pub const HELSINKI: Zone = Zone::eu("Europe/Helsinki", 2);

    /// The zone of this IANA name, when it is one we know.
    pub fn named(name: &str) -> Option<Self> {
        ZONES.iter().copied().find(|z| z.name == name)
    }

    /// Names a configuration may use.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        ZONES.iter().map(|z| z.name)
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Is summer time in force at this instant?
    pub fn is_summer_time(&self, at: DateTime<Utc>) -> bool {
        if !self.summer_time {
            return false;
        }
        let year = at.year();
        let start = transition(year, 3);
        let end = transition(year, 10);
        at >= start && at < end
    }

    /// Offset east of UTC at this instant, in seconds.
    pub fn offset_secs(&self, at: DateTime<Utc>) -> i32 {
        self.standard + if self.is_summer_time(at) { 3600 } else { 0 }
    }

    /// The wall-clock time at this instant.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.naive_utc() + Duration::seconds(i64::from(self.offset_secs(at)))
    }

    /// The instant of a wall-clock time. A time that occurs twice (the autumn hour) gives the
    /// first; a time that does not occur (the spring hour) gives the instant the clocks show that
    /// time plus an hour, as a person moving the hands would.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let summer = self.standard + 3600;
        let candidates = [summer, self.standard];
        for offset in candidates {
            let utc = Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(offset))));
            if self.offset_secs(utc) == offset {
                return utc;
            }
        }
        Utc.from_utc_datetime(&(local - Duration::seconds(i64::from(self.standard))))
    }
}

/// 01:00 UTC on the last Sunday of `month`.
fn transition(year: i32, month: u32) -> DateTime<Utc> {
    let day = last_sunday(year, month);
    Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).unwrap_or_default())
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    // Both months have 31 days.
    let last = NaiveDate::from_ymd_opt(year, month, 31).unwrap_or_default();
    let back = last.weekday().num_days_from_sunday();
    last - Duration::days(i64::from(back))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn helsinki_changes_clocks_on_the_published_days() {
        let z = Zone::HELSINKI;
        // 2026: 29 March and 25 October, 2027: 28 March and 31 October.
        assert_eq!(z.offset_secs(utc("2026-03-29T00:59:59Z")), 7200);
        assert_eq!(z.offset_secs(utc("2026-03-29T01:00:00Z")), 10800);
        assert_eq!(z.offset_secs(utc("2026-10-25T00:59:59Z")), 10800);
        assert_eq!(z.offset_secs(utc("2026-10-25T01:00:00Z")), 7200);
        assert_eq!(z.offset_secs(utc("2027-03-28T01:00:00Z")), 10800);
        assert_eq!(z.offset_secs(utc("2027-10-31T00:30:00Z")), 10800);
        assert_eq!(z.offset_secs(utc("2027-10-31T01:30:00Z")), 7200);
        assert_eq!(
            z.local(utc("2026-01-15T19:00:00Z")),
            local("2026-01-15 21:00")
        );
        assert_eq!(
            z.local(utc("2026-07-15T18:00:00Z")),
            local("2026-07-15 21:00")
        );
    }

    #[test]
    fn the_spring_gap_and_autumn_repeat_map_to_one_instant() {
        let z = Zone::HELSINKI;
        // 03:30 does not exist on 29 March 2026: it is read as 04:30 summer time.
        assert_eq!(
            z.instant(local("2026-03-29 03:30")),
            utc("2026-03-29T01:30:00Z")
        );
        assert_eq!(
            z.instant(local("2026-03-29 04:00")),
            utc("2026-03-29T01:00:00Z")
        );
        // 03:30 happens twice on 25 October 2026: the first.
        assert_eq!(
            z.instant(local("2026-10-25 03:30")),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            z.instant(local("2026-10-25 04:30")),
            utc("2026-10-25T02:30:00Z")
        );
    }

    #[test]
    fn local_and_instant_round_trip_outside_the_gap() {
        let z = Zone::HELSINKI;
        let mut t = utc("2026-01-01T00:00:00Z");
        while t < utc("2027-01-01T00:00:00Z") {
            assert!(z.instant(z.local(t)).timestamp() <= t.timestamp());
            let back = z.local(z.instant(z.local(t)));
            assert_eq!(back, z.local(t), "{t}");
            t += Duration::minutes(17);
        }
    }

    #[test]
    fn last_sundays_are_sundays() {
        for y in 1996..2100 {
            for m in [3, 10] {
                let d = last_sunday(y, m);
                assert_eq!(d.weekday(), chrono::Weekday::Sun);
                assert!(d.day() >= 25);
            }
        }
    }

    #[test]
    fn named_zones() {
        assert_eq!(Zone::named("Europe/Helsinki"), Some(Zone::HELSINKI));
        assert!(Zone::named("Mars/Olympus").is_none());
        assert_eq!(
            Zone::named("UTC")
                .unwrap()
                .offset_secs(utc("2026-07-01T00:00:00Z")),
            0
        );
    }
}
