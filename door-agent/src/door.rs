//! The door's hands: carries out what the pure door ([`access::door::Door`]) commands on the
//! real devices and logs. The lock, lights, buzzer and outputs go to the door's I/O; records go
//! to the event log and, as one line each, to the journal; words go to the patron's display;
//! announcements to the configured player. Nothing here decides anything.

use std::sync::Arc;
use std::time::Duration;

use access::door::{Command, DoorInputs, Event, Feedback, Kind};
use access::hours::LibraryState;
use drivers::gpio::DoorIo;
use tokio::sync::mpsc;

use crate::events::EventLog;
use crate::settings::DoorSettings;

/// How often the inputs are read.
pub const POLL: Duration = Duration::from_millis(20);

/// The devices and logs the door's commands act on.
#[allow(missing_debug_implementations)]
pub struct Hands {
    io: Box<dyn DoorIo>,
    settings: Arc<DoorSettings>,
    events: EventLog,
    feedback: Option<mpsc::Sender<Feedback>>,
    read_failed: bool,
    state: Option<LibraryState>,
}

impl Hands {
    /// Hands on `io`; the lock is engaged at once, whatever the relay held before.
    pub fn new(
        mut io: Box<dyn DoorIo>,
        settings: Arc<DoorSettings>,
        events: EventLog,
        feedback: Option<mpsc::Sender<Feedback>>,
    ) -> Self {
        if let Err(e) = io.set_locked(true) {
            tracing::error!("cannot engage the lock: {e}");
        }
        Self {
            io,
            settings,
            events,
            feedback,
            read_failed: false,
            state: None,
        }
    }

    /// The door's inputs now, or `None` when they cannot be read (logged once per outage).
    pub fn read(&mut self) -> Option<DoorInputs> {
        match self.io.inputs() {
            Ok(i) => {
                self.read_failed = false;
                Some(i)
            }
            Err(e) => {
                if !self.read_failed {
                    tracing::error!("door inputs: {e}");
                }
                self.read_failed = true;
                None
            }
        }
    }

    /// Shows the patron `f`, if there is somewhere to show it.
    pub fn show(&self, f: Feedback) {
        if let Some(tx) = &self.feedback {
            let _ = tx.try_send(f);
        }
    }

    /// Carries out one command. [`Command::Verify`] is the loop's (it needs the verifier) and
    /// is ignored here.
    pub fn carry_out(&mut self, command: Command) {
        let door = &self.settings.name;
        match command {
            Command::ReleaseLock => {
                if let Err(e) = self.io.set_locked(false) {
                    tracing::error!("cannot release the lock: {e}");
                }
                panic_for_tests();
            }
            Command::EngageLock => {
                if let Err(e) = self.io.set_locked(true) {
                    tracing::error!("cannot engage the lock: {e}");
                }
            }
            Command::Signal(s, on) => {
                let _ = self.io.signal(s, on);
            }
            Command::Output { name, on } => {
                tracing::info!(door = %door, output = %name, on, "output");
                if let Err(e) = self.io.set_output(&name, on) {
                    tracing::error!("output {name}: {e}");
                }
            }
            Command::Announce(i) => {
                if let Some(a) = self.settings.announcements.get(i) {
                    play(a, door);
                }
            }
            Command::Show(f) => self.show(f),
            Command::Record(e) => {
                self.journal(&e);
                self.events.keep(e);
            }
            Command::Verify { .. } => {}
        }
    }

    /// The record's line in the journal (the `security` target for what a breach report
    /// needs).
    fn journal(&mut self, e: &Event) {
        let door = self.settings.name.as_str();
        let card = e.card.as_deref().unwrap_or("-");
        let code = e.code.as_deref().unwrap_or("-");
        let source = e.source.as_deref().unwrap_or("-");
        match e.kind {
            Kind::Entry => {
                tracing::info!(door = %door, card = %card, source, "entry granted");
                if source.starts_with("offline-grace") {
                    tracing::warn!(target: "security", door = %door, card = %card, "entry on an expired list (grace policy)");
                }
            }
            Kind::Denied => {
                if code == "too-many-attempts" {
                    tracing::warn!(target: "security", door = %door, "too many attempts at this door");
                } else if code == "pin-locked-out" {
                    tracing::warn!(target: "security", door = %door, card = %card, "card locked after wrong PINs");
                }
                tracing::info!(door = %door, card = %card, reason = code, source, "entry denied");
            }
            Kind::Exit => tracing::info!(door = %door, "exit button"),
            Kind::Alarm => {
                tracing::warn!(target: "security", door = %door, alarm = code, "door alarm")
            }
            Kind::AlarmCleared => tracing::info!(door = %door, alarm = code, "door alarm cleared"),
            Kind::Tamper => match e.detail.as_deref() {
                Some(reader) => tracing::warn!(
                    target: "security",
                    door = %door,
                    %reader,
                    "card reader's tamper switch tripped"
                ),
                None => tracing::warn!(target: "security", door = %door, "tamper switch tripped"),
            },
            Kind::State => {
                let to = LibraryState::parse(code);
                if let (Some(before), Some(to)) = (self.state, to) {
                    tracing::info!(door = %door, from = before.name(), to = to.name(), "library state");
                }
                self.state = to;
            }
            Kind::Device if code == "reader-lost" => {
                tracing::error!(
                    door = %door,
                    detail = e.detail.as_deref().unwrap_or("-"),
                    "card reader lost"
                );
            }
            Kind::Device => {
                tracing::info!(
                    door = %door,
                    reader = e.detail.as_deref().unwrap_or("-"),
                    "card reader in service"
                );
            }
            Kind::Daemon | Kind::Security => {}
        }
    }
}

/// For the fail-locked tests, in debug builds only: with `DOOR_AGENT_TEST_PANIC=released` the
/// daemon panics right after releasing the lock. Release builds have no such trigger.
#[cfg(debug_assertions)]
#[allow(clippy::panic)]
fn panic_for_tests() {
    if std::env::var_os("DOOR_AGENT_TEST_PANIC").is_some_and(|v| v == "released") {
        panic!("DOOR_AGENT_TEST_PANIC: the door panics with the lock released");
    }
}

#[cfg(not(debug_assertions))]
fn panic_for_tests() {}

/// Plays an announcement with the configured player, without waiting for it.
fn play(a: &crate::settings::AnnouncementSettings, door: &str) {
    tracing::info!(door, file = %a.announcement.file, "closing announcement");
    let Some((program, args)) = a.player.split_first() else {
        return;
    };
    let spawned = tokio::process::Command::new(program)
        .args(args)
        .arg(&a.announcement.file)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(false)
        .spawn();
    match spawned {
        Ok(mut child) => {
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        Err(e) => tracing::error!("cannot play {}: {program}: {e}", a.announcement.file),
    }
}
