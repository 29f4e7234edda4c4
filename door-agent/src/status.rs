//! `door-agent status` in words a technician reads at the door at night: the gauges of the
//! running door's health endpoint, times in the door's own zone with how long ago, durations in
//! days and hours. Pure: the gauges, the zone and `now` come in.

use std::collections::BTreeMap;

use access::zone::Zone;
use chrono::{DateTime, Utc};

/// The report for `gauges` (names without the `omatoimi_` prefix, as
/// [`daemon::metrics::read`] gives them) at `now`.
pub fn words(gauges: &[(String, String)], zone: &Zone, now: DateTime<Utc>) -> String {
    let g: BTreeMap<&str, f64> = gauges
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.trim().parse::<f64>().ok()?)))
        .collect();
    let num = |name: &str| g.get(name).copied();
    let time = |name: &str| num(name).map(|v| v as i64);
    let mut out = Vec::new();
    let mut line = |what: &str, text: String| out.push(format!("{what:<16} {text}"));

    line(
        "door-agent",
        match time("start_timestamp_seconds") {
            Some(t) => format!(
                "up {} (since {})",
                duration(now.timestamp() - t),
                when(zone, t, now)
            ),
            None if num("up") == Some(1.0) => "running".into(),
            None => "not saying it runs".into(),
        },
    );
    if let Some(alive) = num("door_task_alive") {
        line(
            "door task",
            if alive == 1.0 {
                "reading its inputs".into()
            } else {
                "NOT reading its inputs for over 2 s: the door may hang (systemd's watchdog restarts it)"
                    .into()
            },
        );
    }
    if let Some(state) = num("library_state") {
        let state = match state as i64 {
            0 => "closed",
            1 => "self-service (card and PIN)",
            2 => "staffed",
            _ => "unknown",
        };
        line("library", state.into());
    }
    if let Some(released) = num("lock_released") {
        line(
            "lock",
            if released == 1.0 {
                "RELEASED (a patron or the exit button now)".into()
            } else {
                "engaged".into()
            },
        );
    }
    let raised = num("alarms_raised").unwrap_or(0.0) as i64;
    let day = num("alarms_24h").map(|n| n as i64);
    line(
        "alarms",
        match (raised, day) {
            (0, Some(0)) => "none now, none in the last 24 h".into(),
            (0, Some(n)) => format!("none now, {n} in the last 24 h"),
            (n, Some(d)) => format!("{n} RAISED NOW, {d} in the last 24 h"),
            (0, None) => "none now".into(),
            (n, None) => format!("{n} RAISED NOW"),
        },
    );
    for (what, name) in [
        ("last entry", "last_entry_timestamp_seconds"),
        ("last refusal", "last_denial_timestamp_seconds"),
    ] {
        line(
            what,
            match time(name) {
                Some(t) => format!("{} ({})", when(zone, t, now), ago(now.timestamp() - t)),
                None => "none in the last 24 h".into(),
            },
        );
    }
    line(
        "library system",
        match num("online") {
            Some(1.0) => "reachable".into(),
            Some(_) => "NOT reachable: patrons are checked against the offline list".into(),
            None => "not asked yet".into(),
        },
    );
    line(
        "offline list",
        match num("allowlist_version") {
            None => "NONE applied: without the library system nobody gets in".into(),
            Some(v) => {
                let mut text = format!("version {}", v as i64);
                if let Some(t) = time("allowlist_last_sync_timestamp_seconds") {
                    text.push_str(&format!(
                        ", checked {} ({})",
                        when(zone, t, now),
                        ago(now.timestamp() - t)
                    ));
                }
                if let Some(t) = time("allowlist_expires_timestamp_seconds") {
                    let left = t - now.timestamp();
                    if left > 0 {
                        text.push_str(&format!(
                            ", expires {} (in {})",
                            when(zone, t, now),
                            duration(left)
                        ));
                    } else {
                        text.push_str(&format!(
                            ", EXPIRED {} ({})",
                            when(zone, t, now),
                            ago(-left)
                        ));
                    }
                }
                text
            }
        },
    );
    if let (Some(ok), Some(t)) = (num("selftest_ok"), time("selftest_timestamp_seconds")) {
        line(
            "last selftest",
            format!(
                "{} {} ({})",
                if ok == 1.0 { "passed" } else { "FAILED" },
                when(zone, t, now),
                ago(now.timestamp() - t)
            ),
        );
    }
    if let Some(n) = num("events") {
        line("events held", format!("{}", n as i64));
    }
    line("times in", zone.name().to_owned());
    let mut text = out.join("\n");
    text.push('\n');
    text
}

/// A Unix time as the door's wall clock shows it: "21:43 today", "yesterday 21:43",
/// "2026-12-01 21:43", with the zone's name.
pub fn when(zone: &Zone, unix: i64, now: DateTime<Utc>) -> String {
    let Some(at) = DateTime::<Utc>::from_timestamp(unix, 0) else {
        return unix.to_string();
    };
    let (local, today) = (zone.local(at), zone.local(now).date());
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

/// "just now", "40 s ago", "17 min ago", "2 h 3 min ago", "3 days 4 h ago".
pub fn ago(secs: i64) -> String {
    if secs < 0 {
        // The gauge was set by a clock ahead of this one.
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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn helsinki() -> Zone {
        Zone::parse("Europe/Helsinki").unwrap()
    }

    /// 2026-03-03 23:00 in Helsinki (UTC+2 in winter).
    fn eleven_pm() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 3, 21, 0, 0).unwrap()
    }

    fn gauges(list: &[(&str, f64)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), v.to_string()))
            .collect()
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
    }

    #[test]
    fn times_are_the_doors_wall_clock_with_the_day_in_words() {
        let now = eleven_pm();
        let z = helsinki();
        // 21:43 Helsinki is 19:43 UTC.
        let t = Utc
            .with_ymd_and_hms(2026, 3, 3, 19, 43, 0)
            .unwrap()
            .timestamp();
        assert_eq!(when(&z, t, now), "21:43 today");
        assert_eq!(when(&z, t - 86_400, now), "yesterday 21:43");
        assert_eq!(when(&z, t - 5 * 86_400, now), "2026-02-26 21:43");
        // 23:30 UTC on the 3rd is already the 4th in Helsinki.
        let t = Utc
            .with_ymd_and_hms(2026, 3, 3, 23, 30, 0)
            .unwrap()
            .timestamp();
        assert_eq!(when(&z, t, now), "tomorrow 01:30");
    }

    #[test]
    fn a_running_door_reads_as_words() {
        let now = eleven_pm();
        let n = now.timestamp();
        let text = words(
            &gauges(&[
                ("up", 1.0),
                (
                    "start_timestamp_seconds",
                    (n - (3 * 86_400 + 4 * 3600)) as f64,
                ),
                ("door_task_alive", 1.0),
                ("library_state", 1.0),
                ("lock_released", 0.0),
                ("alarms_raised", 0.0),
                ("alarms_24h", 2.0),
                ("last_entry_timestamp_seconds", (n - 17 * 60) as f64),
                ("online", 0.0),
                ("allowlist_version", 42.0),
                ("allowlist_last_sync_timestamp_seconds", (n - 3600) as f64),
                (
                    "allowlist_expires_timestamp_seconds",
                    (n + 6 * 86_400 + 5 * 3600) as f64,
                ),
                ("events", 1234.0),
            ]),
            &helsinki(),
            now,
        );
        for want in [
            "door-agent       up 3 days 4 h (since 2026-02-28 19:00)",
            "door task        reading its inputs",
            "library          self-service (card and PIN)",
            "lock             engaged",
            "alarms           none now, 2 in the last 24 h",
            "last entry       22:43 today (17 min ago)",
            "last refusal     none in the last 24 h",
            "library system   NOT reachable: patrons are checked against the offline list",
            "offline list     version 42, checked 22:00 today (1 h ago), expires 2026-03-10 04:00 (in 6 days 5 h)",
            "events held      1234",
        ] {
            assert!(text.lines().any(|l| l == want), "no {want:?} in:\n{text}");
        }
        assert!(!text.contains("_timestamp_seconds"), "{text}");
    }

    #[test]
    fn trouble_is_said_in_capitals() {
        let now = eleven_pm();
        let n = now.timestamp();
        let text = words(
            &gauges(&[
                ("up", 1.0),
                ("door_task_alive", 0.0),
                ("lock_released", 1.0),
                ("alarms_raised", 1.0),
                ("alarms_24h", 1.0),
                ("online", 1.0),
                ("allowlist_version", 7.0),
                ("allowlist_expires_timestamp_seconds", (n - 7200) as f64),
                ("selftest_ok", 0.0),
                ("selftest_timestamp_seconds", (n - 86_400) as f64),
            ]),
            &helsinki(),
            now,
        );
        for want in [
            "door task        NOT reading its inputs",
            "lock             RELEASED",
            "alarms           1 RAISED NOW, 1 in the last 24 h",
            "library system   reachable",
            "offline list     version 7, EXPIRED 21:00 today (2 h ago)",
            "last selftest    FAILED yesterday 23:00 (1 day ago)",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(want)),
                "no {want:?} in:\n{text}"
            );
        }
        let none = words(&[], &helsinki(), now);
        assert!(none.contains("offline list     NONE applied"), "{none}");
    }
}
