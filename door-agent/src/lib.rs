//! The door daemon of a staffless library: the shell around the pure door
//! ([`access::door::Door`], where the whole decision is: read that first). A patron shows a
//! card and types a PIN; the door asks the library system (bounded by a short timeout), or else
//! its signed offline list ([`offline::verify`]), applies the branch's rules and hours, and
//! releases the lock for a pulse or says why not. It watches the door for held-open and
//! forced-open alarms, switches the library's outputs with its state, plays closing
//! announcements, and records every decision and alarm, pseudonymised, in an event log.
//!
//! [`run`] is the daemon: it feeds the pure door card reads, keys, verdicts, input readings and
//! the passing of time, and carries out its commands. `main.rs` only reads arguments and sets
//! up logging.
//!
//! Layout:
//! - [`settings`]: the configuration file, validated.
//! - [`door`]: the door's hands: its commands carried out on the pins, logs and display.
//! - [`events`]: the pseudonymised event log in sled.
//! - [`health`]: the gauges of the loopback health endpoint.
//! - [`control`]: the staff's questions over a local socket ("who came in", "which alarms").
//! - [`devices`]: opening the configured devices and wiring them to channels.
//! - [`selftest`]: the technician's check of every part.
#![deny(missing_docs)]

pub mod devices;
pub mod door;
/// The event log, shared with the kiosk.
pub use eventlog as events;
/// Staff questions to the running door.
pub use eventlog::control;
pub mod health;
pub mod patron;
pub mod selftest;
pub mod settings;
pub mod sign;
pub mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use access::door::Feedback;
use access::door::{Command, Door, Input, Now};
use access::pin::Key;
use chrono::{DateTime, Utc};
use drivers::card::CardEvent;
use drivers::gpio::DoorIo;
use offline::{OfflineList, Verifier};
use registry::Registry;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::door::Hands;
use crate::events::{Event, EventLog, Kind};
use crate::health::Health;
use crate::settings::DoorSettings;

/// The wall clock (replaceable in tests and the demo).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// The devices the daemon runs on, already opened: card events and keys arrive on channels (see
/// [`devices`] for the real ones and the simulated twins), the door's I/O is polled by the loop.
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
    /// The display at the door the patron reads, if any (`[display]`).
    pub display: Option<Box<dyn drivers::display::TextDisplay>>,
    /// The wall clock.
    pub clock: Clock,
}

pub use eventlog::pseudonym;

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
        door: io,
        feedback,
        display,
        clock,
    } = devices;
    // The patron reads the door's feedback on its display too.
    let feedback = match display {
        Some(d) => {
            let sign = sign::spawn(
                d,
                settings.language.clone(),
                access::hours::LibraryState::SelfService,
            );
            Some(tee(feedback, sign))
        }
        None => feedback,
    };
    std::fs::create_dir_all(&settings.state_dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", settings.state_dir.display()))?;
    let events = EventLog::open(&settings.state_dir.join("events"))?;
    let list = OfflineList::open(settings.allowlist.clone())?;
    let card_key = settings.allowlist.card_key.clone();
    let probe = registry.clone();
    let verifier = Verifier::new(
        registry,
        Some(list.clone()),
        settings.allowlist.guard,
        settings.online_timeout,
    );
    purge(&events, &verifier, &settings, &clock);

    // The lock is engaged first thing, then the door starts from what its inputs read.
    let mut hands = Hands::new(io, settings.clone(), events.clone(), feedback);
    let start = Instant::now();
    let now = || Now {
        mono: start.elapsed(),
        wall: clock(),
    };
    let first = hands.read().unwrap_or_default();
    let health = Health::new(&settings, list.clone(), events.clone(), clock.clone());
    let metrics = health.metrics().clone();
    // The console's policy bundle kept from before, if any: its calendar from the first moment.
    let policy_store = open_policy(&settings);
    let mut config = settings.door_config();
    if let Some(store) = &policy_store {
        match store.current(clock().timestamp()) {
            Ok(Some(b)) => match b.policy.schedule() {
                Ok(s) => {
                    if b.expires_at <= clock().timestamp() {
                        tracing::warn!(
                            version = b.version,
                            "the console's policy bundle has expired; its hours are kept until the console is reached"
                        );
                    }
                    tracing::info!(
                        version = b.version,
                        library_rules = b.policy.entry.is_some(),
                        "hours from the console's policy bundle"
                    );
                    config.schedule = s;
                    if let Some(e) = &b.policy.entry {
                        config.rules = e.onto(&settings.rules);
                    }
                    policy_gauges(&metrics, &b);
                }
                Err(e) => tracing::error!(
                    "the kept policy bundle {} cannot be used ({e}); the file's hours apply",
                    b.version
                ),
            },
            Ok(None) => {}
            Err(e) => tracing::error!(
                "the kept policy bundle is no longer trusted ({e}); the file's hours apply"
            ),
        }
    }
    let mut door = Door::new(config, first, now());
    let (verdict_tx, mut verdict_rx) = mpsc::channel::<(u64, offline::Verdict)>(4);
    let mut last_poll = Instant::now();
    let control = control::serve(&settings.state_dir.join("control.sock"), events.clone());
    let metrics_task = health.serve();
    let sync = spawn_sync(
        &list,
        &settings,
        clock.clone(),
        events.clone(),
        metrics.clone(),
    );

    let (policy_tx, mut policy_rx) = mpsc::channel::<uplink::Bundle>(4);
    let (order_tx, mut order_rx) = mpsc::channel::<Ordered>(4);
    let uplink = settings.console.as_ref().and_then(|c| {
        let hook = policy_store
            .clone()
            .map(|store| policy_hook(store, policy_tx.clone(), &events, &clock));
        let commands = command_hook(c, &settings, order_tx.clone(), &events, &list, &clock);
        start_uplink(
            c,
            &settings,
            &events,
            clock.clone(),
            metrics.clone(),
            hook,
            commands,
        )
    });

    let mut e = Event::new(Kind::Daemon, clock().timestamp_millis());
    e.code = Some("started".into());
    e.detail = Some(format!("{} at {}", settings.name, settings.rules.branch));
    events.keep(e);
    tracing::info!(
        "door-agent ready: {} at {}, version {}; offline list {}; library system {}; console {}",
        settings.name,
        settings.rules.branch,
        env!("CARGO_PKG_VERSION"),
        list.store().held().map_or_else(
            || "none yet".to_owned(),
            |h| format!("version {}", h.version)
        ),
        if probe.is_some() {
            "configured"
        } else {
            "none: offline list only"
        },
        settings.console.as_ref().map_or("none", |c| c.url.as_str()),
    );
    daemon::notify("READY=1");

    let (mut cards_open, mut keys_open) = (true, true);
    // Readers lost and not found again, for the console's selftest.
    let mut readers_lost = std::collections::BTreeSet::new();
    let mut poll = tokio::time::interval(door::POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let watchdog = daemon::watchdog_interval();
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut housekeeping = tokio::time::interval(Duration::from_secs(3600));
    let mut purging: Option<tokio::task::JoinHandle<()>> = None;
    // The gauges are refreshed at least as often as the console takes a snapshot of them.
    let mut gauge_tick = tokio::time::interval(
        settings
            .console
            .as_ref()
            .map_or(Duration::from_secs(15), |c| {
                c.status_every.min(Duration::from_secs(15))
            }),
    );
    // With a health endpoint, the library system is asked about a dummy item once a minute, so
    // `online` is known before the first patron (as SIP2's status heartbeat would tell).
    let mut probe_tick = tokio::time::interval(Duration::from_secs(60));
    let (mut last_wall, mut last_mono) = (clock().timestamp_millis(), Instant::now());
    housekeeping.tick().await;
    tokio::pin!(shutdown);

    loop {
        carry_out(&mut door, &mut hands, &verifier, &verdict_tx, &clock);
        let wake = door.poll_timeout().map(|t| start + t);
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
                let input = match ev {
                    CardEvent::Card { number, reader } => {
                        let pseudonym = pseudonym(&card_key, &number);
                        tracing::debug!(door = %settings.name, card = %pseudonym, %reader, "card read");
                        // Unreachable as the last answer or the minute's probe found it.
                        let unreachable = metrics.get(daemon::metrics::ONLINE.0) == Some(0.0);
                        let before_pin = verifier.before_pin(&number, clock(), unreachable);
                        Input::Card { card: number, pseudonym, before_pin }
                    }
                    CardEvent::Unreadable { reader, why } => {
                        tracing::info!(door = %settings.name, %reader, why, "unreadable card");
                        Input::Unreadable
                    }
                    CardEvent::Removed { .. } => continue,
                    CardEvent::ReaderLost { reader, why } => {
                        readers_lost.insert(reader.clone());
                        Input::ReaderLost { reader, why }
                    }
                    CardEvent::ReaderFound { reader } => {
                        readers_lost.remove(&reader);
                        Input::ReaderFound { reader }
                    }
                    CardEvent::Tampered { reader } => Input::ReaderTampered { reader },
                };
                door.handle(input, now());
            }
            key = keys.recv(), if keys_open => {
                let Some(key) = key else {
                    tracing::error!("the keypad has stopped");
                    keys_open = false;
                    continue;
                };
                door.handle(Input::Key(key), now());
            }
            Some((ticket, verdict)) = verdict_rx.recv() => {
                if let Some(why) = &verdict.online_failure {
                    tracing::warn!(door = %settings.name, "library system: {why}; asked the offline list");
                }
                health.gauges(false, last_poll);
                let (name, help) = daemon::metrics::ONLINE;
                let online = verdict.source == access::door::Source::Online;
                metrics.set(name, help, if online { 1.0 } else { 0.0 });
                let at = now();
                let today = door.config().schedule.zone.local(at.wall).date();
                let verdict = verdict.for_door(&settings.rules.branch, today);
                door.handle(Input::Verdict { ticket, verdict }, at);
            }
            _ = poll.tick() => {
                last_poll = Instant::now();
                match hands.read() {
                    Some(raw) => door.handle(Input::Inputs(raw), now()),
                    None => door.handle_timeout(now()),
                }
            }
            () = sleep_until_opt(wake) => door.handle_timeout(now()),
            Some((command, reply)) = order_rx.recv() => {
                use report::command::Order as Sent;
                tracing::info!(door = %settings.name, order = command.order.code(), "a command from the console");
                let order = match command.order {
                    Sent::Unlock { minutes } => access::door::Order::UnlockFor(Duration::from_secs(u64::from(minutes) * 60)),
                    Sent::Lockdown => access::door::Order::LockDown(true),
                    Sent::LockdownEnd => access::door::Order::LockDown(false),
                    Sent::EndSelfService => access::door::Order::EndSelfService,
                    // Carried out by the command hook, never sent here.
                    Sent::PatronExport { .. } | Sent::PatronErase { .. } => {
                        let _ = reply.send(Err("not the door's loop's to carry out".into()));
                        continue;
                    }
                    Sent::Selftest => {
                        let at = clock().timestamp();
                        let seen = selftest::Seen {
                            inputs_read: hands.read().is_some(),
                            readers_lost: readers_lost.iter().cloned().collect(),
                            list: list.store().current().map(|c| (c.header.header.version, c.header.header.expires_at)),
                            policy: policy_store.as_ref().map(|p| {
                                p.current(at).ok().flatten().map(|b| (b.version, b.expires_at))
                            }),
                        };
                        let (library, dir, bound) = (probe.clone(), settings.state_dir.clone(), settings.online_timeout);
                        tokio::spawn(async move {
                            let ask = library.map(|r| async move {
                                r.item("SELFTEST-0").await.map(|_| ()).map_err(|e| e.to_string())
                            });
                            let checks = selftest::unattended(seen, &dir, ask, bound, at).await;
                            let table = daemon::selftest::table(&checks);
                            let _ = reply.send(if checks.iter().all(|c| c.ok) { Ok(Some(table)) } else { Err(table) });
                        });
                        continue;
                    }
                };
                door.handle(Input::Order(order), now());
                let _ = reply.send(Ok(None));
            }
            Some(b) = policy_rx.recv() => match b.policy.schedule() {
                Ok(schedule) => {
                    door.handle(Input::Schedule(Box::new(schedule)), now());
                    // The library's rules when the bundle has them; the file's when it has not
                    // (the library handed them back to each door).
                    let rules = b.policy.entry.as_ref().map_or_else(|| settings.rules.clone(), |e| e.onto(&settings.rules));
                    door.handle(Input::Rules(Box::new(rules)), now());
                    policy_gauges(&metrics, &b);
                    let mut e = Event::new(Kind::Daemon, clock().timestamp_millis());
                    e.code = Some("policy-applied".into());
                    e.detail = Some(format!("the console's policy bundle {} for {} is in force", b.version, b.policy.branch));
                    events.keep(e);
                }
                Err(why) => security_event(&events, &clock, "policy-unusable", format!("policy bundle {} signed but unusable: {why}; the hours in force are kept", b.version)),
            },
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                // Only a door that polled its inputs recently keeps the watchdog fed.
                if last_poll.elapsed() < Duration::from_secs(2) {
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
                health.gauges(true, last_poll);
                health.door(door.unlocked(), door.state(), door.alarms().len());
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
                    let (events, verifier, settings, clock) =
                        (events.clone(), verifier.clone(), settings.clone(), clock.clone());
                    purging = Some(tokio::task::spawn_blocking(move || {
                        purge(&events, &verifier, &settings, &clock)
                    }));
                }
            }
        }
    }
    daemon::notify("STOPPING=1");
    // Stopping: the lock is engaged explicitly (drop does not run on SIGKILL; this path is for
    // SIGTERM and errors, and systemd's watchdog covers hangs).
    door.shutdown();
    while let Some(c) = door.poll_command() {
        hands.carry_out(c);
    }
    tracing::info!(door = %settings.name, "door locked for shutdown");
    // The log's last handle must be gone when `run` returns.
    if let Some(p) = purging {
        let _ = p.await;
    }
    drop(hands);
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
    events.keep(e);
    if let Some(u) = uplink {
        // What is still in the outbox goes at the next start.
        let _ = tokio::time::timeout(Duration::from_secs(2), u.stop()).await;
    }
    tracing::info!(door = %settings.name, "door-agent stopped");
    Ok(())
}

/// Opens the console's outbox, has every event kept go there too, and starts delivering it with
/// a status snapshot of the door's gauges every `status_every`. A console that cannot be set up
/// is logged and left out: the door works as without one.
fn start_uplink(
    c: &config::console::ConsoleSettings,
    settings: &DoorSettings,
    events: &EventLog,
    clock: Clock,
    metrics: daemon::Metrics,
    policy: Option<uplink::PolicyHook>,
    commands: Option<uplink::CommandHook>,
) -> Option<uplink::Link> {
    let link = uplink::Link::start(
        c,
        report::Role::Door,
        Some(settings.name.clone()),
        move || clock().timestamp_millis(),
        move || {
            metrics
                .snapshot()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        },
        policy,
        commands,
    );
    match link {
        Ok(link) => {
            events.report_to(events::Uplink {
                outbox: link.outbox.clone(),
                wake: link.wake.clone(),
            });
            Some(link)
        }
        Err(e) => {
            tracing::error!("{e}; the door works on without reporting to the console");
            None
        }
    }
}

/// The console's policy bundles, when `[console] policy_keys` names the console's keys: kept in
/// `policy/` of the state directory, for this door's branch. `None` without keys, or when the
/// store cannot be opened (said; the file's hours apply).
/// What the door trusts a policy bundle by, when it takes them (`[console] policy_keys`): the
/// console's keys, the revoked ones, its branch as the only scope.
pub fn policy_trust(settings: &DoorSettings) -> Option<allowlist::envelope::Trust> {
    let c = settings
        .console
        .as_ref()
        .filter(|c| !c.policy_keys.is_empty())?;
    Some(allowlist::envelope::Trust {
        keys: c.policy_keys.clone(),
        revoked: c.policy_revoked.clone(),
        scopes: vec![settings.rules.branch.clone()],
        clock_skew: 300,
    })
}

fn open_policy(settings: &DoorSettings) -> Option<uplink::PolicyStore> {
    let trust = policy_trust(settings)?;
    uplink::PolicyStore::open(&settings.state_dir.join("policy"), trust)
        .map_err(|e| tracing::error!("policy bundles: {e}; the file's hours apply"))
        .ok()
}

/// What the sender does with a bundle: one taken goes to the door's loop; one refused is a
/// security event.
fn policy_hook(
    store: uplink::PolicyStore,
    to_door: mpsc::Sender<uplink::Bundle>,
    events: &EventLog,
    clock: &Clock,
) -> uplink::PolicyHook {
    let (events, clock, now) = (events.clone(), clock.clone(), clock.clone());
    uplink::PolicyHook {
        store,
        now_s: Box::new(move || now().timestamp()),
        taken: Box::new(move |b| {
            if to_door.try_send(b).is_err() {
                tracing::error!(
                    "the door did not take a policy bundle; it is applied at the next start"
                );
            }
        }),
        refused: Box::new(move |why| {
            security_event(&events, &clock, "policy-refused", why);
        }),
    }
}

/// A verified command for the door's loop, and where its outcome goes.
type Ordered = (
    report::command::DeviceCommand,
    tokio::sync::oneshot::Sender<Result<Option<String>, String>>,
);

/// Commands from the console, when `[console] policy_keys` names its keys: scoped to this
/// door's certificate, their ratchet kept in `commands/` of the state directory; a refused one
/// is a security event.
fn command_hook(
    c: &config::console::ConsoleSettings,
    settings: &DoorSettings,
    to_door: mpsc::Sender<Ordered>,
    events: &EventLog,
    list: &OfflineList,
    clock: &Clock,
) -> Option<uplink::CommandHook> {
    use report::command::Order as Sent;
    let trust = uplink::commands::trust(c)?;
    let (events, clock, now) = (events.clone(), clock.clone(), clock.clone());
    let (patron_events, list, patron_clock) = (events.clone(), list.clone(), clock.clone());
    let name = settings.name.clone();
    Some(uplink::CommandHook {
        trust,
        dir: settings.state_dir.join("commands"),
        now_s: Box::new(move || now().timestamp()),
        carry_out: Box::new(move |command| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            // A patron's export or erasure needs no door: carried out off its loop.
            if let Sent::PatronExport { cards } | Sent::PatronErase { cards } = &command.order {
                let erase = matches!(command.order, Sent::PatronErase { .. });
                tracing::info!(door = %name, order = command.order.code(), "a patron's request from the console");
                let (events, list, cards, name) = (
                    patron_events.clone(),
                    list.clone(),
                    cards.clone(),
                    name.clone(),
                );
                let at = patron_clock().timestamp();
                tokio::task::spawn_blocking(move || {
                    let answer = if erase {
                        patron::erase(&events, &list, &cards)
                    } else {
                        patron::export(&name, &events, &list, &cards, at)
                    };
                    let _ = tx.send(answer.map(Some));
                });
                return rx;
            }
            if let Err(
                mpsc::error::TrySendError::Full((_, tx))
                | mpsc::error::TrySendError::Closed((_, tx)),
            ) = to_door.try_send((command, tx))
            {
                let _ = tx.send(Err("the door is busy; send it again".into()));
            }
            rx
        }),
        refused: Box::new(move |why| security_event(&events, &clock, "command-refused", why)),
    })
}

fn policy_gauges(metrics: &daemon::Metrics, b: &uplink::Bundle) {
    let (name, help) = daemon::metrics::POLICY_VERSION;
    metrics.set(name, help, b.version as f64);
    let (name, help) = daemon::metrics::POLICY_EXPIRES;
    metrics.set(name, help, b.expires_at as f64);
}

/// Carries out the door's commands: a verdict asked for is fetched off the loop (the library
/// system's timeout, the list's argon2) and comes back on `verdicts`; the rest go to the hands.
fn carry_out<R: Registry + Clone + 'static>(
    door: &mut Door,
    hands: &mut Hands,
    verifier: &Verifier<R>,
    verdicts: &mpsc::Sender<(u64, offline::Verdict)>,
    clock: &Clock,
) {
    while let Some(c) = door.poll_command() {
        match c {
            Command::Verify { ticket, card, pin } => {
                let (verifier, tx, at) = (verifier.clone(), verdicts.clone(), clock());
                tokio::spawn(async move {
                    let verdict = verifier.verify(&card, pin, at).await;
                    let _ = tx.send((ticket, verdict)).await;
                });
            }
            other => hands.carry_out(other),
        }
    }
}

/// One sender whose feedback goes to both.
fn tee(
    first: Option<mpsc::Sender<Feedback>>,
    second: mpsc::Sender<Feedback>,
) -> mpsc::Sender<Feedback> {
    let (tx, mut rx) = mpsc::channel::<Feedback>(16);
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if let Some(a) = &first {
                let _ = a.try_send(f.clone());
            }
            let _ = second.try_send(f);
        }
    });
    tx
}

async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn purge<R: Registry + Clone>(
    events: &EventLog,
    verifier: &Verifier<R>,
    settings: &DoorSettings,
    clock: &Clock,
) {
    eventlog::purge(
        events,
        clock().timestamp_millis(),
        settings.retention,
        settings.security_retention,
    );
    // The wrong-PIN records of offline checks whose window and lockout are over.
    verifier.purge_logged(clock().timestamp());
}

/// A security event with no door movement, in both logs and on the `security` log target.
fn security_event(events: &EventLog, clock: &Clock, code: &str, detail: String) {
    eventlog::security_event(events, clock().timestamp_millis(), code, None, None, detail);
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
