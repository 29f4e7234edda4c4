//! What the publisher remembers between runs: per card hash, a fingerprint of the PIN and the
//! verifier made for it. A patron whose fingerprint is unchanged keeps the verifier (and salt),
//! so a rebuild makes argon2id verifiers only for new patrons and changed PINs.
//!
//! The fingerprint is an HMAC under the publisher's own secret (`publisher.secret`, 0600, never
//! leaves the publisher) of the argon2id parameters, the card hash and the PIN: without that
//! secret the state file tells nothing about PINs, and with new parameters every verifier is made
//! again. `verifiers.state` is `OMPSTATE` then 96-byte records ascending by card hash.

use std::path::{Path, PathBuf};

use allowlist::{Argon2Params, CardHash};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secrets::{random, read_secret, write_atomic, write_secret};
use crate::{PublishError, io};

const MAGIC: &[u8; 8] = b"OMPSTATE";
/// The size of one remembered verifier on disk: card hash, fingerprint, salt, verifier.
pub(crate) const RECORD: usize = 32 + 16 + 16 + 32;

/// One remembered verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remembered {
    /// The card hash.
    pub card: CardHash,
    /// The PIN fingerprint.
    pub fingerprint: [u8; 16],
    /// The salt.
    pub salt: [u8; 16],
    /// The verifier.
    pub verifier: [u8; 32],
}

/// The publisher's state directory.
pub struct State {
    dir: PathBuf,
    secret: [u8; 32],
    /// Remembered verifiers, ascending by card hash.
    pub remembered: Vec<Remembered>,
    /// The last version published.
    pub last_version: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret and the fingerprints together give back every PIN: neither is shown.
        f.debug_struct("State")
            .field("dir", &self.dir)
            .field("remembered", &self.remembered.len())
            .field("last_version", &self.last_version)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Opens (creating on first use) the state in `dir`.
    pub fn open(dir: &Path) -> Result<Self, PublishError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let secret_path = dir.join("publisher.secret");
        if !secret_path.exists() {
            let s: [u8; 32] = random()?;
            write_secret(&secret_path, &format!("{}\n", allowlist::hex(&s)))?;
        }
        let secret = allowlist::unhex(&read_secret(&secret_path)?)
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| PublishError::BadFile {
                path: secret_path.clone(),
                problem: "expected 64 hex digits".into(),
            })?;
        let path = dir.join("verifiers.state");
        let remembered = match std::fs::read(&path) {
            Ok(b) => decode(&b).ok_or_else(|| PublishError::BadFile {
                path: path.clone(),
                problem: "damaged (wrong magic or a partial record); move it away to rebuild every verifier".into(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let vpath = dir.join("last-version");
        let last_version = match std::fs::read_to_string(&vpath) {
            Ok(t) => t.trim().parse().map_err(|_| PublishError::BadFile {
                path: vpath.clone(),
                problem: "expected a whole number".into(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io(&vpath)(e)),
        };
        Ok(Self {
            dir: dir.to_owned(),
            secret,
            remembered,
            last_version,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The PIN fingerprint of a card under `params`.
    pub fn fingerprint(
        &self,
        params: &Argon2Params,
        card: &CardHash,
        pin: &redact::Pin,
    ) -> [u8; 16] {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.secret);
        let mut mac = <Hmac<Sha256> as Mac>::new(&block.into());
        mac.update(params.phc_prefix().as_bytes());
        mac.update(&card.0);
        mac.update(pin.expose().as_bytes());
        let out = mac.finalize().into_bytes();
        let mut f = [0u8; 16];
        f.copy_from_slice(&out[..16]);
        f
    }

    /// The remembered verifier of `card`, if any.
    pub fn find(&self, card: &CardHash) -> Option<&Remembered> {
        self.remembered
            .binary_search_by(|r| r.card.cmp(card))
            .ok()
            .and_then(|i| self.remembered.get(i))
    }

    /// Saves `remembered` (ascending) and the version, each atomically.
    pub fn save(&mut self, remembered: Vec<Remembered>, version: u64) -> Result<(), PublishError> {
        let mut out = Vec::with_capacity(MAGIC.len() + remembered.len() * RECORD);
        out.extend_from_slice(MAGIC);
        for r in &remembered {
            encode_record(r, &mut out);
        }
        write_atomic(&self.dir.join("verifiers.state"), &out, 0o600)?;
        write_atomic(
            &self.dir.join("last-version"),
            format!("{version}\n").as_bytes(),
            0o644,
        )?;
        self.remembered = remembered;
        self.last_version = version;
        Ok(())
    }
}

/// Appends the [`RECORD`] bytes of `r` to `out`.
pub(crate) fn encode_record(r: &Remembered, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.card.0);
    out.extend_from_slice(&r.fingerprint);
    out.extend_from_slice(&r.salt);
    out.extend_from_slice(&r.verifier);
}

/// Reads one record of exactly [`RECORD`] bytes.
pub(crate) fn decode_record(r: &[u8]) -> Option<Remembered> {
    if r.len() != RECORD {
        return None;
    }
    Some(Remembered {
        card: CardHash(r.get(..32)?.try_into().ok()?),
        fingerprint: r.get(32..48)?.try_into().ok()?,
        salt: r.get(48..64)?.try_into().ok()?,
        verifier: r.get(64..)?.try_into().ok()?,
    })
}

fn decode(b: &[u8]) -> Option<Vec<Remembered>> {
    let body = b.strip_prefix(MAGIC)?;
    if body.len() % RECORD != 0 {
        return None;
    }
    let mut v: Vec<Remembered> = Vec::with_capacity(body.len() / RECORD);
    for r in body.chunks_exact(RECORD) {
        let rec = decode_record(r)?;
        if v.last().is_some_and(|l| l.card >= rec.card) {
            return None;
        }
        v.push(rec);
    }
    Some(v)
}
