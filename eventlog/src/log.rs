//! The event log in sled: every decision, exit, alarm, device fault and security event, with
//! reason codes and the card's keyed hash (never its number), purged after the retention. Keys are
//! the event's time in Unix milliseconds and a sequence number, big-endian, so a time range is a
//! key range.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

// The records are the pure door's ([`access::door::Event`]): what it commands is what is kept;
// the kiosk's use the same kinds and codes, so the console reads both alike.
pub use access::door::{Event, Kind};

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
    /// Another process (the running daemon, or a staff command) has the log open.
    #[error("event log {path}: in use by another process (the daemon running?)")]
    InUse {
        /// Where.
        path: String,
    },
}

/// The open database and its two trees; `None` only for the moment of a swap.
#[derive(Debug)]
struct Trees {
    db: sled::Db,
    tree: sled::Tree,
    security: sled::Tree,
}

/// Events recorded while a rewrite copies the log: (security, key, value), replayed into the
/// new log before it is swapped in.
type Journal = Vec<(bool, [u8; 12], Vec<u8>)>;

/// The event log.
///
/// Removal (retention, erasure) rewrites the database without the removed events and swaps it
/// in (see [`daemon::fs`]): sled keeps removed values in its file until a segment is reused,
/// and a purged event must leave no bytes behind. The daemon goes on recording while the copy
/// runs; its events are journalled and replayed into the new log.
#[derive(Debug, Clone)]
pub struct EventLog {
    trees: std::sync::Arc<std::sync::RwLock<Option<Trees>>>,
    journal: std::sync::Arc<std::sync::Mutex<Option<Journal>>>,
    /// One rewrite at a time.
    rewriting: std::sync::Arc<std::sync::Mutex<()>>,
    dir: std::path::PathBuf,
    path: String,
    seq: std::sync::Arc<AtomicU32>,
    _lock: std::sync::Arc<daemon::fs::DirLock>,
    /// The console's outbox, when the device reports to one: every event kept goes there too.
    uplink: std::sync::Arc<std::sync::OnceLock<Uplink>>,
}

/// Where kept events go for the console.
#[derive(Debug, Clone)]
pub struct Uplink {
    /// The outbox.
    pub outbox: std::sync::Arc<uplink::Outbox>,
    /// Woken for what must reach a person at once (alarms, tampering, security events).
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

/// An event as the console takes it: an item stays on the device (the console's records carry
/// no item; see `report`).
pub fn report_event(e: &Event) -> report::Body {
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    report::Body::Event {
        event: report::Event {
            kind,
            code: e.code.clone(),
            card: e.card.clone(),
            source: e.source.clone(),
            detail: e.detail.clone(),
        },
    }
}

const CACHE: u64 = 8 << 20;

fn open_trees(dir: &Path) -> Result<Trees, sled::Error> {
    let db = daemon::fs::open_sled(&sled::Config::new().path(dir).cache_capacity(CACHE))?;
    let tree = db.open_tree("events")?;
    let security = db.open_tree("security")?;
    Ok(Trees { db, tree, security })
}

/// The sequence number to go on from: past every one held, in either log. The last key is not
/// enough: after the clock stepped back, the last event written is not the last by time, and
/// a number it used would come round again.
fn next_seq(t: &Trees) -> Result<u32, sled::Error> {
    let mut next = 0u32;
    for tree in [&t.tree, &t.security] {
        for key in tree.iter().keys() {
            let key = key?;
            if let Some(seq) = key.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok()) {
                next = next.max(u32::from_be_bytes(seq).saturating_add(1));
            }
        }
    }
    Ok(next)
}

impl EventLog {
    /// Opens (or creates, private to this user) the log at `path`, holding it against other
    /// processes until the last clone is dropped, and finishing a rewrite a crash interrupted.
    pub fn open(path: &Path) -> Result<Self, EventLogError> {
        let shown = path.display().to_string();
        let io = |e: std::io::Error| EventLogError::Db {
            path: shown.clone(),
            cause: e.to_string(),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let lock = daemon::fs::lock(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                EventLogError::InUse {
                    path: shown.clone(),
                }
            } else {
                io(e)
            }
        })?;
        daemon::fs::recover(path).map_err(io)?;
        daemon::fs::create_private_dir(path).map_err(io)?;
        let db_err = |e: sled::Error| EventLogError::Db {
            path: shown.clone(),
            cause: e.to_string(),
        };
        let trees = open_trees(path).map_err(db_err)?;
        // Two events in the same millisecond on either side of a restart must not share a key.
        let seq = next_seq(&trees).map_err(db_err)?;
        Ok(Self {
            trees: std::sync::Arc::new(std::sync::RwLock::new(Some(trees))),
            journal: Default::default(),
            rewriting: Default::default(),
            dir: path.to_owned(),
            path: shown,
            seq: std::sync::Arc::new(AtomicU32::new(seq)),
            _lock: std::sync::Arc::new(lock),
            uplink: Default::default(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> EventLogError {
        EventLogError::Db {
            path: self.path.clone(),
            cause: e.to_string(),
        }
    }

    /// Runs `f` on the open trees (a rewrite waits for it, and it for a swap).
    fn with<T>(
        &self,
        f: impl FnOnce(&Trees) -> Result<T, EventLogError>,
    ) -> Result<T, EventLogError> {
        let guard = self.trees.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(t) => f(t),
            None => Err(self.err("closed: it could not be opened again after a rewrite")),
        }
    }

    /// Records an event.
    pub fn record(&self, event: &Event) -> Result<(), EventLogError> {
        let mut key = [0u8; 12];
        key[..8].copy_from_slice(&event.at.to_be_bytes());
        key[8..].copy_from_slice(&self.seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let value = serde_json::to_vec(event).map_err(|e| self.err(e))?;
        let security = event.is_security();
        self.with(|t| {
            if security {
                t.security
                    .insert(key, value.clone())
                    .map_err(|e| self.err(e))?;
            }
            t.tree.insert(key, value.clone()).map_err(|e| self.err(e))?;
            // Under the read guard: a rewrite takes the journal back only under the write one.
            if let Some(j) = self
                .journal
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_mut()
            {
                j.push((security, key, value));
            }
            Ok(())
        })
    }

    /// Makes what was recorded durable (the daemon calls this after each decision and alarm).
    pub fn flush(&self) -> Result<(), EventLogError> {
        self.with(|t| t.db.flush().map(|_| ()).map_err(|e| self.err(e)))
    }

    /// Records an event and makes it durable, logging (not returning) a failure: the daemon's
    /// way, since a door must go on deciding (and a kiosk lending) when its log cannot be written.
    pub fn keep(&self, event: Event) {
        if let Err(e) = self.record(&event).and_then(|()| self.flush()) {
            tracing::error!("{e}");
        }
        if let Some(u) = self.uplink.get() {
            if let Err(e) = u.outbox.push(event.at, report_event(&event)) {
                tracing::error!("{e}");
            }
            if event.is_security() || event.kind.is_alarm() {
                u.wake.notify_one();
            }
        }
    }

    /// From now on, every event kept also goes to the console's outbox.
    pub fn report_to(&self, uplink: Uplink) {
        let _ = self.uplink.set(uplink);
    }

    /// Records in the security tree (or the log) with `from <= at < to` (Unix ms), oldest
    /// first.
    fn range_in(&self, security: bool, from: i64, to: i64) -> Result<Vec<Event>, EventLogError> {
        let mut out = vec![];
        // Keys are the time's big-endian bytes, in which a negative time sorts after every
        // positive one: no record is before 1970, so a range from before then starts there.
        let from = from.max(0);
        if to <= from {
            return Ok(out);
        }
        self.with(|t| {
            let tree = if security { &t.security } else { &t.tree };
            for item in tree.range(key_at(from)..key_at(to)) {
                let (_, v) = item.map_err(|e| self.err(e))?;
                match serde_json::from_slice::<Event>(&v) {
                    Ok(e) => out.push(e),
                    Err(e) => tracing::warn!("event log: an unreadable record skipped: {e}"),
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Records (log and security log) about the card with this pseudonym, with their keys,
    /// oldest first, each once.
    fn of_card(&self, pseudonym: &str) -> Result<Vec<(sled::IVec, Event)>, EventLogError> {
        let mut out: Vec<(sled::IVec, Event)> = vec![];
        self.with(|t| {
            for tree in [&t.tree, &t.security] {
                for item in tree.iter() {
                    let (k, v) = item.map_err(|e| self.err(e))?;
                    if about(&v, pseudonym)
                        && let Ok(e) = serde_json::from_slice::<Event>(&v)
                        && !out.iter().any(|(key, _)| *key == k)
                    {
                        out.push((k, e));
                    }
                }
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Rewrites the log with only the records `kept` accepts (given key, value and whether it
    /// is the security log's), swaps the new one in and deletes the old, so that nothing of the
    /// others is left in any file. Returns how many distinct events were left out.
    fn rewrite(&self, kept: impl Fn(&[u8], &[u8], bool) -> bool) -> Result<usize, EventLogError> {
        let _one = self.rewriting.lock().unwrap_or_else(|p| p.into_inner());
        let staging = daemon::fs::staging(&self.dir).map_err(|e| self.err(e))?;
        let fresh = open_trees(&staging).map_err(|e| self.err(e))?;
        {
            // Under the write guard, so no event is between its tree and the journal.
            let _w = self.trees.write().unwrap_or_else(|p| p.into_inner());
            *self.journal.lock().unwrap_or_else(|p| p.into_inner()) = Some(vec![]);
        }
        let copied = self.with(|old| {
            let mut removed = std::collections::BTreeSet::new();
            for (security, from, to) in [
                (false, &old.tree, &fresh.tree),
                (true, &old.security, &fresh.security),
            ] {
                let mut batch = sled::Batch::default();
                for (i, item) in from.iter().enumerate() {
                    let (k, v) = item.map_err(|e| self.err(e))?;
                    if kept(&k, &v, security) {
                        batch.insert(k, v);
                    } else {
                        removed.insert(k);
                    }
                    if i % 8192 == 8191 {
                        to.apply_batch(std::mem::take(&mut batch))
                            .map_err(|e| self.err(e))?;
                    }
                }
                to.apply_batch(batch).map_err(|e| self.err(e))?;
            }
            Ok(removed.len())
        });
        let mut guard = self.trees.write().unwrap_or_else(|p| p.into_inner());
        let journal = self
            .journal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default();
        let removed = match copied {
            Ok(n) => n,
            Err(e) => {
                drop(fresh);
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        let replayed = journal.iter().try_for_each(|(security, k, v)| {
            if kept(k, v, *security) {
                if *security {
                    fresh.security.insert(k, v.clone())?;
                }
                fresh.tree.insert(k, v.clone())?;
            }
            Ok::<_, sled::Error>(())
        });
        if let Err(e) = replayed.and_then(|()| fresh.db.flush().map(|_| ())) {
            drop(fresh);
            let _ = std::fs::remove_dir_all(&staging);
            return Err(self.err(e));
        }
        // Both closed before the directories move: sled finds its files by path.
        drop(fresh);
        *guard = None;
        let (trees, swapped) = daemon::fs::swap_in_and_reopen(
            &self.dir,
            |dir| open_trees(dir).map_err(|e| self.err(e)),
            |e| self.err(e),
        )
        .inspect_err(|e| tracing::error!("{e}"))?;
        *guard = Some(trees);
        swapped?;
        Ok(removed)
    }

    /// Events with `from <= at < to` (Unix ms), oldest first.
    pub fn between(&self, from: i64, to: i64) -> Result<Vec<Event>, EventLogError> {
        self.range_in(false, from, to)
    }

    /// Security events with `from <= at < to` (Unix ms), oldest first.
    pub fn security_between(&self, from: i64, to: i64) -> Result<Vec<Event>, EventLogError> {
        self.range_in(true, from, to)
    }

    /// Events held before `cutoff` (Unix ms), in the security log or the ordinary one.
    fn count_before(&self, security: bool, cutoff: i64) -> Result<usize, EventLogError> {
        self.with(|t| {
            let tree = if security { &t.security } else { &t.tree };
            Ok(tree.range(..key_at(cutoff)).count())
        })
    }

    /// Removes events before `cutoff` (Unix ms), leaving no bytes of them; returns how many.
    pub fn purge_before(&self, cutoff: i64) -> Result<usize, EventLogError> {
        let n = self.count_before(false, cutoff)?;
        if n == 0 {
            return Ok(0);
        }
        self.rewrite(|k, _, security| security || k >= &key_at(cutoff)[..])
            .map(|_| n)
    }

    /// Removes security events before `cutoff` (Unix ms), leaving no bytes of them; returns
    /// how many.
    pub fn purge_security_before(&self, cutoff: i64) -> Result<usize, EventLogError> {
        let n = self.count_before(true, cutoff)?;
        if n == 0 {
            return Ok(0);
        }
        self.rewrite(|k, _, security| !security || k >= &key_at(cutoff)[..])
            .map(|_| n)
    }

    /// Every event about the card with this pseudonym, oldest first (for a patron's right of
    /// access): the log's, and the security log's that the ordinary retention already purged.
    pub fn for_card(&self, pseudonym: &str) -> Result<Vec<Event>, EventLogError> {
        Ok(self
            .of_card(pseudonym)?
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// Removes every event about the card with this pseudonym from both logs, durably and
    /// leaving no bytes of them in the log's files; returns how many distinct events (for a
    /// patron's right to erasure). The log is rewritten even when none is found: a version
    /// before this one removed events from the index only, and left their bytes.
    pub fn erase_card(&self, pseudonym: &str) -> Result<usize, EventLogError> {
        self.erase_cards(&[pseudonym])
    }

    /// [`Self::erase_card`] for any of these pseudonyms, in one rewrite.
    pub fn erase_cards(&self, pseudonyms: &[&str]) -> Result<usize, EventLogError> {
        self.rewrite(|_, v, _| !pseudonyms.iter().any(|p| about(v, p)))
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.with(|t| Ok(t.tree.len())).unwrap_or(0)
    }

    /// None held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a stored event is about the card with this pseudonym (unreadable ones are not: they
/// are kept, as everywhere).
fn about(value: &[u8], pseudonym: &str) -> bool {
    let p = pseudonym.as_bytes();
    // Most are not even close; only those that mention it are read.
    !p.is_empty()
        && value.windows(p.len()).any(|w| w == p)
        && serde_json::from_slice::<Event>(value)
            .is_ok_and(|e| e.card.as_deref() == Some(pseudonym))
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

    /// Whether `needle` is in any file under `dir`, as bytes.
    fn in_files(dir: &Path, needle: &[u8]) -> bool {
        daemon::fs::holds_bytes(dir, needle).unwrap()
    }

    #[test]
    fn erased_and_purged_events_leave_no_bytes_in_the_logs_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let (erased, purged, kept) = ("a1".repeat(16), "b2".repeat(16), "c3".repeat(16));
        let log = EventLog::open(&path).unwrap();
        for (i, card) in [&erased, &purged, &erased, &kept].into_iter().enumerate() {
            let mut e = Event::new(
                Kind::Denied,
                if *card == purged {
                    10
                } else {
                    5_000 + i as i64
                },
            );
            e.code = Some("pin-locked-out".into());
            e.card = Some(card.clone());
            log.record(&e).unwrap();
        }
        log.flush().unwrap();
        assert!(in_files(dir.path(), erased.as_bytes()));
        assert_eq!(log.erase_card(&erased).unwrap(), 2);
        assert_eq!(log.purge_before(1_000).unwrap(), 1);
        assert_eq!(log.purge_security_before(1_000).unwrap(), 1);
        // Recorded after the rewrites, into the new files.
        let mut later = Event::new(Kind::Entry, 6_000);
        later.card = Some(kept.clone());
        log.record(&later).unwrap();
        log.flush().unwrap();
        for gone in [&erased, &purged] {
            assert!(!in_files(dir.path(), gone.as_bytes()), "{gone} left behind");
        }
        assert!(in_files(dir.path(), kept.as_bytes()));
        assert_eq!(log.for_card(&kept).unwrap().len(), 2);
        drop(log);
        let log = EventLog::open(&path).unwrap();
        assert_eq!(log.for_card(&kept).unwrap().len(), 2);
        assert_eq!(log.security_between(0, i64::MAX).unwrap().len(), 1);
    }

    #[test]
    fn events_in_the_same_millisecond_across_a_reopen_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events");
        let log = EventLog::open(&path).unwrap();
        log.record(&Event::new(Kind::Entry, 5_000)).unwrap();
        log.record(&Event::new(Kind::Exit, 5_000)).unwrap();
        // The clock stepped back: the last event written is not the last by time.
        log.record(&Event::new(Kind::Entry, 9_000)).unwrap();
        log.record(&Event::new(Kind::Exit, 7_000)).unwrap();
        let mut alarm = Event::new(Kind::Alarm, 7_000);
        alarm.code = Some("forced-open".into());
        log.record(&alarm).unwrap();
        log.flush().unwrap();
        drop(log);
        let log = EventLog::open(&path).unwrap();
        log.record(&Event::new(Kind::Denied, 5_000)).unwrap();
        log.record(&Event::new(Kind::Denied, 7_000)).unwrap();
        log.record(&Event::new(Kind::Denied, 7_000)).unwrap();
        let kinds = |from, to| {
            log.between(from, to)
                .unwrap()
                .into_iter()
                .map(|e| e.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(5_000, 5_001), [Kind::Entry, Kind::Exit, Kind::Denied]);
        assert_eq!(
            kinds(7_000, 7_001),
            [Kind::Exit, Kind::Alarm, Kind::Denied, Kind::Denied]
        );
        assert_eq!(log.len(), 8);
        assert_eq!(log.security_between(0, i64::MAX).unwrap().len(), 1);
    }

    #[test]
    fn the_log_is_refused_to_a_second_opener_while_open() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        assert!(matches!(
            EventLog::open(&dir.path().join("events")),
            Err(EventLogError::InUse { .. })
        ));
        drop(log);
        EventLog::open(&dir.path().join("events")).unwrap();
    }

    #[test]
    fn events_recorded_while_the_log_is_rewritten_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::open(&dir.path().join("events")).unwrap();
        for i in 0..2_000 {
            log.record(&Event::new(Kind::Exit, i)).unwrap();
        }
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    log.record(&Event::new(Kind::Entry, 10_000 + i)).unwrap();
                }
            })
        };
        assert_eq!(log.purge_before(1_000).unwrap(), 1_000);
        writer.join().unwrap();
        assert_eq!(log.len(), 1_500);
        assert_eq!(log.between(10_000, 20_000).unwrap().len(), 500);
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
        // From before 1970 (a negative time, whose key bytes sort last) is from the start.
        assert_eq!(log.between(i64::MIN, i64::MAX).unwrap().len(), 5);
        assert_eq!(log.between(-5_000, 2_500).unwrap().len(), 3);
        assert_eq!(log.security_between(i64::MIN, i64::MAX).unwrap().len(), 1);
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
