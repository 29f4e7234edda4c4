//! Card numbers as the list knows them: normalised, then hashed with a key only devices and the
//! publisher hold, so that the list alone names no card.

use hmac::{Hmac, Mac};
use redact::CardNumber;
use sha2::Sha256;

use crate::keys::KeyId;

/// The keyed hash of a normalised card number: the entry's key in the list.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CardHash(pub [u8; 32]);

impl std::fmt::Debug for CardHash {
    // A card hash is a pseudonym, but an offline-guessable one for whoever holds the key: print a
    // prefix only, enough to follow one entry through a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardHash({}…)", crate::hex(&self.0[..4]))
    }
}

impl CardHash {
    /// Reads 64 hex digits (as a command from the console carries a card).
    pub fn from_hex(text: &str) -> Option<Self> {
        Some(Self(crate::unhex(text)?.try_into().ok()?))
    }

    /// Compares in constant time (no early exit on the first differing byte).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        other.len() == 32
            && self
                .0
                .iter()
                .zip(other)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The card-hashing key (32 bytes), kept in the device's secret file and by the publisher.
#[derive(Clone)]
pub struct CardKey([u8; 32]);

impl std::fmt::Debug for CardKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardKey(id {})", self.id())
    }
}

impl CardKey {
    /// Wraps key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Reads the key's text form: 64 hex digits (whitespace around ignored).
    pub fn from_text(text: &str) -> Option<Self> {
        let b = crate::unhex(text)?;
        Some(Self(b.try_into().ok()?))
    }

    /// The key's text form, for its secret file.
    pub fn to_text(&self) -> String {
        crate::hex(&self.0)
    }

    /// The id the list header names, so a device can tell a list made with another key.
    pub fn id(&self) -> KeyId {
        let mut mac = self.mac();
        mac.update(b"omatoimi card-key id");
        let out = mac.finalize().into_bytes();
        let mut id = [0u8; 8];
        id.copy_from_slice(&out[..8]);
        KeyId(id)
    }

    /// The keyed hash of a card number, after [`normalise`].
    pub fn hash(&self, card: &CardNumber) -> CardHash {
        let mut mac = self.mac();
        mac.update(normalise(card.expose()).as_bytes());
        CardHash(mac.finalize().into_bytes().into())
    }

    /// A key for one purpose, derived from this one: HMAC of `"omatoimi derive\0"` and the
    /// purpose. A card number never holds a NUL, so no card's hash equals a derived key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(b"omatoimi derive\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The card key of one branch or device (`name`), derived from this one (the consortium's,
    /// which only the publisher holds): its lists and its devices' pseudonyms are keyed with it,
    /// so one stolen door's key reverses no other branch's card hashes.
    pub fn for_scope(&self, name: &str) -> CardKey {
        CardKey(self.derive(&format!("card key for scope {name}")))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC pads a key shorter than its 64-byte block with zeros, so this is HMAC(key) with
        // no fallible keying step.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        <Hmac<Sha256> as Mac>::new(&block.into())
    }
}

/// The one form of a card number that is hashed: surrounding and inner spaces and hyphens dropped,
/// ASCII letters upper-cased. Scanners add newlines and readers add spaces; exports write cards
/// as the register holds them.
pub fn normalise(card: &str) -> String {
    card.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_card_written_differently_hashes_the_same() {
        let k = CardKey::new([7; 32]);
        let a = k.hash(&CardNumber::new("2345 6789-01x\n"));
        let b = k.hash(&CardNumber::new("2345678901X"));
        assert_eq!(a, b);
        assert_ne!(a, k.hash(&CardNumber::new("2345678902X")));
        assert_ne!(
            a,
            CardKey::new([8; 32]).hash(&CardNumber::new("2345678901X"))
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_from_every_card_hash() {
        let k = CardKey::new([3; 32]);
        let a = k.derive("learned PIN verifiers");
        assert_ne!(a, k.derive("branch LEMI"));
        assert_eq!(a, k.derive("learned PIN verifiers"));
        assert_ne!(a, CardKey::new([4; 32]).derive("learned PIN verifiers"));
        assert_ne!(
            a,
            k.hash(&CardNumber::new("omatoimi derivelearned PIN verifiers"))
                .0
        );
    }

    #[test]
    fn key_text_round_trips_and_ids_differ() {
        let k = CardKey::new([1; 32]);
        let t = k.to_text();
        assert_eq!(
            CardKey::from_text(&format!(" {t}\n")).map(|k| k.id()),
            Some(k.id())
        );
        assert!(CardKey::from_text("abc").is_none());
        assert_ne!(k.id(), CardKey::new([2; 32]).id());
    }

    #[test]
    fn debug_prints_neither_key_nor_whole_hash() {
        let k = CardKey::new([0xab; 32]);
        assert!(!format!("{k:?}").contains("abababab"));
        let h = k.hash(&CardNumber::new("123"));
        assert!(format!("{h:?}").len() < 24);
        assert!(h.ct_eq(&h.0) && !h.ct_eq(&[0; 32]) && !h.ct_eq(&h.0[..31]));
    }
}
