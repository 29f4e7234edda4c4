//! The device's own PIN-failure records, kept apart from the list: wrong PINs and lockouts this
//! device counted at its offline checks, keyed by the card's full keyed hash.
//!
//! They live in their own directory beside the list's store (`pin-failures`, in the state
//! directory where provisioning puts the list's `allowlist`), in one small file that is
//! rewritten whole at every change: written to `failures.new`, synced, renamed over `failures`,
//! and the directory synced. A record removed (a right PIN, an erasure, the purge of an expired
//! one) is therefore gone from every file at once, which sled's log-structured files do not
//! give (a removed value stays in them until a segment is reused). The file is small by
//! nature: only cards on the list with a wrong PIN within the window or a running lockout,
//! 52 bytes each, and every write also drops the records that have gone stale, so rewriting it
//! costs far less than the argon2id verification that comes before every change.
//!
//! A crash mid-write leaves `failures` whole (the old one) and perhaps a `failures.new`, which
//! the next open deletes. A damaged file is logged and read as no records: a lockout is short,
//! and refusing every card offline for a broken lockout file would be worse.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use allowlist::CardHash;
use allowlist::guard::{Failures, GuardPolicy};

use crate::store::StoreError;

/// The directory's name, beside the list's store.
pub const DIR: &str = "pin-failures";
const FILE: &str = "failures";
const MAGIC: &[u8] = b"omatoimi pin-failures 1\n";
const RECORD: usize = 32 + 20;

/// Where the failure records of the list store at `list_store` are kept: `pin-failures` in the
/// same directory.
pub fn dir_for(list_store: &Path) -> PathBuf {
    list_store.with_file_name(DIR)
}

/// The failure records, held in memory and written through to their file.
#[derive(Debug)]
pub struct FailureStore {
    file: daemon::fs::RecordFile,
    records: Mutex<BTreeMap<[u8; 32], Failures>>,
}

impl FailureStore {
    /// Opens (or creates, private to this user) the records in `dir`, holding them against
    /// other processes while open, and deleting a write a crash left half done.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let io = |e: std::io::Error| StoreError::Failures {
            path: dir.to_owned(),
            message: e.to_string(),
        };
        let (file, bytes) = daemon::fs::open_record_file(dir, FILE).map_err(io)?;
        let records = match bytes {
            Some(bytes) => decode(&bytes).unwrap_or_else(|| {
                tracing::error!(
                    "{}: damaged; PIN-failure records read as none",
                    file.path().display()
                );
                BTreeMap::new()
            }),
            None => BTreeMap::new(),
        };
        Ok(Self {
            file,
            records: Mutex::new(records),
        })
    }

    fn records(&self) -> std::sync::MutexGuard<'_, BTreeMap<[u8; 32], Failures>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.file.dir()
    }

    /// The record of a card.
    pub fn get(&self, card: &CardHash) -> Option<Failures> {
        self.records().get(&card.0).copied()
    }

    /// Stores (or with `None`, removes) a card's record, dropping every record `guard` finds
    /// stale at `now` with it; durable when it returns.
    pub fn set(
        &self,
        card: &CardHash,
        f: Option<Failures>,
        guard: &GuardPolicy,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        match f {
            Some(f) => next.insert(card.0, f),
            None => next.remove(&card.0),
        };
        next.retain(|_, f| !guard.stale(f, now));
        self.write(&next)?;
        *records = next;
        Ok(())
    }

    /// Removes a card's record (a patron's right to erasure), leaving no bytes of it in the
    /// store's files; whether there was one. The file is rewritten even when there was none.
    pub fn remove(&self, card: &CardHash) -> Result<bool, StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        let had = next.remove(&card.0).is_some();
        self.write(&next)?;
        *records = next;
        Ok(had)
    }

    /// Removes the records `guard` finds stale at `now` (window passed, no lockout running),
    /// leaving no bytes of them; returns how many.
    pub fn purge(&self, guard: &GuardPolicy, now: i64) -> Result<usize, StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        next.retain(|_, f| !guard.stale(f, now));
        let n = records.len() - next.len();
        if n > 0 {
            self.write(&next)?;
            *records = next;
        }
        Ok(n)
    }

    /// Adds records moved from elsewhere (an older store), keeping the ones held here.
    pub fn adopt(&self, moved: Vec<([u8; 32], Failures)>) -> Result<(), StoreError> {
        let mut records = self.records();
        let mut next = records.clone();
        for (k, f) in moved {
            next.entry(k).or_insert(f);
        }
        self.write(&next)?;
        *records = next;
        Ok(())
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.records().len()
    }

    /// None held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes `records` in the place of the file, durably.
    fn write(&self, records: &BTreeMap<[u8; 32], Failures>) -> Result<(), StoreError> {
        let mut bytes = Vec::with_capacity(MAGIC.len() + records.len() * RECORD);
        bytes.extend_from_slice(MAGIC);
        for (k, f) in records {
            bytes.extend_from_slice(k);
            bytes.extend_from_slice(&f.encode());
        }
        self.file.replace(&bytes).map_err(|e| StoreError::Failures {
            path: self.file.dir().to_owned(),
            message: e.to_string(),
        })
    }
}

fn decode(bytes: &[u8]) -> Option<BTreeMap<[u8; 32], Failures>> {
    let body = bytes.strip_prefix(MAGIC)?;
    if body.len() % RECORD != 0 {
        return None;
    }
    body.chunks_exact(RECORD)
        .map(|r| Some((r[..32].try_into().ok()?, Failures::decode(&r[32..])?)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn card(b: u8) -> CardHash {
        CardHash([b; 32])
    }

    /// Whether `needle` is in any file under `dir`, as bytes.
    fn in_files(dir: &Path, needle: &[u8]) -> bool {
        daemon::fs::holds_bytes(dir, needle).unwrap()
    }

    #[test]
    fn records_survive_a_reopen_and_removed_ones_leave_no_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        let g = GuardPolicy::default();
        let s = FailureStore::open(&dir).unwrap();
        for b in [0xa1, 0xb2, 0xc3] {
            s.set(&card(b), Some(g.fail(None, 1_000)), &g, 1_000)
                .unwrap();
        }
        assert!(in_files(tmp.path(), &card(0xa1).0));
        assert!(s.remove(&card(0xa1)).unwrap());
        assert!(!s.remove(&card(0xa1)).unwrap());
        // A right PIN clears a record: its bytes go too.
        s.set(&card(0xb2), None, &g, 1_001).unwrap();
        for gone in [0xa1, 0xb2] {
            assert!(!in_files(tmp.path(), &card(gone).0), "{gone:x} left behind");
        }
        drop(s);
        let s = FailureStore::open(&dir).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(&card(0xc3)).map(|f| f.count), Some(1));
    }

    #[test]
    fn the_purge_takes_expired_records_and_their_bytes_and_keeps_running_lockouts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        let g = GuardPolicy::default();
        let s = FailureStore::open(&dir).unwrap();
        let mut locked = None;
        for i in 0..5 {
            locked = Some(g.fail(locked, 1_000 + i));
        }
        s.set(&card(0xa1), locked, &g, 1_004).unwrap();
        s.set(&card(0xb2), Some(g.fail(None, 1_000)), &g, 1_000)
            .unwrap();
        s.set(&card(0xc3), Some(g.fail(None, 1_800)), &g, 1_800)
            .unwrap();
        // 0xa1 is locked until 1_904 and 0xb2's window runs until 1_900: both then stale.
        assert_eq!(s.purge(&g, 1_899).unwrap(), 0);
        assert_eq!(s.purge(&g, 1_950).unwrap(), 2);
        assert!(!in_files(tmp.path(), &card(0xa1).0));
        assert!(!in_files(tmp.path(), &card(0xb2).0));
        assert!(in_files(tmp.path(), &card(0xc3).0));
        assert_eq!(s.purge(&g, 1_950).unwrap(), 0);
        assert_eq!(s.purge(&g, 2_700).unwrap(), 1);
        assert!(s.is_empty());
    }

    #[test]
    fn a_half_written_file_is_deleted_and_a_damaged_one_read_as_none() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        let g = GuardPolicy::default();
        let s = FailureStore::open(&dir).unwrap();
        s.set(&card(0xa1), Some(g.fail(None, 1_000)), &g, 1_000)
            .unwrap();
        drop(s);
        std::fs::write(dir.join("failures.new"), [0xb2; 40]).unwrap();
        let s = FailureStore::open(&dir).unwrap();
        assert!(!dir.join("failures.new").exists());
        assert_eq!(s.len(), 1);
        drop(s);
        std::fs::write(dir.join(FILE), b"garbage").unwrap();
        let s = FailureStore::open(&dir).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn the_store_is_refused_to_a_second_opener_while_open() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        let s = FailureStore::open(&dir).unwrap();
        assert!(FailureStore::open(&dir).is_err());
        drop(s);
        FailureStore::open(&dir).unwrap();
    }
}
