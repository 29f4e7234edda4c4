//! Card readers of any kind (PC/SC, barcode, Wiegand, simulated) and what they report; how a
//! scan becomes a card number is [`crate::scan`]'s.

use std::future::Future;

use redact::CardNumber;

pub use crate::scan::{ScanError, ScanRule};

/// What a card reader saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardEvent {
    /// A card was read.
    Card {
        /// The card number, normalised as the reader's format says.
        number: CardNumber,
        /// Which reader.
        reader: String,
    },
    /// Something was presented but gave no card number (a failed read, a garbage scan).
    Unreadable {
        /// Which reader.
        reader: String,
        /// What went wrong, without the data read.
        why: String,
    },
    /// The card was taken away.
    Removed {
        /// Which reader.
        reader: String,
    },
    /// The reader went away (unplugged, its service stopped).
    ReaderLost {
        /// Which reader.
        reader: String,
        /// Why.
        why: String,
    },
    /// A reader is (back) in service.
    ReaderFound {
        /// Which reader.
        reader: String,
    },
    /// A reader's own tamper switch tripped: its housing opened or taken off the wall (an OSDP
    /// reader says so in its status). Told once as it trips; the reader still reads cards.
    Tampered {
        /// Which reader.
        reader: String,
    },
}

/// A source of card events. `None` means the reader has stopped for good.
pub trait CardReader: Send {
    /// The next event.
    fn next(&mut self) -> impl Future<Output = Option<CardEvent>> + Send;
}

/// How a card's UID becomes the card number the library registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UidFormat {
    /// Upper-case hex, bytes in the order the reader gives them.
    #[default]
    Hex,
    /// Upper-case hex, bytes reversed.
    HexReversed,
    /// The bytes as one big-endian unsigned decimal number.
    Decimal,
    /// The bytes reversed (little-endian) as one decimal number: what keyboard-emulating RFID
    /// readers often type.
    DecimalReversed,
}

impl UidFormat {
    /// Parses the configuration's names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hex" => Some(Self::Hex),
            "hex-reversed" => Some(Self::HexReversed),
            "decimal" => Some(Self::Decimal),
            "decimal-reversed" => Some(Self::DecimalReversed),
            _ => None,
        }
    }

    /// The card number of this UID (at most 16 bytes; longer UIDs do not exist).
    pub fn number(&self, uid: &[u8]) -> Option<String> {
        if uid.is_empty() || uid.len() > 16 {
            return None;
        }
        let reversed: Vec<u8> = uid.iter().rev().copied().collect();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        let dec = |b: &[u8]| {
            b.iter()
                .fold(0u128, |n, x| (n << 8) | u128::from(*x))
                .to_string()
        };
        Some(match self {
            Self::Hex => hex(uid),
            Self::HexReversed => hex(&reversed),
            Self::Decimal => dec(uid),
            Self::DecimalReversed => dec(&reversed),
        })
    }
}

/// Checks a scanned code as a plain card number ([`ScanRule::default`]): 4 to 32 letters,
/// digits and hyphens, after trimming and dropping an AIM identifier. The error says what was
/// wrong, never what was read.
pub fn card_from_scan(text: &str) -> Result<CardNumber, String> {
    ScanRule::default().card(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_formats() {
        let uid = [0x04, 0xA2, 0x3B, 0x1C];
        assert_eq!(UidFormat::Hex.number(&uid).unwrap(), "04A23B1C");
        assert_eq!(UidFormat::HexReversed.number(&uid).unwrap(), "1C3BA204");
        assert_eq!(UidFormat::Decimal.number(&uid).unwrap(), "77740828");
        assert_eq!(
            UidFormat::DecimalReversed.number(&uid).unwrap(),
            "473670148"
        );
        assert_eq!(UidFormat::Hex.number(&[]), None);
        assert_eq!(
            UidFormat::parse("decimal-reversed"),
            Some(UidFormat::DecimalReversed)
        );
    }

    #[test]
    fn scans_are_checked_without_quoting_them() {
        assert_eq!(
            card_from_scan("24680000000011\r\n").unwrap().expose(),
            "24680000000011"
        );
        for bad in [
            "",
            "\r\n",
            "12",
            "2468 0000",
            "\u{1b}[A24680000000011",
            "ÄÖ123456",
        ] {
            let e = card_from_scan(bad).unwrap_err();
            assert!(!e.contains("2468"), "{e}");
        }
        assert!(card_from_scan(&"9".repeat(33)).is_err());
    }
}
