//! The door after a decision: the lock released for a pulse (or until the door opens), the door
//! contact and exit button watched, a held-open alarm when an opened door stays open too long,
//! and a forced-open alarm when the door opens with no granted entry and no exit-button press.
//! In staffed hours the door may stand free. Fed edges and instants; answers with commands.

use std::time::Duration;

/// What the watch is set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchRules {
    /// How long the lock is released after a granted entry or an exit press.
    pub pulse: Duration,
    /// An open door longer than this raises the held-open alarm.
    pub held_open: Duration,
    /// The lock re-engages as soon as the door opens (it catches when the door closes).
    pub relock_on_open: bool,
}

impl Default for WatchRules {
    fn default() -> Self {
        Self {
            pulse: Duration::from_secs(5),
            held_open: Duration::from_secs(30),
            relock_on_open: true,
        }
    }
}

/// An alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alarm {
    /// The door was opened with no granted entry and no exit press.
    ForcedOpen,
    /// The door has stood open too long.
    HeldOpen,
}

impl Alarm {
    /// The stable name in event logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::ForcedOpen => "forced-open",
            Self::HeldOpen => "held-open",
        }
    }
}

/// What the daemon must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Release the lock.
    Unlock,
    /// Engage the lock.
    Lock,
    /// Raise an alarm.
    Raise(Alarm),
    /// The alarm's cause is gone (the door closed).
    Clear(Alarm),
}

/// Why the lock was released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    Entry,
    Exit,
}

/// The door's watch.
#[derive(Debug, Clone)]
pub struct DoorWatch {
    rules: WatchRules,
    /// Lock released until then.
    released: Option<(Release, Duration)>,
    /// Standing free (staffed hours).
    free: bool,
    open: bool,
    opened_at: Option<Duration>,
    raised: Vec<Alarm>,
}

impl DoorWatch {
    /// A watch over a locked door whose contact reads `open`.
    pub fn new(rules: WatchRules, open: bool, now: Duration) -> Self {
        Self {
            rules,
            released: None,
            free: false,
            open,
            opened_at: open.then_some(now),
            raised: vec![],
        }
    }

    /// The alarms now raised.
    pub fn raised(&self) -> &[Alarm] {
        &self.raised
    }

    /// Is the lock released?
    pub fn unlocked(&self) -> bool {
        self.free || self.released.is_some()
    }

    /// An entry was granted.
    pub fn grant(&mut self, now: Duration) -> Vec<Command> {
        self.release(Release::Entry, now)
    }

    /// The exit button was pressed: exits are always free.
    pub fn exit_pressed(&mut self, now: Duration) -> Vec<Command> {
        self.release(Release::Exit, now)
    }

    fn release(&mut self, why: Release, now: Duration) -> Vec<Command> {
        let was = self.unlocked();
        self.released = Some((why, now + self.rules.pulse));
        if was { vec![] } else { vec![Command::Unlock] }
    }

    /// Staffed hours begin (`true`) or end: the door stands free or is locked.
    pub fn set_free(&mut self, free: bool, now: Duration) -> Vec<Command> {
        if free == self.free {
            return vec![];
        }
        let was = self.unlocked();
        self.free = free;
        let mut out = vec![];
        if free {
            if !was {
                out.push(Command::Unlock);
            }
            // An open door in staffed hours is no alarm.
            out.extend(self.clear_all());
            if self.open {
                self.opened_at = Some(now);
            }
        } else if !self.unlocked() {
            out.push(Command::Lock);
        }
        out
    }

    /// The door contact changed.
    pub fn contact(&mut self, open: bool, now: Duration) -> Vec<Command> {
        if open == self.open {
            return vec![];
        }
        self.open = open;
        let mut out = vec![];
        if open {
            self.opened_at = Some(now);
            if self.free {
                return out;
            }
            if self.released.is_none() {
                self.raise(Alarm::ForcedOpen, &mut out);
            } else if self.rules.relock_on_open {
                self.released = None;
                out.push(Command::Lock);
            }
        } else {
            self.opened_at = None;
            out.extend(self.clear_all());
        }
        out
    }

    /// Time passed: ends pulses and raises held-open alarms.
    pub fn tick(&mut self, now: Duration) -> Vec<Command> {
        let mut out = vec![];
        if let Some((_, until)) = self.released {
            if now >= until {
                self.released = None;
                if !self.free {
                    out.push(Command::Lock);
                }
            }
        }
        if let Some(at) = self.opened_at {
            if !self.free && now >= at + self.rules.held_open {
                self.raise(Alarm::HeldOpen, &mut out);
            }
        }
        out
    }

    /// The next instant `tick` has something to do, if any.
    pub fn next_deadline(&self) -> Option<Duration> {
        let pulse = self.released.map(|(_, t)| t);
        let held = self
            .opened_at
            .filter(|_| !self.free && !self.raised.contains(&Alarm::HeldOpen))
            .map(|t| t + self.rules.held_open);
        match (pulse, held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn raise(&mut self, alarm: Alarm, out: &mut Vec<Command>) {
        if !self.raised.contains(&alarm) {
            self.raised.push(alarm);
            out.push(Command::Raise(alarm));
        }
    }

    fn clear_all(&mut self) -> Vec<Command> {
        self.raised.drain(..).map(Command::Clear).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }
    fn watch() -> DoorWatch {
        DoorWatch::new(WatchRules::default(), false, s(0))
    }

    #[test]
    fn door_relocks_after_pulse_when_nobody_opens_it() {
        let mut w = watch();
        assert_eq!(w.grant(s(10)), vec![Command::Unlock]);
        assert_eq!(w.next_deadline(), Some(s(15)));
        assert_eq!(w.tick(s(14)), vec![]);
        assert_eq!(w.tick(s(15)), vec![Command::Lock]);
        assert!(!w.unlocked());
    }

    #[test]
    fn door_relocks_as_it_opens_and_a_normal_entry_raises_nothing() {
        let mut w = watch();
        w.grant(s(10));
        assert_eq!(w.contact(true, s(12)), vec![Command::Lock]);
        assert_eq!(w.contact(false, s(16)), vec![]);
        assert_eq!(w.tick(s(60)), vec![]);
    }

    #[test]
    fn held_open_alarm_after_the_limit_and_cleared_on_close() {
        let mut w = watch();
        w.grant(s(0));
        w.contact(true, s(1));
        assert_eq!(w.next_deadline(), Some(s(31)));
        assert_eq!(w.tick(s(30)), vec![]);
        assert_eq!(w.tick(s(31)), vec![Command::Raise(Alarm::HeldOpen)]);
        assert_eq!(w.tick(s(40)), vec![]);
        assert_eq!(
            w.contact(false, s(45)),
            vec![Command::Clear(Alarm::HeldOpen)]
        );
    }

    #[test]
    fn forced_open_without_entry_or_exit_press() {
        let mut w = watch();
        assert_eq!(
            w.contact(true, s(100)),
            vec![Command::Raise(Alarm::ForcedOpen)]
        );
        assert_eq!(w.tick(s(131)), vec![Command::Raise(Alarm::HeldOpen)]);
        assert_eq!(
            w.contact(false, s(140)),
            vec![
                Command::Clear(Alarm::ForcedOpen),
                Command::Clear(Alarm::HeldOpen)
            ]
        );
    }

    #[test]
    fn exit_button_frees_the_door_without_an_alarm() {
        let mut w = watch();
        assert_eq!(w.exit_pressed(s(5)), vec![Command::Unlock]);
        assert_eq!(w.contact(true, s(6)), vec![Command::Lock]);
        assert_eq!(w.contact(false, s(9)), vec![]);
        // After the pulse, opening again is forced.
        assert_eq!(w.tick(s(20)), vec![]);
        assert_eq!(
            w.contact(true, s(21)),
            vec![Command::Raise(Alarm::ForcedOpen)]
        );
    }

    #[test]
    fn staffed_hours_leave_the_door_free_and_quiet() {
        let mut w = watch();
        assert_eq!(w.set_free(true, s(0)), vec![Command::Unlock]);
        assert_eq!(w.contact(true, s(1)), vec![]);
        assert_eq!(w.tick(s(600)), vec![]);
        assert_eq!(w.contact(false, s(601)), vec![]);
        assert_eq!(w.set_free(false, s(700)), vec![Command::Lock]);
        assert_eq!(
            w.contact(true, s(701)),
            vec![Command::Raise(Alarm::ForcedOpen)]
        );
    }

    #[test]
    fn without_relock_on_open_the_pulse_ends_it() {
        let mut w = DoorWatch::new(
            WatchRules {
                relock_on_open: false,
                ..WatchRules::default()
            },
            false,
            s(0),
        );
        w.grant(s(0));
        assert_eq!(w.contact(true, s(1)), vec![]);
        assert_eq!(w.tick(s(5)), vec![Command::Lock]);
    }
}
