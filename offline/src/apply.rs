//! Verifying a list or delta file and applying it: the header is checked first (keys, scope,
//! rollback, freeze, clock, base), then the body is streamed into a new generation of the store
//! while its hash is taken; only a body that matches its signed hash and count becomes the list in
//! force. Any failure leaves the old list in force.

use std::io::Read;
use std::path::{Path, PathBuf};

use allowlist::delta::{Delta, MergeError};
use allowlist::format::check_body;
use allowlist::trust::{self, Verdict};
use allowlist::{Anchors, Entry, FormatError, Kind, Refusal, SignedHeader};
use sha2::{Digest, Sha256};

use crate::store::{Patch, Store, StoreError, Writer};

/// What applying did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The file is the list already in force.
    Unchanged {
        /// Its version.
        version: u64,
    },
    /// A full list is now in force.
    Full {
        /// Its version.
        version: u64,
        /// Its entries.
        entries: u64,
    },
    /// A delta turned the held list into a new version.
    Delta {
        /// The version it applied to.
        from: u64,
        /// The version now in force.
        version: u64,
        /// Its entries.
        entries: u64,
    },
}

/// Why a file was not applied. The old list stays in force.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The list was refused: a security event.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The store failed (disk full, I/O).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The file could not be read.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// Not enough free disk space for the new list beside the old one; nothing was written.
    #[error("not enough disk space for the new list: {need} bytes needed, {free} free in {}", path.display())]
    DiskFull {
        /// The store directory.
        path: PathBuf,
        /// Bytes needed (an estimate).
        need: u64,
        /// Bytes free.
        free: u64,
    },
    /// The file is larger than the device accepts.
    #[error("the list is {size} bytes; this device accepts at most {max}")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
}

const PREFIX_READ: usize = 80 * 1024;

/// Verifies the list or delta in `path` and applies it to `store`, at `now` (Unix seconds).
pub fn apply_file(
    store: &Store,
    anchors: &Anchors,
    path: &Path,
    now: i64,
    max_bytes: u64,
) -> Result<Applied, ApplyError> {
    let io = |cause| ApplyError::Io {
        path: path.to_owned(),
        cause,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > max_bytes {
        return Err(ApplyError::TooLarge {
            size,
            max: max_bytes,
        });
    }
    let mut head = Vec::with_capacity(PREFIX_READ);
    (&mut file)
        .take(PREFIX_READ as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    let signed = SignedHeader::parse(&head).map_err(Refusal::from)?;
    let held = store.held();
    let mut ratchet = store.ratchet()?;
    let signers = match check_trust(store, &signed, anchors, &ratchet, held, now)? {
        Verdict::Unchanged => {
            return Ok(Applied::Unchanged {
                version: signed.header.version,
            });
        }
        Verdict::Take { signers } => signers,
    };
    let h = &signed.header;
    let prefix = head[..signed.body_offset].to_vec();
    // A file that shrank or grew since it was measured gives a body length that does not match.
    let body_len = size.saturating_sub(signed.body_offset as u64);
    if body_len != h.body_len {
        return Err(Refusal::BodyLength {
            expected: h.body_len,
            found: body_len,
        }
        .into());
    }
    // sled needs about three times a list's size while it writes, and a disk filled mid-write
    // leaves a store that cannot reopen until space is freed: refuse before writing instead.
    let need = h
        .entry_count
        .saturating_mul(allowlist::entry::FIXED_LEN as u64 + 24)
        .saturating_mul(4)
        .saturating_add(4 << 20);
    if let Ok(st) = rustix::fs::statvfs(store.path()) {
        let free = st.f_bavail.saturating_mul(st.f_frsize);
        if free < need {
            return Err(ApplyError::DiskFull {
                path: store.path().to_owned(),
                need,
                free,
            });
        }
    }
    let applied = match (h.kind, held) {
        (Kind::Delta, Some(from)) => Applied::Delta {
            from: from.version,
            version: h.version,
            entries: h.entry_count,
        },
        _ => Applied::Full {
            version: h.version,
            entries: h.entry_count,
        },
    };
    ratchet.raise(&signers, h.version);
    match h.kind {
        Kind::Full => {
            let mut w = store.begin()?;
            match write_full(
                store,
                &mut w,
                &signed,
                &head[signed.body_offset..],
                &mut file,
                path,
            ) {
                Ok(()) => store.commit(w, &prefix, &ratchet)?,
                Err(e) => {
                    store.abort(w);
                    return Err(e);
                }
            }
        }
        Kind::Delta => {
            let mut body = head[signed.body_offset..].to_vec();
            file.read_to_end(&mut body).map_err(io)?;
            let patch = merge_delta(store, &signed, &body)?;
            store.commit_patch(patch, &prefix, &ratchet)?;
        }
    }
    Ok(applied)
}

/// [`trust::check`], except that the very list an upgrade of the store dropped
/// ([`Store::dropped`]) may be taken again although the ratchet holds its version.
fn check_trust(
    store: &Store,
    signed: &SignedHeader,
    anchors: &Anchors,
    ratchet: &allowlist::Ratchet,
    held: Option<trust::Held>,
    now: i64,
) -> Result<Verdict, ApplyError> {
    match trust::check(signed, anchors, ratchet, held, now) {
        Err(Refusal::Rollback { offered, floor }) if offered == floor && held.is_none() => {
            let h = &signed.header;
            let same = store
                .dropped()?
                .is_some_and(|d| d.version == h.version && d.list_hash == h.list_hash);
            if same && h.kind == Kind::Full {
                let signers = trust::check_signatures(signed, anchors)?;
                return Ok(Verdict::Take { signers });
            }
            Err(Refusal::Rollback { offered, floor }.into())
        }
        r => Ok(r?),
    }
}

fn write_full(
    store: &Store,
    w: &mut Writer,
    signed: &SignedHeader,
    start: &[u8],
    file: &mut std::fs::File,
    path: &Path,
) -> Result<(), ApplyError> {
    let h = &signed.header;
    if h.list_hash != h.body_hash {
        return Err(
            Refusal::Inconsistent("a full list's list hash and body hash differ".into()).into(),
        );
    }
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = start.to_vec();
    let mut pos = 0;
    let mut eof = false;
    let mut last: Option<allowlist::CardHash> = None;
    let mut chunk = vec![0u8; 1 << 20];
    let mut count = 0u64;
    loop {
        match Entry::decode_front(&buf[pos..]) {
            Ok((e, n)) => {
                if last.is_some_and(|l| l >= e.card) {
                    return Err(Refusal::Format(FormatError::NotSorted { index: count }).into());
                }
                last = Some(e.card);
                count += 1;
                if count > h.entry_count {
                    return Err(Refusal::EntryCount {
                        expected: h.entry_count,
                        found: count,
                    }
                    .into());
                }
                let bytes = &buf[pos..pos + n];
                hasher.update(bytes);
                store.put(w, bytes)?;
                pos += n;
            }
            Err(FormatError::Truncated { .. }) if !eof => {
                buf.drain(..pos);
                pos = 0;
                let n = file.read(&mut chunk).map_err(|cause| ApplyError::Io {
                    path: path.to_owned(),
                    cause,
                })?;
                if n == 0 {
                    eof = true;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(FormatError::Truncated { .. }) if buf.len() == pos => break,
            Err(e) => return Err(Refusal::Format(e).into()),
        }
    }
    // A full list's body is the list: its body hash is its list hash (checked above).
    finish(hasher, count, &signed.header)
}

/// Merges the delta with the list in force block by block, hashing the merged list; the touched
/// blocks are rewritten into a patch that is committed only when the merged list matches the
/// signed list hash and count.
fn merge_delta(store: &Store, signed: &SignedHeader, body: &[u8]) -> Result<Patch, ApplyError> {
    let h = &signed.header;
    check_body(h, body)?;
    let delta = Delta::parse(body).map_err(Refusal::from)?;
    let mut hasher = Sha256::new();
    let patch = store
        .patch(&delta.removed, &delta.upserts, |e| hasher.update(e))
        .map_err(|e| match e {
            MergeError::Base(s) => ApplyError::Store(s),
            MergeError::BaseNotSorted => ApplyError::Store(StoreError::Damaged {
                path: store.path().to_owned(),
                what: "held list order",
            }),
            MergeError::NotInBase => ApplyError::Refused(Refusal::WrongBase {
                base: h.base.map_or(0, |b| b.0),
                held: store.held().map(|x| x.version),
            }),
        })?;
    if let Err(e) = finish(hasher, patch.count, h) {
        store.abandon_patch(patch);
        return Err(e);
    }
    Ok(patch)
}

/// The list written matches the signed list hash and entry count.
fn finish(hasher: Sha256, count: u64, h: &allowlist::Header) -> Result<(), ApplyError> {
    let hash: [u8; 32] = hasher.finalize().into();
    if hash != h.list_hash {
        return Err(Refusal::ListHash.into());
    }
    if count != h.entry_count {
        return Err(Refusal::EntryCount {
            expected: h.entry_count,
            found: count,
        }
        .into());
    }
    Ok(())
}
