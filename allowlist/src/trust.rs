//! Whether a device may take a list, decided from the signed header, the device's anchors (pinned
//! keys, revoked keys, scope, card key), its ratchet, the list it holds and the time.
//!
//! The ratchet keeps, per signing key, the highest version the device has accepted from it. A
//! list must be newer than the highest version among keys that are not revoked. So a leaked key
//! that signed "version 10^9" holds every real list back only until that key is revoked in the
//! device's config; then its mark stops counting, and nothing else resets it.

use std::collections::BTreeMap;

use crate::FormatError;
use crate::format::{Header, Kind, SignedHeader};
use crate::keys::{KeyId, PublicKey};

/// Why a device refuses a list. Every refusal is a security event for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a well-formed list.
    #[error("malformed list: {0}")]
    Format(#[from] FormatError),
    /// No signature is from a key this device trusts.
    #[error("signed by {signers:?}, none of which this device trusts")]
    UnknownKey {
        /// The signers named.
        signers: Vec<KeyId>,
    },
    /// The only trusted signatures are by keys this device has revoked.
    #[error("signed only by revoked key(s) {0:?}")]
    RevokedKey(Vec<KeyId>),
    /// A signature by a trusted key does not verify: the list was altered or forged.
    #[error("the signature by key {0} does not verify: the list was altered")]
    BadSignature(KeyId),
    /// A signature's key is not among the header's signers.
    #[error("a signature by key {0} is not named in the signed header")]
    UnnamedSigner(KeyId),
    /// The list is for other devices.
    #[error("the list is for {list:?}; this device belongs to {device:?}")]
    OtherScope {
        /// The list's scope.
        list: Vec<String>,
        /// The device's.
        device: Vec<String>,
    },
    /// The entries were hashed with another card key, so no card would be found.
    #[error("the list was made with card key {list}; this device has {device}")]
    OtherCardKey {
        /// The list's card-key id.
        list: KeyId,
        /// The device's.
        device: KeyId,
    },
    /// Older than (or as old as, with other contents) what the device has trusted.
    #[error("version {offered} is not newer than version {floor} already trusted (rollback)")]
    Rollback {
        /// The list's version.
        offered: u64,
        /// The highest trusted version.
        floor: u64,
    },
    /// The list has expired.
    #[error("the list expired at {expired_at} (Unix time), it is now {now} (frozen list)")]
    Expired {
        /// Its expiry.
        expired_at: i64,
        /// The device's time.
        now: i64,
    },
    /// The device's clock is earlier than the list's issue time: the clock is wrong.
    #[error(
        "the device clock ({now}) is {behind} s behind the list's issue time ({issued_at}); fix the clock (NTP)"
    )]
    ClockBehind {
        /// The list's issue time.
        issued_at: i64,
        /// The device's time.
        now: i64,
        /// By how much.
        behind: i64,
    },
    /// The list is inconsistent in itself (expires before it is issued, and the like).
    #[error("inconsistent header: {0}")]
    Inconsistent(String),
    /// A delta whose base is not the list the device holds.
    #[error("the delta applies to version {base}; this device holds {held:?}")]
    WrongBase {
        /// The delta's base version.
        base: u64,
        /// The held version.
        held: Option<u64>,
    },
    /// The body is not as long as the header says (truncated or padded).
    #[error("the body is {found} bytes; the header says {expected}")]
    BodyLength {
        /// From the header.
        expected: u64,
        /// Received.
        found: u64,
    },
    /// The body's hash is not the one the header names.
    #[error("the body does not match its signed hash")]
    BodyHash,
    /// The list built (from a delta, or from the body) does not match the signed list hash.
    #[error("the resulting list does not match its signed hash")]
    ListHash,
    /// The entries in a body are not what the header says.
    #[error("the body holds {found} entries; the header says {expected}")]
    EntryCount {
        /// From the header.
        expected: u64,
        /// Found.
        found: u64,
    },
}

/// What a device trusts, from its configuration and secret file.
#[derive(Debug, Clone)]
pub struct Anchors {
    /// Pinned public keys.
    pub keys: Vec<PublicKey>,
    /// Revoked key ids (their signatures no longer count, and their ratchet marks neither).
    pub revoked: Vec<KeyId>,
    /// The names this device answers to: consortium, branch, device id.
    pub scopes: Vec<String>,
    /// The id of the device's card-hashing key.
    pub card_key: KeyId,
    /// How far the device's clock may lag a list's issue time, in seconds.
    pub clock_skew: i64,
}

/// The highest version accepted per signing key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ratchet {
    marks: BTreeMap<KeyId, u64>,
}

impl Ratchet {
    /// The version a new list must exceed: the highest mark of a key not revoked.
    pub fn floor(&self, anchors: &Anchors) -> u64 {
        self.floor_without(&anchors.revoked)
    }

    /// The version a new document must exceed: the highest mark of a key not in `revoked`.
    pub fn floor_without(&self, revoked: &[KeyId]) -> u64 {
        self.marks
            .iter()
            .filter(|(k, _)| !revoked.contains(k))
            .map(|(_, v)| *v)
            .max()
            .unwrap_or(0)
    }

    /// Records that `signers` signed an accepted `version`.
    pub fn raise(&mut self, signers: &[KeyId], version: u64) {
        for k in signers {
            let m = self.marks.entry(*k).or_insert(0);
            *m = (*m).max(version);
        }
    }

    /// The stored form: 16 bytes per key (id, version).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.marks.len() * 16);
        for (k, v) in &self.marks {
            out.extend_from_slice(&k.0);
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// Reads the stored form.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() % 16 != 0 {
            return Err(FormatError::Malformed {
                what: "ratchet",
                problem: format!("{} bytes is not a multiple of 16", bytes.len()),
            });
        }
        let mut marks = BTreeMap::new();
        for c in bytes.chunks_exact(16) {
            let mut id = [0u8; 8];
            id.copy_from_slice(&c[..8]);
            let mut v = [0u8; 8];
            v.copy_from_slice(&c[8..]);
            marks.insert(KeyId(id), u64::from_le_bytes(v));
        }
        Ok(Self { marks })
    }
}

/// The list a device holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Its version.
    pub version: u64,
    /// Its list hash.
    pub list_hash: [u8; 32],
}

/// What a device may do with a list that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A newer list (or delta) to apply; these keys' signatures verified.
    Take {
        /// The live keys whose signatures verified.
        signers: Vec<KeyId>,
    },
    /// The very list already held: nothing to do.
    Unchanged,
}

/// Checks signatures alone: at least one by a live key, none by a live key that fails.
pub fn check_signatures(s: &SignedHeader, anchors: &Anchors) -> Result<Vec<KeyId>, Refusal> {
    verify_signatures(
        &s.header.signers,
        &s.signatures,
        s.message(),
        &anchors.keys,
        &anchors.revoked,
    )
}

/// Signatures over `message` by the `named` signers: at least one by a live key (pinned, not
/// revoked), none by a live key that fails, none by a key the signed header does not name. The
/// allow-list and the console's envelopes both go through here.
pub(crate) fn verify_signatures(
    named: &[KeyId],
    signatures: &[(KeyId, [u8; 64])],
    message: &[u8],
    keys: &[PublicKey],
    revoked: &[KeyId],
) -> Result<Vec<KeyId>, Refusal> {
    let live = |id: &KeyId| {
        (!revoked.contains(id))
            .then(|| keys.iter().find(|k| k.id() == *id))
            .flatten()
    };
    let mut good = Vec::new();
    let mut revoked_found = Vec::new();
    for (id, sig) in signatures {
        if !named.contains(id) {
            return Err(Refusal::UnnamedSigner(*id));
        }
        match live(id) {
            Some(key) if key.verifies(message, sig) => good.push(*id),
            Some(_) => return Err(Refusal::BadSignature(*id)),
            None if revoked.contains(id) => revoked_found.push(*id),
            None => {}
        }
    }
    if !good.is_empty() {
        return Ok(good);
    }
    if !revoked_found.is_empty() {
        return Err(Refusal::RevokedKey(revoked_found));
    }
    Err(Refusal::UnknownKey {
        signers: signatures.iter().map(|(k, _)| *k).collect(),
    })
}

/// The clock against the list: not before its issue time (less the allowed skew), not after its
/// expiry.
pub(crate) fn check_times(
    issued_at: i64,
    expires_at: i64,
    clock_skew: i64,
    now: i64,
) -> Result<(), Refusal> {
    if now.saturating_add(clock_skew) < issued_at {
        return Err(Refusal::ClockBehind {
            issued_at,
            now,
            behind: issued_at - now,
        });
    }
    if now >= expires_at {
        return Err(Refusal::Expired {
            expired_at: expires_at,
            now,
        });
    }
    Ok(())
}

/// Whether a device with `anchors`, `ratchet` and `held` list may take the list whose signed header
/// is `s`, at `now` (Unix seconds). The body is checked separately, while it is applied.
pub fn check(
    s: &SignedHeader,
    anchors: &Anchors,
    ratchet: &Ratchet,
    held: Option<Held>,
    now: i64,
) -> Result<Verdict, Refusal> {
    let signers = check_signatures(s, anchors)?;
    let h: &Header = &s.header;
    if h.expires_at <= h.issued_at {
        return Err(Refusal::Inconsistent(format!(
            "expires at {} but issued at {}",
            h.expires_at, h.issued_at
        )));
    }
    if !h.scope.iter().any(|x| anchors.scopes.contains(x)) {
        return Err(Refusal::OtherScope {
            list: h.scope.clone(),
            device: anchors.scopes.clone(),
        });
    }
    if h.card_key != anchors.card_key {
        return Err(Refusal::OtherCardKey {
            list: h.card_key,
            device: anchors.card_key,
        });
    }
    check_times(h.issued_at, h.expires_at, anchors.clock_skew, now)?;
    let floor = ratchet.floor(anchors);
    let same = held.is_some_and(|x| x.version == h.version && x.list_hash == h.list_hash);
    if h.version <= floor {
        if same && h.version == floor {
            return Ok(Verdict::Unchanged);
        }
        return Err(Refusal::Rollback {
            offered: h.version,
            floor,
        });
    }
    if let (Kind::Delta, Some((base, base_hash))) = (h.kind, h.base) {
        if held.is_none_or(|x| x.version != base || x.list_hash != base_hash) {
            return Err(Refusal::WrongBase {
                base,
                held: held.map(|x| x.version),
            });
        }
    }
    Ok(Verdict::Take { signers })
}

/// Whether the list a device holds is still in force under its current anchors (keys may have
/// been revoked since it was taken) and at `now`. Errors say why not.
pub fn still_in_force(s: &SignedHeader, anchors: &Anchors, now: i64) -> Result<(), Refusal> {
    check_signatures(s, anchors)?;
    check_times(
        s.header.issued_at,
        s.header.expires_at,
        anchors.clock_skew,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tests::header;
    use crate::keys::SigningKey;

    fn key(n: u8) -> SigningKey {
        SigningKey::from_seed([n; 32]).unwrap()
    }

    fn anchors() -> Anchors {
        Anchors {
            keys: vec![key(1).public(), key(2).public()],
            revoked: vec![],
            scopes: vec!["heili".into(), "LEMI".into()],
            card_key: KeyId([1; 8]),
            clock_skew: 300,
        }
    }

    fn signed(version: u64, keys: &[&SigningKey]) -> SignedHeader {
        let mut h = header(Kind::Full);
        h.version = version;
        h.signers = keys.iter().map(|k| k.public().id()).collect();
        SignedHeader::parse(&h.sign(keys)).unwrap()
    }

    const NOW: i64 = 1_790_000_100;

    #[test]
    fn a_new_list_by_a_pinned_key_is_taken() {
        let s = signed(7, &[&key(1)]);
        let v = check(&s, &anchors(), &Ratchet::default(), None, NOW).unwrap();
        assert_eq!(
            v,
            Verdict::Take {
                signers: vec![key(1).public().id()]
            }
        );
    }

    #[test]
    fn unknown_revoked_and_altered_signatures_are_refused() {
        let a = anchors();
        let r = Ratchet::default();
        assert!(matches!(
            check(&signed(7, &[&key(3)]), &a, &r, None, NOW),
            Err(Refusal::UnknownKey { .. })
        ));
        let mut revoked = a.clone();
        revoked.revoked.push(key(1).public().id());
        assert!(matches!(
            check(&signed(7, &[&key(1)]), &revoked, &r, None, NOW),
            Err(Refusal::RevokedKey(_))
        ));
        // During a rotation both sign; the revoked one is ignored, the new one carries it.
        assert!(check(&signed(7, &[&key(1), &key(2)]), &revoked, &r, None, NOW).is_ok());
        let mut s = signed(7, &[&key(1)]);
        s.signatures[0].1[5] ^= 1;
        assert_eq!(
            check(&s, &a, &r, None, NOW),
            Err(Refusal::BadSignature(key(1).public().id()))
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_prefix_is_refused() {
        let mut h = header(Kind::Full);
        h.signers = vec![key(1).public().id()];
        let file = h.sign(&[&key(1)]);
        for i in 0..file.len() {
            for bit in [0x01, 0x80] {
                let mut f = file.clone();
                f[i] ^= bit;
                let verdict = SignedHeader::parse(&f)
                    .map_err(Refusal::from)
                    .and_then(|s| check(&s, &anchors(), &Ratchet::default(), None, NOW));
                assert!(verdict.is_err(), "byte {i} bit {bit:#x} passed");
            }
        }
    }

    #[test]
    fn rollback_replay_and_equivocation_are_refused() {
        let a = anchors();
        let mut r = Ratchet::default();
        r.raise(&[key(1).public().id()], 7);
        let held = Held {
            version: 7,
            list_hash: [2; 32],
        };
        assert!(matches!(
            check(&signed(6, &[&key(1)]), &a, &r, Some(held), NOW),
            Err(Refusal::Rollback {
                offered: 6,
                floor: 7
            })
        ));
        assert_eq!(
            check(&signed(7, &[&key(1)]), &a, &r, Some(held), NOW),
            Ok(Verdict::Unchanged)
        );
        let other = Held {
            version: 7,
            list_hash: [5; 32],
        };
        assert!(matches!(
            check(&signed(7, &[&key(1)]), &a, &r, Some(other), NOW),
            Err(Refusal::Rollback { .. })
        ));
        // An old list by the other key is a rollback too: the floor spans all live keys.
        assert!(check(&signed(5, &[&key(2)]), &a, &r, Some(held), NOW).is_err());
        assert!(check(&signed(8, &[&key(2)]), &a, &r, Some(held), NOW).is_ok());
    }

    #[test]
    fn a_leaked_key_fast_forward_is_undone_by_revoking_it() {
        let mut a = anchors();
        let mut r = Ratchet::default();
        r.raise(&[key(1).public().id(), key(2).public().id()], 100);
        r.raise(&[key(1).public().id()], 1_000_000_000);
        assert!(check(&signed(101, &[&key(2)]), &a, &r, None, NOW).is_err());
        a.revoked.push(key(1).public().id());
        assert_eq!(r.floor(&a), 100);
        assert!(check(&signed(101, &[&key(2)]), &a, &r, None, NOW).is_ok());
        assert!(check(&signed(100, &[&key(2)]), &a, &r, None, NOW).is_err());
        assert_eq!(Ratchet::decode(&r.encode()).unwrap(), r);
        assert!(Ratchet::decode(&[0; 15]).is_err());
    }

    #[test]
    fn expiry_clock_scope_and_card_key_are_checked() {
        let a = anchors();
        let r = Ratchet::default();
        let s = signed(7, &[&key(1)]);
        assert!(matches!(
            check(&s, &a, &r, None, s.header.expires_at),
            Err(Refusal::Expired { .. })
        ));
        assert!(check(&s, &a, &r, None, s.header.expires_at - 1).is_ok());
        assert!(matches!(
            check(&s, &a, &r, None, s.header.issued_at - 301),
            Err(Refusal::ClockBehind { behind: 301, .. })
        ));
        assert!(check(&s, &a, &r, None, s.header.issued_at - 300).is_ok());
        let mut elsewhere = a.clone();
        elsewhere.scopes = vec!["vaski".into()];
        assert!(matches!(
            check(&s, &elsewhere, &r, None, NOW),
            Err(Refusal::OtherScope { .. })
        ));
        let mut other_key = a.clone();
        other_key.card_key = KeyId([9; 8]);
        assert!(matches!(
            check(&s, &other_key, &r, None, NOW),
            Err(Refusal::OtherCardKey { .. })
        ));
        assert!(still_in_force(&s, &a, NOW).is_ok());
        let mut revoked = a.clone();
        revoked.revoked.push(key(1).public().id());
        assert!(still_in_force(&s, &revoked, NOW).is_err());
    }

    #[test]
    fn a_delta_needs_its_base() {
        let mut h = header(Kind::Delta);
        h.signers = vec![key(1).public().id()];
        let s = SignedHeader::parse(&h.sign(&[&key(1)])).unwrap();
        let (base, base_hash) = h.base.unwrap();
        let held = Held {
            version: base,
            list_hash: base_hash,
        };
        assert!(check(&s, &anchors(), &Ratchet::default(), Some(held), NOW).is_ok());
        let wrong = Held {
            version: base,
            list_hash: [0; 32],
        };
        assert!(matches!(
            check(&s, &anchors(), &Ratchet::default(), Some(wrong), NOW),
            Err(Refusal::WrongBase { .. })
        ));
        assert!(check(&s, &anchors(), &Ratchet::default(), None, NOW).is_err());
    }
}
