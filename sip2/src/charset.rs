//! The character sets library systems use on the wire: UTF-8, ISO-8859-1 and CP850.
//!
//! Text a set lacks a character for is transliterated here, in one table ([`transliteration`]):
//! `€` becomes `EUR`, typographic quotes and dashes their ASCII forms, `Š` an `S`. Identifiers and
//! secrets are never transliterated (an altered card number names someone else); the writer
//! refuses those instead.
//!
//! Every byte below 0x80 is ASCII in all three, and no UTF-8 multi-byte sequence contains such a
//! byte, so the frame structure (identifiers, fixed fields, field codes, delimiter) is read on bytes
//! and only field values go through the character set.

use std::borrow::Cow;
use std::fmt;

/// A wire character set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Charset {
    /// UTF-8 (Koha, Evergreen, FOLIO when configured so).
    #[default]
    Utf8,
    /// ISO-8859-1 (Latin-1). The C1 control range 0x80-0x9F is refused: it is not text.
    Latin1,
    /// IBM code page 850 (DOS Latin-1), the default of many library systems and self-check units.
    Cp850,
}

impl Charset {
    /// The name used in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Latin1 => "iso-8859-1",
            Self::Cp850 => "cp850",
        }
    }

    /// Parses a configuration name, accepting the usual aliases (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(Self::Utf8),
            "iso-8859-1" | "iso8859-1" | "latin1" | "latin-1" | "l1" => Some(Self::Latin1),
            "cp850" | "ibm850" | "ibm-850" | "850" | "dos-850" => Some(Self::Cp850),
            _ => None,
        }
    }

    /// Decodes a field value, or gives the offset of the first byte that is not text in this set.
    #[cfg(test)]
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<String, usize> {
        self.decode_borrowed(bytes).map(Cow::into_owned)
    }

    /// Decodes a field value, borrowing it when its bytes are already the text (ASCII in any set,
    /// any valid UTF-8 in UTF-8), or gives the offset of the first byte that is not text in this
    /// set. Only ISO-8859-1 and CP850 values with bytes above 0x7F are copied.
    pub(crate) fn decode_borrowed(self, bytes: &[u8]) -> Result<Cow<'_, str>, usize> {
        match self {
            Self::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => Ok(Cow::Borrowed(text)),
                Err(e) => Err(e.valid_up_to()),
            },
            _ if bytes.is_ascii() => match std::str::from_utf8(bytes) {
                // ASCII is the same in every supported set, and always valid UTF-8.
                Ok(text) => Ok(Cow::Borrowed(text)),
                Err(e) => Err(e.valid_up_to()),
            },
            Self::Latin1 => {
                let mut out = String::with_capacity(bytes.len() + 8);
                for (i, &b) in bytes.iter().enumerate() {
                    if (0x80..0xA0).contains(&b) {
                        return Err(i);
                    }
                    out.push(char::from(b));
                }
                Ok(Cow::Owned(out))
            }
            Self::Cp850 => Ok(Cow::Owned(
                bytes
                    .iter()
                    .map(|&b| {
                        if b < 0x80 {
                            char::from(b)
                        } else {
                            CP850_HIGH[usize::from(b - 0x80)]
                        }
                    })
                    .collect(),
            )),
        }
    }

    /// Appends `text` in this set, or gives the first character it cannot represent.
    pub(crate) fn encode_into(self, text: &str, out: &mut Vec<u8>) -> Result<(), char> {
        if text.is_ascii() {
            out.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        match self {
            Self::Utf8 => out.extend_from_slice(text.as_bytes()),
            Self::Latin1 => {
                for ch in text.chars() {
                    match u8::try_from(u32::from(ch)) {
                        Ok(b) if !(0x80..0xA0).contains(&b) => out.push(b),
                        _ => return Err(ch),
                    }
                }
            }
            Self::Cp850 => {
                for ch in text.chars() {
                    if ch.is_ascii() {
                        out.push(ch as u8);
                    } else {
                        match CP850_HIGH.iter().position(|&c| c == ch) {
                            // position < 128, so the sum fits a byte.
                            Some(i) => out.push(0x80 | (i as u8)),
                            None => return Err(ch),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Charset {
    /// Appends `text` in this set, writing a character the set lacks as its [`transliteration`],
    /// or `?` when there is none (visible, where dropping it would change the text unseen).
    /// Never fails: every transliteration is ASCII.
    pub(crate) fn encode_transliterated(self, text: &str, out: &mut Vec<u8>) {
        let start = out.len();
        if self.encode_into(text, out).is_ok() {
            return;
        }
        // encode_into stops at the first character it lacks, having written those before it.
        out.truncate(start);
        let mut one = [0u8; 4];
        for ch in text.chars() {
            let mark = out.len();
            if self.encode_into(ch.encode_utf8(&mut one), out).is_err() {
                out.truncate(mark);
                out.extend_from_slice(transliteration(ch).unwrap_or("?").as_bytes());
            }
        }
    }

    /// Whether every character of `text` can be written in this set as it is.
    pub fn can_write(self, text: &str) -> bool {
        self.encode_into(text, &mut Vec::new()).is_ok()
    }
}

/// The ASCII stand-in for a character that ISO-8859-1 or CP850 lacks: the euro sign, the
/// common typographic characters (quotes, dashes, ellipsis, bullets, special spaces) and the
/// letters of Latin Extended-A that Nordic and European names use (Finnish writes š and ž).
/// `None` for a character without one.
pub fn transliteration(ch: char) -> Option<&'static str> {
    Some(match ch {
        '€' => "EUR",
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => "\"",
        '\u{2039}' => "<",
        '\u{203A}' => ">",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{2022}' | '\u{2023}' | '\u{2043}' => "*",
        '\u{2002}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => " ",
        '\u{2122}' => "(TM)",
        '\u{2116}' => "No",
        'Œ' => "OE",
        'œ' => "oe",
        'ƒ' => "f",
        'Ÿ' => "Y",
        'ı' => "i",
        'İ' => "I",
        'Ā' | 'Ă' | 'Ą' => "A",
        'ā' | 'ă' | 'ą' => "a",
        'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ď' | 'Đ' => "D",
        'ď' | 'đ' => "d",
        'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ĥ' | 'Ħ' => "H",
        'ĥ' | 'ħ' => "h",
        'Ĩ' | 'Ī' | 'Ĭ' | 'Į' => "I",
        'ĩ' | 'ī' | 'ĭ' | 'į' => "i",
        'Ĵ' => "J",
        'ĵ' => "j",
        'Ķ' => "K",
        'ķ' => "k",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'Ń' | 'Ņ' | 'Ň' => "N",
        'ń' | 'ņ' | 'ň' => "n",
        'Ō' | 'Ŏ' | 'Ő' => "O",
        'ō' | 'ŏ' | 'ő' => "o",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' | 'Ș' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'Ţ' | 'Ť' | 'Ŧ' | 'Ț' => "T",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ŵ' => "W",
        'ŵ' => "w",
        'Ŷ' => "Y",
        'ŷ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes 0x80-0xFF of IBM code page 850: the one table, which the receipt printer's PC850 uses
/// too.
const CP850_HIGH: [char; 128] = codepages::CP850;

#[cfg(test)]
mod tests {
    use super::*;

    const NORDIC: &str = "äöåÄÖÅ Lappeenranta Luumäki Ruokolahti Åbo";

    #[test]
    fn finnish_and_swedish_letters_round_trip_in_every_charset() {
        for cs in [Charset::Utf8, Charset::Latin1, Charset::Cp850] {
            let mut out = Vec::new();
            cs.encode_into(NORDIC, &mut out)
                .map_err(|c| format!("{cs}: {c}"))
                .unwrap();
            assert_eq!(cs.decode(&out).unwrap(), NORDIC, "{cs}");
        }
    }

    #[test]
    fn cp850_bytes_of_nordic_letters_are_the_code_page_ones() {
        let mut out = Vec::new();
        Charset::Cp850.encode_into("äöåÄÖÅ", &mut out).unwrap();
        assert_eq!(out, [0x84, 0x94, 0x86, 0x8E, 0x99, 0x8F]);
    }

    #[test]
    fn latin1_bytes_of_nordic_letters_are_the_iso_ones() {
        let mut out = Vec::new();
        Charset::Latin1.encode_into("äöåÄÖÅ", &mut out).unwrap();
        assert_eq!(out, [0xE4, 0xF6, 0xE5, 0xC4, 0xD6, 0xC5]);
    }

    #[test]
    fn every_cp850_byte_decodes_and_encodes_back() {
        let all: Vec<u8> = (0x20..=0xFF).filter(|&b| b != 0x7F).collect();
        let text = Charset::Cp850.decode(&all).unwrap();
        let mut back = Vec::new();
        Charset::Cp850.encode_into(&text, &mut back).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn invalid_utf8_is_an_error_with_its_offset() {
        assert_eq!(Charset::Utf8.decode(b"ab\xE4cd"), Err(2));
        // Latin-1 bytes read as UTF-8 must not be silently mangled.
        assert_eq!(Charset::Utf8.decode("Mäki".as_bytes()).unwrap(), "Mäki");
        assert!(Charset::Utf8.decode(b"M\xE4ki").is_err());
    }

    #[test]
    fn latin1_refuses_c1_controls() {
        assert_eq!(Charset::Latin1.decode(b"a\x85b"), Err(1));
    }

    #[test]
    fn unrepresentable_characters_are_reported() {
        let mut out = Vec::new();
        assert_eq!(Charset::Latin1.encode_into("a€", &mut out), Err('€'));
        assert_eq!(Charset::Cp850.encode_into("a€", &mut out), Err('€'));
        assert_eq!(Charset::Cp850.encode_into("Š", &mut out), Err('Š'));
    }

    #[test]
    fn characters_a_charset_lacks_are_transliterated_never_dropped() {
        let text =
            "Maksu 2,50 € \u{2013} \u{201C}Šibeniku\u{201D} \u{2018}ok\u{2019}\u{2026} Žižek";
        for cs in [Charset::Latin1, Charset::Cp850] {
            let mut out = Vec::new();
            cs.encode_transliterated(text, &mut out);
            assert_eq!(
                cs.decode(&out).unwrap(),
                "Maksu 2,50 EUR - \"Sibeniku\" 'ok'... Zizek",
                "{cs}"
            );
        }
        // UTF-8 writes everything as it is; letters the set has are kept, not transliterated.
        let mut out = Vec::new();
        Charset::Utf8.encode_transliterated(text, &mut out);
        assert_eq!(out, text.as_bytes());
        let mut out = Vec::new();
        Charset::Cp850.encode_transliterated("Äänekoski ½", &mut out);
        assert_eq!(Charset::Cp850.decode(&out).unwrap(), "Äänekoski ½");
        // A character without a stand-in shows as '?', so the gap stays visible.
        let mut out = Vec::new();
        Charset::Latin1.encode_transliterated("a\u{4E2D}b", &mut out);
        assert_eq!(out, b"a?b");
    }

    #[test]
    fn every_transliteration_is_ascii_and_written_by_every_charset() {
        let every: String = ('\u{A0}'..='\u{2200}')
            .filter(|c| transliteration(*c).is_some())
            .collect();
        assert!(every.chars().count() > 100);
        for ch in every.chars() {
            let t = transliteration(ch).unwrap();
            assert!(t.is_ascii() && !t.is_empty(), "{ch:?}");
        }
        assert!(!Charset::Latin1.can_write("€") && Charset::Utf8.can_write("€"));
    }

    #[test]
    fn names_and_aliases_parse() {
        assert_eq!(Charset::from_name("UTF8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_name("latin1"), Some(Charset::Latin1));
        assert_eq!(Charset::from_name("IBM850"), Some(Charset::Cp850));
        assert_eq!(Charset::from_name("ebcdic"), None);
        for cs in [Charset::Utf8, Charset::Latin1, Charset::Cp850] {
            assert_eq!(Charset::from_name(cs.name()), Some(cs));
        }
    }
}
