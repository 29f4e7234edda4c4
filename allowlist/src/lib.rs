//! The signed offline allow-list that lets a door decide when the library system does not answer.
//!
//! A list names no one: each entry is keyed by an HMAC of the normalised card number (the key lives
//! only in the devices' secret file and the publisher, never in the list), carries a PIN verifier
//! in a named scheme (argon2id with its own salt, the library system's own bcrypt hash, or none),
//! the card's expiry and only the facts the access policy needs. The
//! header, signed with Ed25519, binds the body by its SHA-256 hash and carries a version that only
//! grows, issue and expiry times, the scope (which consortium, branches or devices), the signers'
//! key ids, the card-key id and the argon2id parameters, as TUF (The Update Framework) does for
//! software. A delta, signed too, turns version N into N+1 and names the hash of the whole list it
//! yields, so a delta applied to the wrong base can never pass.
//!
//! This crate is pure: no files, no sockets, no clock (time is an argument), no randomness (salts
//! and keys come in as arguments). The publisher and the device wire it to the world.
//!
//! Layout:
//! - [`card`]: card-number normalisation and the keyed card hash.
//! - [`keys`]: Ed25519 signing and public keys, key ids and their text forms.
//! - [`entry`]: one patron's entry and its canonical encoding; the body reader.
//! - [`format`](mod@format): the file: magic, signed header, signatures, body.
//! - [`delta`]: the delta body and the merge of a base list with a delta.
//! - [`verifier`]: argon2id parameters, making and checking PIN verifiers.
//! - [`bcrypt`]: the library system's own PIN hash (bcrypt `$2a$`/`$2b$`/`$2y$`, as Koha keeps
//!   it): strict parsing and constant-time verification of a typed PIN; an entry may carry it.
//! - [`trust`]: whether a device may take a list: keys, revocation, scope, rollback, freeze, clock.
//! - [`envelope`]: the console's signed policy bundles and commands, through the same keys,
//!   ratchet and refusals.
//! - [`guard`]: PIN-failure counting and lockout per card hash.
#![deny(missing_docs)]

pub mod bcrypt;
pub mod card;
pub mod delta;
pub mod entry;
pub mod envelope;
pub mod format;
pub mod guard;
pub mod keys;
pub mod trust;
pub mod verifier;

pub use bcrypt::{BcryptError, BcryptHash};
pub use card::{CardHash, CardKey};
pub use entry::{BlockScope, Entry, EntryBlock, Facts};
pub use format::{Header, Kind, SignedHeader};
pub use keys::{KeyId, PublicKey, SigningKey};
pub use trust::{Anchors, Ratchet, Refusal};
pub use verifier::{Argon2Params, PinCheck, PinVerifier};

/// Why bytes are not an allow-list (or part of one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The bytes end before the structure does: a truncated file or a partial download.
    #[error("truncated: {what} needs {need} more bytes")]
    Truncated {
        /// The part being read.
        what: &'static str,
        /// How many more bytes it needed.
        need: usize,
    },
    /// The file does not start with the allow-list magic.
    #[error("not an allow-list file (the magic bytes are wrong)")]
    NotAList,
    /// A format version this device does not know.
    #[error(
        "format version {0} is not supported (this device reads version 2: publish the list again with this release's allowlist-publish)"
    )]
    UnsupportedVersion(u16),
    /// A field holds a value the format does not allow.
    #[error("malformed {what}: {problem}")]
    Malformed {
        /// The part being read.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// Entries out of order or a card hash twice: the body is not canonical.
    #[error("entries are not in strictly ascending card-hash order at entry {index}")]
    NotSorted {
        /// Position of the offending entry.
        index: u64,
    },
    /// Bytes follow the last structure.
    #[error("{0} unexpected bytes after the end")]
    TrailingBytes(usize),
}

/// Lowercase hex of bytes (key ids, hashes in messages).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Bytes from hex; `None` if the text is not even-length hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim().as_bytes();
    if t.len() % 2 != 0 {
        return None;
    }
    t.chunks(2)
        .map(|p| {
            let d = |c: u8| (c as char).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

/// A little reader over bytes that reports truncation instead of panicking.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
    pub(crate) fn position(&self) -> usize {
        self.pos
    }
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        if self.remaining() < n {
            return Err(FormatError::Truncated {
                what,
                need: n - self.remaining(),
            });
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], FormatError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, FormatError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }
    /// A short UTF-8 string with a one-byte length.
    pub(crate) fn short_str(&mut self, what: &'static str) -> Result<String, FormatError> {
        let n = self.u8(what)? as usize;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec()).map_err(|_| FormatError::Malformed {
            what,
            problem: "not UTF-8".into(),
        })
    }
}

/// Appends a short string with a one-byte length; longer strings are cut at a character boundary
/// within 255 bytes (callers validate lengths before that matters).
pub(crate) fn put_short_str(out: &mut Vec<u8>, s: &str) {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    out.push(end as u8);
    out.extend_from_slice(&s.as_bytes()[..end]);
}
