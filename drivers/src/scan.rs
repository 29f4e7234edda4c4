//! What a scan says: a scanned code mapped to a card number by a rule the library configures
//! (pure, shared by the door's readers and the kiosk's scanner). Plain cards are printed
//! barcodes; phone library cards are a barcode or a QR code on a phone's screen, whose payload
//! may be a link (`https://…/card?number=…`), a tagged text (`LIBRARYCARD:…`) or another shape
//! a [`Pattern`] describes; 2D scanners may put an AIM symbology identifier (`]C0` for Code 128,
//! `]Q1` for QR) in front. Every
//! refusal says what was wrong, never what was read: scans are personal data.

use redact::CardNumber;
use serde::Deserialize;

/// Longest scan looked at; longer input is noise (and would make counts in messages long).
pub const MAX_SCAN: usize = 512;

/// Which characters a card number may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Characters {
    /// `0`–`9`.
    Digits,
    /// ASCII letters and digits.
    LettersDigits,
    /// ASCII letters, digits and `-` (the default: what library card numbers are made of).
    #[default]
    LettersDigitsHyphen,
    /// Any character but control characters (the kiosk's items: checked where they are used).
    Printable,
}

impl Characters {
    /// Parses the configuration's names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "digits" => Some(Self::Digits),
            "letters-digits" => Some(Self::LettersDigits),
            "letters-digits-hyphen" => Some(Self::LettersDigitsHyphen),
            _ => None,
        }
    }

    fn allows(self, c: char) -> bool {
        match self {
            Self::Digits => c.is_ascii_digit(),
            Self::LettersDigits => c.is_ascii_alphanumeric(),
            Self::LettersDigitsHyphen => c.is_ascii_alphanumeric() || c == '-',
            Self::Printable => !c.is_control(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Digits => "digits",
            Self::LettersDigits => "letters and digits",
            Self::LettersDigitsHyphen => "letters, digits and '-'",
            Self::Printable => "no control characters",
        }
    }
}

/// How a scan becomes a card number. [`ScanRule::default`] reads plain cards as the scanners
/// always have (4 to 32 letters, digits and `-`), and drops an AIM identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRule {
    /// Drop a leading AIM symbology identifier (`]` and two characters) when there is one.
    pub aim: bool,
    /// Taken off the front when the scan starts with one (ASCII case ignored): `LIBRARYCARD:`.
    pub prefixes: Vec<String>,
    /// Taken off the end when the scan ends with one (ASCII case ignored).
    pub suffixes: Vec<String>,
    /// A link's (or a query string's) parameter holding the card number: `number`.
    pub query: Option<String>,
    /// The scan's shape around the card number, tried first: `LIBRARYCARD:{card};*`.
    pub pattern: Option<Pattern>,
    /// The card number's characters.
    pub characters: Characters,
    /// Fewest characters of a card number.
    pub min_len: usize,
    /// Most characters of a card number.
    pub max_len: usize,
}

impl Default for ScanRule {
    fn default() -> Self {
        Self {
            aim: true,
            prefixes: vec![],
            suffixes: vec![],
            query: None,
            pattern: None,
            characters: Characters::LettersDigitsHyphen,
            min_len: 4,
            max_len: 32,
        }
    }
}

/// Why a scan is no card number. No variant holds what was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// Nothing but blanks.
    #[error("empty scan")]
    Empty,
    /// Longer than [`MAX_SCAN`].
    #[error("a scan longer than {MAX_SCAN} characters")]
    TooLong,
    /// A link or query string without the configured parameter.
    #[error("a link of {len} characters without a `{query}` parameter, or with an empty one")]
    NoParameter {
        /// The scan's length.
        len: usize,
        /// The parameter the rule looks for.
        query: String,
    },
    /// A link, and no rule says which of its parameters is the card.
    #[error(
        "a link of {len} characters (a phone card?): set the reader's card.query to the parameter holding the card number"
    )]
    Link {
        /// The scan's length.
        len: usize,
    },
    /// Characters a card number does not have.
    #[error(
        "scan of {len} characters is not a card number (unexpected characters; {expected} expected)"
    )]
    Characters {
        /// The length of what was left after stripping.
        len: usize,
        /// What the rule allows.
        expected: &'static str,
    },
    /// Too short or too long.
    #[error("scan of {len} characters is not a card number ({min} to {max} expected)")]
    Length {
        /// The length of what was left after stripping.
        len: usize,
        /// The rule's bounds.
        min: usize,
        /// The rule's bounds.
        max: usize,
    },
}

/// Drops `]` and the two characters of an AIM symbology identifier (`]C0`, `]Q1`, `]e0`, …).
fn strip_aim(text: &str) -> &str {
    let mut chars = text.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(']'), Some(code), Some(modifier))
            if code.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
        {
            chars.as_str()
        }
        _ => text,
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

fn strip_suffix_ci<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    let tail = text.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix)
        .then(|| text.get(..cut))
        .flatten()
}

/// A scan's shape around its card number: literal text (ASCII case ignored), `*` for any run
/// of characters, and `{card}` once, where the card number is. Simpler than a regular
/// expression on purpose: a technician writes it from one example scan, and matching it takes
/// time proportional to the scan's length squared at worst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    head: Vec<char>,
    tail: Vec<char>,
}

/// `ok[i]`: `pattern` matches `text[..i]` whole.
fn glob_prefixes(pattern: &[char], text: &[char]) -> Vec<bool> {
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for pc in pattern {
        let mut next = vec![false; text.len() + 1];
        for i in 0..=text.len() {
            next[i] = if *pc == '*' {
                row[i] || (i > 0 && next[i - 1])
            } else {
                i > 0 && row[i - 1] && text[i - 1].eq_ignore_ascii_case(pc)
            };
        }
        row = next;
    }
    row
}

impl Pattern {
    /// Parses a pattern: `None` unless `{card}` is in it exactly once.
    pub fn parse(text: &str) -> Option<Self> {
        let (head, tail) = text.split_once("{card}")?;
        if tail.contains("{card}") {
            return None;
        }
        Some(Self {
            head: head.chars().collect(),
            tail: tail.chars().collect(),
        })
    }

    /// The card number in `text`: the leftmost place the pattern allows, the longest run of
    /// `allowed` characters there.
    pub fn find(&self, text: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
        let chars: Vec<char> = text.chars().collect();
        let n = chars.len();
        let head_ok = glob_prefixes(&self.head, &chars);
        let reversed: Vec<char> = chars.iter().rev().copied().collect();
        let tail_reversed: Vec<char> = self.tail.iter().rev().copied().collect();
        // tail_ok[n - j]: the tail matches text[j..].
        let tail_ok = glob_prefixes(&tail_reversed, &reversed);
        for start in (0..n).filter(|i| head_ok[*i]) {
            let run = chars[start..].iter().take_while(|c| allowed(**c)).count();
            if let Some(end) = (start + 1..=start + run).rev().find(|j| tail_ok[n - j]) {
                return Some(chars[start..end].iter().collect());
            }
        }
        None
    }
}

fn is_link(text: &str) -> bool {
    text.contains("://") || text.contains('?')
}

impl ScanRule {
    /// Any scan's text, with blanks and an AIM identifier dropped: how the kiosk's scanner
    /// reads, cards and items alike, before the card rule or the item check.
    pub fn text() -> Self {
        Self {
            characters: Characters::Printable,
            min_len: 1,
            max_len: MAX_SCAN,
            ..Self::default()
        }
    }

    /// The card number in `scan`, or why there is none.
    pub fn card(&self, scan: &str) -> Result<CardNumber, ScanError> {
        let t = scan.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if t.is_empty() {
            return Err(ScanError::Empty);
        }
        if t.chars().count() > MAX_SCAN {
            return Err(ScanError::TooLong);
        }
        let t = if self.aim { strip_aim(t) } else { t };
        let matched = self
            .pattern
            .as_ref()
            .and_then(|p| p.find(t, |c| self.characters.allows(c)));
        if let Some(card) = matched {
            return self.checked(&card);
        }
        let value;
        let mut t = match &self.query {
            Some(query) if is_link(t) || t.contains('=') => {
                let query_string = match t.split_once('?') {
                    Some((_, q)) => q,
                    None if t.contains("://") => "",
                    None => t,
                };
                let query_string = query_string.split('#').next().unwrap_or_default();
                value = form_urlencoded::parse(query_string.as_bytes())
                    .find(|(k, _)| k == query.as_str())
                    .map(|(_, v)| v.into_owned())
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| ScanError::NoParameter {
                        len: t.chars().count(),
                        query: query.clone(),
                    })?;
                value.trim()
            }
            // A link the characters would refuse anyway: say what it seems to be.
            None if is_link(t) && !t.chars().all(|c| self.characters.allows(c)) => {
                return Err(ScanError::Link {
                    len: t.chars().count(),
                });
            }
            _ => t,
        };
        if let Some(rest) = self.prefixes.iter().find_map(|p| strip_prefix_ci(t, p)) {
            t = rest;
        }
        if let Some(rest) = self.suffixes.iter().find_map(|s| strip_suffix_ci(t, s)) {
            t = rest;
        }
        self.checked(t)
    }

    /// `t` as a card number if its characters and length are the rule's.
    fn checked(&self, t: &str) -> Result<CardNumber, ScanError> {
        let t = t.trim();
        let len = t.chars().count();
        if !t.chars().all(|c| self.characters.allows(c)) {
            return Err(ScanError::Characters {
                len,
                expected: self.characters.describe(),
            });
        }
        if !(self.min_len..=self.max_len).contains(&len) {
            return Err(ScanError::Length {
                len,
                min: self.min_len,
                max: self.max_len,
            });
        }
        Ok(CardNumber::new(t))
    }
}

/// A scan rule as configured: the `card` table of a door's `[[readers]]` entry or of the
/// kiosk's `[scanner]` (`card = { query = "number", strip_prefix = ["LIBRARYCARD:"] }`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScanRule {
    aim: Option<bool>,
    #[serde(default)]
    strip_prefix: Vec<String>,
    #[serde(default)]
    strip_suffix: Vec<String>,
    query: Option<String>,
    pattern: Option<String>,
    characters: Option<String>,
    min_length: Option<usize>,
    max_length: Option<usize>,
}

/// A problem with a configured scanner (its card rule, its keyboard layout): the key, under
/// the scanner's table, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleProblem {
    /// The key within the table (`query`, `min_length`, `layout`, …).
    pub key: &'static str,
    /// What is wrong and what was expected.
    pub problem: String,
}

impl RawScanRule {
    /// The rule, or the first problem with it.
    pub fn validate(&self) -> Result<ScanRule, RuleProblem> {
        let bad = |key, problem: &str| RuleProblem {
            key,
            problem: problem.to_owned(),
        };
        let d = ScanRule::default();
        let characters = match self.characters.as_deref() {
            None => d.characters,
            Some(c) => Characters::parse(c).ok_or_else(|| {
                bad(
                    "characters",
                    "expected digits, letters-digits or letters-digits-hyphen",
                )
            })?,
        };
        let min_len = self.min_length.unwrap_or(d.min_len);
        let max_len = self.max_length.unwrap_or(d.max_len);
        if !(1..=64).contains(&min_len) {
            return Err(bad("min_length", "expected 1 to 64"));
        }
        if !(1..=64).contains(&max_len) {
            return Err(bad("max_length", "expected 1 to 64"));
        }
        if min_len > max_len {
            return Err(bad("min_length", "expected at most max_length"));
        }
        let affix = |key, list: &[String]| {
            for a in list {
                if a.is_empty() || a.chars().count() > 64 || a.chars().any(char::is_control) {
                    return Err(bad(key, "expected texts of 1 to 64 characters, none blank"));
                }
            }
            Ok(list.to_vec())
        };
        let prefixes = affix("strip_prefix", &self.strip_prefix)?;
        let suffixes = affix("strip_suffix", &self.strip_suffix)?;
        let query = match self.query.as_deref() {
            None => None,
            Some(q)
                if !q.is_empty()
                    && q.len() <= 32
                    && q.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) =>
            {
                Some(q.to_owned())
            }
            Some(_) => {
                return Err(bad(
                    "query",
                    "a link's parameter name: 1 to 32 letters, digits, '_', '-' or '.'",
                ));
            }
        };
        let pattern = match self.pattern.as_deref() {
            None => None,
            Some(p) if p.chars().count() <= 128 && !p.chars().any(char::is_control) => {
                Some(Pattern::parse(p).ok_or_else(|| {
                    bad(
                        "pattern",
                        "`{card}` once where the card number is, literal text and `*` around it",
                    )
                })?)
            }
            Some(_) => {
                return Err(bad(
                    "pattern",
                    "at most 128 characters, no control characters",
                ));
            }
        };
        Ok(ScanRule {
            aim: self.aim.unwrap_or(d.aim),
            prefixes,
            suffixes,
            query,
            pattern,
            characters,
            min_len,
            max_len,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn rule(toml_text: &str) -> Result<ScanRule, RuleProblem> {
        let raw: RawScanRule = toml::from_str(toml_text).unwrap();
        raw.validate()
    }

    fn phone() -> ScanRule {
        rule("query = \"number\"\nstrip_prefix = [\"LIBRARYCARD:\"]\ncharacters = \"digits\"\nmin_length = 14\nmax_length = 14").unwrap()
    }

    #[test]
    fn plain_cards_read_as_they_always_have() {
        let r = ScanRule::default();
        for (scan, card) in [
            ("24680000000011\r\n", "24680000000011"),
            ("  HEILI-0042 ", "HEILI-0042"),
            ("]C024680000000011", "24680000000011"),
            ("]E02468000000", "2468000000"),
        ] {
            assert_eq!(r.card(scan).unwrap().expose(), card, "{card}");
        }
    }

    #[test]
    fn phone_cards_are_read_by_the_rule() {
        let r = phone();
        for scan in [
            "https://kirjasto.example.fi/card?number=24680000000011",
            "https://kirjasto.example.fi/card?lang=fi&number=24680000000011#top",
            "]Q1https://kirjasto.example.fi/card?number=24680000000011",
            "LIBRARYCARD:24680000000011",
            "librarycard:24680000000011\n",
            "]Q1LIBRARYCARD:24680000000011",
            "number=24680000000011",
            "]C024680000000011",
            "24680000000011",
            "https://x.example/c?number=%32%34680000000011",
        ] {
            assert_eq!(r.card(scan).unwrap().expose(), "24680000000011", "{scan}");
        }
    }

    #[test]
    fn scans_are_refused_with_clear_words_and_never_quoted() {
        let r = phone();
        for (scan, words) in [
            ("", "empty scan"),
            (
                "https://kirjasto.example.fi/card?id=24680000000011",
                "without a `number` parameter",
            ),
            (
                "https://kirjasto.example.fi/card/24680000000011",
                "`number`",
            ),
            ("LIBRARYCARD:2468000000001X", "digits expected"),
            ("LIBRARYCARD:246800000000", "14 to 14 expected"),
            ("2468 0000 0000 11", "unexpected characters"),
        ] {
            let e = r.card(scan).unwrap_err().to_string();
            assert!(e.contains(words), "{e}");
            assert!(!e.contains("2468"), "{e}");
        }
        let plain = ScanRule::default();
        let e = plain
            .card("https://kirjasto.example.fi/card?number=24680000000011")
            .unwrap_err()
            .to_string();
        assert!(e.contains("card.query") && !e.contains("2468"), "{e}");
        assert_eq!(
            plain.card(&"9".repeat(MAX_SCAN + 1)),
            Err(ScanError::TooLong)
        );
    }

    #[test]
    fn rules_are_validated_naming_the_key() {
        assert_eq!(rule("").unwrap(), ScanRule::default());
        for (text, key) in [
            ("characters = \"hex\"", "characters"),
            ("min_length = 0", "min_length"),
            ("max_length = 65", "max_length"),
            ("min_length = 10\nmax_length = 8", "min_length"),
            ("query = \"card number\"", "query"),
            ("query = \"\"", "query"),
            ("strip_prefix = [\"\"]", "strip_prefix"),
            ("strip_suffix = [\"\\u0007\"]", "strip_suffix"),
        ] {
            assert_eq!(rule(text).unwrap_err().key, key, "{text}");
        }
        assert!(toml::from_str::<RawScanRule>("prefix = \"x\"").is_err());
        assert_eq!(Characters::parse("digits"), Some(Characters::Digits));
    }

    #[test]
    fn a_pattern_finds_the_card_where_the_scan_says() {
        let r = rule("pattern = \"LIBRARYCARD:{card};*\"\ncharacters = \"digits\"").unwrap();
        for scan in [
            "LIBRARYCARD:24680000000011;",
            "]Q1LIBRARYCARD:24680000000011;NAME:Virtanen;V:2",
            "librarycard:24680000000011;",
            // Not the pattern's shape: read as a plain card.
            "24680000000011",
        ] {
            assert_eq!(r.card(scan).unwrap().expose(), "24680000000011", "{scan}");
        }
        // The leftmost place, the longest run of allowed characters there.
        let r = rule("pattern = \"*id={card}*\"").unwrap();
        assert_eq!(r.card("v=1&id=HEILI-42&id=7").unwrap().expose(), "HEILI-42");
        // A shape that does not fit falls to the other rules, and their refusal.
        let e = rule("pattern = \"CARD:{card}\"\ncharacters = \"digits\"")
            .unwrap()
            .card("CARD:2468X0000000011")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unexpected characters") && !e.contains("2468"),
            "{e}"
        );
        for bad in ["CARD:", "{card}{card}", "x{car}"] {
            assert_eq!(
                rule(&format!("pattern = \"{bad}\"")).unwrap_err().key,
                "pattern",
                "{bad}"
            );
        }
        assert_eq!(Pattern::parse("{card}").unwrap().find("", |_| true), None);
    }

    #[test]
    fn the_text_rule_keeps_any_printable_scan() {
        let t = ScanRule::text();
        assert_eq!(
            t.card("]C0HE 0000-01/ä\r").unwrap().expose(),
            "HE 0000-01/ä"
        );
        assert!(t.card("a\u{1b}b").is_err());
        let link = "https://kirjasto.example.fi/card?number=24680000000011";
        assert_eq!(t.card(link).unwrap().expose(), link);
    }

    fn has_four_digits(text: &str) -> bool {
        text.as_bytes()
            .windows(4)
            .any(|w| w.iter().all(u8::is_ascii_digit))
    }

    proptest! {
        #[test]
        fn no_refusal_ever_quotes_the_scan(
            secret in "[0-9]{6,20}",
            junk in "[ -~äöå\\x1b]{0,40}",
            before in any::<bool>(),
            which in 0usize..3,
        ) {
            let scan = if before { format!("{junk}{secret}") } else { format!("{secret}{junk}") };
            let rules = [ScanRule::default(), phone(), rule("characters = \"letters-digits\"\nstrip_suffix = [\";\"]").unwrap()];
            if let Err(e) = rules[which].card(&scan) {
                let e = e.to_string();
                prop_assert!(!e.contains(&secret[..4]), "{}", e);
                prop_assert!(!has_four_digits(&e), "{}", e);
            }
        }

        #[test]
        fn a_rule_round_trips_what_it_accepts(
            card in "[0-9A-Za-z][0-9A-Za-z-]{2,30}[0-9A-Za-z]",
            form in 0usize..8,
            junk in "[ -~]{0,20}",
        ) {
            let r = rule("query = \"number\"\nstrip_prefix = [\"LIBRARYCARD:\"]\nstrip_suffix = [\";\"]\npattern = \"*ID={card}/*\"").unwrap();
            let scan = match form {
                0 => card.clone(),
                1 => format!("]C0{card}\r\n"),
                2 => format!("]Q1LIBRARYCARD:{card};"),
                3 => format!("https://kirjasto.example.fi/card?x=1&number={card}"),
                4 => format!("https://kirjasto.example.fi/card?number={}", form_urlencoded::byte_serialize(card.as_bytes()).collect::<String>()),
                5 => format!("number={card}"),
                // The pattern, after any text without an '=' of its own.
                _ => format!("{}ID={card}/{junk}", junk.replace('=', "")),
            };
            let read = r.card(&scan).unwrap();
            prop_assert_eq!(read.expose(), card.as_str());
            // What a rule accepts, it accepts again unchanged.
            let again = r.card(read.expose()).unwrap();
            prop_assert_eq!(again.expose(), read.expose());
        }
    }
}
