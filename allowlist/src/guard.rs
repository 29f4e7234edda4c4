//! PIN failures per card hash: a few wrong PINs lock the card out for a while, so the 10,000
//! values of a 4-digit PIN cannot be tried at a door. Pure: the device stores the record.

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardPolicy {
    /// Wrong PINs allowed within the window before a lockout.
    pub max_failures: u32,
    /// The window over which failures count, in seconds.
    pub window: i64,
    /// How long a lockout lasts, in seconds.
    pub lockout: i64,
}

impl Default for GuardPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: 15 * 60,
            lockout: 15 * 60,
        }
    }
}

/// One card's failures (12 + 8 bytes when stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Wrong PINs in the current window.
    pub count: u32,
    /// When the window started (Unix seconds).
    pub since: i64,
    /// Locked until this time (Unix seconds); 0 when not locked.
    pub locked_until: i64,
}

impl Failures {
    /// Stored form.
    pub fn encode(&self) -> [u8; 20] {
        let mut b = [0u8; 20];
        b[..4].copy_from_slice(&self.count.to_le_bytes());
        b[4..12].copy_from_slice(&self.since.to_le_bytes());
        b[12..].copy_from_slice(&self.locked_until.to_le_bytes());
        b
    }

    /// Reads the stored form; a damaged record reads as none.
    pub fn decode(b: &[u8]) -> Option<Self> {
        let b: &[u8; 20] = b.try_into().ok()?;
        Some(Self {
            count: u32::from_le_bytes(b[..4].try_into().ok()?),
            since: i64::from_le_bytes(b[4..12].try_into().ok()?),
            locked_until: i64::from_le_bytes(b[12..].try_into().ok()?),
        })
    }
}

impl GuardPolicy {
    /// Until when the card is locked out at `now`, if it is.
    pub fn locked(&self, f: Option<Failures>, now: i64) -> Option<i64> {
        f.filter(|f| f.locked_until > now).map(|f| f.locked_until)
    }

    /// The record after a wrong PIN at `now`.
    pub fn fail(&self, f: Option<Failures>, now: i64) -> Failures {
        let mut f = match f {
            Some(f) if now - f.since < self.window && now >= f.since => f,
            _ => Failures {
                count: 0,
                since: now,
                locked_until: 0,
            },
        };
        f.count = f.count.saturating_add(1);
        if f.count >= self.max_failures {
            f.locked_until = now.saturating_add(self.lockout);
            f.count = 0;
            f.since = now;
        }
        f
    }

    /// Whether a record can be dropped at `now` (window passed, no lockout running).
    pub fn stale(&self, f: &Failures, now: i64) -> bool {
        f.locked_until <= now && now - f.since >= self.window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_pins_lock_the_card_for_the_lockout() {
        let g = GuardPolicy::default();
        let mut f = None;
        for i in 0..4 {
            f = Some(g.fail(f, 100 + i));
            assert_eq!(g.locked(f, 100 + i), None);
        }
        f = Some(g.fail(f, 110));
        assert_eq!(g.locked(f, 111), Some(110 + 900));
        assert_eq!(g.locked(f, 110 + 900), None);
        assert_eq!(Failures::decode(&f.unwrap().encode()), f);
        assert_eq!(Failures::decode(&[1, 2]), None);
    }

    #[test]
    fn failures_spread_out_never_lock() {
        let g = GuardPolicy::default();
        let mut f = None;
        for i in 0..20 {
            f = Some(g.fail(f, i * 400));
            assert_eq!(g.locked(f, i * 400), None);
        }
        assert!(g.stale(&f.unwrap(), 19 * 400 + 900));
    }
}
