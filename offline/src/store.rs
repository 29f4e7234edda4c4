//! The store: sled 0.34 and a pack file behind the few operations the allow-list needs, so
//! another store is one file.
//!
//! A list is kept as sorted *blocks* of entries, a page (4 KiB) each, not one key per patron
//! (which made sled grow to gigabytes at a million patrons). The blocks' bytes are in a pack
//! file, `pack-<generation>`, written once and only appended to, each block on its own pages; sled holds the list's index, in
//! its own tree `index-<generation>`: each block keyed by `0x01` and the card hash of its first
//! entry, valued with where its bytes are in the pack, their length and their CRC-32. A lookup is
//! one sled range read in that small tree (the last block whose first hash is not above the
//! card's), one positioned read of the block, and a binary search inside it.
//!
//! Why the bytes are not in sled itself: sled 0.34 accounts its cache only after 64 reads in one
//! of its 256 cache shards, so a tree of a few thousand large nodes is never evicted at all. With
//! the blocks in sled, one pass over a million-patron list (every delta makes one, to check the
//! merged list's hash) left the whole list resident: 218 MiB at the peak of a 1 % delta, and a
//! daemon at 98 MiB after 20,000 lookups. The index is some 25,000 small values at a million
//! patrons; the blocks are read with `pread` through the kernel's page cache, which the kernel
//! evicts.
//!
//! sled stays the store of record and the commit point. The index tree holds, beside the blocks'
//! records, the list's signed prefix, its ratchet, the pack's committed length and the bytes of
//! live blocks, under `0x00` keys.
//! - A full list is written into a fresh pack and a fresh index tree; the pack is synced, then
//!   the index flushed, and only then is the list named current in the `meta` tree, with the
//!   raised ratchet, in one atomic batch. The old tree and pack go afterwards. A crash before
//!   that batch leaves a tree and a pack no one names, removed at the next open.
//! - A delta appends the blocks it touches, rewritten, to the pack, syncs it, and then commits in
//!   one atomic sled batch the index records of those blocks, the new prefix, the raised ratchet
//!   and the pack's new length: a crash before the batch leaves the old list (the appended tail is
//!   cut at the next open), after it the new one. The replaced blocks' bytes are then punched out
//!   of the pack (zeroed, their disk space freed) in the background, since ext4 takes some 300 µs
//!   a page; the same batch names them, so what a process ending first leaves is punched at the
//!   next open, and the next delta waits for it. A patron a delta removes leaves no bytes in the
//!   pack.
//! - When the pack's space on disk passes 1.4 times its live blocks (on a filesystem that cannot
//!   punch holes, every other delta or so) or its length 3 times (after some deltas), a delta is
//!   written as a fresh pack of the whole merged list instead, as a full list is.
//!
//! `meta` keeps the ratchet too, so it outlives a dropped list; the ratchet in force is the higher
//! mark of both.
//!
//! A block: u32 entry count, then each entry's end offset (u32, from the start of the entries),
//! then the entries' canonical bytes. Entries are variable-length; their boundaries come from the
//! table, never from a fixed length.
//!
//! Earlier layouts, found at open:
//! - blocks in sled (`blocks-<generation>` trees, named by `current-blocks` in `meta`): the list is
//!   moved block by block into a pack, with its prefix and ratchet; a door that is offline at the
//!   upgrade keeps its list;
//! - one key per patron (`list-<generation>` trees, named by `current`): its ratchet is kept, its
//!   list dropped (the next sync fetches a full list), and the dropped list's version and hash are
//!   remembered so that the very same list may be taken again ([`Store::dropped`]).
//!
//! The device's own PIN-failure records are not here but in [`crate::failures`]: an earlier
//! version kept them in a `pin-failures` tree, which [`Store::take_old_failures`] and
//! [`Store::drop_old_failures`] move out.
//!
//! One writer at a time: the sync loop applies lists one after another, and sled's lock keeps a
//! second process out.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use allowlist::delta::MergeError;
use allowlist::guard::Failures;
use allowlist::trust::Held;
use allowlist::{CardHash, KeyId, Ratchet, SignedHeader};

/// `meta`: the generation of the list in force (u64).
const CURRENT: &[u8] = b"current-pack";
/// `meta`: the ratchet, kept apart from any list.
const RATCHET: &[u8] = b"ratchet";
const NEXT_GENERATION: &[u8] = b"next-generation";
/// `meta`: version and list hash of a list an upgrade dropped.
const DROPPED: &[u8] = b"dropped-list";
/// `meta` of the blocks-in-sled layout: the generation of its `blocks-<generation>` tree.
const BLOCKS_CURRENT: &[u8] = b"current-blocks";
/// `meta` of the one-key-per-patron layout: generation and prefix of its `list-<generation>` tree.
const OLD_CURRENT: &[u8] = b"current";
/// An index tree's records (and a blocks-in-sled tree's): the list's signed prefix, its ratchet.
const PREFIX_KEY: &[u8] = b"\x00prefix";
const RATCHET_KEY: &[u8] = b"\x00ratchet";
/// An index tree's records: the pack's committed length, the bytes of its live blocks, and the
/// replaced blocks still to be punched out (each u64 offset, u64 length).
const PACK_LEN_KEY: &[u8] = b"\x00pack-len";
const LIVE_KEY: &[u8] = b"\x00live";
/// Each delta's record of its replaced blocks is `GARBAGE_KEY` and the pack's length before the
/// delta (u64, big-endian), removed once they are punched out.
const GARBAGE_KEY: &[u8] = b"\x00garbage-";
/// The first byte of a block's key.
const BLOCK_TAG: u8 = 1;
/// A block takes at most this many bytes, one page of the pack (about forty entries), unless a
/// single entry is larger.
pub const BLOCK_BYTES: usize = 4096;
/// Index records written per sled batch while a full list is written.
const INDEX_BATCH: usize = 4096;
/// A delta is written as a fresh pack when the pack's disk space passes this share of its live
/// blocks (tenths)...
const COMPACT_SPACE_TENTHS: u64 = 14;
/// ...or its length this multiple.
const COMPACT_LENGTH: u64 = 3;
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
    /// The pack file could not be read or written (disk full, I/O error).
    #[error("allow-list pack {}: {message}", path.display())]
    Pack {
        /// The pack (or the store directory).
        path: PathBuf,
        /// The system's message.
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
    pack: Arc<File>,
    /// Its signed header.
    pub header: SignedHeader,
    /// Its signed prefix as received.
    pub prefix: Vec<u8>,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    meta: sled::Tree,
    current: Arc<RwLock<Option<Current>>>,
    /// Replaced blocks being punched out in the background.
    punching: Arc<std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

/// The pack's unit: a block starts on a page and takes whole pages, so the pages of a replaced
/// block can be punched out and their space given back.
const PAGE: u64 = 4096;

fn pages(len: u64) -> u64 {
    len.div_ceil(PAGE) * PAGE
}

/// Where a block's bytes are in the pack: offset, length, CRC-32 (16 bytes in the index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BlockRef {
    offset: u64,
    len: u32,
    crc: u32,
}

impl BlockRef {
    fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; 16] = b.try_into().ok()?;
        Some(Self {
            offset: u64::from_le_bytes(b[..8].try_into().ok()?),
            len: u32::from_le_bytes(b[8..12].try_into().ok()?),
            crc: u32::from_le_bytes(b[12..].try_into().ok()?),
        })
    }

    /// The pages it takes in the pack.
    fn extent(&self) -> u64 {
        pages(u64::from(self.len))
    }
}

/// A pack being appended to.
#[derive(Debug)]
struct PackOut {
    out: BufWriter<File>,
    len: u64,
}

impl PackOut {
    fn new(file: File, len: u64) -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 20, file),
            len,
        }
    }

    /// Appends a block on its own pages.
    fn append(&mut self, block: &[u8]) -> std::io::Result<BlockRef> {
        let len =
            u32::try_from(block.len()).map_err(|_| std::io::Error::other("a block over 4 GiB"))?;
        let r = BlockRef {
            offset: self.len,
            len,
            crc: crc32fast::hash(block),
        };
        self.out.write_all(block)?;
        let pad = r.extent() - u64::from(len);
        self.out.write_all(&[0u8; PAGE as usize][..pad as usize])?;
        self.len += r.extent();
        Ok(r)
    }

    /// Everything written on disk.
    fn finish(self) -> std::io::Result<File> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(file)
    }
}

/// A list being written: a pack and an index tree no one names yet.
#[derive(Debug)]
pub struct Writer {
    generation: u64,
    tree: sled::Tree,
    out: PackOut,
    block: BlockBuilder,
    batch: sled::Batch,
    pending: usize,
    last: Option<[u8; 32]>,
    live: u64,
    /// Entries written.
    pub count: u64,
}

/// Where a merged delta goes.
#[derive(Debug)]
enum Target {
    /// Appended to the pack in force: the touched blocks, their index records, the replaced
    /// blocks to punch out, the live bytes afterwards.
    Append {
        out: PackOut,
        start: u64,
        batch: sled::Batch,
        garbage: Vec<BlockRef>,
        live: u64,
    },
    /// A fresh pack of the whole merged list.
    Fresh(Writer),
}

/// A delta merged with the list in force, ready to be committed: the touched blocks rewritten.
#[derive(Debug)]
pub struct Patch {
    generation: u64,
    target: Target,
    /// Entries of the merged list.
    pub count: u64,
    /// Blocks rewritten (the old block replaced, its entries written anew).
    pub blocks_rewritten: u64,
    /// Bytes of the blocks written.
    pub bytes_written: u64,
    /// Whether the merged list went into a fresh pack (the old one had too much space to give
    /// back).
    pub compacted: bool,
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

    /// Whether `entry` still fits in the block's page (a first entry always does).
    fn fits(&self, entry: usize) -> bool {
        self.is_empty() || 4 + 4 * (self.ends.len() + 1) + self.data.len() + entry <= BLOCK_BYTES
    }

    /// Adds `entry`, sealing the block first when the entry would not fit in it.
    fn push_sealing(&mut self, entry: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let sealed = if self.fits(entry.len()) {
            None
        } else {
            self.seal()
        };
        self.push(entry);
        sealed
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

impl Store {
    /// Opens (or creates) the store in `path`, with a cache of `cache_bytes`; removes any list
    /// tree or pack a crash left unnamed, cuts a delta's uncommitted tail off the pack and punches
    /// out the blocks a committed delta replaced. A store in the blocks-in-sled layout has its
    /// list moved into a pack; one in the one-key-per-patron layout loses its list (logged) and
    /// keeps its ratchet.
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
            punching: Arc::default(),
        };
        store.drop_one_key_layout()?;
        store.move_blocks_layout()?;
        let current = store.read_current()?;
        let keep = current.as_ref().map(|c| c.generation);
        for name in store.db.tree_names() {
            let list = name.starts_with(b"list-")
                || name.starts_with(b"blocks-")
                || name.starts_with(b"index-");
            if list && keep.map(index_name).as_deref() != Some(&name[..]) {
                store.db.drop_tree(&name).map_err(err)?;
            }
        }
        let keep_pack = keep.map(pack_name);
        let dir = std::fs::read_dir(path).map_err(|e| store.pack_err(path, e))?;
        for f in dir.flatten() {
            let name = f.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("pack-") && keep_pack.as_deref() != Some(&name[..]) {
                std::fs::remove_file(f.path()).map_err(|e| store.pack_err(&f.path(), e))?;
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

    fn pack_err(&self, path: &Path, e: std::io::Error) -> StoreError {
        StoreError::Pack {
            path: path.to_owned(),
            message: e.to_string(),
        }
    }

    fn damaged(&self, what: &'static str) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            what,
        }
    }

    fn pack_path(&self, generation: u64) -> PathBuf {
        self.path.join(pack_name(generation))
    }

    /// Remembers a list an upgrade drops: its version and hash, so that the very same list may be
    /// taken again.
    fn remember_dropped(&self, batch: &mut sled::Batch, held: Option<(u64, [u8; 32])>) {
        if let Some((version, hash)) = held {
            let mut record = version.to_le_bytes().to_vec();
            record.extend_from_slice(&hash);
            batch.insert(DROPPED, record);
        }
    }

    /// The one-key-per-patron layout: its ratchet stays in `meta`, its list goes.
    fn drop_one_key_layout(&self) -> Result<(), StoreError> {
        let Some(old) = self.meta.get(OLD_CURRENT).map_err(self.err())? else {
            return Ok(());
        };
        let held = old
            .get(8..)
            .and_then(|p| SignedHeader::parse(p).ok())
            .map(|s| (s.header.version, s.header.list_hash));
        let mut batch = sled::Batch::default();
        batch.remove(OLD_CURRENT);
        self.remember_dropped(&mut batch, held);
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

    /// The blocks-in-sled layout: its list is moved into a pack, entry by entry (re-blocked), with
    /// its prefix; its ratchet goes into `meta` first. A list that cannot be moved is dropped and
    /// remembered, as the one-key layout's is.
    fn move_blocks_layout(&self) -> Result<(), StoreError> {
        let Some(v) = self.meta.get(BLOCKS_CURRENT).map_err(self.err())? else {
            return Ok(());
        };
        let moved_before = self.meta.get(CURRENT).map_err(self.err())?.is_some();
        let old = <[u8; 8]>::try_from(v.as_ref())
            .ok()
            .map(|g| format!("blocks-{:020}", u64::from_le_bytes(g)))
            .filter(|name| self.db.tree_names().iter().any(|n| n == name.as_bytes()))
            .map(|name| self.db.open_tree(name))
            .transpose()
            .map_err(self.err())?;
        if let (false, Some(old)) = (moved_before, old) {
            let prefix = old.get(PREFIX_KEY).map_err(self.err())?;
            let signed = prefix.as_deref().and_then(|p| SignedHeader::parse(p).ok());
            // The ratchet the old list raised, kept whatever happens to the list.
            let mut ratchet = self.meta_ratchet()?;
            if let Some(raw) = old.get(RATCHET_KEY).map_err(self.err())? {
                raise_from(&mut ratchet, &raw).map_err(|_| self.damaged("ratchet"))?;
            }
            self.meta
                .insert(RATCHET, ratchet.encode())
                .map_err(self.err())?;
            self.db.flush().map_err(self.err())?;
            let moved = match (&prefix, &signed) {
                (Some(prefix), Some(_)) => self.copy_blocks(&old, prefix, &ratchet),
                _ => Err(self.damaged("list prefix")),
            };
            match moved {
                Ok(count) => tracing::info!(
                    "offline list store {}: list version {} ({count} entries) moved from sled into a pack",
                    self.path.display(),
                    signed.as_ref().map_or(0, |s| s.header.version)
                ),
                Err(e) => {
                    let held = signed.map(|s| (s.header.version, s.header.list_hash));
                    let mut batch = sled::Batch::default();
                    self.remember_dropped(&mut batch, held);
                    self.meta.apply_batch(batch).map_err(self.err())?;
                    tracing::warn!(
                        "offline list store {}: the list in the earlier layout could not be moved ({e}); it is dropped and the ratchet kept, and the next sync fetches a full list",
                        self.path.display()
                    );
                }
            }
        }
        self.meta.remove(BLOCKS_CURRENT).map_err(self.err())?;
        self.db.flush().map_err(self.err())?;
        // The `blocks-` tree itself is dropped with any other unnamed tree.
        Ok(())
    }

    /// Writes the entries of a blocks-in-sled tree as a new list; how many.
    fn copy_blocks(
        &self,
        old: &sled::Tree,
        prefix: &[u8],
        ratchet: &Ratchet,
    ) -> Result<u64, StoreError> {
        let mut w = self.begin()?;
        let copied = (|| {
            for kv in blocks(old) {
                let (_, v) = kv.map_err(self.err())?;
                let block = Block::parse(&v).ok_or_else(|| self.damaged("block"))?;
                for e in block.iter() {
                    self.put(&mut w, e)?;
                }
            }
            Ok(())
        })();
        match copied {
            Ok(()) => {
                let count = w.count;
                self.commit(w, prefix, ratchet)?;
                Ok(count)
            }
            Err(e) => {
                self.abort(w);
                Err(e)
            }
        }
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
        let name = index_name(generation);
        if !self.db.tree_names().iter().any(|n| n == &name[..]) {
            return Err(self.damaged("current list (its index is missing)"));
        }
        let tree = self.db.open_tree(name).map_err(self.err())?;
        let prefix = tree
            .get(PREFIX_KEY)
            .map_err(self.err())?
            .ok_or_else(|| self.damaged("current list's prefix"))?
            .to_vec();
        let header =
            SignedHeader::parse(&prefix).map_err(|_| self.damaged("current list's prefix"))?;
        let committed = self.u64_record(&tree, PACK_LEN_KEY, "pack length")?;
        let path = self.pack_path(generation);
        let pack = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| self.pack_err(&path, e))?;
        let len = pack.metadata().map_err(|e| self.pack_err(&path, e))?.len();
        if len < committed {
            return Err(self.damaged("current list's pack (shorter than committed)"));
        }
        if len > committed {
            // A delta's blocks a crash left uncommitted.
            pack.set_len(committed)
                .and_then(|()| pack.sync_all())
                .map_err(|e| self.pack_err(&path, e))?;
        }
        // Committed deltas' replaced blocks that were not punched out before the process ended.
        let pending: Vec<(sled::IVec, sled::IVec)> = tree
            .scan_prefix(GARBAGE_KEY)
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let had_pending = !pending.is_empty();
        for (key, garbage) in pending {
            punch(&pack, &decode_extents(&garbage)).map_err(|e| self.pack_err(&path, e))?;
            tree.remove(key).map_err(self.err())?;
        }
        if had_pending {
            self.db.flush().map_err(self.err())?;
        }
        Ok(Some(Current {
            generation,
            tree,
            pack: Arc::new(pack),
            header,
            prefix,
        }))
    }

    fn u64_record(
        &self,
        tree: &sled::Tree,
        key: &[u8],
        what: &'static str,
    ) -> Result<u64, StoreError> {
        tree.get(key)
            .map_err(self.err())?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| self.damaged(what))
    }

    /// A block's bytes, checked against its CRC.
    fn read_block(&self, pack: &File, r: BlockRef) -> Result<Vec<u8>, StoreError> {
        let mut buf = vec![0u8; r.len as usize];
        pack.read_exact_at(&mut buf, r.offset)
            .map_err(|e| StoreError::Pack {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        if crc32fast::hash(&buf) != r.crc {
            return Err(self.damaged("block (its checksum does not match)"));
        }
        Ok(buf)
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

    fn meta_ratchet(&self) -> Result<Ratchet, StoreError> {
        match self.meta.get(RATCHET).map_err(self.err())? {
            None => Ok(Ratchet::default()),
            Some(v) => Ratchet::decode(&v).map_err(|_| self.damaged("ratchet")),
        }
    }

    /// The ratchet: the higher mark per key of the one in `meta` and the one beside the list in
    /// force (a delta raises the latter, atomically with its blocks).
    pub fn ratchet(&self) -> Result<Ratchet, StoreError> {
        let mut r = self.meta_ratchet()?;
        if let Some(c) = self.current() {
            if let Some(v) = c.tree.get(RATCHET_KEY).map_err(self.err())? {
                raise_from(&mut r, &v).map_err(|_| self.damaged("ratchet"))?;
            }
        }
        Ok(r)
    }

    /// The entry of `card` in the list in force, as canonical bytes; the full hash is compared
    /// in constant time.
    pub fn lookup(&self, card: &CardHash) -> Result<Option<Vec<u8>>, StoreError> {
        // Held while the block is read: a delta's commit punches replaced blocks out under the
        // write lock, so a lookup never reads a block it has just replaced.
        let current = self
            .current
            .read()
            .map_err(|_| self.damaged("in-memory state (a thread panicked)"))?;
        let Some(c) = current.as_ref() else {
            return Ok(None);
        };
        let mut key = [0u8; 33];
        key[0] = BLOCK_TAG;
        key[1..].copy_from_slice(&card.0);
        let Some(kv) = c.tree.range(&[BLOCK_TAG][..]..=&key[..]).next_back() else {
            return Ok(None);
        };
        let (_, v) = kv.map_err(self.err())?;
        let r = BlockRef::decode(&v).ok_or_else(|| self.damaged("block index record"))?;
        let bytes = self.read_block(&c.pack, r)?;
        let block = Block::parse(&bytes).ok_or_else(|| self.damaged("block"))?;
        Ok(block
            .find(&card.0)
            .filter(|e| card.ct_eq(&e[..32]))
            .map(<[u8]>::to_vec))
    }

    /// The entries of the list in force, ascending, as canonical bytes.
    pub fn entries(&self) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        self.current().into_iter().flat_map(move |c| {
            let pack = c.pack.clone();
            c.tree
                .range(&[BLOCK_TAG][..]..&[BLOCK_TAG + 1][..])
                .flat_map(move |kv| {
                    let block = kv
                        .map_err(self.err())
                        .and_then(|(_, v)| {
                            BlockRef::decode(&v).ok_or_else(|| self.damaged("block index record"))
                        })
                        .and_then(|r| self.read_block(&pack, r));
                    let v: Vec<Result<Vec<u8>, StoreError>> = match block {
                        Err(e) => vec![Err(e)],
                        Ok(bytes) => match Block::parse(&bytes) {
                            None => vec![Err(self.damaged("block"))],
                            Some(b) => b.iter().map(|e| Ok(e.to_vec())).collect(),
                        },
                    };
                    v
                })
        })
    }

    /// Starts writing a new list: a fresh pack and index tree.
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
            .open_tree(index_name(generation))
            .map_err(self.err())?;
        tree.clear().map_err(self.err())?;
        let path = self.pack_path(generation);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| self.pack_err(&path, e))?;
        Ok(Writer {
            generation,
            tree,
            out: PackOut::new(file, 0),
            block: BlockBuilder::default(),
            batch: sled::Batch::default(),
            pending: 0,
            last: None,
            live: 0,
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
        w.count += 1;
        if let Some(sealed) = w.block.push_sealing(entry) {
            self.write_block(w, sealed)?;
        }
        Ok(())
    }

    /// Appends a sealed block to a list being written, and its index record to the batch.
    fn write_block(
        &self,
        w: &mut Writer,
        (key, block): (Vec<u8>, Vec<u8>),
    ) -> Result<(), StoreError> {
        let path = self.pack_path(w.generation);
        let r = w.out.append(&block).map_err(|e| self.pack_err(&path, e))?;
        w.live += r.extent();
        w.batch.insert(key, &r.encode());
        w.pending += 1;
        if w.pending >= INDEX_BATCH {
            let batch = std::mem::take(&mut w.batch);
            w.tree.apply_batch(batch).map_err(self.err())?;
            w.pending = 0;
        }
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
        if let Some(sealed) = w.block.seal() {
            self.write_block(&mut w, sealed)?;
        }
        let path = self.pack_path(w.generation);
        let pack_len = w.out.len;
        // Every block on disk, and the pack's name in its directory, before the index names it.
        let pack = w
            .out
            .finish()
            .and_then(|f| sync_dir(&self.path).map(|()| f))
            .map_err(|e| self.pack_err(&path, e))?;
        w.batch.insert(PREFIX_KEY, prefix);
        w.batch.insert(RATCHET_KEY, ratchet.encode());
        w.batch.insert(PACK_LEN_KEY, &pack_len.to_le_bytes());
        w.batch.insert(LIVE_KEY, &w.live.to_le_bytes());
        w.tree.apply_batch(w.batch).map_err(self.err())?;
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
                pack: Arc::new(pack),
                header,
                prefix: prefix.to_vec(),
            })
        };
        if let Some(old) = old {
            self.db
                .drop_tree(index_name(old.generation))
                .map_err(self.err())?;
            let path = self.pack_path(old.generation);
            std::fs::remove_file(&path).map_err(|e| self.pack_err(&path, e))?;
        }
        Ok(())
    }

    /// Throws a list being written away.
    pub fn abort(&self, w: Writer) {
        let _ = self.db.drop_tree(index_name(w.generation));
        drop(w.out);
        let _ = std::fs::remove_file(self.pack_path(w.generation));
    }

    /// Merges the list in force with a delta (`removed` card hashes and `upserts`, both
    /// ascending), block by block: `each` sees every entry of the merged list in order (to hash
    /// it), and the blocks the delta touches are rewritten into a [`Patch`], appended to the pack
    /// (or, when the pack holds too much replaced space, the whole merged list into a fresh
    /// pack). Nothing is in force until [`Store::commit_patch`]; [`Store::abandon_patch`] throws
    /// it away.
    pub fn patch(
        &self,
        removed: &[CardHash],
        upserts: &[(CardHash, Vec<u8>)],
        mut each: impl FnMut(&[u8]),
    ) -> Result<Patch, MergeError<StoreError>> {
        let base = |e| MergeError::Base(e);
        // The last delta's replaced blocks punched out first: the pack's space is then its own.
        self.settle();
        let Some(c) = self.current() else {
            return Err(base(self.damaged("no list in force")));
        };
        let live = self
            .u64_record(&c.tree, LIVE_KEY, "live bytes")
            .map_err(base)?;
        let pack_len = self
            .u64_record(&c.tree, PACK_LEN_KEY, "pack length")
            .map_err(base)?;
        let path = self.pack_path(c.generation);
        let allocated = c
            .pack
            .metadata()
            .map_err(|e| base(self.pack_err(&path, e)))?
            .blocks()
            * 512;
        let compacted = allocated * 10 > live * COMPACT_SPACE_TENTHS
            || pack_len > live.saturating_mul(COMPACT_LENGTH);
        let target = if compacted {
            Target::Fresh(self.begin().map_err(base)?)
        } else {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| base(self.pack_err(&path, e)))?;
            file.seek(SeekFrom::Start(pack_len))
                .map_err(|e| base(self.pack_err(&path, e)))?;
            Target::Append {
                out: PackOut::new(file, pack_len),
                start: pack_len,
                batch: sled::Batch::default(),
                garbage: vec![],
                live,
            }
        };
        let mut p = Patch {
            generation: c.generation,
            target,
            count: 0,
            blocks_rewritten: 0,
            bytes_written: 0,
            compacted,
        };
        match self.merge_into(&c, &mut p, removed, upserts, &mut each) {
            Ok(()) => Ok(p),
            Err(e) => {
                self.abandon_patch(p);
                Err(e)
            }
        }
    }

    /// Writes a block of the merged list: into the fresh pack, or appended as a rewritten block.
    fn emit(&self, p: &mut Patch, sealed: (Vec<u8>, Vec<u8>)) -> Result<(), StoreError> {
        p.bytes_written += sealed.1.len() as u64;
        match &mut p.target {
            Target::Fresh(w) => self.write_block(w, sealed),
            Target::Append {
                out, batch, live, ..
            } => {
                let r = out
                    .append(&sealed.1)
                    .map_err(|e| self.pack_err(&self.pack_path(p.generation), e))?;
                *live += r.extent();
                batch.insert(sealed.0, &r.encode());
                Ok(())
            }
        }
    }

    fn merge_into(
        &self,
        c: &Current,
        p: &mut Patch,
        removed: &[CardHash],
        upserts: &[(CardHash, Vec<u8>)],
        each: &mut impl FnMut(&[u8]),
    ) -> Result<(), MergeError<StoreError>> {
        let base = |e| MergeError::Base(e);
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
        let mut it = c
            .tree
            .range(&[BLOCK_TAG][..]..&[BLOCK_TAG + 1][..])
            .peekable();
        let mut out = BlockBuilder::default();
        while let Some(kv) = it.next() {
            let (key, value) = kv.map_err(|e| base(self.err()(e)))?;
            // This block holds the cards below the next block's first (all for the last block).
            let next = match it.peek() {
                Some(Ok((k, _))) => k.get(1..33).map(<[u8]>::to_vec),
                Some(Err(_)) | None => None,
            };
            let below = |k: &CardHash| next.as_deref().is_none_or(|n| k.0[..] < *n);
            let at =
                BlockRef::decode(&value).ok_or_else(|| base(self.damaged("block index record")))?;
            let bytes = self.read_block(&c.pack, at).map_err(base)?;
            let block = Block::parse(&bytes).ok_or_else(|| base(self.damaged("block")))?;
            let r_end = r + removed[r..].iter().take_while(|k| below(k)).count();
            let u_end = u + upserts[u..].iter().take_while(|(k, _)| below(k)).count();
            if r == r_end && u == u_end {
                for e in block.iter() {
                    seen(e, p)?;
                }
                if let Target::Fresh(w) = &mut p.target {
                    // Untouched: copied as it is.
                    self.write_block(w, (key.to_vec(), bytes)).map_err(base)?;
                }
                continue;
            }
            // A touched block: merged, and written anew in blocks of the usual size.
            p.blocks_rewritten += 1;
            if let Target::Append {
                batch,
                garbage,
                live,
                ..
            } = &mut p.target
            {
                batch.remove(key);
                garbage.push(at);
                *live = live.saturating_sub(at.extent());
            }
            let mut old = block.iter().peekable();
            loop {
                let b = old.peek().map(|e| &e[..32]);
                let up = upserts[u..u_end].first();
                let e: &[u8] = match (b, up) {
                    (None, None) => break,
                    (Some(b), Some((k, bytes))) if k.0[..] <= *b => {
                        if k.0[..] == *b {
                            old.next();
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
                                old.next();
                                continue;
                            }
                        }
                        match old.next() {
                            Some(e) => e,
                            None => break,
                        }
                    }
                };
                seen(e, p)?;
                if let Some(sealed) = out.push_sealing(e) {
                    self.emit(p, sealed).map_err(base)?;
                }
            }
            if r != r_end {
                return Err(MergeError::NotInBase);
            }
            if let Some(sealed) = out.seal() {
                self.emit(p, sealed).map_err(base)?;
            }
        }
        // An empty list: the delta's entries are the list.
        if u < upserts.len() {
            for (_, e) in &upserts[u..] {
                seen(e, p)?;
                if let Some(sealed) = out.push_sealing(e) {
                    self.emit(p, sealed).map_err(base)?;
                }
            }
            if let Some(sealed) = out.seal() {
                self.emit(p, sealed).map_err(base)?;
            }
        }
        if r < removed.len() {
            return Err(MergeError::NotInBase);
        }
        Ok(())
    }

    /// Makes a patched list the one in force: its rewritten blocks (synced first), their index
    /// records, its signed prefix, the raised ratchet and the pack's new length in one atomic
    /// batch, flushed; then the replaced blocks are punched out of the pack in the background
    /// ([`Store::settle`] waits for it).
    pub fn commit_patch(
        &self,
        p: Patch,
        prefix: &[u8],
        ratchet: &Ratchet,
    ) -> Result<(), StoreError> {
        let header = SignedHeader::parse(prefix).map_err(|_| self.damaged("new list prefix"))?;
        let changed = || self.damaged("list in force (it changed while the delta was merged)");
        match p.target {
            Target::Fresh(w) => {
                if self.current().map(|c| c.generation) != Some(p.generation) {
                    self.abort(w);
                    return Err(changed());
                }
                self.commit(w, prefix, ratchet)
            }
            Target::Append {
                out,
                mut batch,
                garbage,
                live,
                start,
            } => {
                let path = self.pack_path(p.generation);
                let pack_len = out.len;
                out.finish().map_err(|e| self.pack_err(&path, e))?;
                let extents: Vec<(u64, u64)> =
                    garbage.iter().map(|g| (g.offset, g.extent())).collect();
                let key = garbage_key(start);
                let (pack, tree) = {
                    // Lookups hold the read lock while they read a block: once this has the
                    // write lock, none is reading a block the delta replaces, and after it none
                    // will.
                    let mut cur = self
                        .current
                        .write()
                        .map_err(|_| self.damaged("in-memory state (a thread panicked)"))?;
                    let Some(c) = cur.as_mut().filter(|c| c.generation == p.generation) else {
                        return Err(changed());
                    };
                    batch.insert(PREFIX_KEY, prefix);
                    batch.insert(RATCHET_KEY, ratchet.encode());
                    batch.insert(PACK_LEN_KEY, &pack_len.to_le_bytes());
                    batch.insert(LIVE_KEY, &live.to_le_bytes());
                    batch.insert(key.clone(), encode_extents(&extents));
                    c.tree.apply_batch(batch).map_err(self.err())?;
                    self.db.flush().map_err(self.err())?;
                    c.header = header;
                    c.prefix = prefix.to_vec();
                    (c.pack.clone(), c.tree.clone())
                };
                // In force. The replaced blocks are punched out in the background (a page costs
                // some 300 µs on ext4: seconds for a large delta), and their record removed; a
                // process that ends first leaves the record, and the next open punches them.
                let handle = std::thread::Builder::new()
                    .name("allowlist-punch".into())
                    .spawn(move || match punch(&pack, &extents) {
                        Ok(()) => {
                            let _ = tree.remove(&key);
                        }
                        Err(e) => tracing::warn!(
                            "offline list store {}: replaced blocks not punched out ({e}); the next start tries again",
                            path.display()
                        ),
                    })
                    .map_err(|e| self.pack_err(&self.path, e))?;
                if let Ok(mut p) = self.punching.lock() {
                    p.retain(|h| !h.is_finished());
                    p.push(handle);
                }
                Ok(())
            }
        }
    }

    /// Waits until the blocks replaced by committed deltas are punched out of the pack.
    pub fn settle(&self) {
        let handles = self
            .punching
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        for h in handles {
            let _ = h.join();
        }
    }

    /// Throws a merged delta away: its appended blocks are cut off the pack (or its fresh pack
    /// removed).
    pub fn abandon_patch(&self, p: Patch) {
        match p.target {
            Target::Fresh(w) => self.abort(w),
            Target::Append { out, start, .. } => {
                if let Ok(file) = out.out.into_inner() {
                    let _ = file.set_len(start);
                }
            }
        }
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

    /// Writes a list in the one-key-per-patron layout (`list-<generation>`, named by `current`
    /// in `meta` with its prefix), as an earlier version did.
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

    /// Writes a list in the blocks-in-sled layout (`blocks-<generation>` with 2 KB blocks, its
    /// prefix and ratchet, named by `current-blocks` in `meta`), as an earlier version did.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub(crate) fn put_blocks_layout(
        &self,
        entries: &[Vec<u8>],
        prefix: &[u8],
        tree_ratchet: &Ratchet,
        meta_ratchet: &Ratchet,
    ) {
        let tree = self.db.open_tree("blocks-00000000000000000004").unwrap();
        let mut b = BlockBuilder::default();
        for e in entries {
            b.push(e);
            if b.data.len() >= 2048 {
                let (k, v) = b.seal().unwrap();
                tree.insert(k, v).unwrap();
            }
        }
        if let Some((k, v)) = b.seal() {
            tree.insert(k, v).unwrap();
        }
        tree.insert(PREFIX_KEY, prefix).unwrap();
        tree.insert(RATCHET_KEY, tree_ratchet.encode()).unwrap();
        self.meta
            .insert(BLOCKS_CURRENT, &4u64.to_le_bytes())
            .unwrap();
        self.meta.insert(RATCHET, meta_ratchet.encode()).unwrap();
        self.meta
            .insert(NEXT_GENERATION, &5u64.to_le_bytes())
            .unwrap();
        self.db.flush().unwrap();
    }
}

fn index_name(generation: u64) -> Vec<u8> {
    format!("index-{generation:020}").into_bytes()
}

fn pack_name(generation: u64) -> String {
    format!("pack-{generation:020}")
}

fn encode_extents(extents: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 * extents.len());
    for (offset, len) in extents {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
    }
    out
}

fn decode_extents(bytes: &[u8]) -> Vec<(u64, u64)> {
    bytes
        .chunks_exact(16)
        .filter_map(|c| {
            let offset = u64::from_le_bytes(c[..8].try_into().ok()?);
            let len = u64::from_le_bytes(c[8..].try_into().ok()?);
            Some((offset, len))
        })
        .collect()
}

/// Raises `r` to every mark of an encoded ratchet.
fn raise_from(r: &mut Ratchet, raw: &[u8]) -> Result<(), allowlist::FormatError> {
    Ratchet::decode(raw)?;
    for m in raw.chunks_exact(16) {
        let mut id = [0u8; 8];
        id.copy_from_slice(&m[..8]);
        let mut version = [0u8; 8];
        version.copy_from_slice(&m[8..]);
        r.raise(&[KeyId(id)], u64::from_le_bytes(version));
    }
    Ok(())
}

/// Zeroes `extents` (offset, length) of a pack and gives their space back to the filesystem
/// (`fallocate(PUNCH_HOLE)`, some 300 µs a page on ext4); where the filesystem cannot, writes
/// zeros.
fn punch(pack: &File, extents: &[(u64, u64)]) -> std::io::Result<()> {
    use rustix::fs::FallocateFlags;
    let zeros = [0u8; PAGE as usize];
    let mut sorted = extents.to_vec();
    sorted.sort_unstable();
    // Neighbours in one call.
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
    for (offset, len) in sorted {
        match merged.last_mut() {
            Some((o, l)) if *o + *l == offset => *l += len,
            _ => merged.push((offset, len)),
        }
    }
    for (offset, len) in merged {
        let flags = FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE;
        if rustix::fs::fallocate(pack, flags, offset, len).is_err() {
            let mut at = offset;
            while at < offset + len {
                let n = (offset + len - at).min(PAGE);
                pack.write_all_at(&zeros[..n as usize], at)?;
                at += n;
            }
        }
    }
    pack.sync_data()
}

fn garbage_key(start: u64) -> Vec<u8> {
    [GARBAGE_KEY, &start.to_be_bytes()[..]].concat()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A blocks-in-sled tree's blocks, ascending, each found by its own range read from the root.
/// (A sled iterator reads each node once, and sled 0.34 evicts from its cache only after 64 reads
/// per cache shard: a scan of the whole list filled the cache far past its capacity. Reading each
/// block from the root reads each node about as many times as it holds blocks.)
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

    fn refs(c: &Current) -> Vec<BlockRef> {
        c.tree
            .range(&[BLOCK_TAG][..]..&[BLOCK_TAG + 1][..])
            .map(|kv| BlockRef::decode(&kv.unwrap().1).unwrap())
            .collect()
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
        // More than one block, each within its page, each on its own pages of the pack.
        let c = store.current().unwrap();
        let refs = refs(&c);
        assert!(refs.len() > 10, "{} blocks", refs.len());
        assert!(refs.iter().all(|r| r.len as usize <= BLOCK_BYTES));
        assert!(refs.iter().all(|r| r.offset % PAGE == 0));
        let pack_len = std::fs::metadata(store.pack_path(c.generation))
            .unwrap()
            .len();
        assert_eq!(pack_len, refs.iter().map(BlockRef::extent).sum::<u64>());
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
        let total = refs(&store.current().unwrap()).len() as u64;
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

    /// A store in the blocks-in-sled layout: its list moves into a pack whole, with the higher
    /// ratchet, and the old tree goes.
    #[test]
    fn a_store_with_blocks_in_sled_moves_its_list_into_a_pack() {
        let tmp = tempfile::tempdir().unwrap();
        let old = list(0..3_000);
        let mut in_tree = Ratchet::default();
        in_tree.raise(&[KeyId([9; 8])], 9);
        let mut in_meta = Ratchet::default();
        in_meta.raise(&[KeyId([9; 8])], 7);
        in_meta.raise(&[KeyId([8; 8])], 3);
        {
            let store = Store::open(tmp.path(), 1 << 20).unwrap();
            store.put_blocks_layout(&old, &prefix(9), &in_tree, &in_meta);
        }
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(store.held().map(|h| h.version), Some(9));
        assert_eq!(all(&store), old);
        for e in old.iter().step_by(7) {
            assert_eq!(store.lookup(&card(e)).unwrap().as_deref(), Some(&e[..]));
        }
        let r = store.ratchet().unwrap();
        let mut both = in_meta.clone();
        both.raise(&[KeyId([9; 8])], 9);
        assert_eq!(r, both);
        assert!(store.dropped().unwrap().is_none());
        assert!(
            !store
                .db
                .tree_names()
                .iter()
                .any(|n| n.starts_with(b"blocks-"))
        );
        drop(store);
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(all(&store), old);
    }

    /// A delta: the list it replaces the blocks of, as `Delta::between` makes it.
    fn delta_to(old: &[Vec<u8>], new: &[Vec<u8>]) -> Delta {
        Delta::between(
            old.iter().map(|e| (card(e), &e[..])),
            new.iter().map(|e| (card(e), &e[..])),
        )
    }

    /// A delta that removes a patron leaves none of the patron's bytes in any file of the store:
    /// the replaced block is punched out of the pack.
    #[test]
    fn a_patron_a_delta_removes_leaves_no_bytes_in_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let old = list(0..2_000);
        write(&store, &old, 5);
        // Patrons with a tail long enough to be unmistakable.
        let gone: Vec<Vec<u8>> = old
            .iter()
            .filter(|e| e.len() > 32 + 24)
            .step_by(97)
            .cloned()
            .collect();
        assert!(gone.len() > 5);
        for g in &gone {
            assert!(daemon::fs::holds_bytes(tmp.path(), &g[32..]).unwrap());
        }
        let new: Vec<Vec<u8>> = old.iter().filter(|e| !gone.contains(e)).cloned().collect();
        let d = delta_to(&old, &new);
        let p = store.patch(&d.removed, &d.upserts, |_| {}).unwrap();
        assert!(!p.compacted);
        let mut r = Ratchet::default();
        r.raise(&[KeyId([9; 8])], 6);
        store.commit_patch(p, &prefix(6), &r).unwrap();
        assert_eq!(all(&store), new);
        store.settle();
        for g in &gone {
            assert!(
                !daemon::fs::holds_bytes(tmp.path(), &g[32..]).unwrap(),
                "a removed patron's entry is still in the store's files"
            );
        }
    }

    /// A merged delta thrown away (its hash did not match) or cut short by a crash leaves the
    /// list in force and the pack as they were.
    #[test]
    fn an_abandoned_or_interrupted_delta_leaves_the_list_and_the_pack_as_they_were() {
        let tmp = tempfile::tempdir().unwrap();
        let old = list(0..2_000);
        let new: Vec<Vec<u8>> = old
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 40 != 0)
            .map(|(_, e)| e.clone())
            .chain(list(50_000..50_100))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let d = delta_to(&old, &new);
        let pack_file = |store: &Store| store.pack_path(store.current().unwrap().generation);
        let len_before;
        {
            let store = Store::open(tmp.path(), 1 << 20).unwrap();
            write(&store, &old, 5);
            len_before = std::fs::metadata(pack_file(&store)).unwrap().len();
            let p = store.patch(&d.removed, &d.upserts, |_| {}).unwrap();
            assert!(p.bytes_written > 0);
            store.abandon_patch(p);
            assert_eq!(
                std::fs::metadata(pack_file(&store)).unwrap().len(),
                len_before
            );
            assert_eq!(all(&store), old);
            // A crash after the blocks were appended, before the commit: the process ends with
            // the merged delta unwritten to sled.
            let p = store.patch(&d.removed, &d.upserts, |_| {}).unwrap();
            if let Target::Append { out, .. } = p.target {
                let _ = out.finish().unwrap();
            }
            assert!(std::fs::metadata(pack_file(&store)).unwrap().len() > len_before);
        }
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(
            std::fs::metadata(pack_file(&store)).unwrap().len(),
            len_before
        );
        assert_eq!(all(&store), old);
        // And the delta goes in afterwards.
        let p = store.patch(&d.removed, &d.upserts, |_| {}).unwrap();
        let mut r = Ratchet::default();
        r.raise(&[KeyId([9; 8])], 6);
        store.commit_patch(p, &prefix(6), &r).unwrap();
        assert_eq!(all(&store), new);
    }

    /// Delta after delta, the pack is rewritten whole once its replaced space grows: its length
    /// stays within a bound, its disk space near the live blocks', and the list is right.
    #[test]
    fn deltas_after_deltas_keep_the_pack_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        let mut cur = list(0..3_000);
        write(&store, &cur, 5);
        let mut compactions = 0;
        for round in 0..12u64 {
            // A tenth of the patrons change (another tail), some go, some come.
            let next: Vec<Vec<u8>> = cur
                .iter()
                .enumerate()
                .filter(|(i, _)| (*i as u64 + round) % 50 != 0)
                .map(|(i, e)| {
                    if (i as u64 * 7 + round) % 10 == 0 {
                        let mut c = e[..32].to_vec();
                        c.extend_from_slice(&entry(i as u64 * 1_000 + round)[32..]);
                        c
                    } else {
                        e.clone()
                    }
                })
                .chain(list(100_000 + round * 1_000..100_000 + round * 1_000 + 60))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let d = delta_to(&cur, &next);
            let p = store.patch(&d.removed, &d.upserts, |_| {}).unwrap();
            compactions += u32::from(p.compacted);
            let mut r = Ratchet::default();
            r.raise(&[KeyId([9; 8])], 6 + round);
            store.commit_patch(p, &prefix(6 + round), &r).unwrap();
            assert_eq!(all(&store), next, "round {round}");
            let c = store.current().unwrap();
            let live: u64 = refs(&c).iter().map(BlockRef::extent).sum();
            let m = std::fs::metadata(store.pack_path(c.generation)).unwrap();
            assert!(m.len() <= live * 5, "round {round}: {} of {live}", m.len());
            cur = next;
        }
        assert!(compactions >= 1, "never rewritten");
        drop(store);
        let store = Store::open(tmp.path(), 1 << 20).unwrap();
        assert_eq!(all(&store), cur);
        // One pack only: the rewritten ones are gone.
        let packs = std::fs::read_dir(tmp.path())
            .unwrap()
            .filter(|f| {
                f.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("pack-")
            })
            .count();
        assert_eq!(packs, 1);
    }
}
