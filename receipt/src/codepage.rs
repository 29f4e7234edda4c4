//! The printer's character tables. ESC/POS printers speak one 8-bit code page at a time,
//! chosen with `ESC t n`; the lower half is ASCII in all of them.

/// A code page the receipt can be printed in. All have å, ä, ö, Å, Ä, Ö and é.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CodePage {
    /// PC437 (USA, standard Europe), `ESC t 0`: every printer has it.
    Pc437,
    /// PC850 (Multilingual), `ESC t 2`.
    #[default]
    Pc850,
    /// PC858 (PC850 with the euro sign), `ESC t 19`.
    Pc858,
    /// PC865 (Nordic), `ESC t 5`.
    Pc865,
}

impl CodePage {
    /// Every page, for configuration and tests.
    pub const ALL: [CodePage; 4] = [Self::Pc437, Self::Pc850, Self::Pc858, Self::Pc865];

    /// The `n` of `ESC t n` (Epson numbering, followed by most ESC/POS printers).
    pub fn escpos_number(self) -> u8 {
        match self {
            Self::Pc437 => 0,
            Self::Pc850 => 2,
            Self::Pc858 => 19,
            Self::Pc865 => 5,
        }
    }

    /// The page `ESC t n` selects, when it is one of ours.
    pub fn from_escpos_number(n: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.escpos_number() == n)
    }

    /// The configuration name: `pc437`, `pc850`, `pc858`, `pc865`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pc437 => "pc437",
            Self::Pc850 => "pc850",
            Self::Pc858 => "pc858",
            Self::Pc865 => "pc865",
        }
    }

    /// Parses a configuration name (case-insensitive; `cp850` is accepted for `pc850`).
    pub fn parse(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase().replace("cp", "pc");
        Self::ALL.into_iter().find(|p| p.name() == n)
    }

    fn upper(self) -> &'static [char; 128] {
        match self {
            Self::Pc437 => &codepages::CP437,
            Self::Pc850 => &codepages::CP850,
            Self::Pc858 => &codepages::CP858,
            Self::Pc865 => &codepages::CP865,
        }
    }

    /// The byte for `c`, when the page has it. Control characters have none: text never
    /// smuggles a command to the printer.
    pub fn byte(self, c: char) -> Option<u8> {
        if c == ' ' || c.is_ascii_graphic() {
            return u8::try_from(c).ok();
        }
        let i = self.upper().iter().position(|&u| u == c)?;
        u8::try_from(0x80 + i).ok()
    }

    /// The character a byte prints as: ASCII below 0x80, the page's table above; `None` for
    /// control bytes.
    pub fn char(self, b: u8) -> Option<char> {
        match b {
            0x20..=0x7E => Some(char::from(b)),
            0x80..=0xFF => self.upper().get(usize::from(b - 0x80)).copied(),
            _ => None,
        }
    }

    /// Encodes `text`: characters the page lacks are spelled in ASCII (`€` as `EUR`, `ß` as
    /// `ss`, other letters without their accent) or, as a last resort, `?`. Line breaks and
    /// other control characters become spaces.
    pub fn encode(self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            if let Some(b) = self.byte(c) {
                out.push(b);
                continue;
            }
            match fallback(c) {
                Some(s) => out.extend(s.bytes().map(|b| if b.is_ascii() { b } else { b'?' })),
                None if c.is_control() || c.is_whitespace() => out.push(b' '),
                None => out.push(b'?'),
            }
        }
        out
    }

    /// Decodes printer bytes (no control bytes expected) into text.
    pub fn decode(self, bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|&b| self.char(b).unwrap_or('\u{FFFD}'))
            .collect()
    }
}

/// An ASCII spelling for characters missing from a page.
fn fallback(c: char) -> Option<&'static str> {
    Some(match c {
        '€' => "EUR",
        'ß' => "ss",
        '–' | '—' | '‐' => "-",
        '‘' | '’' | '‚' => "'",
        '“' | '”' | '„' => "\"",
        '…' => "...",
        'š' => "s",
        'Š' => "S",
        'ž' => "z",
        'Ž' => "Z",
        'č' | 'ć' => "c",
        'Č' | 'Ć' => "C",
        'ő' | 'ø' => "o",
        'Ő' | 'Ø' => "O",
        'ű' => "u",
        'Ű' => "U",
        'ł' => "l",
        'Ł' => "L",
        'ń' => "n",
        'ś' => "s",
        'ź' | 'ż' => "z",
        'ę' => "e",
        'ą' => "a",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn every_page_has_the_finnish_and_swedish_letters() {
        for page in CodePage::ALL {
            for c in "åäöÅÄÖéü".chars() {
                let b = page.byte(c).unwrap_or_else(|| panic!("{page:?} lacks {c}"));
                assert_eq!(page.char(b), Some(c));
            }
        }
    }

    #[test]
    fn known_bytes_match_the_printers_tables() {
        assert_eq!(CodePage::Pc437.byte('ä'), Some(0x84));
        assert_eq!(CodePage::Pc437.byte('Ö'), Some(0x99));
        assert_eq!(CodePage::Pc850.byte('å'), Some(0x86));
        assert_eq!(CodePage::Pc858.byte('€'), Some(0xD5));
        assert_eq!(CodePage::Pc850.byte('€'), None);
        assert_eq!(CodePage::Pc865.byte('ø'), Some(0x9B));
    }

    #[test]
    fn text_round_trips_through_every_page() {
        let text = "Myöhästymismaksu 0,50 · Åbo Akademis bibliotek: Ärlig Öken";
        for page in CodePage::ALL {
            let back = page.decode(&page.encode(text));
            assert_eq!(back.replace('·', "?"), text.replace('·', "?"), "{page:?}");
        }
    }

    #[test]
    fn missing_characters_are_spelled_in_ascii_and_controls_never_pass() {
        assert_eq!(CodePage::Pc850.encode("5 €"), b"5 EUR");
        assert_eq!(CodePage::Pc858.encode("5 €"), vec![b'5', b' ', 0xD5]);
        assert_eq!(CodePage::Pc437.encode("a\x1b@b\nc"), b"a @b c");
        assert_eq!(CodePage::Pc437.encode("日"), b"?");
    }

    #[test]
    fn names_parse_both_spellings() {
        assert_eq!(CodePage::parse("CP865"), Some(CodePage::Pc865));
        assert_eq!(CodePage::parse("pc858"), Some(CodePage::Pc858));
        assert_eq!(CodePage::parse("utf8"), None);
        for p in CodePage::ALL {
            assert_eq!(CodePage::from_escpos_number(p.escpos_number()), Some(p));
        }
    }
}
