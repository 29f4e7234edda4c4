//! Signed envelopes for what the console sends down to devices: policy bundles (a branch's
//! calendar and rules) and commands (unlock for N minutes, lock-down). The allow-list's
//! machinery, for documents that are not lists: the same Ed25519 keys and key ids, the same
//! ratchet (a version that only grows per signer, so nothing can be replayed or rolled back),
//! the same scope, expiry and clock checks, the same refusals.
//!
//! The file: `OMSIGNED`, format version (u16), header length (u32), the header, the signatures
//! (u8 count; each the signer's key id and 64 bytes of Ed25519), then the body (JSON, whose
//! length and SHA-256 the header carries). The signatures cover a context string that names the
//! [`Purpose`] and every byte before them, so a bundle can never pass as a command, nor a
//! command for one device as a command for another (its scope is the device).

use sha2::{Digest, Sha256};

use crate::keys::{KeyId, PublicKey, SigningKey};
use crate::trust::Ratchet;
use crate::{FormatError, Reader, Refusal, format};

/// The first bytes of every envelope.
pub const MAGIC: &[u8; 8] = b"OMSIGNED";
/// The format version written and read.
pub const FORMAT_VERSION: u16 = 1;
const MAX_HEADER: usize = 16 * 1024;
/// The largest body an envelope may carry.
pub const MAX_BODY: usize = 1024 * 1024;

/// What an envelope is for; bound into its signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A branch's policy bundle.
    Policy,
    /// A command to one device.
    Command,
}

impl Purpose {
    fn context(self) -> &'static [u8] {
        match self {
            Self::Policy => b"omatoimi policy bundle signature v1\0",
            Self::Command => b"omatoimi device command signature v1\0",
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Policy => 1,
            Self::Command => 2,
        }
    }
}

/// The signed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// What it is for.
    pub purpose: Purpose,
    /// Only grows (per signer, as the ratchet keeps it).
    pub version: u64,
    /// When it was made (Unix seconds).
    pub issued_at: i64,
    /// When it stops being trusted (Unix seconds).
    pub expires_at: i64,
    /// Who may take it: branch names for a bundle, the device's id for a command.
    pub scope: Vec<String>,
    /// The keys that sign it.
    pub signers: Vec<KeyId>,
    /// The body's length.
    pub body_len: u64,
    /// The body's SHA-256.
    pub body_hash: [u8; 32],
}

impl Header {
    fn encode(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(128);
        h.push(self.purpose.code());
        h.extend_from_slice(&self.version.to_le_bytes());
        h.extend_from_slice(&self.issued_at.to_le_bytes());
        h.extend_from_slice(&self.expires_at.to_le_bytes());
        format::put_scope_and_signers(&mut h, &self.scope, &self.signers);
        h.extend_from_slice(&self.body_len.to_le_bytes());
        h.extend_from_slice(&self.body_hash);
        h
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, FormatError> {
        let purpose = match r.u8("envelope purpose")? {
            1 => Purpose::Policy,
            2 => Purpose::Command,
            p => {
                return Err(FormatError::Malformed {
                    what: "envelope purpose",
                    problem: format!("{p} is neither 1 (policy) nor 2 (command)"),
                });
            }
        };
        let version = r.u64("envelope version")?;
        let issued_at = r.i64("envelope issue time")?;
        let expires_at = r.i64("envelope expiry time")?;
        let (scope, signers) = format::read_scope_and_signers(r)?;
        Ok(Self {
            purpose,
            version,
            issued_at,
            expires_at,
            scope,
            signers,
            body_len: r.u64("envelope body length")?,
            body_hash: r.array("envelope body hash")?,
        })
    }
}

/// Makes an envelope: `body` under a header of `purpose`, `version`, times and `scope`, signed
/// by `keys` (the header's signers, in order).
pub fn seal(
    purpose: Purpose,
    version: u64,
    issued_at: i64,
    expires_at: i64,
    scope: Vec<String>,
    body: &[u8],
    keys: &[&SigningKey],
) -> Vec<u8> {
    let header = Header {
        purpose,
        version,
        issued_at,
        expires_at,
        scope,
        signers: keys.iter().map(|k| k.public().id()).collect(),
        body_len: body.len() as u64,
        body_hash: Sha256::digest(body).into(),
    }
    .encode();
    let mut out = format::signed_prefix(MAGIC, FORMAT_VERSION, purpose.context(), &header, keys);
    out.extend_from_slice(body);
    out
}

/// An envelope as read, not yet trusted.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Its header.
    pub header: Header,
    signatures: Vec<(KeyId, [u8; 64])>,
    message: Vec<u8>,
    body: Vec<u8>,
}

impl Opened {
    /// Reads an envelope whole; its body must be the one the header names.
    pub fn parse(bytes: &[u8]) -> Result<Self, Refusal> {
        let not_magic = FormatError::Malformed {
            what: "envelope",
            problem: "not a signed envelope (the magic bytes are wrong)".into(),
        };
        let p = format::read_prefix(bytes, MAGIC, FORMAT_VERSION, MAX_HEADER, not_magic)?;
        let header = format::read_whole(p.header, Header::read)?;
        // The purpose's context is signed too: the header says which to check against.
        let mut message = header.purpose.context().to_vec();
        message.extend_from_slice(&bytes[..p.signed_end]);
        let signatures = p.signatures;
        let body = &bytes[p.body_offset..];
        if body.len() as u64 != header.body_len || body.len() > MAX_BODY {
            return Err(Refusal::BodyLength {
                expected: header.body_len,
                found: body.len() as u64,
            });
        }
        if <[u8; 32]>::from(Sha256::digest(body)) != header.body_hash {
            return Err(Refusal::BodyHash);
        }
        Ok(Self {
            header,
            signatures,
            message,
            body: body.to_vec(),
        })
    }

    /// The body (trusted only once [`check`] said so).
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// What a device trusts for envelopes: the console's pinned keys, revoked ones, the names it
/// answers to (its branch for bundles, its device id for commands), and its clock's allowed lag.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Pinned public keys.
    pub keys: Vec<PublicKey>,
    /// Revoked key ids.
    pub revoked: Vec<KeyId>,
    /// Names this device answers to.
    pub scopes: Vec<String>,
    /// How far the device's clock may lag an envelope's issue time (seconds).
    pub clock_skew: i64,
}

/// What a device may do with an envelope that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Newer than anything taken: take it, and raise the ratchet for these signers.
    Take {
        /// The live keys whose signatures verified.
        signers: Vec<KeyId>,
    },
    /// The very envelope already held: nothing to do.
    Unchanged,
}

/// Whether a device with `trust` and `ratchet`, holding the envelope whose version and body hash
/// are `held`, may take `e` for `purpose` at `now` (Unix seconds).
pub fn check(
    e: &Opened,
    purpose: Purpose,
    trust: &Trust,
    ratchet: &Ratchet,
    held: Option<(u64, [u8; 32])>,
    now: i64,
) -> Result<Verdict, Refusal> {
    let signers = in_force(e, purpose, trust, now)?;
    let h = &e.header;
    let floor = ratchet.floor_without(&trust.revoked);
    if h.version <= floor {
        if held == Some((h.version, h.body_hash)) && h.version == floor {
            return Ok(Verdict::Unchanged);
        }
        return Err(Refusal::Rollback {
            offered: h.version,
            floor,
        });
    }
    Ok(Verdict::Take { signers })
}

/// Whether an envelope a device holds is still good under its current trust at `now`
/// (signatures by live keys, scope, times); the live signers when it is.
pub fn in_force(
    e: &Opened,
    purpose: Purpose,
    trust: &Trust,
    now: i64,
) -> Result<Vec<KeyId>, Refusal> {
    let h = &e.header;
    if h.purpose != purpose {
        return Err(Refusal::Inconsistent(format!(
            "a {:?} envelope where a {purpose:?} was expected",
            h.purpose
        )));
    }
    let signers = crate::trust::verify_signatures(
        &h.signers,
        &e.signatures,
        &e.message,
        &trust.keys,
        &trust.revoked,
    )?;
    if h.expires_at <= h.issued_at {
        return Err(Refusal::Inconsistent(format!(
            "expires at {} but issued at {}",
            h.expires_at, h.issued_at
        )));
    }
    if !h.scope.iter().any(|x| trust.scopes.contains(x)) {
        return Err(Refusal::OtherScope {
            list: h.scope.clone(),
            device: trust.scopes.clone(),
        });
    }
    crate::trust::check_times(h.issued_at, h.expires_at, trust.clock_skew, now)?;
    Ok(signers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32]).unwrap()
    }

    fn trust() -> Trust {
        Trust {
            keys: vec![key(1).public()],
            revoked: vec![],
            scopes: vec!["LEMI".into()],
            clock_skew: 300,
        }
    }

    fn bundle(version: u64, scope: &str, keys: &[&SigningKey]) -> Vec<u8> {
        seal(
            Purpose::Policy,
            version,
            NOW - 60,
            NOW + 86_400,
            vec![scope.into()],
            br#"{"calendar":{}}"#,
            keys,
        )
    }

    fn open(bytes: &[u8]) -> Opened {
        Opened::parse(bytes).unwrap()
    }

    #[test]
    fn a_bundle_round_trips_and_is_taken_once() {
        let k = key(1);
        let b = bundle(5, "LEMI", &[&k]);
        let e = open(&b);
        assert_eq!(e.body(), br#"{"calendar":{}}"#);
        let mut ratchet = Ratchet::default();
        let v = check(&e, Purpose::Policy, &trust(), &ratchet, None, NOW).unwrap();
        assert_eq!(
            v,
            Verdict::Take {
                signers: vec![k.public().id()]
            }
        );
        ratchet.raise(&[k.public().id()], 5);
        let held = Some((5, e.header.body_hash));
        assert_eq!(
            check(&e, Purpose::Policy, &trust(), &ratchet, held, NOW),
            Ok(Verdict::Unchanged)
        );
        // Replayed to a device that holds something newer: a rollback.
        ratchet.raise(&[k.public().id()], 6);
        assert!(matches!(
            check(&e, Purpose::Policy, &trust(), &ratchet, held, NOW),
            Err(Refusal::Rollback {
                offered: 5,
                floor: 6
            })
        ));
    }

    #[test]
    fn forged_altered_foreign_expired_and_early_envelopes_are_refused() {
        let (k, stranger) = (key(1), key(2));
        let r = Ratchet::default();
        let t = trust();
        let refuse = |b: &[u8], now| check(&open(b), Purpose::Policy, &t, &r, None, now);
        assert!(matches!(
            refuse(&bundle(1, "LEMI", &[&stranger]), NOW),
            Err(Refusal::UnknownKey { .. })
        ));
        assert!(matches!(
            refuse(&bundle(1, "HEINOLA", &[&k]), NOW),
            Err(Refusal::OtherScope { .. })
        ));
        assert!(matches!(
            refuse(&bundle(1, "LEMI", &[&k]), NOW + 86_400),
            Err(Refusal::Expired { .. })
        ));
        assert!(matches!(
            refuse(&bundle(1, "LEMI", &[&k]), NOW - 1000),
            Err(Refusal::ClockBehind { .. })
        ));
        // The header altered after signing (a later expiry): the signature no longer verifies.
        let mut b = bundle(1, "LEMI", &[&k]);
        let at = MAGIC.len() + 2 + 4 + 1 + 8 + 8;
        b[at] ^= 1;
        assert!(matches!(refuse(&b, NOW), Err(Refusal::BadSignature(_))));
        // The body altered: its hash no longer matches.
        let mut b = bundle(1, "LEMI", &[&k]);
        let last = b.len() - 2;
        b[last] ^= 1;
        assert_eq!(Opened::parse(&b).err(), Some(Refusal::BodyHash));
        // A revoked key's signature does not count.
        let mut revoked = trust();
        revoked.revoked = vec![k.public().id()];
        assert!(matches!(
            check(
                &open(&bundle(1, "LEMI", &[&k])),
                Purpose::Policy,
                &revoked,
                &r,
                None,
                NOW
            ),
            Err(Refusal::RevokedKey(_))
        ));
    }

    #[test]
    fn a_bundle_cannot_pass_as_a_command_nor_the_other_way() {
        let k = key(1);
        let b = bundle(1, "LEMI", &[&k]);
        assert!(
            check(
                &open(&b),
                Purpose::Command,
                &trust(),
                &Ratchet::default(),
                None,
                NOW
            )
            .is_err()
        );
        // Relabelled as a command (its purpose byte changed): the context no longer matches.
        let mut relabelled = b.clone();
        relabelled[MAGIC.len() + 2 + 4] = 2;
        assert!(matches!(
            check(
                &open(&relabelled),
                Purpose::Command,
                &trust(),
                &Ratchet::default(),
                None,
                NOW
            ),
            Err(Refusal::BadSignature(_))
        ));
    }

    #[test]
    fn every_truncation_and_extension_is_refused_without_a_panic() {
        let b = bundle(1, "LEMI", &[&key(1)]);
        for n in 0..b.len() {
            assert!(Opened::parse(&b[..n]).is_err(), "{n}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(Opened::parse(&longer).is_err());
        for i in 0..b.len() {
            let mut flipped = b.clone();
            flipped[i] ^= 0x80;
            if let Ok(e) = Opened::parse(&flipped) {
                assert!(
                    check(
                        &e,
                        Purpose::Policy,
                        &trust(),
                        &Ratchet::default(),
                        None,
                        NOW
                    )
                    .is_err(),
                    "byte {i} flipped still passed"
                );
            }
        }
    }
}
