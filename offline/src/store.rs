//! The store: sled 0.34 behind the few operations the allow-list needs, so another store is one
//! file.
//!
//! Each list lives in its own tree, `list-<generation>`, keyed by the first 16 bytes of the card
//! hash; the value is the rest of the entry's canonical bytes. The `meta` tree names the current
//! generation with the list's signed prefix, and holds the ratchet. A new list is written into a
//! fresh tree, flushed, and only then named current, together with the raised ratchet, in one
//! atomic batch; the old tree is dropped afterwards. A crash before that batch leaves a tree no one
//! names, dropped at the next open.
//!
//! The device's own PIN-failure records are not here but in [`crate::failures`]: an earlier
//! version kept them in a `pin-failures` tree, which [`Store::take_old_failures`] and
//! [`Store::drop_old_failures`] move out.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use allowlist::guard::Failures;
use allowlist::trust::Held;
use allowlist::{CardHash, Ratchet, SignedHeader};

const CURRENT: &[u8] = b"current";
const RATCHET: &[u8] = b"ratchet";
const NEXT_GENERATION: &[u8] = b"next-generation";
const BATCH: usize = 8192;
/// The tree an earlier version kept the PIN-failure records in.
const OLD_FAILURES: &[u8] = b"pin-failures";

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (disk full, I/O error, corruption).
    #[error("allow-list store {}: {message}", path.display())]
    Sled {
        /// The store directory.
        path: PathBuf,
        /// sled's message.
        message: String,
    },
    /// A stored record is damaged.
    #[error("allow-list store {}: damaged {what}", path.display())]
    Damaged {
        /// The store directory.
        path: PathBuf,
        /// Which record.
        what: &'static str,
    },
    /// Two entries share a 16-byte card-hash prefix (a forged list, or 2^-100 bad luck).
    #[error("two entries share a card-hash prefix")]
    PrefixCollision,
    /// The PIN-failure records could not be read or written.
    #[error("PIN-failure records {}: {message}", path.display())]
    Failures {
        /// Their directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The list in force.
#[derive(Debug, Clone)]
pub struct Current {
    generation: u64,
    tree: sled::Tree,
    /// Its signed header.
    pub header: SignedHeader,
    /// Its signed prefix as received.
    pub prefix: Vec<u8>,
}

/// The sled store.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    current: Arc<RwLock<Option<Current>>>,
}

/// A list being written: a tree no one names yet.
#[derive(Debug)]
pub struct Writer {
    generation: u64,
    tree: sled::Tree,
    batch: sled::Batch,
    pending: usize,
    last_prefix: Vec<u8>,
    /// Entries written.
    pub count: u64,
}

impl Store {
    /// Opens (or creates) the store in `path`, with a cache of `cache_bytes`, and drops any list
    /// tree a crash left unnamed.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let err = |e: sled::Error| StoreError::Sled {
            path: path.to_owned(),
            message: e.to_string(),
        };
        // Its owner's only, whatever the umask: it holds every patron's keyed hash.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)))
            .map_err(|e| StoreError::Sled {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let db = daemon::fs::open_sled(&sled::Config::new().path(path).cache_capacity(cache_bytes))
            .map_err(err)?;
        let meta = db.open_tree("meta").map_err(err)?;
        let mut store = Self {
            path: path.to_owned(),
            db,
            meta,
            current: Arc::new(RwLock::new(None)),
        };
        let current = store.read_current()?;
        let keep = current.as_ref().map(|c| list_name(c.generation));
        for name in store.db.tree_names() {
            if name.starts_with(b"list-") && keep.as_deref() != Some(&name[..]) {
                store.db.drop_tree(&name).map_err(err)?;
            }
        }
        store.current = Arc::new(RwLock::new(current));
        Ok(store)
    }

    fn err(&self) -> impl Fn(sled::Error) -> StoreError + '_ {
        move |e| StoreError::Sled {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn read_current(&self) -> Result<Option<Current>, StoreError> {
        let Some(v) = self.meta.get(CURRENT).map_err(self.err())? else {
            return Ok(None);
        };
        let damaged = || StoreError::Damaged {
            path: self.path.clone(),
            what: "current-list record",
        };
        let generation = u64::from_le_bytes(
            v.get(..8)
                .ok_or_else(damaged)?
                .try_into()
                .map_err(|_| damaged())?,
        );
        let prefix = v[8..].to_vec();
        let header = SignedHeader::parse(&prefix).map_err(|_| damaged())?;
        let tree = self
            .db
            .open_tree(list_name(generation))
            .map_err(self.err())?;
        Ok(Some(Current {
            generation,
            tree,
            header,
            prefix,
        }))
    }

    /// The list in force, if any.
    pub fn current(&self) -> Option<Current> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Version and list hash of the list in force.
    pub fn held(&self) -> Option<Held> {
        self.current().map(|c| Held {
            version: c.header.header.version,
            list_hash: c.header.header.list_hash,
        })
    }

    /// The ratchet.
    pub fn ratchet(&self) -> Result<Ratchet, StoreError> {
        match self.meta.get(RATCHET).map_err(self.err())? {
            None => Ok(Ratchet::default()),
            Some(v) => Ratchet::decode(&v).map_err(|_| StoreError::Damaged {
                path: self.path.clone(),
                what: "ratchet",
            }),
        }
    }

    /// The entry of `card` in the list in force, as canonical bytes; the full hash is compared
    /// in constant time.
    pub fn lookup(&self, card: &CardHash) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(c) = self.current() else {
            return Ok(None);
        };
        let Some(v) = c.tree.get(&card.0[..16]).map_err(self.err())? else {
            return Ok(None);
        };
        if !card.ct_eq(&[&card.0[..16], v.get(..16).unwrap_or_default()].concat()) {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(16 + v.len());
        bytes.extend_from_slice(&card.0[..16]);
        bytes.extend_from_slice(&v);
        Ok(Some(bytes))
    }

    /// The entries of the list in force, ascending, as canonical bytes.
    pub fn entries(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        let tree = self.current().map(|c| c.tree);
        tree.into_iter().flat_map(move |t| {
            t.iter().map(move |kv| {
                let (k, v) = kv.map_err(self.err())?;
                let mut b = Vec::with_capacity(k.len() + v.len());
                b.extend_from_slice(&k);
                b.extend_from_slice(&v);
                Ok(b)
            })
        })
    }

    /// Starts writing a new list.
    pub fn begin(&self) -> Result<Writer, StoreError> {
        let next = self
            .meta
            .get(NEXT_GENERATION)
            .map_err(self.err())?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(1);
        let current = self.current().map_or(0, |c| c.generation);
        let generation = next.max(current + 1);
        self.meta
            .insert(NEXT_GENERATION, &(generation + 1).to_le_bytes())
            .map_err(self.err())?;
        let tree = self
            .db
            .open_tree(list_name(generation))
            .map_err(self.err())?;
        tree.clear().map_err(self.err())?;
        Ok(Writer {
            generation,
            tree,
            batch: sled::Batch::default(),
            pending: 0,
            last_prefix: Vec::new(),
            count: 0,
        })
    }

    /// Adds an entry (canonical bytes) to a list being written.
    pub fn put(&self, w: &mut Writer, entry: &[u8]) -> Result<(), StoreError> {
        if entry.len() < 32 {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                what: "entry",
            });
        }
        if w.last_prefix.as_slice() == &entry[..16] {
            return Err(StoreError::PrefixCollision);
        }
        w.last_prefix.clear();
        w.last_prefix.extend_from_slice(&entry[..16]);
        w.batch.insert(&entry[..16], &entry[16..]);
        w.pending += 1;
        w.count += 1;
        if w.pending >= BATCH {
            self.flush_batch(w)?;
        }
        Ok(())
    }

    fn flush_batch(&self, w: &mut Writer) -> Result<(), StoreError> {
        let batch = std::mem::take(&mut w.batch);
        w.tree.apply_batch(batch).map_err(self.err())?;
        w.pending = 0;
        Ok(())
    }

    /// Makes the written list the one in force, with its signed prefix and the raised ratchet.
    pub fn commit(
        &self,
        mut w: Writer,
        prefix: &[u8],
        ratchet: &Ratchet,
    ) -> Result<(), StoreError> {
        self.flush_batch(&mut w)?;
        let header = SignedHeader::parse(prefix).map_err(|_| StoreError::Damaged {
            path: self.path.clone(),
            what: "new list prefix",
        })?;
        // Every entry on disk before the list is named current.
        self.db.flush().map_err(self.err())?;
        let mut record = w.generation.to_le_bytes().to_vec();
        record.extend_from_slice(prefix);
        let mut batch = sled::Batch::default();
        batch.insert(CURRENT, record);
        batch.insert(RATCHET, ratchet.encode());
        self.meta.apply_batch(batch).map_err(self.err())?;
        self.db.flush().map_err(self.err())?;
        let old = {
            let mut cur = self.current.write().map_err(|_| StoreError::Damaged {
                path: self.path.clone(),
                what: "in-memory state (a thread panicked)",
            })?;
            cur.replace(Current {
                generation: w.generation,
                tree: w.tree,
                header,
                prefix: prefix.to_vec(),
            })
        };
        if let Some(old) = old {
            self.db
                .drop_tree(list_name(old.generation))
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Throws a list being written away.
    pub fn abort(&self, w: Writer) {
        let _ = self.db.drop_tree(list_name(w.generation));
    }

    /// The PIN-failure records an earlier version kept in this store (its `pin-failures`
    /// tree), by full card hash; none when there is no such tree. Damaged records are left out.
    pub fn take_old_failures(&self) -> Result<Vec<([u8; 32], Failures)>, StoreError> {
        if !self.db.tree_names().iter().any(|n| n == OLD_FAILURES) {
            return Ok(vec![]);
        }
        let tree = self.db.open_tree(OLD_FAILURES).map_err(self.err())?;
        let mut out = vec![];
        for kv in tree.iter() {
            let (k, v) = kv.map_err(self.err())?;
            if let (Ok(k), Some(f)) = (<[u8; 32]>::try_from(k.as_ref()), Failures::decode(&v)) {
                out.push((k, f));
            }
        }
        Ok(out)
    }

    /// Drops the `pin-failures` tree of an earlier version (after its records were moved);
    /// whether there was one. The list is untouched.
    pub fn drop_old_failures(&self) -> Result<bool, StoreError> {
        let dropped = self.db.drop_tree(OLD_FAILURES).map_err(self.err())?;
        self.db.flush().map_err(self.err())?;
        Ok(dropped)
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store {
    /// Writes a record into the `pin-failures` tree, as an earlier version did.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub(crate) fn put_old_failure(&self, card: [u8; 32], f: Failures) {
        let tree = self.db.open_tree(OLD_FAILURES).unwrap();
        tree.insert(card, &f.encode()[..]).unwrap();
        self.db.flush().unwrap();
    }
}

fn list_name(generation: u64) -> Vec<u8> {
    format!("list-{generation:020}").into_bytes()
}
