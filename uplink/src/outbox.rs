//! The outbox: sled, one record per key (the sequence number, big-endian), bounded in bytes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use report::{Body, Priority, Record};

/// `meta`: the next sequence number (u64), kept apart so that it never goes back.
const NEXT_SEQ: &[u8] = b"next-seq";

/// An outbox failure.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// sled failed (disk full, I/O error).
    #[error("console outbox {}: {message}", path.display())]
    Store {
        /// Its directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What the outbox holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records waiting.
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Records dropped to keep within the bound since the outbox was opened.
    pub dropped: u64,
}

/// The outbox.
#[derive(Debug)]
pub struct Outbox {
    path: PathBuf,
    _lock: daemon::fs::DirLock,
    /// `None` only when an erasure's swap failed and the store could not be opened again.
    trees: RwLock<Option<Trees>>,
    max_bytes: u64,
    counts: Mutex<Counts>,
}

/// The open store.
#[derive(Debug)]
struct Trees {
    db: sled::Db,
    records: sled::Tree,
    meta: sled::Tree,
}

fn open_trees(dir: &Path) -> Result<Trees, sled::Error> {
    let db = daemon::fs::open_sled(&sled::Config::new().path(dir).cache_capacity(4 << 20))?;
    let records = db.open_tree("records")?;
    let meta = db.open_tree("meta")?;
    Ok(Trees { db, records, meta })
}

/// A stored record: its priority, then its JSON.
fn encode(r: &Record) -> Vec<u8> {
    let mut v = vec![r.body.priority() as u8];
    v.extend_from_slice(&serde_json::to_vec(r).unwrap_or_default());
    v
}

fn decode(v: &[u8]) -> Option<Record> {
    serde_json::from_slice(v.get(1..)?).ok()
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`, bounded at `max_bytes` of records.
    /// Held by this process alone (`<dir>.lock`); a rewrite a crash interrupted is finished
    /// first.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, OutboxError> {
        let err = |e: &dyn std::fmt::Display| OutboxError::Store {
            path: dir.to_owned(),
            message: e.to_string(),
        };
        let lock = daemon::fs::lock(dir).map_err(|e| err(&e))?;
        daemon::fs::recover(dir).map_err(|e| err(&e))?;
        daemon::fs::create_private_dir(dir).map_err(|e| err(&e))?;
        let trees = open_trees(dir).map_err(|e| err(&e))?;
        let mut counts = Counts::default();
        for kv in trees.records.iter() {
            let (_, v) = kv.map_err(|e| err(&e))?;
            counts.records += 1;
            counts.bytes += v.len() as u64;
        }
        Ok(Self {
            path: dir.to_owned(),
            _lock: lock,
            trees: RwLock::new(Some(trees)),
            max_bytes,
            counts: Mutex::new(counts),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> OutboxError {
        OutboxError::Store {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// The open store, read-locked (an erasure swaps it under the write lock).
    fn read(&self) -> RwLockReadGuard<'_, Option<Trees>> {
        self.trees
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn open_of<'a>(&self, g: &'a Option<Trees>) -> Result<&'a Trees, OutboxError> {
        g.as_ref().ok_or_else(|| {
            self.err("closed: an erasure could not open it again; restart the daemon")
        })
    }

    /// What it holds now.
    pub fn counts(&self) -> Counts {
        self.counts.lock().map(|c| *c).unwrap_or_default()
    }

    /// Queues a record of `body` that happened at `at` (Unix ms); its id is made at random here
    /// and kept with it, so a record sent again is the same record. Events are flushed to disk
    /// before this returns; status snapshots are not (the next one says the same). Returns its
    /// sequence number.
    pub fn push(&self, at: i64, body: Body) -> Result<u64, OutboxError> {
        let mut id = [0u8; 16];
        getrandom::getrandom(&mut id).map_err(|e| self.err(e))?;
        let priority = body.priority();
        let g = self.read();
        let t = self.open_of(&g)?;
        let mut counts = self.counts.lock().map_err(|e| self.err(e))?;
        let seq = t
            .meta
            .update_and_fetch(NEXT_SEQ, |old| {
                let n = old
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .map_or(1, u64::from_be_bytes);
                Some((n + 1).to_be_bytes().to_vec())
            })
            .map_err(|e| self.err(e))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(1, |b| u64::from_be_bytes(b) - 1);
        let record = Record {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            seq,
            at,
            body,
        };
        let value = encode(&record);
        counts.records += 1;
        counts.bytes += value.len() as u64;
        t.records
            .insert(seq.to_be_bytes(), value)
            .map_err(|e| self.err(e))?;
        if counts.bytes > self.max_bytes {
            self.shrink(t, &mut counts)?;
        }
        if priority > Priority::Status {
            t.db.flush().map_err(|e| self.err(e))?;
        }
        Ok(seq)
    }

    /// Drops the oldest status snapshots, then the oldest routine events, until the records fit
    /// in nine tenths of the bound; never anything more important. What cannot be dropped stays,
    /// over the bound.
    fn shrink(&self, t: &Trees, counts: &mut Counts) -> Result<(), OutboxError> {
        let target = self.max_bytes / 10 * 9;
        for drop in [Priority::Status, Priority::Routine] {
            let mut gone = vec![];
            let mut bytes = counts.bytes;
            for kv in t.records.iter() {
                if bytes <= target {
                    break;
                }
                let (k, v) = kv.map_err(|e| self.err(e))?;
                if v.first() == Some(&(drop as u8)) {
                    bytes -= v.len() as u64;
                    gone.push(k);
                }
            }
            if !gone.is_empty() {
                let mut batch = sled::Batch::default();
                for k in &gone {
                    batch.remove(k);
                }
                t.records.apply_batch(batch).map_err(|e| self.err(e))?;
                counts.records -= gone.len() as u64;
                counts.dropped += gone.len() as u64;
                counts.bytes = bytes;
                tracing::warn!(
                    "console outbox {}: full ({} bytes of at most {}): {} {} dropped, oldest first",
                    self.path.display(),
                    counts.bytes,
                    self.max_bytes,
                    gone.len(),
                    if drop == Priority::Status {
                        "status snapshots"
                    } else {
                        "routine events"
                    }
                );
            }
            if counts.bytes <= target {
                return Ok(());
            }
        }
        tracing::error!(
            "console outbox {}: {} bytes, over its bound of {}, all of it entries, denials, alarms and other records that are never dropped: is the console reachable?",
            self.path.display(),
            counts.bytes,
            self.max_bytes
        );
        Ok(())
    }

    /// The oldest records, at most `max_records` of them and about `max_bytes` (at least one).
    /// A record that cannot be read back is skipped (and reported by [`Outbox::remove`]'s
    /// caller never seeing it acknowledged: it is removed here).
    pub fn oldest(&self, max_records: usize, max_bytes: usize) -> Result<Vec<Record>, OutboxError> {
        let mut out = vec![];
        let mut bytes = 0usize;
        let mut damaged = vec![];
        let g = self.read();
        let t = self.open_of(&g)?;
        for kv in t.records.iter() {
            let (k, v) = kv.map_err(|e| self.err(e))?;
            if out.len() >= max_records || (!out.is_empty() && bytes + v.len() > max_bytes) {
                break;
            }
            match decode(&v) {
                Some(r) => {
                    bytes += v.len();
                    out.push(r);
                }
                None => damaged.push(k),
            }
        }
        if !damaged.is_empty() {
            tracing::error!(
                "console outbox {}: {} damaged records dropped",
                self.path.display(),
                damaged.len()
            );
            let mut counts = self.counts.lock().map_err(|e| self.err(e))?;
            for k in damaged {
                if let Some(v) = t.records.remove(k).map_err(|e| self.err(e))? {
                    counts.records -= 1;
                    counts.bytes -= v.len() as u64;
                }
            }
        }
        Ok(out)
    }

    /// Removes every record about the cards with these pseudonyms (a patron's right to
    /// erasure), leaving no bytes of them in the outbox's files: the outbox is written anew
    /// without them and swapped in, while it stays in use (a record pushed meanwhile waits for
    /// the swap). Returns how many; the numbers go on.
    pub fn erase_cards(&self, pseudonyms: &[&str]) -> Result<usize, OutboxError> {
        let about = |v: &[u8]| {
            decode(v).is_some_and(|r| {
                matches!(&r.body, Body::Event { event } if event.card.as_deref().is_some_and(|c| pseudonyms.contains(&c)))
            })
        };
        let mut guard = self
            .trees
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(old) = guard.as_ref() else {
            return Err(self.err("closed: an erasure could not open it again; restart the daemon"));
        };
        let staging = daemon::fs::staging(&self.path).map_err(|e| self.err(e))?;
        let mut erased = 0;
        let mut left = Counts::default();
        let copied = (|| {
            let fresh = sled::Config::new().path(&staging).open()?;
            let records = fresh.open_tree("records")?;
            let meta = fresh.open_tree("meta")?;
            for kv in old.records.iter() {
                let (k, v) = kv?;
                if about(&v) {
                    erased += 1;
                } else {
                    left.records += 1;
                    left.bytes += v.len() as u64;
                    records.insert(k, v)?;
                }
            }
            if let Some(n) = old.meta.get(NEXT_SEQ)? {
                meta.insert(NEXT_SEQ, n)?;
            }
            fresh.flush()?;
            Ok::<_, sled::Error>(())
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(self.err(e));
        }
        // Closed before the swap: sled finds its files by path. The directory lock stays held.
        *guard = None;
        let (reopened, swapped) = daemon::fs::swap_in_and_reopen(
            &self.path,
            |d| open_trees(d).map_err(|e| self.err(e)),
            |e| self.err(e),
        )
        .inspect_err(|e| tracing::error!("{e}"))?;
        *guard = Some(reopened);
        swapped?;
        if let Ok(mut c) = self.counts.lock() {
            c.records = left.records;
            c.bytes = left.bytes;
        }
        Ok(erased)
    }

    /// Removes the records the console answered for, and flushes.
    pub fn remove(&self, seqs: &[u64]) -> Result<(), OutboxError> {
        let g = self.read();
        let t = self.open_of(&g)?;
        let mut counts = self.counts.lock().map_err(|e| self.err(e))?;
        for s in seqs {
            if let Some(v) = t.records.remove(s.to_be_bytes()).map_err(|e| self.err(e))? {
                counts.records -= 1;
                counts.bytes -= v.len() as u64;
            }
        }
        t.db.flush().map_err(|e| self.err(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use report::Event;

    use super::*;

    fn event(kind: &str) -> Body {
        Body::Event {
            event: Event {
                kind: kind.into(),
                code: None,
                card: None,
                source: None,
                detail: Some("x".repeat(100)),
            },
        }
    }

    fn status() -> Body {
        Body::Status {
            gauges: [("omatoimi_up".to_owned(), 1.0)].into_iter().collect(),
        }
    }

    fn kinds(o: &Outbox) -> Vec<String> {
        o.oldest(usize::MAX, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|r| match r.body {
                Body::Status { .. } => "status".to_owned(),
                Body::Event { event } => event.kind,
            })
            .collect()
    }

    #[test]
    fn records_come_out_oldest_first_with_their_ids_and_go_when_answered() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Outbox::open(tmp.path(), 1 << 20).unwrap();
        let a = o.push(1, event("entry")).unwrap();
        let b = o.push(2, status()).unwrap();
        let c = o.push(3, event("alarm")).unwrap();
        assert!(a < b && b < c);
        let first = o.oldest(2, usize::MAX).unwrap();
        assert_eq!(first.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![a, b]);
        assert!(first.iter().all(|r| r.check().is_ok()));
        assert_ne!(first[0].id, first[1].id);
        // Sent again, a record is the same record.
        assert_eq!(o.oldest(2, usize::MAX).unwrap(), first);
        o.remove(&[a, b]).unwrap();
        assert_eq!(kinds(&o), vec!["alarm"]);
        assert_eq!(o.counts().records, 1);
    }

    #[test]
    fn the_sequence_and_the_records_survive_a_restart() {
        let tmp = tempfile::tempdir().unwrap();
        let last = {
            let o = Outbox::open(tmp.path(), 1 << 20).unwrap();
            o.push(1, event("entry")).unwrap();
            let s = o.push(2, event("denied")).unwrap();
            o.remove(&[s]).unwrap();
            s
        };
        let o = Outbox::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(kinds(&o), vec!["entry"]);
        assert_eq!(o.counts().records, 1);
        // Numbers never go back, even for a record that was removed.
        assert!(o.push(3, status()).unwrap() > last);
    }

    #[test]
    fn when_full_old_status_goes_first_then_routine_events_never_an_entry_or_alarm() {
        let tmp = tempfile::tempdir().unwrap();
        let o = Outbox::open(tmp.path(), 2_500).unwrap();
        for i in 0..10 {
            o.push(i, status()).unwrap();
            o.push(i, event("exit")).unwrap();
        }
        o.push(20, event("entry")).unwrap();
        o.push(21, event("alarm")).unwrap();
        let c = o.counts();
        assert!(c.bytes <= 2_500, "{c:?}");
        assert!(c.dropped > 0);
        let k = kinds(&o);
        assert!(
            k.contains(&"entry".to_owned()) && k.contains(&"alarm".to_owned()),
            "{k:?}"
        );
        // Status went before any exit did.
        let exits = k.iter().filter(|x| *x == "exit").count();
        let statuses = k.iter().filter(|x| *x == "status").count();
        assert!(statuses == 0 || exits == 10, "{k:?}");
        // Past the bound with only what is never dropped: kept, all of it.
        for i in 0..40 {
            o.push(100 + i, event("denied")).unwrap();
        }
        let k = kinds(&o);
        assert_eq!(k.iter().filter(|x| *x == "denied").count(), 40);
        assert!(k.contains(&"entry".to_owned()) && k.contains(&"alarm".to_owned()));
        assert!(!k.contains(&"status".to_owned()) && !k.contains(&"exit".to_owned()));
        assert!(o.counts().bytes > 2_500);
    }

    #[test]
    fn erasing_a_card_leaves_none_of_its_records_in_the_files_and_the_numbers_go_on() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let (gone, kept) = ("aa".repeat(16), "bb".repeat(16));
        let with = |card: &str| Body::Event {
            event: Event {
                kind: "entry".into(),
                code: None,
                card: Some(card.to_owned()),
                source: None,
                detail: None,
            },
        };
        let o = Outbox::open(&dir, 1 << 20).unwrap();
        for i in 0..5 {
            o.push(i, with(&gone)).unwrap();
            o.push(i, with(&kept)).unwrap();
        }
        let last = o.push(9, status()).unwrap();
        drop(o);
        assert!(daemon::fs::holds_bytes(tmp.path(), gone.as_bytes()).unwrap());
        // Another process cannot take it meanwhile.
        let o = Outbox::open(&dir, 1 << 20).unwrap();
        assert!(Outbox::open(&dir, 1 << 20).is_err());
        let n = o.erase_cards(&[&gone]).unwrap();
        assert_eq!(n, 5);
        assert!(!daemon::fs::holds_bytes(tmp.path(), gone.as_bytes()).unwrap());
        assert!(daemon::fs::holds_bytes(tmp.path(), kept.as_bytes()).unwrap());
        assert_eq!(o.counts().records, 6);
        assert!(o.push(10, status()).unwrap() > last);
    }
}
