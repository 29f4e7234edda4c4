//! Personal data kept out of logs.
//!
//! Patron data is personal data under the GDPR: the library's privacy notice lets a self-service device
//! use the card number and PIN only to check patronship. This crate is the one path through which such
//! a value may reach a log line, a panic message or a debug print. It does no I/O.
//!
//! - [`Pin`], [`CardNumber`] and [`Personal`] wrap a value so that `Debug` and `Display` never show it;
//!   the value is reached only through an explicit `expose()`.
//! - [`Redactor`] turns a card number into a keyed pseudonym (HMAC-SHA256, truncated): the same card
//!   gives the same pseudonym under one key, so a log can follow one patron's session without naming
//!   the card, and the key can be thrown away to make old logs unlinkable.
//!
//! It is not encryption: a wrapped value is in memory in clear.
#![deny(missing_docs)]

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What a redacted value prints as.
pub const REDACTED: &str = "<redacted>";

/// A patron's PIN (or any password). Never printed; compared in constant time.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    /// Wraps a PIN.
    pub fn new(pin: impl Into<String>) -> Self {
        Self(pin.into())
    }

    /// The PIN itself, for the protocol encoder or a verifier. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether no PIN was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares two PINs without an early exit on the first differing byte.
    pub fn matches(&self, other: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), other.as_bytes())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Pin(<empty>)")
        } else {
            write!(f, "Pin({REDACTED})")
        }
    }
}

/// A library card number (patron identifier). Printed only as a pseudonym through a [`Redactor`].
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardNumber(String);

impl CardNumber {
    /// Wraps a card number.
    pub fn new(card: impl Into<String>) -> Self {
        Self(card.into())
    }

    /// The card number itself, for the protocol encoder or a lookup. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the card number is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({REDACTED})")
    }
}

/// Any other personal datum: a name, a birth date, an address, an e-mail address, a phone number.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Personal<T>(T);

impl<T> Personal<T> {
    /// Wraps a personal datum.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The datum itself. Never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the datum.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personal({REDACTED})")
    }
}

/// Makes keyed pseudonyms of card numbers for log lines.
#[derive(Clone)]
pub struct Redactor {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor { key: <redacted> }")
    }
}

impl Redactor {
    /// A redactor keyed with `key` (any length; 32 random bytes is right).
    pub fn new(key: &[u8]) -> Self {
        // A key of any length is first hashed to a full HMAC block, so keying cannot fail.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&Sha256::digest(key));
        Self {
            mac: <Hmac<Sha256> as Mac>::new(&block.into()),
        }
    }

    /// The pseudonym of a card number: `card:` and 12 hex digits of HMAC-SHA256 over the card number
    /// with surrounding blanks removed and letters upper-cased, so one card scanned two ways gives one
    /// pseudonym.
    pub fn card(&self, card: &CardNumber) -> Pseudonym {
        self.pseudonym("card", card.expose())
    }

    /// The pseudonym of any identifier, under a label of its kind (`card`, `patron`, `device`, …).
    pub fn pseudonym(&self, kind: &'static str, value: &str) -> Pseudonym {
        let mut mac = self.mac.clone();
        mac.update(kind.as_bytes());
        mac.update(b"\0");
        mac.update(value.trim().to_uppercase().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut hex = [0u8; 12];
        for (i, byte) in digest.iter().take(6).enumerate() {
            hex[2 * i] = HEX[usize::from(byte >> 4)];
            hex[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
        }
        Pseudonym { kind, hex }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A keyed pseudonym, safe to log.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pseudonym {
    kind: &'static str,
    hex: [u8; 12],
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)?;
        f.write_str(":")?;
        // Only ASCII hex digits are ever stored.
        f.write_str(std::str::from_utf8(&self.hex).unwrap_or("?"))
    }
}

impl fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_pin_never_shows_it() {
        let pin = Pin::new("4321");
        let shown = format!("{pin:?} {:?}", Some(&pin));
        assert!(!shown.contains("4321"), "{shown}");
        assert!(shown.contains(REDACTED));
    }

    #[test]
    fn debug_of_a_card_number_never_shows_it() {
        let card = CardNumber::new("24680000123456");
        let shown = format!("{card:?} {card:#?}");
        assert!(!shown.contains("24680000123456"));
        assert!(!shown.contains("123456"));
    }

    #[test]
    fn debug_of_personal_data_never_shows_it() {
        let name = Personal::new(String::from("Äijälä, Åsa"));
        let shown = format!("{name:?}");
        assert!(!shown.contains("Äijälä"));
    }

    #[test]
    fn pseudonym_is_stable_under_one_key_and_hides_the_card() {
        let redactor = Redactor::new(b"key one");
        let card = CardNumber::new("24680000123456");
        let a = redactor.card(&card).to_string();
        let b = redactor
            .card(&CardNumber::new(" 24680000123456 "))
            .to_string();
        assert_eq!(a, b);
        assert!(a.starts_with("card:"));
        assert_eq!(a.len(), "card:".len() + 12);
        assert!(!a.contains("123456"));
    }

    #[test]
    fn pseudonym_changes_with_the_key_and_the_card() {
        let card = CardNumber::new("24680000123456");
        let one = Redactor::new(b"key one").card(&card);
        let two = Redactor::new(b"key two").card(&card);
        assert_ne!(one, two);
        let other = Redactor::new(b"key one").card(&CardNumber::new("24680000123457"));
        assert_ne!(one, other);
    }

    #[test]
    fn pins_compare_by_value() {
        let pin = Pin::new("1234");
        assert!(pin.matches("1234"));
        assert!(!pin.matches("1235"));
        assert!(!pin.matches("12345"));
        assert!(!pin.matches(""));
    }
}
