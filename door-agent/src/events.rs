//! The door's event log in sled: every decision, exit, alarm and device fault, with reason codes
//! and the card's keyed hash (never its number), purged after the retention. Keys are the event's
//! time in Unix milliseconds and a sequence number, big-endian, so a time range is a key range.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use access::policy::Reason;
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A patron was let in.
    Entry,
    /// A patron was refused.
    Denied,
    /// The exit button freed the door.
    Exit,
    /// An alarm was raised.
    Alarm,
    /// An alarm's cause went away.
    AlarmCleared,
    /// The library's state changed.
    State,
    /// A reader or the keypad went away or came back.
    Device,
    /// The tamper switch tripped.
    Tamper,
    /// The daemon started or stopped.
    Daemon,
    /// A security event with no door movement: the clock jumped, an offline list was refused.
    Security,
}

impl Event {
    /// Kept apart in the security log too, with its own (longer) retention, so a breach can be
    /// noticed and reported within 72 hours: forced or held doors, tampering, PIN guessing,
    /// refused lists, clock jumps.
    pub fn is_security(&self) -> bool {
        matches!(self.kind, Kind::Alarm | Kind::Tamper | Kind::Security)
            || (self.kind == Kind::Denied
                && self.code.as_deref().is_some_and(|c| {
                    // PIN guessing and flooding.
                    c == Reason::PinLockedOut.code() || c == Reason::TooManyAttempts.code()
                }))
    }
}

impl Kind {
    /// Alarms and tampering: what "which alarms this week" asks for.
    pub fn is_alarm(&self) -> bool {
        matches!(self, Self::Alarm | Self::AlarmCleared | Self::Tamper)
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix milliseconds.
    pub at: i64,
    /// What.
    pub kind: Kind,
    /// Reason or alarm code (`wrong-pin`, `forced-open`, …).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<String>,
    /// The card's pseudonym: 32 hex digits of HMAC-SHA256 under the library's card key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub card: Option<String>,
    /// Who answered: `online`, `offline:<version>`, `offline-grace:<version>`, or none.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    /// Free words for staff (never personal data).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

impl Event {
    /// An event of `kind` at `at` with nothing else.
    pub fn new(kind: Kind, at: i64) -> Self {
        Self {
            at,
            kind,
            code: None,
            card: None,
            source: None,
            detail: None,
        }
    }
}

/// Why the log failed.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    /// The database.
    #[error("event log {path}: {cause}")]
    Db {
        /// Where.
        path: String,
        /// Why.
        cause: String,
    },
}

/// The event log.
#[derive(Debug, Clone)]
pub struct EventLog {
    tree: sled::Tree,
    security: sled::Tree,
    db: sled::Db,
    path: String,
    seq: std::sync::Arc<AtomicU32>,
}

impl EventLog {
    /// Opens (or creates) the log at `path`.
    pub fn open(path: &Path) -> Result<Self, EventLogError> {
        let shown = path.display().to_string();
        let err = |e: sled::Error| EventLogError::Db {
            path: shown.clone(),
            cause: e.to_string(),
        };
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(8 << 20)
            .open()
            .map_err(err)?;
        let tree = db.open_tree("events").map_err(err)?;
        let security = db.open_tree("security").map_err(err)?;
        Ok(Self {
            tree,
            security,
            db,
            path: shown.clone(),
            seq: Default::default(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> EventLogError {
        EventLogError::Db {
            path: self.path.clone(),
            cause: e.to_string(),
        }
    }

    /// Records an event.
    pub fn record(&self, event: &Event) -> Result<(), EventLogError> {
        let mut key = [0u8; 12];
        key[..8].copy_from_slice(&event.at.to_be_bytes());
        key[8..].copy_from_slice(&self.seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let value = serde_json::to_vec(event).map_err(|e| self.err(e))?;
        if event.is_security() {
            self.security
                .insert(key, value.clone())
                .map_err(|e| self.err(e))?;
        }
        self.tree.insert(key, value).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Makes what was recorded durable (the daemon calls this after each decision and alarm).
    pub fn flush(&self) -> Result<(), EventLogError> {
        self.db.flush().map(|_| ()).map_err(|e| self.err(e))
    }

    /// Records an event and makes it durable, logging (not returning) a failure: the daemon's
    /// way, since a door must go on deciding when its log cannot be written.
    pub fn keep(&self, event: Event) {
        if let Err(e) = self.record(&event).and_then(|()| self.flush()) {
            tracing::error!("{e}");
        }
    }

    /// Records in `tree` with `from <= at < to` (Unix ms), oldest first.
    fn range_in(&self, tree: &sled::Tree, from: i64, to: i64) -> Result<Vec<Event>, EventLogError> {
        let mut out = vec![];
        if to <= from {
            return Ok(out);
        }
        for item in tree.range(key_at(from)..key_at(to)) {
            let (_, v) = item.map_err(|e| self.err(e))?;
            match serde_json::from_slice::<Event>(&v) {
                Ok(e) => out.push(e),
                Err(e) => tracing::warn!("event log: an unreadable record skipped: {e}"),
            }
        }
        Ok(out)
    }

    /// Removes records in `tree` before `cutoff` (Unix ms); returns how many.
    fn purge_in(&self, tree: &sled::Tree, cutoff: i64) -> Result<usize, EventLogError> {
        let keys: Vec<sled::IVec> = tree
            .range(..key_at(cutoff))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut batch = sled::Batch::default();
        for k in &keys {
            batch.remove(k.clone());
        }
        tree.apply_batch(batch).map_err(|e| self.err(e))?;
        Ok(keys.len())
    }

    /// Records in `tree` about the card with this pseudonym, with their keys, oldest first.
    fn of_card_in(
        &self,
        tree: &sled::Tree,
        pseudonym: &str,
    ) -> Result<Vec<(sled::IVec, Event)>, EventLogError> {
        let mut out = vec![];
        for item in tree.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            if let Ok(e) = serde_json::from_slice::<Event>(&v)
                && e.card.as_deref() == Some(pseudonym)
            {
                out.push((k, e));
            }
        }
        Ok(out)
    }

    /// Events with `from <= at < to` (Unix ms), oldest first.
    pub fn between(&self, from: i64, to: i64) -> Result<Vec<Event>, EventLogError> {
        self.range_in(&self.tree, from, to)
    }

    /// Security events with `from <= at < to` (Unix ms), oldest first.
    pub fn security_between(&self, from: i64, to: i64) -> Result<Vec<Event>, EventLogError> {
        self.range_in(&self.security, from, to)
    }

    /// Removes events before `cutoff` (Unix ms); returns how many.
    pub fn purge_before(&self, cutoff: i64) -> Result<usize, EventLogError> {
        self.purge_in(&self.tree, cutoff)
    }

    /// Removes security events before `cutoff` (Unix ms); returns how many.
    pub fn purge_security_before(&self, cutoff: i64) -> Result<usize, EventLogError> {
        self.purge_in(&self.security, cutoff)
    }

    /// Every event about the card with this pseudonym, oldest first (for a patron's right of
    /// access): the log's, and the security log's that the ordinary retention already purged.
    pub fn for_card(&self, pseudonym: &str) -> Result<Vec<Event>, EventLogError> {
        let mut all = self.of_card_in(&self.tree, pseudonym)?;
        for (k, e) in self.of_card_in(&self.security, pseudonym)? {
            if !all.iter().any(|(key, _)| *key == k) {
                all.push((k, e));
            }
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(all.into_iter().map(|(_, e)| e).collect())
    }

    /// Removes every event about the card with this pseudonym from both logs, durably; returns
    /// how many distinct events (for a patron's right to erasure).
    pub fn erase_card(&self, pseudonym: &str) -> Result<usize, EventLogError> {
        let n = self.for_card(pseudonym)?.len();
        for tree in [&self.tree, &self.security] {
            let mut batch = sled::Batch::default();
            for (k, _) in self.of_card_in(tree, pseudonym)? {
                batch.remove(k);
            }
            tree.apply_batch(batch).map_err(|e| self.err(e))?;
        }
        self.flush()?;
        Ok(n)
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// None held.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}

fn key_at(ms: i64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&ms.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_events_are_kept_apart_and_outlive_the_ordinary_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        log.record(&Event::new(Kind::Entry, 1000)).unwrap();
        let mut alarm = Event::new(Kind::Alarm, 1001);
        alarm.code = Some("forced-open".into());
        log.record(&alarm).unwrap();
        let mut locked = Event::new(Kind::Denied, 1002);
        locked.code = Some("pin-locked-out".into());
        log.record(&locked).unwrap();
        let mut wrong = Event::new(Kind::Denied, 1003);
        wrong.code = Some("wrong-pin".into());
        log.record(&wrong).unwrap();
        let mut jump = Event::new(Kind::Security, 1004);
        jump.code = Some("clock-jump".into());
        log.record(&jump).unwrap();
        let sec = log.security_between(0, 2000).unwrap();
        let codes: Vec<_> = sec
            .iter()
            .map(|e| e.code.clone().unwrap_or_default())
            .collect();
        assert_eq!(codes, ["forced-open", "pin-locked-out", "clock-jump"]);
        // The ordinary retention purges the log; the security log keeps its copy.
        log.purge_before(5000).unwrap();
        assert!(log.is_empty());
        assert_eq!(log.security_between(0, 2000).unwrap().len(), 3);
        assert_eq!(log.purge_security_before(5000).unwrap(), 3);
    }

    #[test]
    fn one_cards_events_are_exported_and_erased_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        for (i, card) in ["aa", "bb", "aa"].iter().enumerate() {
            let mut e = Event::new(Kind::Entry, 1000 + i as i64);
            e.card = Some(card.repeat(16));
            log.record(&e).unwrap();
        }
        log.record(&Event::new(Kind::Alarm, 2000)).unwrap();
        assert_eq!(log.for_card(&"aa".repeat(16)).unwrap().len(), 2);
        assert_eq!(log.erase_card(&"aa".repeat(16)).unwrap(), 2);
        assert!(log.for_card(&"aa".repeat(16)).unwrap().is_empty());
        assert_eq!(log.len(), 2, "the other card's event and the alarm stay");
        assert_eq!(log.erase_card(&"cc".repeat(16)).unwrap(), 0);
    }

    #[test]
    fn events_are_found_by_time_and_purged_after_retention() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        for (i, kind) in [Kind::Entry, Kind::Denied, Kind::Alarm, Kind::Entry]
            .into_iter()
            .enumerate()
        {
            let mut e = Event::new(kind, 1_000 * (i as i64 + 1));
            e.card = Some("ab".repeat(16));
            log.record(&e).unwrap();
        }
        // Two events in the same millisecond are both kept.
        log.record(&Event::new(Kind::Exit, 2_000)).unwrap();
        assert_eq!(log.between(2_000, 4_000).unwrap().len(), 3);
        assert_eq!(log.between(0, i64::MAX).unwrap().len(), 5);
        assert_eq!(log.purge_before(3_000).unwrap(), 3);
        let left = log.between(0, i64::MAX).unwrap();
        assert_eq!(
            left.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![Kind::Alarm, Kind::Entry]
        );
        drop(log);
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        assert_eq!(log.len(), 2);
    }
}
