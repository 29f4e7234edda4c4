//! Wrong PINs per card at this kiosk: after `max` in a row the card is locked here for a while,
//! whether the library system or the offline list said "wrong", so guessing is bounded even
//! where the library system sets no limit of its own. The counting is the door's
//! ([`access::limits::CardFailures`]); cards are kept only as keyed pseudonyms, under a key made
//! at start and never written anywhere. Time is an argument (monotonic, since the kiosk
//! started).

use std::time::Duration;

use access::limits::CardFailures;
use redact::{CardNumber, Pseudonym, Redactor};

/// The kiosk's PIN attempt limit.
#[derive(Debug)]
pub struct PinLimit {
    failures: CardFailures<Pseudonym>,
    redactor: Redactor,
}

/// What a wrong PIN led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterWrong {
    /// This many tries are left.
    Left(u32),
    /// The card is now locked until then.
    Locked(Duration),
}

impl PinLimit {
    /// `max` wrong PINs in a row lock a card for `lockout`; `key` makes the pseudonyms.
    pub fn new(max: u32, lockout: Duration, key: &[u8]) -> Self {
        Self {
            failures: CardFailures::new(max, lockout),
            redactor: Redactor::new(key),
        }
    }

    /// The card's pseudonym, for log lines.
    pub fn pseudonym(&self, card: &CardNumber) -> Pseudonym {
        self.redactor.card(card)
    }

    /// How long `card` stays locked after `now`, if it is locked.
    pub fn locked(&mut self, card: &CardNumber, now: Duration) -> Option<Duration> {
        let p = self.pseudonym(card);
        self.failures
            .locked(&p, now)
            .map(|until| until.saturating_sub(now))
    }

    /// A wrong PIN for `card` at `now`.
    pub fn wrong(&mut self, card: &CardNumber, now: Duration) -> AfterWrong {
        let p = self.pseudonym(card);
        self.failures.forget_old(now);
        match self.failures.failed(&p, now) {
            0 => AfterWrong::Locked(self.failures.locked(&p, now).unwrap_or(now) - now),
            left => AfterWrong::Left(left),
        }
    }

    /// A right PIN: the count starts over.
    pub fn right(&mut self, card: &CardNumber) {
        let p = self.pseudonym(card);
        self.failures.succeeded(&p);
    }
}

/// Whole minutes, rounded up, for the patron ("try again in 15 minutes").
pub fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn five_wrong_pins_lock_the_card_for_fifteen_minutes_and_no_other() {
        let mut l = PinLimit::new(5, s(900), b"key");
        let aino = CardNumber::new("24680000000011");
        let erik = CardNumber::new("24680000000029");
        for left in (1..5).rev() {
            assert_eq!(l.wrong(&aino, s(100)), AfterWrong::Left(left));
        }
        assert_eq!(l.locked(&aino, s(100)), None);
        assert_eq!(l.wrong(&aino, s(160)), AfterWrong::Locked(s(900)));
        assert_eq!(l.locked(&aino, s(160)), Some(s(900)));
        assert_eq!(l.locked(&aino, s(1000)), Some(s(60)));
        assert_eq!(minutes(s(60)), 1);
        assert_eq!(minutes(s(61)), 2);
        assert_eq!(l.locked(&erik, s(160)), None, "another card is not locked");
        assert_eq!(l.locked(&aino, s(1060)), None, "unlocked after the lockout");
        assert_eq!(l.wrong(&aino, s(1061)), AfterWrong::Left(4));
    }

    #[test]
    fn a_right_pin_starts_the_count_over() {
        let mut l = PinLimit::new(3, s(900), b"key");
        let aino = CardNumber::new("24680000000011");
        l.wrong(&aino, s(1));
        l.wrong(&aino, s(2));
        l.right(&aino);
        assert_eq!(l.wrong(&aino, s(3)), AfterWrong::Left(2));
    }

    #[test]
    fn the_pseudonym_names_no_card() {
        let l = PinLimit::new(3, s(900), b"key");
        let p = l.pseudonym(&CardNumber::new("24680000000011")).to_string();
        assert!(p.starts_with("card:") && !p.contains("2468"), "{p}");
    }
}
