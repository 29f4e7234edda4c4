//! A device's event log and security log, the door's and the kiosk's alike: every decision,
//! refusal, alarm, device fault and security event, the card only as its keyed pseudonym; the
//! security log kept apart and longer, for noticing a breach and reporting it within 72 hours.
//! Purged after retention, exported and erased with a patron (the bytes rewritten away), asked
//! over a local socket while the daemon holds it, reported to the library's console.
//!
//! - [`EventLog`]: the two logs in sled.
//! - [`control`]: staff questions to a running daemon.
//! - [`pseudonym`]: the card's name in every record.
//! - [`gauges`]: what the health endpoint says of the logs.
#![deny(missing_docs)]

pub mod control;
mod log;

pub use log::{Event, EventLog, EventLogError, Kind, Uplink, report_event};

use allowlist::CardKey;
use redact::CardNumber;

/// The card's pseudonym in the event log: 32 hex digits of the keyed hash the allow-list uses, so
/// the library (which holds the card key) can resolve it in its own system and nobody else can.
/// The console's patron orders carry the same ([`report::command::pseudonym`]).
pub fn pseudonym(key: &CardKey, card: &CardNumber) -> String {
    let hash = key.hash(card);
    hash.0.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A security event's gauges for the health endpoint, from the security log: how many in the 24
/// hours before `now_ms`, and when the last of them was; and how many events the log holds.
pub fn gauges(log: &EventLog, metrics: &daemon::Metrics, now_ms: i64) {
    if let Ok(recent) = log.security_between(now_ms - 86_400_000, now_ms + 1) {
        metrics.set(
            "omatoimi_security_events_24h",
            "security events in the last 24 hours (the security log: PIN guessing, refused lists or commands, tags whose security would not switch, …)",
            recent.len() as f64,
        );
        if let Some(last) = recent.last() {
            metrics.set(
                "omatoimi_last_security_event_timestamp_seconds",
                "the last security event within 24 hours (Unix time)",
                (last.at / 1000) as f64,
            );
        }
    }
    metrics.set(
        "omatoimi_events",
        "events held in the log",
        log.len() as f64,
    );
}

/// The security log's line in a status report (`door-agent status`, `kiosk status`), from the
/// gauges [`gauges`] sets: `count` in the last 24 hours, the `last` one's time (Unix s), at
/// `now`; `ask` is the command that lists them. None when the daemon gave no count.
pub fn security_words(
    count: Option<i64>,
    last: Option<i64>,
    zone: &access::zone::Zone,
    now: chrono::DateTime<chrono::Utc>,
    ask: &str,
) -> Option<String> {
    Some(match (count?, last) {
        (0, _) => "none in the last 24 h".into(),
        (n, Some(t)) => format!(
            "{n} IN THE LAST 24 H, the last {} ({}): {ask}",
            zone.when(t, now),
            access::zone::ago(now.timestamp() - t)
        ),
        (n, None) => format!("{n} IN THE LAST 24 H: {ask}"),
    })
}

/// An event as a line of `events`' table: its local time in `zone`, kind, code, card pseudonym,
/// and who answered or what happened.
pub fn table_line(e: &Event, zone: &access::zone::Zone) -> String {
    use chrono::TimeZone;
    let local = chrono::Utc
        .timestamp_millis_opt(e.at)
        .single()
        .map(|t| zone.local(t).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{local}  {:<13} {:<19} {:<32} {}",
        serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        e.code.as_deref().unwrap_or("-"),
        e.card.as_deref().unwrap_or("-"),
        match (&e.item, e.source.as_deref().or(e.detail.as_deref())) {
            (Some(item), Some(words)) => format!("item {item}: {words}"),
            (Some(item), None) => format!("item {item}"),
            (None, words) => words.unwrap_or("").to_owned(),
        }
    )
}

/// A staff member's "2026-03-03 21:00" in `zone`, as Unix ms (the `events` commands' `--from`
/// and `--to`); the error says what was expected.
pub fn local_ms(text: &str, zone: &access::zone::Zone) -> Result<i64, String> {
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .map_err(|_| format!("`{text}`: expected YYYY-MM-DD HH:MM"))?;
    Ok(zone.instant(local).timestamp_millis())
}

/// What the `events` commands print: a table line each and their count, or JSON lines.
pub fn listing(events: &[Event], zone: &access::zone::Zone, json: bool) -> String {
    let mut out = String::new();
    for e in events {
        let line = if json {
            serde_json::to_string(e).unwrap_or_default()
        } else {
            table_line(e, zone)
        };
        out.push_str(&line);
        out.push('\n');
    }
    if !json {
        out.push_str(&format!("{} event(s)\n", events.len()));
    }
    out
}

/// Purges events past `retention` from the log and past `security_retention` from the security
/// log, as of `now_ms`, logging what it did (a device goes on when its log fails).
pub fn purge(
    log: &EventLog,
    now_ms: i64,
    retention: std::time::Duration,
    security_retention: std::time::Duration,
) {
    let cutoff = |d: std::time::Duration| now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    match log.purge_before(cutoff(retention)) {
        Ok(0) => {}
        Ok(n) => tracing::info!("event log: {n} events past the retention purged"),
        Err(e) => tracing::error!("event log purge: {e}"),
    }
    match log.purge_security_before(cutoff(security_retention)) {
        Ok(0) => {}
        Ok(n) => tracing::info!("security log: {n} events past its retention purged"),
        Err(e) => tracing::error!("security log purge: {e}"),
    }
}

/// A security event with no door movement (`kind` security), recorded in both logs and the
/// console's outbox, and said on the `security` log target: `detail` must hold no personal data
/// (the card goes in `card`, as its pseudonym; an item in `item`, which stays on the device).
pub fn security_event(
    log: &EventLog,
    at_ms: i64,
    code: &str,
    card: Option<String>,
    item: Option<String>,
    detail: String,
) {
    tracing::warn!(target: "security", code, "{detail}");
    let mut e = Event::new(Kind::Security, at_ms);
    e.code = Some(code.into());
    e.card = card;
    e.item = item;
    e.detail = Some(detail);
    log.keep(e);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use access::zone::Zone;
    use chrono::TimeZone;

    #[test]
    fn the_security_line_says_how_many_and_when_the_last_was() {
        // 23:00 in Helsinki.
        let now = chrono::Utc.with_ymd_and_hms(2026, 3, 3, 21, 0, 0).unwrap();
        let n = now.timestamp();
        let z = &Zone::HELSINKI;
        assert_eq!(security_words(None, None, z, now, "x"), None);
        assert_eq!(
            security_words(Some(0), None, z, now, "x").unwrap(),
            "none in the last 24 h"
        );
        assert_eq!(
            security_words(Some(2), Some(n - 720), z, now, "kiosk events --security").unwrap(),
            "2 IN THE LAST 24 H, the last 22:48 today (12 min ago): kiosk events --security"
        );
    }

    #[test]
    fn the_gauges_count_the_security_log_of_the_last_day_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        let now = 1_800_000_000_000i64;
        let day = 86_400_000;
        let mut old = Event::new(Kind::Security, now - day - 1);
        old.code = Some("list-refused".into());
        log.record(&old).unwrap();
        for (kind, code, at) in [
            (Kind::Denied, "wrong-pin", now - 1000),
            (Kind::Denied, "pin-locked-out", now - 900),
            (Kind::Security, "tag-security-failed", now - 500),
        ] {
            let mut e = Event::new(kind, at);
            e.code = Some(code.into());
            log.record(&e).unwrap();
        }
        let m = daemon::Metrics::new();
        gauges(&log, &m, now);
        let got: std::collections::BTreeMap<_, _> = m.snapshot().into_iter().collect();
        assert_eq!(got["omatoimi_security_events_24h"], 2.0);
        assert_eq!(
            got["omatoimi_last_security_event_timestamp_seconds"],
            ((now - 500) / 1000) as f64
        );
        assert_eq!(got["omatoimi_events"], 4.0);
    }

    #[test]
    fn a_table_line_is_in_local_time() {
        // 2026-03-03 21:00:05 UTC is 23:00:05 in Helsinki.
        let mut e = Event::new(Kind::Security, 1_772_571_605_000);
        e.code = Some("tag-security-failed".into());
        e.detail = Some("item X".into());
        assert_eq!(
            table_line(&e, &Zone::HELSINKI),
            format!(
                "2026-03-03 23:00:05  security      tag-security-failed {:<32} item X",
                "-"
            )
        );
    }
}
