//! Ed25519 keys: the publisher signs with a [`SigningKey`], devices pin [`PublicKey`]s by their
//! text form `ed25519:<64 hex digits>` and name them by [`KeyId`].

use ring::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use sha2::{Digest, Sha256};

/// The first 8 bytes of SHA-256 of a key: how headers, configs and logs name a key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::hex(&self.0))
    }
}

impl std::fmt::Debug for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl KeyId {
    /// Reads 16 hex digits.
    pub fn from_text(text: &str) -> Option<Self> {
        Some(Self(crate::unhex(text)?.try_into().ok()?))
    }
}

/// A public key pinned in a device's configuration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.id())
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ed25519:{}", crate::hex(&self.0))
    }
}

impl PublicKey {
    /// Reads `ed25519:<64 hex digits>`.
    pub fn from_text(text: &str) -> Option<Self> {
        let hex = text.trim().strip_prefix("ed25519:")?;
        Some(Self(crate::unhex(hex)?.try_into().ok()?))
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        let d = Sha256::digest(self.0);
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        KeyId(id)
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], sig: &[u8; 64]) -> bool {
        UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, sig)
            .is_ok()
    }
}

/// The publisher's private key: a 32-byte Ed25519 seed.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    seed: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public().id())
    }
}

impl SigningKey {
    /// A key from its seed (32 random bytes from the caller).
    pub fn from_seed(seed: [u8; 32]) -> Option<Self> {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).ok()?;
        Some(Self { pair, seed })
    }

    /// Reads the key file's text: `ed25519-seed:<64 hex digits>`.
    pub fn from_text(text: &str) -> Option<Self> {
        let hex = text.trim().strip_prefix("ed25519-seed:")?;
        Self::from_seed(crate::unhex(hex)?.try_into().ok()?)
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("ed25519-seed:{}\n", crate::hex(&self.seed))
    }

    /// The public half, to pin on devices.
    pub fn public(&self) -> PublicKey {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey(k)
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut s = [0u8; 64];
        s.copy_from_slice(self.pair.sign(message).as_ref());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_and_message() {
        let k = SigningKey::from_seed([3; 32]).unwrap();
        let other = SigningKey::from_seed([4; 32]).unwrap();
        let sig = k.sign(b"list");
        assert!(k.public().verifies(b"list", &sig));
        assert!(!k.public().verifies(b"lisT", &sig));
        assert!(!other.public().verifies(b"list", &sig));
    }

    #[test]
    fn texts_round_trip() {
        let k = SigningKey::from_seed([5; 32]).unwrap();
        let again = SigningKey::from_text(&k.to_text()).unwrap();
        assert_eq!(again.public(), k.public());
        let p = PublicKey::from_text(&k.public().to_string()).unwrap();
        assert_eq!(p.id(), k.public().id());
        assert_eq!(KeyId::from_text(&p.id().to_string()), Some(p.id()));
        assert!(PublicKey::from_text("ed25519:00").is_none());
        assert!(PublicKey::from_text("rsa:00").is_none());
        assert!(!format!("{k:?}").contains(&crate::hex(&[5; 32])));
    }
}
