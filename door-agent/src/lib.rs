//! The door daemon of a staffless library. A patron shows a card and types a PIN; the door asks
//! the library system (bounded by a short timeout), or else its signed offline list, applies the
//! branch's rules and hours, and releases the lock for a pulse or says why not. It watches the door
//! for held-open and forced-open alarms, switches the library's outputs with its state, plays
//! closing announcements, and records every decision and alarm, pseudonymised, in an event log.
//!
//! [`run`] is the daemon; `main.rs` only reads arguments and sets up logging.
//!
//! Layout:
//! - [`settings`]: the configuration file, validated.
//! - [`check`]: card + PIN -> verdict (online, offline, policy).
//! - [`facts`]: the library system's and the list's facts as the policy reads them.
//! - [`door`]: the door task: I/O, watch, alarms, outputs, announcements, LEDs and buzzer.
//! - [`events`]: the pseudonymised event log in sled.
//! - [`control`]: the staff's questions over a local socket ("who came in", "which alarms").
//! - [`devices`]: opening the configured devices and wiring them to channels.
#![deny(missing_docs)]

pub mod check;
pub mod control;
pub mod devices;
pub mod door;
pub mod events;
pub mod facts;
pub mod selftest;
pub mod settings;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use access::hours::LibraryState;
use access::limits::{CardFailures, Flood};
use access::pin::{Key, PinEntry, PinStep};
use access::policy::{Decision, Reason};
use access::watch::Alarm;
use allowlist::CardKey;
use chrono::{DateTime, Utc};
use drivers::card::CardEvent;
use drivers::gpio::DoorIo;
use offline::OfflineList;
use redact::CardNumber;
use registry::Registry;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::check::{Checker, Source};
use crate::door::DoorCommand;
use crate::events::{Event, EventLog, Kind};
use crate::settings::DoorSettings;

/// The wall clock (replaceable in tests and the demo).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
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
    },
    /// Not now, and why.
    Denied {
        /// The reason.
        reason: Reason,
        /// Its words in the door's language.
        message: String,
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

/// The devices the daemon runs on, already opened: card events and keys arrive on channels (see
/// [`devices`] for the real ones and the simulated twins), the door's I/O is owned by the door task.
#[allow(missing_debug_implementations)]
pub struct Devices {
    /// Every card reader's events.
    pub cards: mpsc::Receiver<CardEvent>,
    /// Keypad keys.
    pub keys: mpsc::Receiver<Key>,
    /// Lock, contact, exit button, LEDs, buzzer, outputs.
    pub door: Box<dyn DoorIo>,
    /// Where to show the patron what happens, if anywhere.
    pub feedback: Option<mpsc::Sender<Feedback>>,
    /// The wall clock.
    pub clock: Clock,
}

/// A patron part-way through: card read, PIN being typed.
struct Session {
    card: CardNumber,
    pseudonym: String,
    entry: PinEntry,
}

/// The card's pseudonym in the event log: 32 hex digits of the keyed hash the allow-list uses, so
/// the library (which holds the card key) can resolve it in its own system and nobody else can.
pub fn pseudonym(key: &CardKey, card: &CardNumber) -> String {
    let hash = key.hash(card);
    hash.0.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Runs the door until `shutdown` completes; then the lock is engaged and the log flushed.
pub async fn run<R: Registry + Clone + 'static>(
    settings: DoorSettings,
    registry: Option<R>,
    devices: Devices,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let Devices {
        mut cards,
        mut keys,
        door,
        feedback,
        clock,
    } = devices;
    std::fs::create_dir_all(&settings.state_dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", settings.state_dir.display()))?;
    let events = EventLog::open(&settings.state_dir.join("events"))?;
    let list = OfflineList::open(settings.allowlist.clone())?;
    let card_key = settings.allowlist.card_key.clone();
    let probe = registry.clone();
    let checker = Checker::new(
        registry,
        list.clone(),
        settings.online_timeout,
        Arc::new(settings.rules.clone()),
        Arc::new(settings.schedule.clone()),
    );
    let record = |e: Event| events.keep(e);
    let say = |f: Feedback| {
        if let Some(tx) = &feedback {
            let _ = tx.try_send(f);
        }
    };
    purge(&events, &list, &settings, &clock);

    // The door task owns the I/O; it engages the lock first thing.
    let (door_tx, door_rx) = mpsc::channel(16);
    let (alive_tx, alive_rx) = watch::channel(Instant::now());
    let door_task = tokio::spawn(door::run(
        door,
        settings.clone(),
        clock.clone(),
        events.clone(),
        door_rx,
        feedback.clone(),
        alive_tx,
    ));
    let control = control::serve(&settings.state_dir.join("control.sock"), events.clone());
    let metrics = daemon::Metrics::new();
    let metrics_task = settings.metrics.map(|addr| {
        let m = metrics.clone();
        tokio::spawn(async move {
            if let Err(e) = m.serve(addr).await {
                tracing::error!("health endpoint {addr}: {e}");
            }
        })
    });
    // Only when someone can read them; the log scans (`full`) only on the 15 s tick.
    let gauges = |full: bool| {
        if settings.metrics.is_none() {
            return;
        }
        metrics.set("omatoimi_up", "1 while the door-agent runs", 1.0);
        metrics.set(
            "omatoimi_door_task_alive",
            "1 when the door task (relay, contact, alarms) polled in the last 2 s",
            if alive_rx.borrow().elapsed() < Duration::from_secs(2) {
                1.0
            } else {
                0.0
            },
        );
        if let Some(c) = list.store().current() {
            let h = &c.header.header;
            metrics.set(
                "omatoimi_allowlist_version",
                "version of the offline list applied",
                h.version as f64,
            );
            metrics.set(
                "omatoimi_allowlist_expires_timestamp_seconds",
                "when the applied offline list expires (Unix time)",
                h.expires_at as f64,
            );
        }
        if !full {
            return;
        }
        let now = clock().timestamp_millis();
        if let Ok(recent) = events.between(now - 86_400_000, now + 1) {
            metrics.set(
                "omatoimi_alarms_24h",
                "alarms and tamper events in the last 24 hours",
                recent.iter().filter(|e| e.kind.is_alarm()).count() as f64,
            );
        }
        metrics.set(
            "omatoimi_events",
            "events held in the log",
            events.len() as f64,
        );
    };
    let sync = spawn_sync(
        &list,
        &settings,
        clock.clone(),
        events.clone(),
        metrics.clone(),
    );

    let mut e = Event::new(Kind::Daemon, clock().timestamp_millis());
    e.code = Some("started".into());
    e.detail = Some(format!("{} at {}", settings.name, settings.rules.branch));
    record(e);
    tracing::info!(door = %settings.name, branch = %settings.rules.branch, list = ?list.store().held().map(|h| h.version), "door-agent ready");
    daemon::notify("READY=1");

    let start = Instant::now();
    let mono = |t: Instant| t.duration_since(start);
    let mut failures: CardFailures<String> =
        CardFailures::new(settings.max_pin_failures, settings.lockout);
    let mut flood = Flood::new(settings.max_attempts_per_minute, Duration::from_secs(60));
    let mut session: Option<Session> = None;
    let (mut cards_open, mut keys_open) = (true, true);
    let watchdog = daemon::watchdog_interval();
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut housekeeping = tokio::time::interval(Duration::from_secs(3600));
    let mut purging: Option<tokio::task::JoinHandle<()>> = None;
    let mut gauge_tick = tokio::time::interval(Duration::from_secs(15));
    // With a health endpoint, the library system is asked about a dummy item once a minute, so
    // `online` is known before the first patron (as SIP2's status heartbeat would tell).
    let mut probe_tick = tokio::time::interval(Duration::from_secs(60));
    let (mut last_wall, mut last_mono) = (clock().timestamp_millis(), Instant::now());
    housekeeping.tick().await;
    tokio::pin!(shutdown);

    let deny = |reason: Reason,
                pseudonym: Option<&str>,
                source: Option<String>,
                door_tx: &mpsc::Sender<DoorCommand>| {
        let mut e = Event::new(Kind::Denied, clock().timestamp_millis());
        e.code = Some(reason.code().into());
        e.card = pseudonym.map(str::to_owned);
        e.source = source.clone();
        record(e);
        tracing::info!(door = %settings.name, card = pseudonym.unwrap_or("-"), reason = reason.code(), source = source.as_deref().unwrap_or("-"), "entry denied");
        say(Feedback::Denied {
            reason,
            message: reason.message(&settings.language).into(),
        });
        let _ = door_tx.try_send(DoorCommand::Refuse(reason.number()));
    };

    loop {
        let pin_deadline = session.as_ref().map(|s| start + s.entry.deadline());
        tokio::select! {
            // In this order when several are ready: a card read just before a fast patron's
            // first digit opens the session that digit belongs to.
            biased;
            () = &mut shutdown => break,
            ev = cards.recv(), if cards_open => {
                let Some(ev) = ev else {
                    tracing::error!("every card reader has stopped");
                    cards_open = false;
                    continue;
                };
                match ev {
                    CardEvent::Card { number, reader } => {
                        let now = Instant::now();
                        let p = pseudonym(&card_key, &number);
                        session = None;
                        tracing::debug!(door = %settings.name, card = %p, %reader, "card read");
                        if let Err(r) = access::policy::hours_allow(&settings.rules, &settings.schedule, clock()) {
                            deny(r, Some(&p), None, &door_tx);
                        } else if flood.attempt(mono(now)).is_err() {
                            tracing::warn!(target: "security", door = %settings.name, "too many attempts at this door");
                            deny(Reason::TooManyAttempts, Some(&p), None, &door_tx);
                        } else if failures.locked(&p, mono(now)).is_some() {
                            tracing::warn!(target: "security", door = %settings.name, card = %p, "card locked after wrong PINs");
                            deny(Reason::PinLockedOut, Some(&p), None, &door_tx);
                        } else {
                            session = Some(Session { card: number, pseudonym: p, entry: PinEntry::new(settings.pin, mono(now)) });
                            say(Feedback::EnterPin);
                        }
                    }
                    CardEvent::Unreadable { reader, why } => {
                        tracing::info!(door = %settings.name, %reader, why, "unreadable card");
                        deny(Reason::UnreadableCard, None, None, &door_tx);
                    }
                    CardEvent::Removed { .. } => {}
                    CardEvent::ReaderLost { reader, why } => {
                        tracing::error!(door = %settings.name, %reader, why, "card reader lost");
                        let mut e = Event::new(Kind::Device, clock().timestamp_millis());
                        e.code = Some("reader-lost".into());
                        e.detail = Some(format!("{reader}: {why}"));
                        record(e);
                    }
                    CardEvent::ReaderFound { reader } => {
                        tracing::info!(door = %settings.name, %reader, "card reader in service");
                        let mut e = Event::new(Kind::Device, clock().timestamp_millis());
                        e.code = Some("reader-found".into());
                        e.detail = Some(reader);
                        record(e);
                    }
                }
            }
            key = keys.recv(), if keys_open => {
                let Some(key) = key else {
                    tracing::error!("the keypad has stopped");
                    keys_open = false;
                    continue;
                };
                let Some(s) = session.as_mut() else { continue };
                match s.entry.key(key, mono(Instant::now())) {
                    PinStep::Entering(n) | PinStep::TooShort(n) => say(Feedback::Digits(n)),
                    PinStep::TimedOut => {
                        let p = s.pseudonym.clone();
                        session = None;
                        deny(Reason::PinTimeout, Some(&p), None, &door_tx);
                    }
                    PinStep::Submitted(pin) => {
                        let Some(s) = session.take() else { continue };
                        say(Feedback::Checking);
                        let verdict = checker.check(&s.card, pin, clock()).await;
                        if let Some(why) = &verdict.online_failure {
                            tracing::warn!(door = %settings.name, "library system: {why}; asked the offline list");
                        }
                        let source = Some(verdict.source.label());
                        gauges(false);
                        metrics.set(
                            daemon::metrics::ONLINE.0,
                            daemon::metrics::ONLINE.1,
                            if verdict.source == Source::Online { 1.0 } else { 0.0 },
                        );
                        match verdict.decision {
                            Decision::Open => {
                                failures.succeeded(&s.pseudonym);
                                let _ = door_tx.send(DoorCommand::Grant).await;
                                let mut e = Event::new(Kind::Entry, clock().timestamp_millis());
                                e.card = Some(s.pseudonym.clone());
                                e.source = source.clone();
                                record(e);
                                tracing::info!(door = %settings.name, card = %s.pseudonym, source = source.as_deref().unwrap_or("-"), "entry granted");
                                if let Source::Offline { past_expiry: true, .. } = verdict.source {
                                    tracing::warn!(target: "security", door = %settings.name, card = %s.pseudonym, "entry on an expired list (grace policy)");
                                }
                                say(Feedback::Welcome { source: verdict.source.label() });
                            }
                            Decision::Deny(reason) => {
                                if reason == Reason::WrongPin {
                                    let left = failures.failed(&s.pseudonym, mono(Instant::now()));
                                    if left == 0 {
                                        tracing::warn!(target: "security", door = %settings.name, card = %s.pseudonym, "wrong PINs: card locked");
                                    }
                                }
                                deny(reason, Some(&s.pseudonym), source, &door_tx);
                            }
                        }
                    }
                }
            }
            () = sleep_until_opt(pin_deadline) => {
                if let Some(s) = session.as_mut() {
                    if let Some(PinStep::TimedOut) = s.entry.poll(mono(Instant::now())) {
                        let p = s.pseudonym.clone();
                        session = None;
                        deny(Reason::PinTimeout, Some(&p), None, &door_tx);
                    }
                }
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                // Only a door task that polled recently keeps the watchdog fed.
                if alive_rx.borrow().elapsed() < Duration::from_secs(2) {
                    daemon::notify("WATCHDOG=1");
                }
            }
            _ = probe_tick.tick(), if probe.is_some() && settings.metrics.is_some() => {
                if let Some(r) = probe.clone() {
                    let (m, bound) = (metrics.clone(), settings.online_timeout);
                    tokio::spawn(async move {
                        let answered = matches!(
                            tokio::time::timeout(bound, r.item("PROBE-0")).await,
                            Ok(Ok(_))
                        );
                        let (name, help) = daemon::metrics::ONLINE;
                        m.set(name, help, if answered { 1.0 } else { 0.0 });
                    });
                }
            }
            _ = gauge_tick.tick() => {
                gauges(true);
                // The wall clock against the monotonic one: a jump changes which list is in
                // force and which hours apply, and is how a tampered box would hide.
                let wall = clock().timestamp_millis();
                let mono_now = Instant::now();
                let expected = last_wall.saturating_add(i64::try_from(mono_now.duration_since(last_mono).as_millis()).unwrap_or(i64::MAX));
                let jump = wall.saturating_sub(expected);
                if jump.abs() > 60_000 {
                    security_event(&events, &clock, "clock-jump", format!("the clock jumped by {:+} s", jump / 1000));
                }
                (last_wall, last_mono) = (wall, mono_now);
            }
            _ = housekeeping.tick() => {
                // A purge rewrites the log (seconds for a large one): off this loop, which
                // decides at the door; the log goes on recording meanwhile.
                if purging.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                    let (events, list, settings, clock) =
                        (events.clone(), list.clone(), settings.clone(), clock.clone());
                    purging = Some(tokio::task::spawn_blocking(move || {
                        purge(&events, &list, &settings, &clock)
                    }));
                }
                failures.forget_old(mono(Instant::now()));
            }
        }
    }
    daemon::notify("STOPPING=1");
    // The log's last handle must be gone when `run` returns.
    if let Some(p) = purging {
        let _ = p.await;
    }
    let _ = door_tx.send(DoorCommand::Shutdown).await;
    let _ = door_task.await;
    // Aborted tasks are awaited so the event log's last handle is gone when `run` returns.
    if let Some(s) = sync {
        s.abort();
        let _ = s.await;
    }
    control.abort();
    let _ = control.await;
    if let Some(m) = metrics_task {
        m.abort();
        let _ = m.await;
    }
    let mut e = Event::new(Kind::Daemon, clock().timestamp_millis());
    e.code = Some("stopped".into());
    record(e);
    tracing::info!(door = %settings.name, "door-agent stopped");
    Ok(())
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn purge(events: &EventLog, list: &OfflineList, settings: &DoorSettings, clock: &Clock) {
    let cutoff = clock().timestamp_millis()
        - i64::try_from(settings.retention.as_millis()).unwrap_or(i64::MAX);
    match events.purge_before(cutoff) {
        Ok(0) => {}
        Ok(n) => tracing::info!("event log: {n} events past the retention purged"),
        Err(e) => tracing::error!("event log purge: {e}"),
    }
    let cutoff = clock().timestamp_millis()
        - i64::try_from(settings.security_retention.as_millis()).unwrap_or(i64::MAX);
    match events.purge_security_before(cutoff) {
        Ok(0) => {}
        Ok(n) => tracing::info!("security log: {n} events past its retention purged"),
        Err(e) => tracing::error!("security log purge: {e}"),
    }
    // The wrong-PIN records of offline checks whose window and lockout are over.
    list.purge_failures_logged(clock().timestamp());
}

/// A security event with no door movement, in both logs and on the `security` log target.
fn security_event(events: &EventLog, clock: &Clock, code: &str, detail: String) {
    tracing::warn!(target: "security", code, "{detail}");
    let mut e = Event::new(Kind::Security, clock().timestamp_millis());
    e.code = Some(code.into());
    e.detail = Some(detail);
    events.keep(e);
}

/// Syncs the offline list now and every `sync_every`, when it has a URL.
fn spawn_sync(
    list: &OfflineList,
    settings: &DoorSettings,
    clock: Clock,
    events: EventLog,
    metrics: daemon::Metrics,
) -> Option<tokio::task::JoinHandle<()>> {
    settings.allowlist.url.as_ref()?;
    let clock2 = clock.clone();
    let fetcher = match offline::Fetcher::new(list) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("offline list sync cannot start: {e}");
            return None;
        }
    };
    Some(tokio::spawn(offline::sync_forever(
        fetcher,
        list.clone(),
        settings.sync_every,
        move || clock().timestamp(),
        // `offline` has logged the refusal on the security target; it is recorded here.
        move |r| {
            let mut e = Event::new(Kind::Security, clock2().timestamp_millis());
            e.code = Some("list-refused".into());
            e.detail = Some(format!("an offline list was refused: {r}"));
            events.keep(e);
        },
        move |at| {
            let (name, help) = daemon::metrics::LIST_LAST_SYNC;
            metrics.set(name, help, at as f64)
        },
    )))
}
