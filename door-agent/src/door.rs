//! The door task: owns the door's I/O, polls the contact, exit button and tamper switch, runs the
//! door watch (pulse, relock, held-open and forced-open alarms), switches outputs and plays closing
//! announcements as the library's state changes, and shows verdicts on the LEDs and buzzer.

use std::sync::Arc;
use std::time::Duration;

use access::hours::LibraryState;
use access::watch::{Command, DoorWatch};
use drivers::gpio::{DoorInputs, DoorIo, Signal};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::Clock;
use crate::Feedback;
use crate::events::{Event, EventLog, Kind};
use crate::settings::DoorSettings;

/// What the decision side asks of the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorCommand {
    /// Open for a patron.
    Grant,
    /// Show a refusal: red LED and a long beep, then this many short beeps.
    Refuse(u8),
    /// Lock and stop.
    Shutdown,
}

/// How often the inputs are read.
pub const POLL: Duration = Duration::from_millis(20);

/// A scheduled LED or buzzer change.
struct Blink {
    at: Instant,
    signal: Signal,
    on: bool,
}

/// Runs the door until [`DoorCommand::Shutdown`] (or the command channel closes): then the lock is
/// engaged and the LEDs and buzzer switched off.
pub async fn run(
    mut door: Box<dyn DoorIo>,
    settings: Arc<DoorSettings>,
    clock: Clock,
    events: EventLog,
    mut commands: mpsc::Receiver<DoorCommand>,
    feedback: Option<mpsc::Sender<Feedback>>,
    alive: watch::Sender<Instant>,
) {
    let start = Instant::now();
    let mono = |t: Instant| t.duration_since(start);
    let record = |e: Event| events.keep(e);
    let say = |f: Feedback| {
        if let Some(tx) = &feedback {
            let _ = tx.try_send(f);
        }
    };
    let mut read_failed = false;
    let mut read = |door: &mut Box<dyn DoorIo>| match door.inputs() {
        Ok(i) => {
            read_failed = false;
            Some(i)
        }
        Err(e) => {
            if !read_failed {
                tracing::error!("door inputs: {e}");
            }
            read_failed = true;
            None
        }
    };
    // The lock is engaged explicitly at start, whatever the relay held before.
    if let Err(e) = door.set_locked(true) {
        tracing::error!("cannot engage the lock: {e}");
    }
    let first = read(&mut door).unwrap_or_default();
    let mut stable = first;
    let mut candidate = first;
    let mut watch = DoorWatch::new(settings.watch, first.open, Duration::ZERO);
    let mut state: Option<LibraryState> = None;
    let mut output_on: Vec<Option<bool>> = vec![None; settings.outputs.len()];
    let mut last_state_check = clock();
    let mut next_state_check = Instant::now();
    let mut blinks: Vec<Blink> = vec![];
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let apply = |door: &mut Box<dyn DoorIo>, cmds: Vec<Command>, watch: &DoorWatch| {
        for c in cmds {
            match c {
                Command::Unlock => {
                    if let Err(e) = door.set_locked(false) {
                        tracing::error!("cannot release the lock: {e}");
                    }
                    panic_for_tests();
                }
                Command::Lock => {
                    if let Err(e) = door.set_locked(true) {
                        tracing::error!("cannot engage the lock: {e}");
                    }
                }
                Command::Raise(a) => {
                    tracing::warn!(target: "security", door = %settings.name, alarm = a.code(), "door alarm");
                    let mut e = Event::new(Kind::Alarm, clock().timestamp_millis());
                    e.code = Some(a.code().into());
                    record(e);
                    say(Feedback::Alarm(a));
                    let _ = door.signal(Signal::Buzzer, true);
                    let _ = door.signal(Signal::Red, true);
                }
                Command::Clear(a) => {
                    tracing::info!(door = %settings.name, alarm = a.code(), "door alarm cleared");
                    let mut e = Event::new(Kind::AlarmCleared, clock().timestamp_millis());
                    e.code = Some(a.code().into());
                    record(e);
                    say(Feedback::AlarmCleared(a));
                    if watch.raised().is_empty() {
                        let _ = door.signal(Signal::Buzzer, false);
                        let _ = door.signal(Signal::Red, false);
                    }
                }
            }
        }
    };

    loop {
        tokio::select! {
            biased;
            cmd = commands.recv() => {
                let now = Instant::now();
                match cmd {
                    Some(DoorCommand::Grant) => {
                        let cmds = watch.grant(mono(now));
                        apply(&mut door, cmds, &watch);
                        let _ = door.signal(Signal::Green, true);
                        blinks.push(Blink { at: now + settings.watch.pulse, signal: Signal::Green, on: false });
                        let _ = door.signal(Signal::Buzzer, true);
                        blinks.push(Blink { at: now + Duration::from_millis(150), signal: Signal::Buzzer, on: false });
                    }
                    Some(DoorCommand::Refuse(beeps)) => {
                        let _ = door.signal(Signal::Red, true);
                        let _ = door.signal(Signal::Buzzer, true);
                        let mut t = now + Duration::from_millis(600);
                        blinks.push(Blink { at: t, signal: Signal::Buzzer, on: false });
                        for _ in 0..beeps {
                            t += Duration::from_millis(150);
                            blinks.push(Blink { at: t, signal: Signal::Buzzer, on: true });
                            t += Duration::from_millis(100);
                            blinks.push(Blink { at: t, signal: Signal::Buzzer, on: false });
                        }
                        blinks.push(Blink { at: t.max(now + Duration::from_secs(3)), signal: Signal::Red, on: false });
                    }
                    Some(DoorCommand::Shutdown) | None => break,
                }
            }
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        let _ = alive.send(now);
        // Inputs, debounced: a level counts once read the same twice in a row.
        if let Some(raw) = read(&mut door) {
            if raw == candidate && raw != stable {
                let before = stable;
                stable = raw;
                on_inputs(
                    before,
                    stable,
                    &mut watch,
                    mono(now),
                    &mut door,
                    &apply,
                    &settings,
                    &clock,
                    &record,
                );
            }
            candidate = raw;
        }
        let cmds = watch.tick(mono(now));
        apply(&mut door, cmds, &watch);
        // LEDs and buzzer patterns; an alarm keeps the buzzer and red LED on.
        blinks.retain(|b| {
            if now >= b.at {
                let keep_on =
                    !watch.raised().is_empty() && matches!(b.signal, Signal::Buzzer | Signal::Red);
                if !keep_on || b.on {
                    let _ = door.signal(b.signal, b.on);
                }
                false
            } else {
                true
            }
        });
        // The library's state, outputs and announcements, once a second.
        if now >= next_state_check {
            next_state_check = now + Duration::from_secs(1);
            let wall = clock();
            let s = settings.schedule.state_at(wall);
            if state != Some(s) {
                if let Some(before) = state {
                    tracing::info!(door = %settings.name, from = before.name(), to = s.name(), "library state");
                }
                let mut e = Event::new(Kind::State, wall.timestamp_millis());
                e.code = Some(s.name().into());
                record(e);
                say(Feedback::State(s));
                state = Some(s);
                let cmds = watch.set_free(
                    settings.free_when_staffed && s == LibraryState::Staffed,
                    mono(now),
                );
                apply(&mut door, cmds, &watch);
            }
            for (i, rule) in settings.outputs.iter().enumerate() {
                let on = rule.is_on(&settings.schedule, wall);
                if output_on[i] != Some(on) {
                    tracing::info!(door = %settings.name, output = %rule.name, on, "output");
                    if let Err(e) = door.set_output(&rule.name, on) {
                        tracing::error!("output {}: {e}", rule.name);
                    }
                    output_on[i] = Some(on);
                }
            }
            for a in &settings.announcements {
                for _ in a
                    .announcement
                    .due(&settings.schedule, last_state_check, wall)
                {
                    play(a, &settings.name);
                    say(Feedback::Announcement(a.announcement.file.clone()));
                }
            }
            last_state_check = wall;
        }
    }
    // Stopping: the lock is engaged explicitly (drop does not run on SIGKILL; this path is for
    // SIGTERM and errors, and systemd's watchdog covers hangs).
    match door.set_locked(true) {
        Ok(()) => tracing::info!(door = %settings.name, "door locked for shutdown"),
        Err(e) => tracing::error!("cannot engage the lock at shutdown: {e}"),
    }
    for s in [Signal::Green, Signal::Red, Signal::Buzzer] {
        let _ = door.signal(s, false);
    }
}

#[allow(clippy::too_many_arguments)]
fn on_inputs(
    before: DoorInputs,
    now_in: DoorInputs,
    watch: &mut DoorWatch,
    t: Duration,
    door: &mut Box<dyn DoorIo>,
    apply: &impl Fn(&mut Box<dyn DoorIo>, Vec<Command>, &DoorWatch),
    settings: &DoorSettings,
    clock: &Clock,
    record: &impl Fn(Event),
) {
    if now_in.exit && !before.exit {
        let cmds = watch.exit_pressed(t);
        apply(door, cmds, watch);
        record(Event::new(Kind::Exit, clock().timestamp_millis()));
        tracing::info!(door = %settings.name, "exit button");
    }
    if now_in.open != before.open {
        let cmds = watch.contact(now_in.open, t);
        apply(door, cmds, watch);
    }
    if now_in.tamper && !before.tamper {
        tracing::warn!(target: "security", door = %settings.name, "tamper switch tripped");
        let mut e = Event::new(Kind::Tamper, clock().timestamp_millis());
        e.code = Some("tamper".into());
        record(e);
    }
}

/// For the fail-locked tests, in debug builds only: with `DOOR_AGENT_TEST_PANIC=released` the door
/// task panics right after releasing the lock. Release builds have no such trigger.
#[cfg(debug_assertions)]
#[allow(clippy::panic)]
fn panic_for_tests() {
    if std::env::var_os("DOOR_AGENT_TEST_PANIC").is_some_and(|v| v == "released") {
        panic!("DOOR_AGENT_TEST_PANIC: the door task panics with the lock released");
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
