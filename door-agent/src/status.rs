//! `door-agent status` in words a technician reads at the door at night: the gauges of the
//! running door's health endpoint, times in the door's own zone with how long ago, durations in
//! days and hours. Pure: the gauges, the zone and `now` come in.

use std::collections::BTreeMap;

use access::zone::{Zone, ago, duration};
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
                zone.when(t, now)
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
    if let Some(text) = eventlog::security_words(
        num("security_events_24h").map(|n| n as i64),
        time("last_security_event_timestamp_seconds"),
        zone,
        now,
        "door-agent events --security --from … --to …",
    ) {
        line("security log", text);
    }
    for (what, name) in [
        ("last entry", "last_entry_timestamp_seconds"),
        ("last refusal", "last_denial_timestamp_seconds"),
    ] {
        line(
            what,
            match time(name) {
                Some(t) => format!("{} ({})", zone.when(t, now), ago(now.timestamp() - t)),
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
            Some(v) => offline::status::list_words(
                v as i64,
                time("allowlist_last_sync_timestamp_seconds"),
                time("allowlist_expires_timestamp_seconds"),
                zone,
                now,
            ),
        },
    );
    if let (Some(ok), Some(t)) = (num("selftest_ok"), time("selftest_timestamp_seconds")) {
        line(
            "last selftest",
            format!(
                "{} {} ({})",
                if ok == 1.0 { "passed" } else { "FAILED" },
                zone.when(t, now),
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
