//! The verifier journal: verifiers made during a run, kept on disk as they are made, so a run
//! that is interrupted (killed, a power cut, Ctrl-C) loses at most the last second's work
//! instead of every verifier made so far.
//!
//! `verifiers.state` is written once, atomically, when a run completes; for a million patrons
//! that is hours of argon2id after the run starts. Beside it, `verifiers.journal` is
//! append-only: `OMPJRNL1`, then records of 112 bytes, each the 96-byte record of the state file
//! (card hash, PIN fingerprint, salt, verifier) followed by the first 16 bytes of a SHA-256 of
//! those 96 bytes. Why this shape:
//! - **Fixed-size records with their own checksum**: a crash mid-write leaves a short tail
//!   (dropped by its length) or, on file systems that do not order data writes, a record of
//!   garbage (dropped by its checksum). Each record stands alone, so one bad record costs one
//!   verifier, not the ones after it. A dropped record is logged, never an error: the journal
//!   is only a cache, and the worst a lost record costs is one verifier made again.
//! - **Batches, fsync'd**: the thread making verifiers appends what the workers made every 256
//!   verifiers or every second, whichever comes first, and `fdatasync`s it. At the real
//!   parameters (about 20 ms a verifier per core) that is one small write and one sync a second;
//!   the overhead is measured in the crate's tests (`journal_overhead`, ignored by default).
//! - **Merged by fingerprint**: at the next start a journal record is used for a card only when
//!   its fingerprint equals the one computed from the current export (so a PIN changed
//!   meanwhile, or new argon2id parameters, make a new verifier); a journal record wins over
//!   the state file because it is newer.
//! - **Removed after the state file is written** (atomically): then the state holds everything
//!   the journal did. A crash between the two leaves a journal that agrees with the state.
//!
//! Secrecy is that of the state file: records hold the HMAC fingerprint under the publisher's
//! own secret, the salt and the verifier, never the PIN or the card number; the file is 0600.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use allowlist::CardHash;
use sha2::{Digest, Sha256};

use crate::secrets::write_atomic;
use crate::state::{RECORD, Remembered, decode_record, encode_record};
use crate::{PublishError, io};

/// The journal's first bytes.
pub const MAGIC: &[u8; 8] = b"OMPJRNL1";
/// One journal record: a state record and 16 bytes of its SHA-256.
pub const RECORD_LEN: usize = RECORD + 16;
/// The journal's file name in the state directory.
pub const FILE_NAME: &str = "verifiers.journal";

fn checksum(record: &[u8]) -> [u8; 16] {
    let d: [u8; 32] = Sha256::digest(record).into();
    let mut c = [0u8; 16];
    c.copy_from_slice(&d[..16]);
    c
}

fn encode(r: &Remembered, out: &mut Vec<u8>) {
    let at = out.len();
    encode_record(r, out);
    let c = checksum(out.get(at..).unwrap_or_default());
    out.extend_from_slice(&c);
}

/// What a journal held at the start of a run.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The good records by card (the last one for a card wins).
    pub records: BTreeMap<CardHash, Remembered>,
    /// How many records (or bytes of a torn tail, counted as one) were dropped.
    pub dropped: usize,
    /// Whether the file needs rewriting before appending (a torn tail or bad records).
    damaged: bool,
    /// Whether the file exists.
    exists: bool,
}

/// Reads the journal in `dir`, dropping (and logging) torn or damaged records.
pub fn load(dir: &Path) -> Result<Loaded, PublishError> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(io(&path)(e)),
    };
    let mut loaded = Loaded {
        exists: true,
        ..Loaded::default()
    };
    let Some(body) = bytes.strip_prefix(MAGIC) else {
        eprintln!(
            "{}: not a verifier journal (wrong or torn magic); its {} bytes are dropped and every verifier it may have held is made again",
            path.display(),
            bytes.len()
        );
        loaded.damaged = true;
        loaded.dropped = usize::from(!bytes.is_empty());
        return Ok(loaded);
    };
    let mut bad = 0;
    let mut chunks = body.chunks_exact(RECORD_LEN);
    for chunk in &mut chunks {
        let (record, sum) = chunk.split_at(RECORD);
        match decode_record(record) {
            Some(r) if checksum(record) == sum => {
                loaded.records.insert(r.card, r);
            }
            _ => bad += 1,
        }
    }
    let torn = chunks.remainder().len();
    if bad > 0 {
        eprintln!(
            "{}: {bad} damaged journal records dropped (checksum mismatch); those verifiers are made again",
            path.display()
        );
    }
    if torn > 0 {
        eprintln!(
            "{}: a torn record at the end ({torn} of {RECORD_LEN} bytes, from an interrupted write) dropped; that verifier is made again",
            path.display()
        );
    }
    loaded.dropped = bad + usize::from(torn > 0);
    loaded.damaged = loaded.dropped > 0;
    Ok(loaded)
}

/// The journal open for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl Journal {
    /// Opens the journal in `dir` for appending. A damaged one is first rewritten (atomically)
    /// with only its good records, so appended records stay aligned.
    pub fn open(dir: &Path, loaded: &Loaded) -> Result<Self, PublishError> {
        let path = dir.join(FILE_NAME);
        if loaded.damaged || !loaded.exists {
            let mut out = Vec::with_capacity(MAGIC.len() + loaded.records.len() * RECORD_LEN);
            out.extend_from_slice(MAGIC);
            for r in loaded.records.values() {
                encode(r, &mut out);
            }
            write_atomic(&path, &out, 0o600)?;
            // The new name must outlive a power cut as much as the records.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        let mut o = std::fs::OpenOptions::new();
        o.append(true);
        let file = o.open(&path).map_err(io(&path))?;
        Ok(Self {
            path,
            file,
            buf: Vec::new(),
        })
    }

    /// Appends `records` and syncs them to disk.
    pub fn append(&mut self, records: &[Remembered]) -> Result<(), PublishError> {
        if records.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        for r in records {
            encode(r, &mut self.buf);
        }
        self.file.write_all(&self.buf).map_err(io(&self.path))?;
        self.file.sync_data().map_err(io(&self.path))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the journal in `dir` once the state file holds everything it did.
pub fn remove(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE_NAME));
}
