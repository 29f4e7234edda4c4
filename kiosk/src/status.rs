//! `kiosk status` in words a technician reads: the gauges of the running kiosk's health endpoint,
//! times on the box's wall clock with how long ago, durations in days and hours, trouble in
//! capitals. Pure: the gauges, the zone and `now` come in (the words of `door-agent status`).

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
        "kiosk",
        match num("uptime_seconds") {
            Some(up) => {
                let up = up as i64;
                format!(
                    "up {} (since {})",
                    duration(up),
                    zone.when(now.timestamp() - up, now)
                )
            }
            None if num("up") == Some(1.0) => "running".into(),
            None => "not saying it runs".into(),
        },
    );
    if let Some(busy) = num("in_session") {
        line(
            "patron",
            if busy == 1.0 {
                "a patron is using the kiosk now".into()
            } else {
                "none (the welcome screen)".into()
            },
        );
    }
    line(
        "library system",
        match num("online") {
            Some(1.0) => "reachable".into(),
            Some(_) => "NOT reachable: loans are kept and sent when it answers".into(),
            None => "not asked yet".into(),
        },
    );
    let waiting = num("queue_waiting").map(|n| n as i64);
    let refused = num("queue_conflicts").map(|n| n as i64);
    if waiting.is_some() || refused.is_some() {
        let (waiting, refused) = (waiting.unwrap_or(0), refused.unwrap_or(0));
        line(
            "offline loans",
            match (waiting, refused) {
                (0, 0) => "none waiting".into(),
                (w, 0) => format!("{w} waiting for the library system"),
                (w, r) => format!(
                    "{w} waiting, {r} REFUSED by the library system (kiosk queue list shows them for staff)"
                ),
            },
        );
    }
    line(
        "offline list",
        match num("allowlist_version") {
            None => "none applied: offline, cards cannot be checked".into(),
            Some(v) => offline::status::list_words(
                v as i64,
                time("allowlist_last_sync_timestamp_seconds"),
                time("allowlist_expires_timestamp_seconds"),
                zone,
                now,
            ),
        },
    );
    if let Some(ok) = num("rfid_pad_ok") {
        line(
            "RFID pad",
            if ok == 1.0 {
                "answering".into()
            } else {
                "NOT answering: items cannot be read".into()
            },
        );
    }
    if let Some(out) = num("printer_paper_out") {
        line(
            "printer",
            if out == 1.0 {
                "OUT OF PAPER at its last receipt".into()
            } else {
                "had paper at its last receipt".into()
            },
        );
    }
    if let Some(text) = eventlog::security_words(
        num("security_events_24h").map(|n| n as i64),
        time("last_security_event_timestamp_seconds"),
        zone,
        now,
        "kiosk events --security",
    ) {
        line("security log", text);
    }
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
    fn a_running_kiosk_reads_as_words() {
        let now = eleven_pm();
        let n = now.timestamp();
        let text = words(
            &gauges(&[
                ("up", 1.0),
                ("uptime_seconds", (2 * 86_400 + 3 * 3600) as f64),
                ("in_session", 0.0),
                ("online", 1.0),
                ("queue_waiting", 0.0),
                ("queue_conflicts", 0.0),
                ("allowlist_version", 42.0),
                ("allowlist_last_sync_timestamp_seconds", (n - 600) as f64),
                ("allowlist_expires_timestamp_seconds", (n + 86_400) as f64),
                ("rfid_pad_ok", 1.0),
                ("printer_paper_out", 0.0),
                ("security_events_24h", 0.0),
            ]),
            &Zone::HELSINKI,
            now,
        );
        for want in [
            "kiosk            up 2 days 3 h (since 2026-03-01 20:00)",
            "patron           none (the welcome screen)",
            "library system   reachable",
            "offline loans    none waiting",
            "offline list     version 42, checked 22:50 today (10 min ago), expires tomorrow 23:00 (in 1 day)",
            "RFID pad         answering",
            "printer          had paper at its last receipt",
            "security log     none in the last 24 h",
            "times in         Europe/Helsinki",
        ] {
            assert!(text.lines().any(|l| l == want), "no {want:?} in:\n{text}");
        }
        assert!(!text.contains("_seconds"), "{text}");
    }

    #[test]
    fn trouble_is_said_in_capitals() {
        let now = eleven_pm();
        let n = now.timestamp();
        let text = words(
            &gauges(&[
                ("up", 1.0),
                ("in_session", 1.0),
                ("online", 0.0),
                ("queue_waiting", 3.0),
                ("queue_conflicts", 1.0),
                ("allowlist_version", 7.0),
                ("allowlist_expires_timestamp_seconds", (n - 7200) as f64),
                ("rfid_pad_ok", 0.0),
                ("printer_paper_out", 1.0),
                ("selftest_ok", 0.0),
                ("selftest_timestamp_seconds", (n - 86_400) as f64),
                ("security_events_24h", 3.0),
                ("last_security_event_timestamp_seconds", (n - 300) as f64),
            ]),
            &Zone::HELSINKI,
            now,
        );
        for want in [
            "kiosk            running",
            "patron           a patron is using the kiosk now",
            "library system   NOT reachable",
            "offline loans    3 waiting, 1 REFUSED",
            "offline list     version 7, EXPIRED 21:00 today (2 h ago)",
            "RFID pad         NOT answering",
            "printer          OUT OF PAPER",
            "last selftest    FAILED yesterday 23:00 (1 day ago)",
            "security log     3 IN THE LAST 24 H, the last 22:55 today (5 min ago): kiosk events --security",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(want)),
                "no {want:?} in:\n{text}"
            );
        }
        let none = words(&[], &Zone::HELSINKI, now);
        assert!(none.contains("offline list     none applied"), "{none}");
    }
}
