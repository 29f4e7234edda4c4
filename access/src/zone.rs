//! Wall-clock time of a library: its IANA time zone, with the rules of the system's time-zone
//! database (`/usr/share/zoneinfo`, Debian's `tzdata`, or the directory in `$TZDIR`), read through
//! `jiff`.
//!
//! The rules are the operating system's, not ours: when a country changes its clocks (or the EU
//! stops changing them), the OS's `tzdata` update carries the new rules and a door follows them
//! from its next start, without a new release of omatoimi. Any zone of the database works.
//!
//! Reading the database is file I/O, and it happens once: [`Zone::parse`] (or [`Zone::named`])
//! reads the zone's rules when the configuration is loaded. A [`Zone`] is then a pure value:
//! [`Zone::local`], [`Zone::instant`] and the others do no I/O and read no clock, like the rest of
//! this crate. A daemon keeps the rules it read until it restarts.
//!
//! [`Zone::HELSINKI`] and [`Zone::UTC`] need no database: Helsinki's rules are compiled in (from
//! the copy of the database `jiff` ships, at build time), for tests, the simulator and examples,
//! which name no zone in a configuration. A configured door reads its zone, Helsinki included,
//! from the system's database.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Timelike, Utc};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// A time zone: its IANA name and its rules, read once (see the module documentation).
///
/// Two zones are equal when they have the same name.
#[derive(Clone)]
pub struct Zone {
    tz: TimeZone,
    /// The name it was made with, when the rules carry none.
    name: Name,
}

#[derive(Clone)]
enum Name {
    Static(&'static str),
    Owned(String),
}

/// A zone name that the system's time-zone database does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a time zone in the system's time-zone database{why}: expected an IANA name such as Europe/Helsinki{hint}"
)]
pub struct UnknownZone {
    name: String,
    /// Either empty or " (…)", what was wrong with the database itself.
    why: String,
    /// Either empty or "; did you mean …?".
    hint: String,
}

impl UnknownZone {
    /// The name that was asked for.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Zone {
    /// Finland, with rules compiled in (see the module documentation); a configured door reads
    /// its zone with [`Zone::parse`] instead.
    pub const HELSINKI: Zone = Zone {
        tz: jiff::tz::get!("Europe/Helsinki"),
        name: Name::Static("Europe/Helsinki"),
    };

    /// Coordinated Universal Time: no offset, no summer time.
    pub const UTC: Zone = Zone {
        tz: TimeZone::UTC,
        name: Name::Static("UTC"),
    };

    /// The zone of this IANA name (for example `Europe/Helsinki`, `America/New_York`), with its
    /// rules read from the system's time-zone database. This reads files: call it when the
    /// configuration is loaded, not for each decision.
    pub fn parse(name: &str) -> Result<Self, UnknownZone> {
        match TimeZone::get(name) {
            Ok(tz) => Ok(Self {
                tz,
                name: Name::Owned(name.to_owned()),
            }),
            Err(e) => Err(unknown(name, &e.to_string(), jiff::tz::db())),
        }
    }

    /// The box's own zone (`$TZ`, else the zone `/etc/localtime` links to), UTC when neither
    /// names one the database has. This reads
    /// files, as [`Zone::parse`] does: for a tool's report, not for a door's decisions, which
    /// use the branch's configured zone.
    pub fn system() -> Self {
        let named = std::env::var("TZ")
            .ok()
            .map(|tz| tz.trim_start_matches(':').to_owned())
            .or_else(|| {
                let target = std::fs::read_link("/etc/localtime").ok()?;
                let text = target.to_string_lossy().into_owned();
                text.split_once("zoneinfo/")
                    .map(|(_, name)| name.to_owned())
            });
        named
            .and_then(|name| Self::parse(&name).ok())
            .unwrap_or(Self::UTC)
    }

    /// A Unix time as this zone's wall clock shows it to a person at `now`: "21:43 today",
    /// "yesterday 21:43", "tomorrow 01:30", "2026-12-01 21:43".
    pub fn when(&self, unix: i64, now: DateTime<Utc>) -> String {
        let Some(at) = DateTime::<Utc>::from_timestamp(unix, 0) else {
            return unix.to_string();
        };
        let (local, today) = (self.local(at), self.local(now).date());
        let day = local.date();
        let clock = local.format("%H:%M");
        if day == today {
            format!("{clock} today")
        } else if today.pred_opt() == Some(day) {
            format!("yesterday {clock}")
        } else if today.succ_opt() == Some(day) {
            format!("tomorrow {clock}")
        } else {
            format!("{} {clock}", day.format("%Y-%m-%d"))
        }
    }

    /// The zone of this IANA name from the system's database, when it has one; [`Zone::parse`]
    /// tells why not.
    pub fn named(name: &str) -> Option<Self> {
        Self::parse(name).ok()
    }

    /// The IANA name (the database's spelling of it).
    pub fn name(&self) -> &str {
        match (self.tz.iana_name(), &self.name) {
            (Some(n), _) => n,
            (None, Name::Static(n)) => n,
            (None, Name::Owned(n)) => n,
        }
    }

    /// Is summer time (daylight saving time) in force at this instant?
    pub fn is_summer_time(&self, at: DateTime<Utc>) -> bool {
        self.tz.to_offset_info(timestamp(at)).dst().is_dst()
    }

    /// Offset east of UTC at this instant, in seconds.
    pub fn offset_secs(&self, at: DateTime<Utc>) -> i32 {
        self.tz.to_offset(timestamp(at)).seconds()
    }

    /// The wall-clock time at this instant.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        let utc = at.naive_utc();
        utc.checked_add_signed(Duration::seconds(i64::from(self.offset_secs(at))))
            .unwrap_or(utc)
    }

    /// The instant of a wall-clock time. A time that occurs twice (the autumn hour) gives the
    /// first; a time that does not occur (the spring hour) gives the instant the clocks show that
    /// time plus an hour, as a person moving the hands would (the offset before the change is
    /// used: what RFC 5545 and `jiff` call "compatible").
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let resolved = civil(local)
            .and_then(|dt| self.tz.to_ambiguous_timestamp(dt).compatible().ok())
            .and_then(|ts| {
                let nanos = u32::try_from(ts.subsec_nanosecond()).ok()?;
                DateTime::from_timestamp(ts.as_second(), nanos)
            });
        match resolved {
            Some(at) => at,
            // Beyond the years 9999 BCE to 9999 (or a leap second): the offset at the edge.
            None => {
                let edge = if local.year() < 0 {
                    Timestamp::MIN
                } else {
                    Timestamp::MAX
                };
                let offset = i64::from(self.tz.to_offset(edge).seconds());
                let utc = local
                    .checked_sub_signed(Duration::seconds(offset))
                    .unwrap_or(local);
                utc.and_utc()
            }
        }
    }
}

impl std::str::FromStr for Zone {
    type Err = UnknownZone;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Zone").field(&self.name()).finish()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why `name` was not found in `db`, with a guess from its names: the one whose last part
/// (`Helsinki` of `Europe/Helsinki`) is the name's, in any case.
fn unknown(name: &str, jiff_says: &str, db: &jiff::tz::TimeZoneDatabase) -> UnknownZone {
    let why = if db.is_definitively_empty() {
        " (there is none: install the tzdata package, or set TZDIR to its directory)".to_owned()
    } else if jiff_says.starts_with("failed to find time zone") {
        String::new()
    } else {
        // The name is there but its file is not a time zone.
        format!(" ({jiff_says})")
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let guesses: Vec<String> = if last.is_empty() {
        vec![]
    } else {
        db.available()
            .map(|n| n.as_str().to_owned())
            .filter(|n| {
                n.rsplit('/')
                    .next()
                    .is_some_and(|l| l.eq_ignore_ascii_case(last))
            })
            .take(3)
            .collect()
    };
    let hint = if guesses.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", guesses.join(" or "))
    };
    UnknownZone {
        name: name.to_owned(),
        why,
        hint,
    }
}

/// The instant as `jiff` has it; instants beyond its years (9999 BCE to 9999) are taken as its
/// first or last one.
fn timestamp(at: DateTime<Utc>) -> Timestamp {
    let nanos = i32::try_from(at.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(0);
    Timestamp::new(at.timestamp(), nanos).unwrap_or(if at.timestamp() < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// The wall-clock time as `jiff` has it, when it is within its years and not a leap second.
fn civil(local: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let small = |v: u32| i8::try_from(v).ok();
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        small(local.month())?,
        small(local.day())?,
        small(local.hour())?,
        small(local.minute())?,
        small(local.second())?,
        i32::try_from(local.nanosecond()).ok()?,
    )
    .ok()
}

/// "just now", "40 s ago", "17 min ago", "2 h 3 min ago", "3 days 4 h ago" (a negative span:
/// "in …", from a clock ahead of the reader's).
pub fn ago(secs: i64) -> String {
    if secs < 0 {
        return format!("in {}", duration(-secs));
    }
    if secs < 5 {
        return "just now".into();
    }
    format!("{} ago", duration(secs))
}

/// A span in the two largest units a person uses: "40 s", "17 min", "2 h 3 min", "3 days 4 h".
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".into(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }
    /// A zone from the system's database, or a failure that says what is missing.
    fn system(name: &str) -> Zone {
        Zone::parse(name).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Helsinki compiled in, and Helsinki from the system's database: the tests of Helsinki run
    /// on both.
    fn helsinkis() -> [Zone; 2] {
        [Zone::HELSINKI, system("Europe/Helsinki")]
    }

    #[test]
    fn helsinki_changes_clocks_on_the_published_days() {
        for z in helsinkis() {
            // 2026: 29 March and 25 October, 2027: 28 March and 31 October, at 01:00 UTC.
            assert_eq!(z.offset_secs(utc("2026-03-29T00:59:59Z")), 7200);
            assert_eq!(z.offset_secs(utc("2026-03-29T01:00:00Z")), 10800);
            assert_eq!(z.offset_secs(utc("2026-10-25T00:59:59Z")), 10800);
            assert_eq!(z.offset_secs(utc("2026-10-25T01:00:00Z")), 7200);
            assert_eq!(z.offset_secs(utc("2027-03-28T00:59:59Z")), 7200);
            assert_eq!(z.offset_secs(utc("2027-03-28T01:00:00Z")), 10800);
            assert_eq!(z.offset_secs(utc("2027-10-31T00:30:00Z")), 10800);
            assert_eq!(z.offset_secs(utc("2027-10-31T00:59:59Z")), 10800);
            assert_eq!(z.offset_secs(utc("2027-10-31T01:00:00Z")), 7200);
            assert_eq!(z.offset_secs(utc("2027-10-31T01:30:00Z")), 7200);
            assert!(!z.is_summer_time(utc("2026-03-29T00:59:59Z")));
            assert!(z.is_summer_time(utc("2026-03-29T01:00:00Z")));
            assert!(z.is_summer_time(utc("2027-10-31T00:59:59Z")));
            assert!(!z.is_summer_time(utc("2027-10-31T01:00:00Z")));
            // The wall clock jumps from 03:00 to 04:00, and back from 04:00 to 03:00.
            assert_eq!(
                z.local(utc("2026-03-29T00:59:59Z")),
                NaiveDateTime::parse_from_str("2026-03-29 02:59:59", "%Y-%m-%d %H:%M:%S").unwrap()
            );
            assert_eq!(
                z.local(utc("2026-03-29T01:00:00Z")),
                local("2026-03-29 04:00")
            );
            assert_eq!(
                z.local(utc("2027-10-31T00:59:00Z")),
                local("2027-10-31 03:59")
            );
            assert_eq!(
                z.local(utc("2027-10-31T01:00:00Z")),
                local("2027-10-31 03:00")
            );
            assert_eq!(
                z.local(utc("2026-01-15T19:00:00Z")),
                local("2026-01-15 21:00")
            );
            assert_eq!(
                z.local(utc("2026-07-15T18:00:00Z")),
                local("2026-07-15 21:00")
            );
        }
    }

    #[test]
    fn the_spring_gap_and_autumn_repeat_map_to_one_instant() {
        for z in helsinkis() {
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
            // And in 2027.
            assert_eq!(
                z.instant(local("2027-03-28 03:00")),
                utc("2027-03-28T01:00:00Z")
            );
            assert_eq!(
                z.instant(local("2027-10-31 03:00")),
                utc("2027-10-31T00:00:00Z")
            );
        }
    }

    #[test]
    fn local_and_instant_round_trip_outside_the_gap() {
        for z in helsinkis() {
            let mut t = utc("2026-01-01T00:00:00Z");
            while t < utc("2027-01-01T00:00:00Z") {
                assert!(z.instant(z.local(t)).timestamp() <= t.timestamp());
                let back = z.local(z.instant(z.local(t)));
                assert_eq!(back, z.local(t), "{t}");
                t += Duration::minutes(17);
            }
        }
    }

    #[test]
    fn the_compiled_in_helsinki_agrees_with_the_systems() {
        let (built, read) = (Zone::HELSINKI, system("Europe/Helsinki"));
        assert_eq!(built, read);
        let mut t = utc("2020-01-01T00:00:00Z");
        while t < utc("2028-01-01T00:00:00Z") {
            assert_eq!(built.offset_secs(t), read.offset_secs(t), "{t}");
            t += Duration::hours(5);
        }
    }

    #[test]
    fn a_zone_outside_the_eu_follows_its_own_rules() {
        // New York: from the second Sunday of March to the first of November, at 02:00 local.
        let ny = system("America/New_York");
        assert_eq!(ny.name(), "America/New_York");
        assert_eq!(ny.offset_secs(utc("2026-03-08T06:59:59Z")), -5 * 3600);
        assert_eq!(ny.offset_secs(utc("2026-03-08T07:00:00Z")), -4 * 3600);
        assert_eq!(ny.offset_secs(utc("2026-11-01T05:59:59Z")), -4 * 3600);
        assert_eq!(ny.offset_secs(utc("2026-11-01T06:00:00Z")), -5 * 3600);
        assert_eq!(
            ny.local(utc("2026-07-04T01:30:00Z")),
            local("2026-07-03 21:30")
        );
        // The gap (02:30 does not exist) and the repeated hour, as in Helsinki.
        assert_eq!(
            ny.instant(local("2026-03-08 02:30")),
            utc("2026-03-08T07:30:00Z")
        );
        assert_eq!(
            ny.instant(local("2026-11-01 01:30")),
            utc("2026-11-01T05:30:00Z")
        );
        // Istanbul: +03 all year since 2016, no summer time.
        let ist = system("Europe/Istanbul");
        for at in ["2026-01-15T12:00:00Z", "2026-07-15T12:00:00Z"] {
            assert_eq!(ist.offset_secs(utc(at)), 3 * 3600);
            assert!(!ist.is_summer_time(utc(at)));
        }
        // Stockholm and Berlin, an hour behind Helsinki all year.
        let sto = system("Europe/Stockholm");
        assert_eq!(sto.offset_secs(utc("2026-03-29T01:00:00Z")), 7200);
        assert_eq!(sto.offset_secs(utc("2026-12-01T00:00:00Z")), 3600);
    }

    #[test]
    fn an_unknown_name_is_a_clear_error() {
        let e = Zone::parse("Mars/Olympus").unwrap_err();
        assert_eq!(e.name(), "Mars/Olympus");
        let text = e.to_string();
        assert!(text.contains("`Mars/Olympus`"), "{text}");
        assert!(text.contains("IANA name such as Europe/Helsinki"), "{text}");
        assert!(!text.contains("did you mean"), "{text}");
        assert!("Mars/Olympus".parse::<Zone>().is_err());
        assert!(Zone::named("").is_none());
        // A city alone is not a name, but the error says which one it is.
        let text = Zone::parse("Helsinki").unwrap_err().to_string();
        assert!(text.contains("did you mean Europe/Helsinki?"), "{text}");
        let text = Zone::parse("Europe/Helsinky").unwrap_err().to_string();
        assert!(
            text.starts_with("`Europe/Helsinky` is not a time zone"),
            "{text}"
        );
        // A box without tzdata is told so.
        let none = jiff::tz::TimeZoneDatabase::none();
        let text = unknown("Europe/Helsinki", "failed to find time zone", &none).to_string();
        assert!(text.contains("install the tzdata package"), "{text}");
        // A zone with a broken file: what is wrong with it.
        let text = unknown("Europe/Broken", "invalid TZif data", jiff::tz::db()).to_string();
        assert!(text.contains("database (invalid TZif data):"), "{text}");
    }

    #[test]
    fn named_zones() {
        assert_eq!(Zone::named("Europe/Helsinki"), Some(Zone::HELSINKI));
        assert_eq!(Zone::HELSINKI.name(), "Europe/Helsinki");
        assert_eq!(Zone::HELSINKI.to_string(), "Europe/Helsinki");
        assert_eq!(format!("{:?}", Zone::HELSINKI), "Zone(\"Europe/Helsinki\")");
        assert!(Zone::named("Mars/Olympus").is_none());
        let z = Zone::named("UTC").unwrap();
        assert_eq!(z.offset_secs(utc("2026-07-01T00:00:00Z")), 0);
        assert_eq!(z, Zone::UTC);
        assert_eq!(Zone::UTC.offset_secs(utc("2026-07-01T00:00:00Z")), 0);
        assert!(!Zone::UTC.is_summer_time(utc("2026-07-01T00:00:00Z")));
    }

    #[test]
    fn instants_beyond_the_databases_years_do_not_panic() {
        let z = Zone::HELSINKI;
        for at in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let _ = z.local(at);
            let _ = z.offset_secs(at);
            let _ = z.instant(at.naive_utc());
        }
        let far = chrono::NaiveDate::from_ymd_opt(12000, 6, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        assert_eq!(z.instant(far), (far - Duration::hours(2)).and_utc());
    }

    #[test]
    fn durations_read_in_the_two_largest_units() {
        assert_eq!(duration(40), "40 s");
        assert_eq!(duration(17 * 60 + 5), "17 min");
        assert_eq!(duration(2 * 3600), "2 h");
        assert_eq!(duration(2 * 3600 + 3 * 60), "2 h 3 min");
        assert_eq!(duration(86_400 + 59), "1 day");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 59 * 60), "3 days 4 h");
        assert_eq!(ago(2), "just now");
        assert_eq!(ago(17 * 60), "17 min ago");
        assert_eq!(ago(-120), "in 2 min");
    }

    #[test]
    fn times_are_the_wall_clock_with_the_day_in_words() {
        use chrono::TimeZone as _;
        // 2026-03-03 23:00 in Helsinki (UTC+2 in winter).
        let now = Utc.with_ymd_and_hms(2026, 3, 3, 21, 0, 0).unwrap();
        let z = Zone::HELSINKI;
        // 21:43 Helsinki is 19:43 UTC.
        let t = Utc
            .with_ymd_and_hms(2026, 3, 3, 19, 43, 0)
            .unwrap()
            .timestamp();
        assert_eq!(z.when(t, now), "21:43 today");
        assert_eq!(z.when(t - 86_400, now), "yesterday 21:43");
        assert_eq!(z.when(t - 5 * 86_400, now), "2026-02-26 21:43");
        // 23:30 UTC on the 3rd is already the 4th in Helsinki.
        let t = Utc
            .with_ymd_and_hms(2026, 3, 3, 23, 30, 0)
            .unwrap()
            .timestamp();
        assert_eq!(z.when(t, now), "tomorrow 01:30");
    }
}
