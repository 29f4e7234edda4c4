//! The simulator's clock: the system's when it serves, or one its caller (a test, the demo)
//! chooses, so a judgement on a card's expiry or a patron's age never depends on the day a test
//! runs.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// What time it is for the simulator. The library's local time is the system's time zone.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(Arc::new(Utc::now))
    }

    /// A clock that reads `now`.
    pub fn from_fn(now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Self(Arc::new(now))
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    /// The library's local time now.
    pub fn local_now(&self) -> NaiveDateTime {
        self.now().with_timezone(&chrono::Local).naive_local()
    }

    /// The library's local date today.
    pub fn today(&self) -> NaiveDate {
        self.local_now().date()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now().to_rfc3339())
    }
}

/// A clock that starts at a chosen instant and runs, or is set.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<Mutex<(DateTime<Utc>, std::time::Instant)>>);

impl TestClock {
    /// Runs from `at`.
    pub fn starting(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new((at, std::time::Instant::now()))))
    }
    /// Jumps to `at` (and runs on from there).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut g) = self.0.lock() {
            *g = (at, std::time::Instant::now());
        }
    }
    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.0 + chrono::Duration::from_std(g.1.elapsed()).unwrap_or_default()
    }
    /// As a door-agent's clock (`door_agent::Clock`, the same type).
    pub fn clock(&self) -> Arc<dyn Fn() -> DateTime<Utc> + Send + Sync> {
        let me = self.clone();
        Arc::new(move || me.now())
    }
    /// As the simulator's clock.
    pub fn sim(&self) -> Clock {
        let me = self.clone();
        Clock::from_fn(move || me.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_is_set_and_the_simulator_follows_it() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let clock = TestClock::starting(at("2028-02-29T10:00:00Z"));
        let sim = clock.sim();
        assert!(sim.now() >= at("2028-02-29T10:00:00Z"));
        assert!(sim.now() < at("2028-02-29T10:01:00Z"));
        clock.set(at("2031-01-01T00:30:00Z"));
        assert!(sim.now() >= at("2031-01-01T00:30:00Z"));
        assert!((clock.clock())() < at("2031-01-01T00:31:00Z"));
    }
}
