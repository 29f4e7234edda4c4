//! The door, whole: one state machine that reads the whole decision at a staffless library's
//! door, from a card shown to the relay, with no I/O, no clock and no async.
//!
//! A patron shows a card. If the library is not open for self-service now, if this door has seen
//! too many attempts in the last minute, or if the card is locked after wrong PINs, the door says
//! why at once. Otherwise it asks for the PIN: digits, `*` to clear, `#` to submit, within a time
//! for the first key and for each next one. With the PIN typed, the door asks for a verdict (the
//! shell asks the library system within a short timeout, else the signed offline list: see
//! `offline::verify`); the verdict is a verified patron, whose facts the branch's policy then
//! judges, or a refusal (unknown card, wrong PIN, locked, nobody to ask). A patron let in gets
//! the lock released for a pulse, a green light and a short beep; a refusal gets a red light,
//! a long beep and then as many short beeps as the reason's number, and the reason in words.
//! Every entry, refusal, exit, alarm and change of the library's state is recorded, with the
//! card only as its keyed pseudonym.
//!
//! Meanwhile the door watches its inputs (read by the shell every few milliseconds and
//! debounced here: a level counts once read the same twice in a row): the exit button always
//! releases the lock; a door opened with no grant and no exit press raises the forced-open
//! alarm; a door left open raises held-open; both clear when it closes. Once a second the
//! library's state is taken from the schedule: in staffed hours the door may stand free,
//! outputs (lights, the intruder alarm, public PCs) switch with the state, and closing
//! announcements fall due.
//!
//! The shape is quinn-proto's: [`Door::handle`] takes an [`Input`] at an instant [`Now`],
//! [`Door::handle_timeout`] lets time pass, [`Door::poll_command`] hands out what the shell must
//! do ([`Command`]: the lock, lights and buzzer, outputs, announcements, words for the patron, a
//! verdict to fetch, a record to keep), and [`Door::poll_timeout`] says when it next needs to be
//! woken. The door-agent is the shell: it feeds card readers, keypads, verdicts and input
//! readings in, and carries commands out to the pins, the event log and the display.
//!
//! Staff's orders from the console ([`Order`]: unlock for N minutes, lock down, end self-service
//! now) come in as inputs too: a staff unlock stands the door free until it runs out, a
//! lock-down refuses every card and never stands the door free, and the exit always works.
//!
//! Properties the tests check over arbitrary event sequences: the lock is released only by a
//! grant, an exit press, staffed hours standing the door free or a staff unlock, and every
//! release ends engaged.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redact::{CardNumber, Pin};
use serde::{Deserialize, Serialize};

use crate::hours::{LibraryState, Schedule};
use crate::limits::Flood;
use crate::pin::{Key, PinEntry, PinRules, PinStep};
use crate::policy::{Decision, Detail, Patron, Reason, Rules, decide, hours_allow};
use crate::state::{Announcement, OutputRule};
use crate::watch::{self, Alarm, DoorWatch, WatchRules};

/// An instant, as the door needs it: monotonic time for timeouts and pulses (since any fixed
/// start), wall-clock time for hours and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub mono: Duration,
    /// The wall clock.
    pub wall: DateTime<Utc>,
}

/// What the door's inputs read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DoorInputs {
    /// The door is open.
    pub open: bool,
    /// The exit button is pressed.
    pub exit: bool,
    /// The tamper switch is tripped.
    pub tamper: bool,
}

/// A light or sound at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Green LED.
    Green,
    /// Red LED.
    Red,
    /// Buzzer.
    Buzzer,
}

/// Who answered a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The library system.
    Online,
    /// The offline list of this version; `past_expiry` when a grace policy let an expired list
    /// answer.
    Offline {
        /// List version.
        version: u64,
        /// Answered past the list's expiry.
        past_expiry: bool,
    },
    /// Nobody could.
    Nobody,
}

impl Source {
    /// The event log's words.
    pub fn label(&self) -> String {
        match self {
            Self::Online => "online".into(),
            Self::Offline {
                version,
                past_expiry: false,
            } => format!("offline:{version}"),
            Self::Offline {
                version,
                past_expiry: true,
            } => format!("offline-grace:{version}"),
            Self::Nobody => "none".into(),
        }
    }
}

/// The answer to a [`Command::Verify`]: who the card's holder is, or why nobody can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The patron's facts for the policy, or the refusal (unknown card, wrong PIN, locked out,
    /// unreachable, list expired).
    pub patron: Result<Patron, Reason>,
    /// Who answered.
    pub source: Source,
    /// What makes the words exact (how long a lockout lasts, tries left) and the patron's
    /// language, when the source says.
    pub detail: Detail,
}

/// What the shell knows of a card before any PIN is typed: enough, sometimes, to spare the
/// patron a PIN that cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeforePin {
    /// Nothing against it: ask for the PIN.
    Ask,
    /// Locked after wrong PINs until then.
    LockedUntil(DateTime<Utc>),
    /// Refused whatever the PIN (a card the list in force says is lost). Only for what tells
    /// the card's holder nothing about the patron.
    Refuse(Reason),
}

/// Something that happened, for the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A card was read.
    Card {
        /// The number (kept only until the verdict is asked for).
        card: CardNumber,
        /// Its keyed pseudonym, the only form records carry.
        pseudonym: String,
        /// What the shell knows of it before the PIN (the verifier's lockout, the list).
        before_pin: BeforePin,
    },
    /// A reader saw something that is not a card number.
    Unreadable,
    /// A reader stopped working.
    ReaderLost {
        /// Which.
        reader: String,
        /// Why.
        why: String,
    },
    /// A reader works (again).
    ReaderFound {
        /// Which.
        reader: String,
    },
    /// A reader's own tamper switch tripped (it still reads cards).
    ReaderTampered {
        /// Which.
        reader: String,
    },
    /// A key on the keypad.
    Key(Key),
    /// The answer to [`Command::Verify`] with this ticket.
    Verdict {
        /// The ticket the command carried.
        ticket: u64,
        /// The answer.
        verdict: Verdict,
    },
    /// A reading of the door's inputs, raw (the door debounces).
    Inputs(DoorInputs),
    /// The branch's hours from now on (a policy bundle from the console): the library's state
    /// is taken from them at once.
    Schedule(Box<Schedule>),
    /// Who may let themselves in from now on (the library's rules in a policy bundle).
    Rules(Box<Rules>),
    /// An order from the library's staff (a signed command from the console).
    Order(Order),
}

/// What staff can order a door to do from the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Stand unlocked for this long (an evening event), then lock again.
    UnlockFor(Duration),
    /// Lock down (`true`): no self-service entry and never standing free, whatever the hours;
    /// the exit always works. `false` ends it.
    LockDown(bool),
    /// End self-service now, with the closing announcement, until the library next opens.
    EndSelfService,
}

/// What the door shows a patron (on a display, or the demo's terminal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feedback {
    /// A card was read: type the PIN.
    EnterPin,
    /// This many digits typed.
    Digits(usize),
    /// Checking.
    Checking,
    /// Come in.
    Welcome {
        /// Who answered.
        source: String,
        /// The patron's language when known, else the door's.
        language: String,
    },
    /// Not now, and why.
    Denied {
        /// The reason.
        reason: Reason,
        /// Its words, exact (for how long a card is locked, tries left), in `language`.
        message: String,
        /// The patron's language when known, else the door's.
        language: String,
    },
    /// An alarm.
    Alarm(Alarm),
    /// An alarm's cause is gone.
    AlarmCleared(Alarm),
    /// The library's state changed.
    State(LibraryState),
    /// A closing announcement was played.
    Announcement(String),
}

/// What kind of event a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A patron was let in.
    Entry,
    /// A patron was refused; `code` says why.
    Denied,
    /// The exit button was pressed.
    Exit,
    /// An alarm was raised (`code`: forced-open, held-open).
    Alarm,
    /// An alarm's cause is gone.
    AlarmCleared,
    /// The library's state changed (`code`: its name).
    State,
    /// A device came or went (`code`: reader-lost, reader-found).
    Device,
    /// The tamper switch tripped.
    Tamper,
    /// The daemon started or stopped.
    Daemon,
    /// A security event with no door movement (refused list, clock jump, …).
    Security,
}

impl Kind {
    /// Alarms and tampering: what the staff's "alarms" question lists.
    pub fn is_alarm(&self) -> bool {
        matches!(self, Self::Alarm | Self::AlarmCleared | Self::Tamper)
    }
}

/// One record of the door's event log. Cards appear only as keyed pseudonyms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When (Unix ms).
    pub at: i64,
    /// What.
    pub kind: Kind,
    /// A stable code (a reason, an alarm, a state).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<String>,
    /// The card's pseudonym.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub card: Option<String>,
    /// Who answered ("online", "offline:7").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    /// Words for staff.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
    /// The item concerned (a kiosk's tag whose security would not switch): kept on the device
    /// for its staff, exported and erased with the patron, never reported to the console.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub item: Option<String>,
}

impl Event {
    /// An event of `kind` at `at` (Unix ms), with nothing else yet.
    pub fn new(kind: Kind, at: i64) -> Self {
        Self {
            at,
            kind,
            code: None,
            card: None,
            source: None,
            detail: None,
            item: None,
        }
    }

    /// Belongs in the security log too: alarms, tampering, security events, and refusals that
    /// are signs of guessing (a card locked after wrong PINs, a flood of attempts).
    pub fn is_security(&self) -> bool {
        matches!(self.kind, Kind::Alarm | Kind::Tamper | Kind::Security)
            || (self.kind == Kind::Denied
                && self.code.as_deref().is_some_and(|c| {
                    c == Reason::PinLockedOut.code() || c == Reason::TooManyAttempts.code()
                }))
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Release the lock.
    ReleaseLock,
    /// Engage the lock.
    EngageLock,
    /// Switch a light or the buzzer.
    Signal(Signal, bool),
    /// Switch an output the library's state drives.
    Output {
        /// Its name.
        name: String,
        /// On or off.
        on: bool,
    },
    /// Play the closing announcement at this index of the door's list.
    Announce(usize),
    /// Show the patron this.
    Show(Feedback),
    /// Ask for a verdict on this card and PIN; answer with [`Input::Verdict`] and the ticket.
    Verify {
        /// Names the answer.
        ticket: u64,
        /// The card.
        card: CardNumber,
        /// The PIN typed.
        pin: Pin,
    },
    /// Keep this in the event log (and say it in the journal).
    Record(Event),
}

/// The door's settings, as the decision needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorConfig {
    /// The patron-facing language (`fi`, `sv`, `en`).
    pub language: String,
    /// PIN entry.
    pub pin: PinRules,
    /// The lock and alarms.
    pub watch: WatchRules,
    /// The door stands free in staffed hours.
    pub free_when_staffed: bool,
    /// Attempts per minute at this door.
    pub max_attempts_per_minute: u32,
    /// The branch's rules.
    pub rules: Rules,
    /// The branch's hours.
    pub schedule: Schedule,
    /// Outputs switched by the library's state.
    pub outputs: Vec<OutputRule>,
    /// Closing announcements.
    pub announcements: Vec<Announcement>,
    /// A verdict not back within this is taken as "nobody answered" (the shell bounds its own
    /// asking more tightly; this is the door's own guard against a lost answer).
    pub verdict_timeout: Duration,
}

/// How long a refusal's red light stays on, at least.
const RED_FOR: Duration = Duration::from_secs(3);
/// "No": one long low tone, whatever the reason (the words say why; counts of beeps were a
/// code nobody could read).
const NO_TONE: Duration = Duration::from_millis(900);
/// "Yes": two short chirps, a gap between.
const YES_CHIRP: Duration = Duration::from_millis(80);
const YES_GAP: Duration = Duration::from_millis(70);
/// How often the library's state is taken from the schedule.
const STATE_EVERY: Duration = Duration::from_secs(1);
/// Inputs held while a verdict is awaited, at most (a flood beyond is dropped).
const HELD_MAX: usize = 64;

/// A patron part-way through: card read, PIN being typed.
#[derive(Debug)]
struct Session {
    card: CardNumber,
    pseudonym: String,
    entry: PinEntry,
}

/// A verdict being awaited.
#[derive(Debug)]
struct Checking {
    ticket: u64,
    pseudonym: String,
    deadline: Duration,
}

/// A scheduled LED or buzzer change.
#[derive(Debug, Clone, Copy)]
struct Blink {
    at: Duration,
    signal: Signal,
    on: bool,
}

/// The door. See the module's documentation.
#[derive(Debug)]
pub struct Door {
    config: DoorConfig,
    watch: DoorWatch,
    flood: Flood,
    session: Option<Session>,
    checking: Option<Checking>,
    /// Cards and keys that came while a verdict was awaited, in order.
    held: VecDeque<Input>,
    next_ticket: u64,
    /// Debounced inputs, and the last raw reading.
    stable: DoorInputs,
    candidate: DoorInputs,
    state: Option<LibraryState>,
    outputs_on: Vec<Option<bool>>,
    last_state_check: DateTime<Utc>,
    next_state_check: Duration,
    blinks: Vec<Blink>,
    out: VecDeque<Command>,
    /// Staff unlocked the door until then (monotonic).
    unlocked_until: Option<Duration>,
    /// Staff locked the branch down.
    locked_down: bool,
    /// Staff ended this self-service period: closed until the hours leave self-service.
    self_service_ended: bool,
}

impl Door {
    /// A door at `now` whose inputs read `first`: the lock is engaged first thing (whatever the
    /// relay held before) and the library's state is taken at once.
    pub fn new(config: DoorConfig, first: DoorInputs, now: Now) -> Self {
        let watch = DoorWatch::new(config.watch, first.open, now.mono);
        let flood = Flood::new(config.max_attempts_per_minute, Duration::from_secs(60));
        let outputs_on = vec![None; config.outputs.len()];
        let mut door = Self {
            config,
            watch,
            flood,
            session: None,
            checking: None,
            held: VecDeque::new(),
            next_ticket: 1,
            stable: first,
            candidate: first,
            state: None,
            outputs_on,
            last_state_check: now.wall,
            next_state_check: now.mono,
            blinks: vec![],
            out: VecDeque::new(),
            unlocked_until: None,
            locked_down: false,
            self_service_ended: false,
        };
        door.out.push_back(Command::EngageLock);
        door.handle_timeout(now);
        door
    }

    /// The settings.
    pub fn config(&self) -> &DoorConfig {
        &self.config
    }

    /// Is the lock released now?
    pub fn unlocked(&self) -> bool {
        self.watch.unlocked()
    }

    /// The alarms now raised.
    pub fn alarms(&self) -> &[Alarm] {
        self.watch.raised()
    }

    /// The library's state, as last taken.
    pub fn state(&self) -> Option<LibraryState> {
        self.state
    }

    /// A verdict is awaited (cards and keys are held until it comes).
    pub fn checking(&self) -> bool {
        self.checking.is_some()
    }

    /// The next command for the shell, in order.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.out.pop_front()
    }

    /// When [`Self::handle_timeout`] next has something to do (monotonic).
    pub fn poll_timeout(&self) -> Option<Duration> {
        [
            Some(self.next_state_check),
            self.watch.next_deadline(),
            self.session.as_ref().map(|s| s.entry.deadline()),
            self.checking.as_ref().map(|c| c.deadline),
            self.blinks.iter().map(|b| b.at).min(),
            self.unlocked_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Something happened at `now`.
    pub fn handle(&mut self, input: Input, now: Now) {
        match input {
            Input::Inputs(raw) => self.inputs(raw, now),
            Input::Verdict { ticket, verdict } => self.verdict(ticket, verdict, now),
            Input::ReaderLost { reader, why } => {
                let mut e = self.event(Kind::Device, now);
                e.code = Some("reader-lost".into());
                e.detail = Some(format!("{reader}: {why}"));
                self.out.push_back(Command::Record(e));
            }
            Input::ReaderFound { reader } => {
                let mut e = self.event(Kind::Device, now);
                e.code = Some("reader-found".into());
                e.detail = Some(reader);
                self.out.push_back(Command::Record(e));
            }
            // The same tampering as the door's own switch: the security log, and at the console
            // an alarm told at once; the detail names the reader.
            Input::ReaderTampered { reader } => {
                let mut e = self.event(Kind::Tamper, now);
                e.code = Some("tamper".into());
                e.detail = Some(reader);
                self.out.push_back(Command::Record(e));
            }
            held @ (Input::Card { .. } | Input::Unreadable | Input::Key(_))
                if self.checking.is_some() =>
            {
                if self.held.len() < HELD_MAX {
                    self.held.push_back(held);
                }
            }
            Input::Card {
                card,
                pseudonym,
                before_pin,
            } => self.card(card, pseudonym, before_pin, now),
            Input::Unreadable => {
                self.deny(Reason::UnreadableCard, None, None, &Detail::default(), now)
            }
            Input::Key(key) => self.key(key, now),
            Input::Schedule(schedule) => {
                self.config.schedule = *schedule;
                self.next_state_check = now.mono;
            }
            Input::Rules(rules) => {
                self.config.rules = *rules;
                self.next_state_check = now.mono;
            }
            Input::Order(order) => self.order(order, now),
        }
        self.handle_timeout(now);
    }

    /// Time has passed: pulses end, alarms rise, PIN entry times out, lights and the buzzer
    /// follow their patterns, and once a second the library's state is taken.
    pub fn handle_timeout(&mut self, now: Now) {
        let cmds = self.watch.tick(now.mono);
        self.apply(cmds, now);
        if let Some(s) = self.session.as_mut() {
            if let Some(PinStep::TimedOut) = s.entry.poll(now.mono) {
                let p = s.pseudonym.clone();
                self.session = None;
                self.deny(Reason::PinTimeout, Some(p), None, &Detail::default(), now);
            }
        }
        if let Some(c) = self.checking.as_ref().filter(|c| now.mono >= c.deadline) {
            let ticket = c.ticket;
            self.verdict(
                ticket,
                Verdict {
                    patron: Err(Reason::Unreachable),
                    source: Source::Nobody,
                    detail: Detail::default(),
                },
                now,
            );
        }
        self.blink(now.mono);
        if self.unlocked_until.is_some_and(|u| now.mono >= u) {
            self.unlocked_until = None;
            self.staff_record("unlock-ended", None, now);
            self.free(now);
        }
        if now.mono >= self.next_state_check {
            self.next_state_check = now.mono + STATE_EVERY;
            self.library_state(now);
        }
    }

    /// Staff's order, recorded as a state event (`code`: what was ordered).
    fn order(&mut self, order: Order, now: Now) {
        match order {
            Order::UnlockFor(d) => {
                self.unlocked_until = Some(now.mono + d);
                self.staff_record(
                    "unlocked-by-staff",
                    Some(format!("{} min", d.as_secs() / 60)),
                    now,
                );
            }
            Order::LockDown(on) => {
                self.locked_down = on;
                if on {
                    self.unlocked_until = None;
                    // A patron part-way through is stopped too.
                    self.session = None;
                }
                self.staff_record(if on { "lockdown" } else { "lockdown-ended" }, None, now);
            }
            Order::EndSelfService => {
                if self.config.schedule.state_at(now.wall) == LibraryState::SelfService {
                    self.self_service_ended = true;
                    self.session = None;
                    self.staff_record("self-service-ended", None, now);
                    if let Some(a) = self.config.announcements.first() {
                        let file = a.file.clone();
                        self.out.push_back(Command::Announce(0));
                        self.show(Feedback::Announcement(file));
                    }
                    self.next_state_check = now.mono;
                } else {
                    self.staff_record(
                        "self-service-ended",
                        Some("not in self-service hours".into()),
                        now,
                    );
                }
            }
        }
        self.free(now);
    }

    fn staff_record(&mut self, code: &str, detail: Option<String>, now: Now) {
        let mut e = self.event(Kind::State, now);
        e.code = Some(code.into());
        e.detail = detail;
        self.out.push_back(Command::Record(e));
    }

    /// Whether the door stands free: staffed hours (when the door is set so) or a staff unlock,
    /// never in a lock-down.
    fn free(&mut self, now: Now) {
        let staffed = self.config.free_when_staffed && self.state == Some(LibraryState::Staffed);
        let free = !self.locked_down && (staffed || self.unlocked_until.is_some());
        let cmds = self.watch.set_free(free, now.mono);
        self.apply(cmds, now);
    }

    /// The door stops: the lock is engaged, lights and buzzer off.
    pub fn shutdown(&mut self) {
        self.out.push_back(Command::EngageLock);
        for s in [Signal::Green, Signal::Red, Signal::Buzzer] {
            self.out.push_back(Command::Signal(s, false));
        }
        self.blinks.clear();
    }

    fn event(&self, kind: Kind, now: Now) -> Event {
        Event::new(kind, now.wall.timestamp_millis())
    }

    fn card(&mut self, card: CardNumber, pseudonym: String, before_pin: BeforePin, now: Now) {
        // A new card ends any PIN entry in progress.
        self.session = None;
        let none = Detail::default();
        if self.locked_down {
            self.deny(Reason::LockedDown, Some(pseudonym), None, &none, now);
        } else if self.self_service_ended && self.state == Some(LibraryState::Closed) {
            self.deny(Reason::Closed, Some(pseudonym), None, &none, now);
        } else if let Err(r) = hours_allow(&self.config.rules, &self.config.schedule, now.wall) {
            self.deny(r, Some(pseudonym), None, &none, now);
        } else if self.flood.attempt(now.mono).is_err() {
            self.deny(Reason::TooManyAttempts, Some(pseudonym), None, &none, now);
        } else if let BeforePin::LockedUntil(until) = before_pin {
            let detail = Detail {
                locked_until: Some(until),
                ..Detail::default()
            };
            self.deny(Reason::PinLockedOut, Some(pseudonym), None, &detail, now);
        } else if let BeforePin::Refuse(reason) = before_pin {
            self.deny(reason, Some(pseudonym), None, &none, now);
        } else {
            self.session = Some(Session {
                card,
                pseudonym,
                entry: PinEntry::new(self.config.pin, now.mono),
            });
            self.show(Feedback::EnterPin);
        }
    }

    fn key(&mut self, key: Key, now: Now) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        match s.entry.key(key, now.mono) {
            PinStep::Entering(n) | PinStep::TooShort(n) => self.show(Feedback::Digits(n)),
            PinStep::TimedOut => {
                let p = s.pseudonym.clone();
                self.session = None;
                self.deny(Reason::PinTimeout, Some(p), None, &Detail::default(), now);
            }
            PinStep::Submitted(pin) => {
                let Some(s) = self.session.take() else {
                    return;
                };
                self.show(Feedback::Checking);
                let ticket = self.next_ticket;
                self.next_ticket = self.next_ticket.wrapping_add(1);
                self.checking = Some(Checking {
                    ticket,
                    pseudonym: s.pseudonym,
                    deadline: now.mono + self.config.verdict_timeout,
                });
                self.out.push_back(Command::Verify {
                    ticket,
                    card: s.card,
                    pin,
                });
            }
        }
    }

    fn verdict(&mut self, ticket: u64, verdict: Verdict, now: Now) {
        let Some(c) = self.checking.take_if(|c| c.ticket == ticket) else {
            // An answer nobody waits for any more (it came after the door's own timeout).
            return;
        };
        let source = verdict.source.label();
        let decision = match &verdict.patron {
            Ok(patron) => decide(patron, &self.config.rules, &self.config.schedule, now.wall),
            Err(reason) => Decision::Deny(*reason),
        };
        let detail = verdict.detail;
        match decision {
            Decision::Open => self.grant(c.pseudonym, source, &detail, now),
            Decision::Deny(reason) => {
                self.deny(reason, Some(c.pseudonym), Some(source), &detail, now)
            }
        }
        // What came meanwhile, in order.
        while self.checking.is_none() {
            let Some(input) = self.held.pop_front() else {
                break;
            };
            self.handle(input, now);
        }
    }

    /// The patron's language when the source said it and the door speaks it, else the door's.
    fn language(&self, detail: &Detail) -> String {
        match detail.language.as_deref() {
            Some(l @ ("fi" | "sv" | "en")) => l.to_owned(),
            _ => self.config.language.clone(),
        }
    }

    fn grant(&mut self, pseudonym: String, source: String, detail: &Detail, now: Now) {
        let cmds = self.watch.grant(now.mono);
        self.apply(cmds, now);
        self.signal(Signal::Green, true);
        self.later(now.mono + self.config.watch.pulse, Signal::Green, false);
        // "Yes": two short chirps.
        self.signal(Signal::Buzzer, true);
        let mut t = now.mono + YES_CHIRP;
        self.later(t, Signal::Buzzer, false);
        t += YES_GAP;
        self.later(t, Signal::Buzzer, true);
        self.later(t + YES_CHIRP, Signal::Buzzer, false);
        let language = self.language(detail);
        let mut e = self.event(Kind::Entry, now);
        e.card = Some(pseudonym);
        e.source = Some(source.clone());
        self.out.push_back(Command::Record(e));
        self.show(Feedback::Welcome { source, language });
    }

    fn deny(
        &mut self,
        reason: Reason,
        pseudonym: Option<String>,
        source: Option<String>,
        detail: &Detail,
        now: Now,
    ) {
        let mut e = self.event(Kind::Denied, now);
        e.code = Some(reason.code().into());
        e.card = pseudonym;
        e.source = source;
        self.out.push_back(Command::Record(e));
        let language = self.language(detail);
        self.show(Feedback::Denied {
            reason,
            message: reason.words(&language, detail, now.wall),
            language,
        });
        // "No": the red light and one long tone; the words say why.
        self.signal(Signal::Red, true);
        self.signal(Signal::Buzzer, true);
        self.later(now.mono + NO_TONE, Signal::Buzzer, false);
        self.later(now.mono + RED_FOR.max(NO_TONE), Signal::Red, false);
    }

    fn inputs(&mut self, raw: DoorInputs, now: Now) {
        if raw == self.candidate && raw != self.stable {
            let before = self.stable;
            self.stable = raw;
            if raw.exit && !before.exit {
                let cmds = self.watch.exit_pressed(now.mono);
                self.apply(cmds, now);
                let e = self.event(Kind::Exit, now);
                self.out.push_back(Command::Record(e));
            }
            if raw.open != before.open {
                let cmds = self.watch.contact(raw.open, now.mono);
                self.apply(cmds, now);
            }
            if raw.tamper && !before.tamper {
                let mut e = self.event(Kind::Tamper, now);
                e.code = Some("tamper".into());
                self.out.push_back(Command::Record(e));
            }
        }
        self.candidate = raw;
    }

    fn apply(&mut self, cmds: Vec<watch::Command>, now: Now) {
        for c in cmds {
            match c {
                watch::Command::Unlock => self.out.push_back(Command::ReleaseLock),
                watch::Command::Lock => self.out.push_back(Command::EngageLock),
                watch::Command::Raise(a) => {
                    let mut e = self.event(Kind::Alarm, now);
                    e.code = Some(a.code().into());
                    self.out.push_back(Command::Record(e));
                    self.show(Feedback::Alarm(a));
                    self.signal(Signal::Buzzer, true);
                    self.signal(Signal::Red, true);
                }
                watch::Command::Clear(a) => {
                    let mut e = self.event(Kind::AlarmCleared, now);
                    e.code = Some(a.code().into());
                    self.out.push_back(Command::Record(e));
                    self.show(Feedback::AlarmCleared(a));
                    if self.watch.raised().is_empty() {
                        self.signal(Signal::Buzzer, false);
                        self.signal(Signal::Red, false);
                    }
                }
            }
        }
    }

    fn signal(&mut self, signal: Signal, on: bool) {
        self.out.push_back(Command::Signal(signal, on));
    }

    fn later(&mut self, at: Duration, signal: Signal, on: bool) {
        self.blinks.push(Blink { at, signal, on });
    }

    /// Lights and buzzer patterns that fall due; an alarm keeps the buzzer and red LED on.
    fn blink(&mut self, now: Duration) {
        // Called at every input reading: nothing to do unless a change has fallen due.
        if !self.blinks.iter().any(|b| now >= b.at) {
            return;
        }
        let alarm = !self.watch.raised().is_empty();
        let mut due = vec![];
        self.blinks.retain(|b| {
            if now >= b.at {
                due.push(*b);
                false
            } else {
                true
            }
        });
        due.sort_by_key(|b| b.at);
        for b in due {
            let keep_on = alarm && matches!(b.signal, Signal::Buzzer | Signal::Red);
            if !keep_on || b.on {
                self.signal(b.signal, b.on);
            }
        }
    }

    /// The library's state, outputs and announcements.
    fn library_state(&mut self, now: Now) {
        let wall = now.wall;
        let mut s = self.config.schedule.state_at(wall);
        if self.self_service_ended {
            if s == LibraryState::SelfService {
                s = LibraryState::Closed;
            } else {
                // The hours have moved on: the order is spent.
                self.self_service_ended = false;
            }
        }
        if self.state != Some(s) {
            let mut e = self.event(Kind::State, now);
            e.code = Some(s.name().into());
            self.out.push_back(Command::Record(e));
            self.show(Feedback::State(s));
            self.state = Some(s);
            self.free(now);
        }
        for i in 0..self.config.outputs.len() {
            let on = self.config.outputs[i].is_on(&self.config.schedule, wall);
            if self.outputs_on[i] != Some(on) {
                self.outputs_on[i] = Some(on);
                let name = self.config.outputs[i].name.clone();
                self.out.push_back(Command::Output { name, on });
            }
        }
        for i in 0..self.config.announcements.len() {
            let a = &self.config.announcements[i];
            let due = a
                .due(&self.config.schedule, self.last_state_check, wall)
                .len();
            let file = a.file.clone();
            for _ in 0..due {
                self.out.push_back(Command::Announce(i));
                self.show(Feedback::Announcement(file.clone()));
            }
        }
        self.last_state_check = wall;
    }

    fn show(&mut self, f: Feedback) {
        self.out.push_back(Command::Show(f));
    }
}

#[cfg(test)]
mod tests;
