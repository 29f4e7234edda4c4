//! What an OSDP reader sends, made into what the door reads (pure): card data into the card
//! number the library registered, keypad bytes into keys, and the door's words into the
//! printable ASCII a reader's TEXT command takes. Errors say what was wrong, never what was read.

use access::pin::Key;
use access::wiegand::{self, NumberFormat};
use osdp_cp::CardData;
use redact::CardNumber;

use crate::card::{UidFormat, card_from_scan};

/// How a reader's card data becomes a card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardFormat {
    /// 26-, 34- and 37-bit Wiegand data (parity checked): the payload, the card field, or both
    /// fields.
    pub wiegand: NumberFormat,
    /// Data in whole bytes (a card's UID): hex or decimal, either byte order.
    pub uid: UidFormat,
}

/// The card number of `data`.
pub fn card_number(data: &CardData, format: CardFormat) -> Result<CardNumber, String> {
    match data {
        CardData::Chars(c) => match std::str::from_utf8(c) {
            Ok(text) => card_from_scan(text),
            Err(_) => Err(format!(
                "{} characters of card data that are not text",
                c.len()
            )),
        },
        CardData::Bits { count, bytes, .. } => match *count {
            count @ (26 | 34 | 37) => {
                // First-received bit highest, padded with zeros at the end of the last byte.
                let value = bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
                let bits = value >> (bytes.len() * 8 - usize::from(count));
                let frame = wiegand::decode(bits, u8::try_from(count).unwrap_or(0))
                    .map_err(|e| e.to_string())?;
                Ok(CardNumber::new(frame.number(format.wiegand)))
            }
            count if count % 8 == 0 => format
                .uid
                .number(bytes)
                .map(CardNumber::new)
                .ok_or_else(|| format!("{} bytes of card data (1 to 16 expected)", bytes.len())),
            count => Err(format!(
                "{count} bits of card data: neither a 26-, 34- or 37-bit Wiegand frame nor whole bytes"
            )),
        },
    }
}

/// The keys of a KEYPAD reply: digits, `*` or DEL to clear, `#` or CR to submit; others dropped.
pub fn keys(bytes: &[u8]) -> Vec<Key> {
    bytes
        .iter()
        .filter_map(|b| match b {
            b'0'..=b'9' => Some(Key::Digit(b - b'0')),
            b'*' | 0x7F => Some(Key::Clear),
            b'#' | 0x0D => Some(Key::Submit),
            _ => None,
        })
        .collect()
}

/// Text as a reader shows it: printable ASCII, the Nordic letters without their marks, at most
/// `width` characters.
pub fn ascii(text: &str, width: usize) -> String {
    text.chars()
        .map(|c| match c {
            'ä' | 'å' | 'á' | 'à' | 'â' => 'a',
            'Ä' | 'Å' | 'Á' | 'À' | 'Â' => 'A',
            'ö' | 'ø' | 'ó' | 'ô' => 'o',
            'Ö' | 'Ø' | 'Ó' | 'Ô' => 'O',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'É' | 'È' => 'E',
            'ü' | 'ú' => 'u',
            'Ü' | 'Ú' => 'U',
            '…' => '.',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .take(width)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(payload: u64, count: u8) -> CardData {
        let frame = wiegand::encode(payload, count).unwrap();
        let n = usize::from(count).div_ceil(8);
        let padded = frame << (n * 8 - usize::from(count));
        let bytes = padded.to_be_bytes()[8 - n..].to_vec();
        CardData::Bits {
            format: 1,
            count: u16::from(count),
            bytes,
        }
    }

    #[test]
    fn wiegand_26_bits_become_facility_and_card() {
        let data = bits((1 << 16) | 12345, 26);
        let fmt = |w| CardFormat {
            wiegand: w,
            uid: UidFormat::Hex,
        };
        assert_eq!(
            card_number(&data, fmt(NumberFormat::FacilityCard))
                .unwrap()
                .expose(),
            "112345"
        );
        assert_eq!(
            card_number(&data, fmt(NumberFormat::Payload))
                .unwrap()
                .expose(),
            "77881"
        );
        let data = bits(0x1F_FFFF_FFFF >> 2, 37);
        assert!(card_number(&data, fmt(NumberFormat::Payload)).is_ok());
        let data = bits(0xDEAD_BEEF, 34);
        assert_eq!(
            card_number(&data, fmt(NumberFormat::CardField))
                .unwrap()
                .expose(),
            "48879"
        );
        // A flipped bit is a parity error, said without the data.
        let CardData::Bits { mut bytes, .. } = bits((1 << 16) | 12345, 26) else {
            unreachable!()
        };
        bytes[1] ^= 0x10;
        let bad = CardData::Bits {
            format: 1,
            count: 26,
            bytes,
        };
        let e = card_number(&bad, fmt(NumberFormat::Payload)).unwrap_err();
        assert!(e.contains("parity") && !e.contains("12345"), "{e}");
    }

    #[test]
    fn whole_bytes_are_a_uid_and_other_lengths_are_refused() {
        let uid = CardData::Bits {
            format: 0,
            count: 32,
            bytes: vec![0x04, 0xA2, 0x3B, 0x1C],
        };
        let f = CardFormat {
            wiegand: NumberFormat::Payload,
            uid: UidFormat::DecimalReversed,
        };
        assert_eq!(card_number(&uid, f).unwrap().expose(), "473670148");
        let odd = CardData::Bits {
            format: 0,
            count: 13,
            bytes: vec![0xff, 0xf8],
        };
        assert!(card_number(&odd, f).unwrap_err().contains("13 bits"));
        let chars = CardData::Chars(b"24680000000011".to_vec());
        assert_eq!(card_number(&chars, f).unwrap().expose(), "24680000000011");
        assert!(card_number(&CardData::Chars(vec![0xff, 0xfe]), f).is_err());
    }

    #[test]
    fn keypad_bytes_are_keys_and_text_is_ascii() {
        assert_eq!(
            keys(b"12*\x7f#\r9x"),
            vec![
                Key::Digit(1),
                Key::Digit(2),
                Key::Clear,
                Key::Clear,
                Key::Submit,
                Key::Submit,
                Key::Digit(9)
            ]
        );
        assert_eq!(
            ascii("Näppäile PIN-koodi ja #", 32),
            "Nappaile PIN-koodi ja #"
        );
        assert_eq!(ascii("Välkommen! Dörren är öppen.", 12), "Valkommen! D");
        assert_eq!(ascii("€ ✓", 8), "? ?");
    }
}
