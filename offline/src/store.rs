//! The store: sled 0.34 behind the few operations the allow-list needs, so another store is one
//! file.
//!
//! A list lives in its own tree, `blocks-<generation>`, as sorted *blocks* of a few KB of entries
//! (not one key per patron, which made sled grow to gigabytes at a million patrons): each block
//! is keyed by `0x01` and the card hash of its first entry, so a lookup is one sled range read
//! (the last block whose first hash is not above the card's) and a binary search inside the
//! block. The same tree holds the list's signed prefix and its ratchet under `0x00` keys, so a
//! delta that rewrites the blocks it touches, the new prefix and the raised ratchet is one atomic
//! sled batch: a crash before it leaves the old list, after it the new one.
//!
//! A full list is written into a fresh tree, flushed, and only then named current in the `meta`
//! tree, with the raised ratchet, in one atomic batch; the old tree is dropped afterwards. A crash
//! before that batch leaves a tree no one names, dropped at the next open. `meta` keeps the
//! ratchet too, so it outlives a dropped list; the ratchet in force is the higher mark of both.
//!
//! A block: u32 entry count, then each entry's end offset (u32, from the start of the entries),
//! then the entries' canonical bytes. Entries are variable-length; their boundaries come from the
//! table, never from a fixed length.
//!
//! An earlier version kept one key per patron in `list-<generation>` trees, named by a `current`
//! record in `meta`. Such a store is found at open: its ratchet is kept, its list dropped (the next
//! sync fetches a full list), and the dropped list's version and hash are remembered so that the
//! very same list may be taken again ([`Store::dropped`]).
//!
//! The device's own PIN-failure records are not here but in [`crate::failures`]: an earlier
//! version kept them in a `pin-failures` tree, which [`Store::take_old_failures`] and
//! [`Store::drop_old_failures`] move out.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use allowlist::delta::MergeError;
use allowlist::guard::Failures;
use allowlist::trust::Held;
use allowlist::{CardHash, KeyId, Ratchet, SignedHeader};

/// `meta`: the generation of the list in force (u64).
const CURRENT: &[u8] = b"current-blocks";
/// `meta`: the ratchet, kept apart from any list.
const RATCHET: &[u8] = b"ratchet";
const NEXT_GENERATION: &[u8] = b"next-generation";
/// `meta`: version and list hash of a list an upgrade dropped.
const DROPPED: &[u8] = b"dropped-list";
/// `meta` of the earlier layout: generation and prefix of its `list-<generation>` tree.
const OLD_CURRENT: &[u8] = b"current";
/// A list tree's records: its signed prefix and its ratchet.
const PREFIX_KEY: &[u8] = b"\x00prefix";
const RATCHET_KEY: &[u8] = b"\x00ratchet";
/// The first byte of a block's key.
const BLOCK_TAG: u8 = 1;
/// A block is sealed once its entries reach this many bytes (a few dozen entries).
pub const BLOCK_BYTES: usize = 2048;
/// Blocks written per sled batch while a full list is written.
const BATCH_BYTES: usize = 1 << 20;
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
    /// Two entries share a card hash, or come out of order (a forged list).
    #[error("two entries share a card hash or are out of order")]
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

/// A block being filled.
#[derive(Debug, Default)]
struct BlockBuilder {
    ends: Vec<u32>,
    data: Vec<u8>,
}

impl BlockBuilder {
    fn push(&mut self, entry: &[u8]) {
        self.data.extend_from_slice(entry);
        self.ends.push(self.data.len() as u32);
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn full(&self) -> bool {
        self.data.len() >= BLOCK_BYTES
    }

    /// The block's key and value; the builder is empty afterwards.
    fn seal(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        let first = self.data.get(..32)?;
        let mut key = Vec::with_capacity(33);
        key.push(BLOCK_TAG);
        key.extend_from_slice(first);
        let mut value = Vec::with_capacity(4 + 4 * self.ends.len() + self.data.len());
        value.extend_from_slice(&(self.ends.len() as u32).to_le_bytes());
        for e in &self.ends {
            value.extend_from_slice(&e.to_le_bytes());
        }
        value.extend_from_slice(&self.data);
        self.ends.clear();
        self.data.clear();
        Some((key, value))
    }
}

/// A stored block, read in place.
#[derive(Debug, Clone, Copy)]
struct Block<'a> {
    table: &'a [u8],
    data: &'a [u8],
}

impl<'a> Block<'a> {
    /// Checks the offset table: ascending, within the block, every entry long enough for its hash.
    fn parse(bytes: &'a [u8]) -> Option<Self> {
        let n = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let table = bytes.get(4..4 + n.checked_mul(4)?)?;
        let data = bytes.get(4 + 4 * n..)?;
        let mut start = 0usize;
        for c in table.chunks_exact(4) {
            let end = u32::from_le_bytes(c.try_into().ok()?) as usize;
            if end < start + 32 || end > data.len() {
                return None;
            }
            start = end;
        }
        (start == data.len() && n > 0).then_some(Self { table, data })
    }

    fn len(&self) -> usize {
        self.table.len() / 4
    }

    fn end(&self, i: usize) -> usize {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.table[4 * i..4 * i + 4]);
        u32::from_le_bytes(b) as usize
    }

    /// The i-th entry (i < len; the table was checked).
    fn entry(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.end(i - 1) };
        &self.data[start..self.end(i)]
    }

    /// The entry whose card hash starts like `card` (by binary search; the caller compares the
    /// whole hash in constant time).
    fn find(&self, card: &[u8; 32]) -> Option<&'a [u8]> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let e = self.entry(mid);
            match e[..32].cmp(&card[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(e),
            }
        }
        None
    }

    fn iter(self) -> impl Iterator<Item = &'a [u8]> {
        (0..self.len()).map(move |i| self.entry(i))
    }
}

/// A list being written: a tree no one names yet.
#[derive(Debug)]
pub struct Writer {
    generation: u64,
    tree: sled::Tree,
    block: BlockBuilder,
    batch: sled::Batch,
    pending: usize,
    last: Option<[u8; 32]>,
    /// Entries written.
    pub count: u64,
}

/// A delta merged with the list in force, ready to be committed: the touched blocks rewritten.
#[derive(Debug)]
pub struct Patch {
    generation: u64,
    batch: sled::Batch,
    /// Entries of the merged list.
    pub count: u64,
    /// Blocks rewritten (the old block removed, its entries written anew).
    pub blocks_rewritten: u64,
    /// Bytes of the blocks written.
    pub bytes_written: u64,
}

impl Store {
    /// Opens (or creates) the store in `path`, with a cache of `cache_bytes`, and drops any list
    /// tree a crash left unnamed. A store in the earlier layout loses its list (logged) and keeps
    /// its ratchet.
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
        store.drop_old_layout()?;
        let current = store.read_current()?;
        let keep = current.as_ref().map(|c| tree_name(c.generation));
        for name in store.db.tree_names() {
            let list = name.starts_with(b"list-") || name.starts_with(b"blocks-");
            if list && keep.as_deref() != Some(&name[..]) {
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

    fn damaged(&self, what: &'static str) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            what,
        }
    }

    /// The earlier layout (one key per patron): its ratchet stays in `meta`, its list goes.
    fn drop_old_layout(&self) -> Result<(), StoreError> {
        let Some(old) = self.meta.get(OLD_CURRENT).map_err(self.err())? else {
            return Ok(());
        };
        let held = old
            .get(8..)
            .and_then(|p| SignedHeader::parse(p).ok())
            .map(|s| (s.header.version, s.header.list_hash));
        let mut batch = sled::Batch::default();
        batch.remove(OLD_CURRENT);
        if let Some((version, hash)) = held {
            let mut record = version.to_le_bytes().to_vec();
            record.extend_from_slice(&hash);
            batch.insert(DROPPED, record);
        }
        self.meta.apply_batch(batch).map_err(self.err())?;
        self.db.flush().map_err(self.err())?;
        tracing::warn!(
            "offline list store {}: it holds list version {} in the earlier layout (one key per patron); that list is dropped and the ratchet kept, and the next sync fetches a full list",
            self.path.display(),
            held.map_or_else(|| "?".to_owned(), |h| h.0.to_string())
        );
        // The `list-` trees themselves are dropped with any other unnamed tree.
        Ok(())
    }

    fn read_current(&self) -> Result<Option<Current>, StoreError> {
        let Some(v) = self.meta.get(CURRENT).map_err(self.err())? else {
            return Ok(None);
        };
        let generation = v
            .as_ref()
            .try_into()
            .map(u64::from_le_bytes)
            .map_err(|_| self.damaged("current-list record"))?;
        let name = tree_name(generation);
        if !self.db.tree_names().iter().any(|n| n == &name[..]) {
            return Err(self.damaged("current list (its tree is missing)"));
        }
        let tree = self.db.open_tree(name).map_err(self.err())?;
        let prefix = tree
            .get(PREFIX_KEY)
            .map_err(self.err())?
            .ok_or_else(|| self.damaged("current list's prefix"))?
            .to_vec();
        let header =
            SignedHeader::parse(&prefix).map_err(|_| self.damaged("current list's prefix"))?;
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

    /// Version and list hash of the list an upgrade from the earlier layout dropped, until a full
    /// list is in force again: the very same list may be taken again although its version is the
    /// ratchet's mark.
    pub fn dropped(&self) -> Result<Option<Held>, StoreError> {
        let Some(v) = self.meta.get(DROPPED).map_err(self.err())? else {
            return Ok(None);
        };
        let (Some(version), Some(hash)) = (v.get(..8), v.get(8..40)) else {
            return Err(self.damaged("dropped-list record"));
        };
        let mut vb = [0u8; 8];
        vb.copy_from_slice(version);
        let mut list_hash = [0u8; 32];
        list_hash.copy_from_slice(hash);
        Ok(Some(Held {
            version: u64::from_le_bytes(vb),
            list_hash,
        }))
    }

    /// The ratchet: the higher mark per key of the one in `meta` and the one beside the list in
    /// force (a delta raises the latter, atomically with its blocks).
    pub fn ratchet(&self) -> Result<Ratchet, StoreError> {
        let damaged = |_| self.damaged("ratchet");
        let mut r = match self.meta.get(RATCHET).map_err(self.err())? {
            None => Ratchet::default(),
            Some(v) => Ratchet::decode(&v).map_err(damaged)?,
        };
        if let Some(c) = self.current() {
            if let Some(v) = c.tree.get(RATCHET_KEY).map_err(self.err())? {
                Ratchet::decode(&v).map_err(damaged)?;
                for m in v.chunks_exact(16) {
                    let mut id = [0u8; 8];
                    id.copy_from_slice(&m[..8]);
                    let mut version = [0u8; 8];
                    version.copy_from_slice(&m[8..]);
                    r.raise(&[KeyId(id)], u64::from_le_bytes(version));
                }
            }
        }
        Ok(r)
    }

    /// The entry of `card` in the list in force, as canonical bytes; the full hash is compared
    /// in constant time.
    pub fn lookup(&self, card: &CardHash) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(c) = self.current() else {
            return Ok(None);
        };
        let mut key = [0u8; 33];
        key[0] = BLOCK_TAG;
        key[1..].copy_from_slice(&card.0);
        let Some(kv) = c.tree.range(&[BLOCK_TAG][..]..=&key[..]).next_back() else {
            return Ok(None);
        };
        let (_, v) = kv.map_err(self.err())?;
        let block = Block::parse(&v).ok_or_else(|| self.damaged("block"))?;
        Ok(block
            .find(&card.0)
            .filter(|e| card.ct_eq(&e[..32]))
            .map(<[u8]>::to_vec))
    }

    /// The entries of the list in force, ascending, as canonical bytes.
    pub fn entries(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        let tree = self.current().map(|c| c.tree);
        tree.into_iter().flat_map(move |t| {
            blocks(&t).flat_map(move |b| {
                let v: Vec<Result<Vec<u8>, StoreError>> = match b {
                    Err(e) => vec![Err(self.err()(e))],
                    Ok((_, v)) => match Block::parse(&v) {
                        None => vec![Err(self.damaged("block"))],
                        Some(b) => b.iter().map(|e| Ok(e.to_vec())).collect(),
                    },
                };
                v
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
            .open_tree(tree_name(generation))
            .map_err(self.err())?;
        tree.clear().map_err(self.err())?;
        Ok(Writer {
            generation,
            tree,
            block: BlockBuilder::default(),
            batch: sled::Batch::default(),
            pending: 0,
            last: None,
            count: 0,
        })
    }

    /// Adds an entry (canonical bytes) to a list being written; entries come in strictly
    /// ascending card-hash order.
    pub fn put(&self, w: &mut Writer, entry: &[u8]) -> Result<(), StoreError> {
        let Some(card) = entry.get(..32) else {
            return Err(self.damaged("entry"));
        };
        if w.last.is_some_and(|l| l[..] >= *card) {
            return Err(StoreError::PrefixCollision);
        }
        let mut c = [0u8; 32];
        c.copy_from_slice(card);
        w.last = Some(c);
        w.block.push(entry);
        w.count += 1;
        if w.block.full() {
            self.seal(w)?;
        }
        Ok(())
    }

    fn seal(&self, w: &mut Writer) -> Result<(), StoreError> {
        if let Some((k, v)) = w.block.seal() {
            w.pending += v.len();
            w.batch.insert(k, v);
        }
        if w.pending >= BATCH_BYTES {
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
        let header = SignedHeader::parse(prefix).map_err(|_| self.damaged("new list prefix"))?;
        if !w.block.is_empty() {
            if let Some((k, v)) = w.block.seal() {
                w.batch.insert(k, v);
            }
        }
        w.batch.insert(PREFIX_KEY, prefix);
        w.batch.insert(RATCHET_KEY, ratchet.encode());
        self.flush_batch(&mut w)?;
        // Every block on disk before the list is named current.
        self.db.flush().map_err(self.err())?;
        let mut batch = sled::Batch::default();
        batch.insert(CURRENT, &w.generation.to_le_bytes());
        batch.insert(RATCHET, ratchet.encode());
        batch.remove(DROPPED);
        self.meta.apply_batch(batch).map_err(self.err())?;
        self.db.flush().map_err(self.err())?;
        let old = {
            let mut cur = self
                .current
                .write()
                .map_err(|_| self.damaged("in-memory state (a thread panicked)"))?;
            cur.replace(Current {
                generation: w.generation,
                tree: w.tree,
                header,
                prefix: prefix.to_vec(),
            })
        };
        if let Some(old) = old {
            self.db
                .drop_tree(tree_name(old.generation))
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Throws a list being written away.
    pub fn abort(&self, w: Writer) {
        let _ = self.db.drop_tree(tree_name(w.generation));
    }

    /// Merges the list in force with a delta (`removed` card hashes and `upserts`, both
    /// ascending), block by block: `each` sees every entry of the merged list in order (to hash
    /// it), and the blocks the delta touches are rewritten into a [`Patch`]. Nothing is written
    /// until [`Store::commit_patch`].
    pub fn patch(
        &self,
        removed: &[CardHash],
        upserts: &[(CardHash, Vec<u8>)],
        mut each: impl FnMut(&[u8]),
    ) -> Result<Patch, MergeError<StoreError>> {
        let Some(c) = self.current() else {
            return Err(MergeError::Base(self.damaged("no list in force")));
        };
        let mut p = Patch {
            generation: c.generation,
            batch: sled::Batch::default(),
            count: 0,
            blocks_rewritten: 0,
            bytes_written: 0,
        };
        let (mut r, mut u) = (0usize, 0usize);
        let mut last: Option<[u8; 32]> = None;
        let mut seen = |e: &[u8], p: &mut Patch| -> Result<(), MergeError<StoreError>> {
            let card = e.get(..32).ok_or(MergeError::BaseNotSorted)?;
            if last.is_some_and(|l| l[..] >= *card) {
                return Err(MergeError::BaseNotSorted);
            }
            let mut k = [0u8; 32];
            k.copy_from_slice(card);
            last = Some(k);
            p.count += 1;
            each(e);
            Ok(())
        };
        let mut it = blocks(&c.tree).peekable();
        let mut out = BlockBuilder::default();
        while let Some(kv) = it.next() {
            let (key, value) = kv.map_err(|e| MergeError::Base(self.err()(e)))?;
            // This block holds the cards below the next block's first (all for the last block).
            let next = match it.peek() {
                Some(Ok((k, _))) => k.get(1..33).map(<[u8]>::to_vec),
                Some(Err(_)) | None => None,
            };
            let below = |k: &CardHash| next.as_deref().is_none_or(|n| k.0[..] < *n);
            let block =
                Block::parse(&value).ok_or_else(|| MergeError::Base(self.damaged("block")))?;
            let r_end = r + removed[r..].iter().take_while(|k| below(k)).count();
            let u_end = u + upserts[u..].iter().take_while(|(k, _)| below(k)).count();
            if r == r_end && u == u_end {
                for e in block.iter() {
                    seen(e, &mut p)?;
                }
                continue;
            }
            // A touched block: merged, and written anew in blocks of the usual size.
            p.batch.remove(key);
            p.blocks_rewritten += 1;
            let mut base = block.iter().peekable();
            loop {
                let b = base.peek().map(|e| &e[..32]);
                let up = upserts[u..u_end].first();
                let e: &[u8] = match (b, up) {
                    (None, None) => break,
                    (Some(b), Some((k, bytes))) if k.0[..] <= *b => {
                        if k.0[..] == *b {
                            base.next();
                        }
                        u += 1;
                        bytes
                    }
                    (None, Some((_, bytes))) => {
                        u += 1;
                        bytes
                    }
                    (Some(b), _) => {
                        if let Some(x) = removed[r..r_end].first() {
                            if x.0[..] < *b {
                                return Err(MergeError::NotInBase);
                            }
                            if x.0[..] == *b {
                                r += 1;
                                base.next();
                                continue;
                            }
                        }
                        match base.next() {
                            Some(e) => e,
                            None => break,
                        }
                    }
                };
                seen(e, &mut p)?;
                out.push(e);
                if out.full() {
                    if let Some((k, v)) = out.seal() {
                        p.bytes_written += v.len() as u64;
                        p.batch.insert(k, v);
                    }
                }
            }
            if r != r_end {
                return Err(MergeError::NotInBase);
            }
            if let Some((k, v)) = out.seal() {
                p.bytes_written += v.len() as u64;
                p.batch.insert(k, v);
            }
        }
        // An empty list: the delta's entries are the list.
        if u < upserts.len() {
            for (_, e) in &upserts[u..] {
                seen(e, &mut p)?;
                out.push(e);
                if out.full() {
                    if let Some((k, v)) = out.seal() {
                        p.bytes_written += v.len() as u64;
                        p.batch.insert(k, v);
                    }
                }
            }
            if let Some((k, v)) = out.seal() {
                p.bytes_written += v.len() as u64;
                p.batch.insert(k, v);
            }
        }
        if r < removed.len() {
            return Err(MergeError::NotInBase);
        }
        Ok(p)
    }

    /// Makes a patched list the one in force: its rewritten blocks, its signed prefix and the
    /// raised ratchet in one atomic batch, flushed.
    pub fn commit_patch(
        &self,
        mut p: Patch,
        prefix: &[u8],
        ratchet: &Ratchet,
    ) -> Result<(), StoreError> {
        let header = SignedHeader::parse(prefix).map_err(|_| self.damaged("new list prefix"))?;
        let mut cur = self
            .current
            .write()
            .map_err(|_| self.damaged("in-memory state (a thread panicked)"))?;
        let Some(c) = cur.as_mut().filter(|c| c.generation == p.generation) else {
            return Err(self.damaged("list in force (it changed while the delta was merged)"));
        };
        p.batch.insert(PREFIX_KEY, prefix);
        p.batch.insert(RATCHET_KEY, ratchet.encode());
        c.tree.apply_batch(p.batch).map_err(self.err())?;
        self.db.flush().map_err(self.err())?;
        c.header = header;
        c.prefix = prefix.to_vec();
        Ok(())
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

    /// Writes a list in the earlier layout (one key per patron in `list-<generation>`, named by
    /// `current` in `meta` with its prefix), as an earlier version did.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub(crate) fn put_old_layout(&self, entries: &[Vec<u8>], prefix: &[u8], ratchet: &Ratchet) {
        let tree = self.db.open_tree("list-00000000000000000003").unwrap();
        for e in entries {
            tree.insert(&e[..16], &e[16..]).unwrap();
        }
        let mut record = 3u64.to_le_bytes().to_vec();
        record.extend_from_slice(prefix);
        self.meta.insert(OLD_CURRENT, record).unwrap();
        self.meta.insert(RATCHET, ratchet.encode()).unwrap();
        self.db.flush().unwrap();
    }
}

fn tree_name(generation: u64) -> Vec<u8> {
    format!("blocks-{generation:020}").into_bytes()
}

/// A list tree's blocks, ascending, each found by its own range read from the root. (A sled
/// iterator reads each node once, and sled 0.34 evicts from its cache only after 64 reads per
/// cache shard: a scan of the whole list filled the cache far past its capacity, to about the
/// list's size. Reading each block from the root reads each node about as many times as it
/// holds blocks, which lets the cache evict as it goes.)
fn blocks(
    tree: &sled::Tree,
) -> impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + use<> {
    let tree = tree.clone();
    let mut from: Vec<u8> = vec![BLOCK_TAG];
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let next = tree.range(&from[..]..&[BLOCK_TAG + 1][..]).next();
        match &next {
            Some(Ok((k, _))) => {
                // The least key above this block's.
                from.clear();
                from.extend_from_slice(k);
                from.push(0);
            }
            _ => done = true,
        }
        next
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use allowlist::delta::Delta;
    use allowlist::{Argon2Params, Header, Kind, SigningKey};

    use super::*;

    fn prefix(version: u64) -> Vec<u8> {
        let k = SigningKey::from_seed([1; 32]).unwrap();
        Header {
            kind: Kind::Full,
            version,
            base: None,
            issued_at: 1_000,
            expires_at: 100_000,
            scope: vec!["heili".into()],
            signers: vec![k.public().id()],
            card_key: KeyId([1; 8]),
            argon2: Argon2Params::OWASP_MINIMUM,
            entry_count: 1,
            list_hash: [version as u8; 32],
            body_len: 40,
            body_hash: [3; 32],
        }
        .sign(&[&k])
    }

    /// Entries of varied lengths (32 to 231 bytes): the store must not assume one.
    fn entry(seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let len = 32 + (x % 200) as usize;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn list(seeds: impl Iterator<Item = u64>) -> Vec<Vec<u8>> {
        let mut l: Vec<Vec<u8>> = seeds.map(entry).collect();
        l.sort();
        l.dedup_by(|a, b| a[..32] == b[..32]);
        l
    }

    fn write(store: &Store, entries: &[Vec<u8>], version: u64) {
        let mut w = store.begin().unwrap();
        for e in entries {
            store.put(&mut w, e).unwrap();
        }
        let mut r = Ratchet::default();
        r.raise(&[KeyId([9; 8])], version);
        store.commit(w, &prefix(version), &r).unwrap();
    }

    fn card(e: &[u8]) -> CardHash {
        CardHash(e[..32].try_into().unwrap())
    }

    fn all(store: &Store) -> Vec<Vec<u8>> {
        store.entries().map(|e| e.unwrap()).collect()
    }

    #[test]
    fn a_full_list_in_blocks_answers_every_card_and_no_other() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let entries = list(0..3_000);
        write(&store, &entries, 5);
        assert_eq!(all(&store), entries);
        for e in &entries {
            assert_eq!(store.lookup(&card(e)).unwrap().as_deref(), Some(&e[..]));
            // A card just beside a listed one is not found.
            let mut near = card(e);
            near.0[31] ^= 1;
            if entries.binary_search_by(|x| x[..32].cmp(&near.0)).is_err() {
                assert_eq!(store.lookup(&near).unwrap(), None);
            }
        }
        assert_eq!(store.lookup(&CardHash([0; 32])).unwrap(), None);
        assert_eq!(store.lookup(&CardHash([0xff; 32])).unwrap(), None);
        // More than one block, none much over the target.
        let c = store.current().unwrap();
        let blocks: Vec<_> = blocks(&c.tree).map(|kv| kv.unwrap().1).collect();
        assert!(blocks.len() > 50, "{} blocks", blocks.len());
        assert!(blocks.iter().all(|b| b.len() < BLOCK_BYTES + 600));
        drop((c, store));
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(all(&store), entries);
        assert_eq!(store.held().map(|h| h.version), Some(5));
        assert_eq!(store.ratchet().unwrap().floor(&anchors()), 5);
    }

    fn anchors() -> allowlist::Anchors {
        allowlist::Anchors {
            keys: vec![],
            revoked: vec![],
            scopes: vec![],
            card_key: KeyId([1; 8]),
            clock_skew: 0,
        }
    }

    #[test]
    fn an_entry_out_of_order_or_twice_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let entries = list(0..10);
        let mut w = store.begin().unwrap();
        store.put(&mut w, &entries[1]).unwrap();
        assert!(matches!(
            store.put(&mut w, &entries[1]),
            Err(StoreError::PrefixCollision)
        ));
        assert!(matches!(
            store.put(&mut w, &entries[0]),
            Err(StoreError::PrefixCollision)
        ));
        assert!(matches!(
            store.put(&mut w, &[1; 31]),
            Err(StoreError::Damaged { .. })
        ));
        store.abort(w);
    }

    /// A delta patched into the blocks gives what the reference merge gives, touches only some
    /// blocks, and holds after a reopen; the hash callback sees the whole merged list.
    #[test]
    fn a_delta_patches_the_blocks_it_touches_and_equals_the_reference_merge() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let old = list(0..4_000);
        write(&store, &old, 5);
        // Remove every 50th, change every 97th (another length), add new ones, below the first
        // block and above the last too.
        let mut new: Vec<Vec<u8>> = old
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 50 != 3)
            .map(|(i, e)| {
                if i % 97 == 5 {
                    let mut c = e[..32].to_vec();
                    c.extend_from_slice(&entry(i as u64 + 1_000_000)[32..]);
                    c
                } else {
                    e.clone()
                }
            })
            .collect();
        new.extend(list(10_000..10_040));
        new.push([&[0u8; 32][..], &[7; 9][..]].concat());
        new.push([&[0xffu8; 32][..], &[7; 90][..]].concat());
        new.sort();
        let delta = Delta::between(
            old.iter().map(|e| (card(e), &e[..])),
            new.iter().map(|e| (card(e), &e[..])),
        );
        let reference: Vec<Vec<u8>> = delta
            .merge(old.iter().map(|e| Ok::<_, ()>(e.clone())))
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(reference, new);
        let mut seen = vec![];
        let p = store
            .patch(&delta.removed, &delta.upserts, |e| seen.push(e.to_vec()))
            .unwrap();
        assert_eq!(seen, new);
        assert_eq!(p.count, new.len() as u64);
        let total = blocks(&store.current().unwrap().tree).count() as u64;
        assert!(
            p.blocks_rewritten < total,
            "{} of {total}",
            p.blocks_rewritten
        );
        // Nothing changed before the commit.
        assert_eq!(all(&store), old);
        let mut r = Ratchet::default();
        r.raise(&[KeyId([9; 8])], 6);
        store.commit_patch(p, &prefix(6), &r).unwrap();
        assert_eq!(all(&store), new);
        for e in &new {
            assert_eq!(store.lookup(&card(e)).unwrap().as_deref(), Some(&e[..]));
        }
        for r in &delta.removed {
            assert_eq!(store.lookup(r).unwrap(), None);
        }
        assert_eq!(store.held().map(|h| h.version), Some(6));
        drop(store);
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(all(&store), new);
        assert_eq!(store.held().map(|h| h.version), Some(6));
        assert_eq!(store.ratchet().unwrap().floor(&anchors()), 6);
    }

    #[test]
    fn a_delta_removing_a_card_not_held_is_refused_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let old = list(0..500);
        write(&store, &old, 5);
        let mut missing = card(&old[100]);
        missing.0[31] ^= 1;
        for removed in [
            vec![missing],
            vec![CardHash([0xff; 32])],
            vec![CardHash([0; 32])],
        ] {
            let r = store.patch(&removed, &[], |_| {});
            assert!(matches!(r, Err(MergeError::NotInBase)), "{r:?}");
        }
        assert_eq!(all(&store), old);
    }

    #[test]
    fn a_store_in_the_earlier_layout_keeps_its_ratchet_and_drops_its_list() {
        let tmp = tempfile::tempdir().unwrap();
        let old = list(0..100);
        let mut r = Ratchet::default();
        r.raise(&[KeyId([9; 8])], 7);
        {
            let store = Store::open(tmp.path(), 1 << 20).unwrap();
            store.put_old_layout(&old, &prefix(7), &r);
        }
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert!(store.held().is_none());
        assert!(store.lookup(&card(&old[0])).unwrap().is_none());
        assert_eq!(store.ratchet().unwrap(), r);
        assert_eq!(
            store.dropped().unwrap().map(|h| (h.version, h.list_hash)),
            Some((7, [7; 32]))
        );
        assert!(
            !store
                .db
                .tree_names()
                .iter()
                .any(|n| n.starts_with(b"list-"))
        );
        // A full list again: the memory of the dropped one goes.
        write(&store, &old, 8);
        assert!(store.dropped().unwrap().is_none());
        assert_eq!(all(&store), old);
        drop(store);
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(store.held().map(|h| h.version), Some(8));
    }
}
