//! PIN entry on a keypad, as a state machine fed keys and instants: digits build the PIN, `*`
//! clears it, `#` submits it; a first key must come within one timeout and each next key within
//! another. The digits live only in a [`Pin`], whose debug form is redacted.

use std::time::Duration;

use redact::Pin;

/// A key from any keypad, once the driver has mapped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// 0–9.
    Digit(u8),
    /// `*` (or Backspace/Esc on a USB keypad): start over.
    Clear,
    /// `#` (or Enter): submit.
    Submit,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A digit is never written out: this is what logs may show.
        f.write_str(match self {
            Self::Digit(_) => "digit",
            Self::Clear => "clear",
            Self::Submit => "submit",
        })
    }
}

impl Key {
    /// The key a character on a serial keypad means.
    pub fn from_char(c: char) -> Option<Self> {
        match c {
            '0'..='9' => c
                .to_digit(10)
                .and_then(|d| u8::try_from(d).ok())
                .map(Self::Digit),
            '*' => Some(Self::Clear),
            '#' | '\r' | '\n' => Some(Self::Submit),
            _ => None,
        }
    }
}

/// Limits of PIN entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinRules {
    /// Fewest digits a submit accepts.
    pub min_len: usize,
    /// Digits beyond this are ignored.
    pub max_len: usize,
    /// Time from the card to the first key.
    pub first_key: Duration,
    /// Time between keys.
    pub between_keys: Duration,
}

impl Default for PinRules {
    fn default() -> Self {
        Self {
            min_len: 4,
            max_len: 8,
            first_key: Duration::from_secs(20),
            between_keys: Duration::from_secs(10),
        }
    }
}

/// What a key or the passing of time did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStep {
    /// Still entering; this many digits so far (the display shows that many dots).
    Entering(usize),
    /// Submitted.
    Submitted(Pin),
    /// `#` with too few digits: nothing submitted, keep typing.
    TooShort(usize),
    /// No key in time.
    TimedOut,
}

/// One PIN being typed.
#[derive(Debug)]
pub struct PinEntry {
    rules: PinRules,
    digits: String,
    deadline: Duration,
    done: bool,
}

impl PinEntry {
    /// Entry begins (the card was read) at `now`, a monotonic instant.
    pub fn new(rules: PinRules, now: Duration) -> Self {
        Self {
            rules,
            digits: String::new(),
            deadline: now + rules.first_key,
            done: false,
        }
    }

    /// When the entry times out unless a key comes.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A key at `now`.
    pub fn key(&mut self, key: Key, now: Duration) -> PinStep {
        if self.done {
            return PinStep::TimedOut;
        }
        if now >= self.deadline {
            return self.time_out();
        }
        self.deadline = now + self.rules.between_keys;
        match key {
            Key::Digit(d) => {
                if self.digits.len() < self.rules.max_len {
                    self.digits.push(char::from(b'0' + d.min(9)));
                }
                PinStep::Entering(self.digits.len())
            }
            Key::Clear => {
                self.digits.clear();
                PinStep::Entering(0)
            }
            Key::Submit if self.digits.len() < self.rules.min_len => {
                PinStep::TooShort(self.digits.len())
            }
            Key::Submit => {
                self.done = true;
                PinStep::Submitted(Pin::new(std::mem::take(&mut self.digits)))
            }
        }
    }

    /// The passing of time: `Some(TimedOut)` once the deadline has passed.
    pub fn poll(&mut self, now: Duration) -> Option<PinStep> {
        (!self.done && now >= self.deadline).then(|| self.time_out())
    }

    fn time_out(&mut self) -> PinStep {
        self.done = true;
        self.digits.clear();
        PinStep::TimedOut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }
    fn typed(entry: &mut PinEntry, text: &str, at: Duration) -> PinStep {
        let mut last = PinStep::Entering(0);
        for c in text.chars() {
            last = entry.key(Key::from_char(c).unwrap(), at);
        }
        last
    }

    #[test]
    fn digits_then_hash_submit_the_pin() {
        let mut e = PinEntry::new(PinRules::default(), s(0));
        assert_eq!(typed(&mut e, "123", s(1)), PinStep::Entering(3));
        match typed(&mut e, "4#", s(2)) {
            PinStep::Submitted(p) => assert_eq!(p.expose(), "1234"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn star_clears_and_short_pins_are_not_submitted() {
        let mut e = PinEntry::new(PinRules::default(), s(0));
        typed(&mut e, "99", s(1));
        assert_eq!(typed(&mut e, "*", s(1)), PinStep::Entering(0));
        assert_eq!(typed(&mut e, "12#", s(2)), PinStep::TooShort(2));
        match typed(&mut e, "34#", s(3)) {
            PinStep::Submitted(p) => assert_eq!(p.expose(), "1234"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extra_digits_are_ignored() {
        let mut e = PinEntry::new(
            PinRules {
                max_len: 6,
                ..PinRules::default()
            },
            s(0),
        );
        match typed(&mut e, "123456789#", s(1)) {
            PinStep::Submitted(p) => assert_eq!(p.expose(), "123456"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_first_key_or_a_long_pause_times_out() {
        let rules = PinRules::default();
        let mut e = PinEntry::new(rules, s(0));
        assert_eq!(e.poll(s(19)), None);
        assert_eq!(e.poll(s(20)), Some(PinStep::TimedOut));
        assert_eq!(e.poll(s(21)), None);
        let mut e = PinEntry::new(rules, s(0));
        typed(&mut e, "12", s(5));
        assert_eq!(e.deadline(), s(15));
        assert_eq!(e.key(Key::Digit(3), s(15)), PinStep::TimedOut);
        assert_eq!(e.key(Key::Submit, s(16)), PinStep::TimedOut);
    }

    #[test]
    fn keys_display_without_digits() {
        assert_eq!(Key::Digit(7).to_string(), "digit");
        assert!(!format!("{:?}", PinStep::Submitted(Pin::new("4711"))).contains("4711"));
        assert_eq!(Key::from_char('x'), None);
    }
}
