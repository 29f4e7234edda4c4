//! Bounds on guessing: wrong PINs per card lock that card for a while, and attempts at one door
//! are bounded overall so a flood of cards cannot be used to guess. Keys are card hashes, never
//! card numbers; instants are monotonic.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::hash::Hash;
use std::time::Duration;

/// Wrong PINs per card.
#[derive(Debug)]
pub struct CardFailures<K> {
    max: u32,
    lockout: Duration,
    failures: HashMap<K, (u32, Duration)>,
}

impl<K: Hash + Eq + Clone> CardFailures<K> {
    /// `max` wrong PINs within `lockout` lock the card for `lockout`.
    pub fn new(max: u32, lockout: Duration) -> Self {
        Self {
            max: max.max(1),
            lockout,
            failures: HashMap::new(),
        }
    }

    /// Locked until then, if the card is locked at `now`.
    pub fn locked(&mut self, card: &K, now: Duration) -> Option<Duration> {
        let (count, last) = *self.failures.get(card)?;
        if now >= last + self.lockout {
            self.failures.remove(card);
            return None;
        }
        (count >= self.max).then_some(last + self.lockout)
    }

    /// A wrong PIN at `now`; returns how many tries are left (0: now locked).
    pub fn failed(&mut self, card: &K, now: Duration) -> u32 {
        let _ = self.locked(card, now);
        let e = self.failures.entry(card.clone()).or_insert((0, now));
        e.0 += 1;
        e.1 = now;
        self.max.saturating_sub(e.0)
    }

    /// A right PIN: the count starts over.
    pub fn succeeded(&mut self, card: &K) {
        self.failures.remove(card);
    }

    /// Forgets entries whose lockout has passed (the daemon calls this now and then).
    pub fn forget_old(&mut self, now: Duration) {
        let lockout = self.lockout;
        self.failures.retain(|_, (_, last)| now < *last + lockout);
    }

    /// Cards remembered.
    pub fn len(&self) -> usize {
        self.failures.len()
    }

    /// None remembered.
    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }
}

/// At most `max` attempts in any `window`.
#[derive(Debug)]
pub struct Flood {
    max: usize,
    window: Duration,
    recent: VecDeque<Duration>,
}

impl Flood {
    /// A bound of `max` per `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: usize::try_from(max.max(1)).unwrap_or(usize::MAX),
            window,
            recent: VecDeque::new(),
        }
    }

    /// An attempt at `now`: `Err(retry_at)` when over the bound (and not counted).
    pub fn attempt(&mut self, now: Duration) -> Result<(), Duration> {
        while self.recent.front().is_some_and(|t| now >= *t + self.window) {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.max {
            let oldest = self.recent.front().copied().unwrap_or(now);
            return Err(oldest + self.window);
        }
        self.recent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn five_wrong_pins_lock_a_card_for_the_lockout() {
        let mut f = CardFailures::new(5, s(900));
        for left in (0..5).rev() {
            assert_eq!(f.locked(&"a", s(10)), None);
            assert_eq!(f.failed(&"a", s(10)), left);
        }
        assert_eq!(f.locked(&"a", s(10)), Some(s(910)));
        assert_eq!(f.locked(&"b", s(10)), None);
        assert_eq!(f.locked(&"a", s(909)), Some(s(910)));
        assert_eq!(f.locked(&"a", s(910)), None);
        assert_eq!(f.failed(&"a", s(911)), 4);
        f.succeeded(&"a");
        assert_eq!(f.failed(&"a", s(912)), 4);
        f.forget_old(s(2000));
        assert!(f.is_empty());
    }

    #[test]
    fn a_flood_of_attempts_is_bounded() {
        let mut f = Flood::new(3, s(60));
        assert!(f.attempt(s(0)).is_ok());
        assert!(f.attempt(s(1)).is_ok());
        assert!(f.attempt(s(2)).is_ok());
        assert_eq!(f.attempt(s(3)), Err(s(60)));
        assert!(f.attempt(s(60)).is_ok());
        assert_eq!(f.attempt(s(60)), Err(s(61)));
    }
}
