//! The file: `OMALLIST`, format version (u16), header length (u32), the header, the signatures
//! (u8 count; each the signer's key id and 64 bytes of Ed25519), then the body.
//!
//! The signatures cover a domain-separation string and every byte before them, so the header
//! (and through its hashes, the body) cannot change without breaking them. A device can read and
//! check the header alone before it reads a byte of the body: `head.oal`, the prefix of the newest
//! full list, is how it learns cheaply whether anything changed.

use sha2::{Digest, Sha256};

use crate::keys::{KeyId, SigningKey};
use crate::verifier::Argon2Params;
use crate::{FormatError, Reader, put_short_str};

/// The first bytes of every allow-list file.
pub const MAGIC: &[u8; 8] = b"OMALLIST";
/// The format version this crate writes and reads.
/// Version 2 names each entry's PIN scheme (none, argon2id, bcrypt); version 1 had argon2id only.
pub const FORMAT_VERSION: u16 = 2;
/// What signatures sign before the signed bytes, so they cannot be reused in another protocol.
pub const SIGNATURE_CONTEXT: &[u8] = b"omatoimi allow-list signature v1\0";
const MAX_HEADER: usize = 64 * 1024;
const MAX_SIGNATURES: usize = 8;

/// A whole list or a delta from the previous version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The whole list.
    Full,
    /// Changes from one version (the base) to this one.
    Delta,
}

/// The signed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Whole list or delta.
    pub kind: Kind,
    /// The list version; only grows.
    pub version: u64,
    /// For a delta: the version it applies to and the hash of that version's whole body.
    pub base: Option<(u64, [u8; 32])>,
    /// When it was made (Unix seconds).
    pub issued_at: i64,
    /// When it stops being trusted (Unix seconds).
    pub expires_at: i64,
    /// Who may take it: consortium, branch or device names; a device needs one in common.
    pub scope: Vec<String>,
    /// The keys that sign it.
    pub signers: Vec<KeyId>,
    /// The card-hashing key the entries were made with.
    pub card_key: KeyId,
    /// The argon2id parameters of every verifier.
    pub argon2: Argon2Params,
    /// Entries in the whole list of this version.
    pub entry_count: u64,
    /// SHA-256 of the whole list body of this version.
    pub list_hash: [u8; 32],
    /// Length of the body in this file.
    pub body_len: u64,
    /// SHA-256 of the body in this file (the list body itself for a full list).
    pub body_hash: [u8; 32],
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(256);
        h.push(match self.kind {
            Kind::Full => 1,
            Kind::Delta => 2,
        });
        h.extend_from_slice(&self.version.to_le_bytes());
        let (bv, bh) = self.base.unwrap_or((0, [0; 32]));
        h.extend_from_slice(&bv.to_le_bytes());
        h.extend_from_slice(&bh);
        h.extend_from_slice(&self.issued_at.to_le_bytes());
        h.extend_from_slice(&self.expires_at.to_le_bytes());
        put_scope_and_signers(&mut h, &self.scope, &self.signers);
        h.extend_from_slice(&self.card_key.0);
        h.extend_from_slice(&self.argon2.memory_kib.to_le_bytes());
        h.extend_from_slice(&self.argon2.iterations.to_le_bytes());
        h.extend_from_slice(&self.argon2.lanes.to_le_bytes());
        h.extend_from_slice(&self.entry_count.to_le_bytes());
        h.extend_from_slice(&self.list_hash);
        h.extend_from_slice(&self.body_len.to_le_bytes());
        h.extend_from_slice(&self.body_hash);
        h
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let kind = match r.u8("header kind")? {
            1 => Kind::Full,
            2 => Kind::Delta,
            k => {
                return Err(FormatError::Malformed {
                    what: "header kind",
                    problem: format!("{k} is neither 1 (full) nor 2 (delta)"),
                });
            }
        };
        let version = r.u64("header version")?;
        let base_version = r.u64("header base version")?;
        let base_hash = r.array("header base hash")?;
        let base = match kind {
            Kind::Delta => Some((base_version, base_hash)),
            Kind::Full if base_version == 0 && base_hash == [0; 32] => None,
            Kind::Full => {
                return Err(FormatError::Malformed {
                    what: "header base",
                    problem: "a full list names a base".into(),
                });
            }
        };
        let issued_at = r.i64("header issue time")?;
        let expires_at = r.i64("header expiry time")?;
        let (scope, signers) = read_scope_and_signers(r)?;
        let card_key = KeyId(r.array("header card-key id")?);
        let argon2 = Argon2Params {
            memory_kib: r.u32("header argon2 memory")?,
            iterations: r.u32("header argon2 iterations")?,
            lanes: r.u32("header argon2 lanes")?,
        };
        argon2.check().map_err(|problem| FormatError::Malformed {
            what: "header argon2 parameters",
            problem,
        })?;
        Ok(Self {
            kind,
            version,
            base,
            issued_at,
            expires_at,
            scope,
            signers,
            card_key,
            argon2,
            entry_count: r.u64("header entry count")?,
            list_hash: r.array("header list hash")?,
            body_len: r.u64("header body length")?,
            body_hash: r.array("header body hash")?,
        })
    }

    /// The signed prefix of a file (everything before the body), signed by `keys`, which must be
    /// the header's signers in order.
    pub fn sign(&self, keys: &[&SigningKey]) -> Vec<u8> {
        signed_prefix(
            MAGIC,
            FORMAT_VERSION,
            SIGNATURE_CONTEXT,
            &self.encode(),
            keys,
        )
    }
}

/// Writes a header's scope and signers: a count byte and the names, a count byte and the key ids.
pub(crate) fn put_scope_and_signers(h: &mut Vec<u8>, scope: &[String], signers: &[KeyId]) {
    h.push(scope.len().min(255) as u8);
    for s in scope.iter().take(255) {
        put_short_str(h, s);
    }
    h.push(signers.len().min(255) as u8);
    for k in signers.iter().take(255) {
        h.extend_from_slice(&k.0);
    }
}

/// Reads what [`put_scope_and_signers`] wrote.
pub(crate) fn read_scope_and_signers(
    r: &mut Reader<'_>,
) -> Result<(Vec<String>, Vec<KeyId>), FormatError> {
    let n = r.u8("header scope count")?;
    let scope = (0..n)
        .map(|_| r.short_str("header scope"))
        .collect::<Result<Vec<_>, _>>()?;
    let n = r.u8("header signer count")?;
    let signers = (0..n)
        .map(|_| r.array("header signer").map(KeyId))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((scope, signers))
}

/// A signed file's prefix: `magic`, format `version` (u16), header length (u32), `header`, then
/// the signatures by `keys` (a count byte; each the key id and 64 bytes) over `context` and every
/// byte before them. The allow-list and the console's envelopes are both written so.
pub(crate) fn signed_prefix(
    magic: &[u8; 8],
    version: u16,
    context: &[u8],
    header: &[u8],
    keys: &[&SigningKey],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + 16 + 72 * keys.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(header);
    let mut message = context.to_vec();
    message.extend_from_slice(&out);
    out.push(keys.len().min(MAX_SIGNATURES) as u8);
    for k in keys.iter().take(MAX_SIGNATURES) {
        out.extend_from_slice(&k.public().id().0);
        out.extend_from_slice(&k.sign(&message));
    }
    out
}

/// A prefix as [`read_prefix`] read it.
pub(crate) struct Prefix<'a> {
    /// The header's bytes.
    pub(crate) header: &'a [u8],
    /// Where the signed bytes end (the signature count starts).
    pub(crate) signed_end: usize,
    /// The signatures.
    pub(crate) signatures: Vec<(KeyId, [u8; 64])>,
    /// Where the body starts.
    pub(crate) body_offset: usize,
}

/// Reads what [`signed_prefix`] wrote: `not_magic` when the magic is not `magic`, a version
/// other than `version` refused, a header up to `max_header` bytes.
pub(crate) fn read_prefix<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: u16,
    max_header: usize,
    not_magic: FormatError,
) -> Result<Prefix<'a>, FormatError> {
    let mut r = Reader::new(bytes);
    if r.take(magic.len(), "magic")? != magic {
        return Err(not_magic);
    }
    let v = r.u16("format version")?;
    if v != version {
        return Err(FormatError::UnsupportedVersion(v));
    }
    let len = r.u32("header length")? as usize;
    if len > max_header {
        return Err(FormatError::Malformed {
            what: "header length",
            problem: format!("{len} bytes is more than {max_header}"),
        });
    }
    let header = r.take(len, "header")?;
    let signed_end = r.position();
    let n = r.u8("signature count")? as usize;
    if n > MAX_SIGNATURES {
        return Err(FormatError::Malformed {
            what: "signature count",
            problem: format!("{n} is more than {MAX_SIGNATURES}"),
        });
    }
    let signatures = (0..n)
        .map(|_| Ok((KeyId(r.array("signer id")?), r.array("signature")?)))
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Prefix {
        header,
        signed_end,
        signatures,
        body_offset: r.position(),
    })
}

/// A header's bytes read whole by `read`: bytes after its last field are refused.
pub(crate) fn read_whole<T>(
    raw: &[u8],
    read: impl FnOnce(&mut Reader<'_>) -> Result<T, FormatError>,
) -> Result<T, FormatError> {
    let mut r = Reader::new(raw);
    let t = read(&mut r)?;
    if r.remaining() != 0 {
        return Err(FormatError::Malformed {
            what: "header",
            problem: format!("{} bytes after its last field", r.remaining()),
        });
    }
    Ok(t)
}

/// A header as read from a file, with what its signatures cover.
#[derive(Debug, Clone)]
pub struct SignedHeader {
    /// The header.
    pub header: Header,
    /// The signatures: signer's key id and signature.
    pub signatures: Vec<(KeyId, [u8; 64])>,
    /// The bytes the signatures sign (context string included).
    pub(crate) message: Vec<u8>,
    /// Where the body starts in the file.
    pub body_offset: usize,
}

impl SignedHeader {
    /// Reads the prefix of a file: magic, header and signatures. The body is not looked at.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let p = read_prefix(
            bytes,
            MAGIC,
            FORMAT_VERSION,
            MAX_HEADER,
            FormatError::NotAList,
        )?;
        let header = read_whole(p.header, Header::read)?;
        let mut message = SIGNATURE_CONTEXT.to_vec();
        message.extend_from_slice(&bytes[..p.signed_end]);
        Ok(Self {
            header,
            signatures: p.signatures,
            message,
            body_offset: p.body_offset,
        })
    }

    /// The signed bytes (for a verifier).
    pub fn message(&self) -> &[u8] {
        &self.message
    }
}

/// Whether `body` is the body the header names: its length and SHA-256.
pub fn check_body(header: &Header, body: &[u8]) -> Result<(), crate::Refusal> {
    if body.len() as u64 != header.body_len {
        return Err(crate::Refusal::BodyLength {
            expected: header.body_len,
            found: body.len() as u64,
        });
    }
    let hash: [u8; 32] = Sha256::digest(body).into();
    if hash != header.body_hash {
        return Err(crate::Refusal::BodyHash);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn header(kind: Kind) -> Header {
        Header {
            kind,
            version: 7,
            base: (kind == Kind::Delta).then_some((6, [9; 32])),
            issued_at: 1_790_000_000,
            expires_at: 1_790_259_200,
            scope: vec!["heili".into(), "LEMI".into()],
            signers: vec![],
            card_key: KeyId([1; 8]),
            argon2: Argon2Params::OWASP_MINIMUM,
            entry_count: 3,
            list_hash: [2; 32],
            body_len: 10,
            body_hash: [3; 32],
        }
    }

    #[test]
    fn headers_round_trip_with_their_signatures() {
        let k = SigningKey::from_seed([1; 32]).unwrap();
        for kind in [Kind::Full, Kind::Delta] {
            let mut h = header(kind);
            h.signers = vec![k.public().id()];
            let mut file = h.sign(&[&k]);
            let end = file.len();
            file.extend_from_slice(b"body bytes");
            let s = SignedHeader::parse(&file).unwrap();
            assert_eq!(s.header, h);
            assert_eq!(s.body_offset, end);
            assert_eq!(s.signatures[0].0, k.public().id());
            assert!(k.public().verifies(s.message(), &s.signatures[0].1));
        }
    }

    #[test]
    fn every_truncation_of_a_prefix_is_an_error() {
        let k = SigningKey::from_seed([1; 32]).unwrap();
        let file = header(Kind::Full).sign(&[&k]);
        for n in 0..file.len() {
            assert!(SignedHeader::parse(&file[..n]).is_err(), "{n}");
        }
        let mut other = file.clone();
        other[0] = b'X';
        assert_eq!(
            SignedHeader::parse(&other).err(),
            Some(FormatError::NotAList)
        );
    }
}
