//! The self-checkout kiosk: a patron logs in with card and PIN, borrows, returns and renews by
//! RFID pad or barcode, takes a receipt or not. The library system answers online; when it does
//! not, the signed offline list lets known patrons go on borrowing, and each loan and return
//! waits in a durable queue until the library system takes it, exactly once.
//!
//! This crate wires the pure parts (`iso28560`, `receipt`, `ui`'s view) to the devices
//! (`drivers`) and the library system (`registry`, `offline`). It draws nothing itself: the
//! `ui` crate does, from the [`ui::View`] the kiosk publishes.
//!
//! Layout:
//! - [`settings`]: `kiosk.toml`, validated.
//! - [`session`]: the flows, one task owning the state: [`Kiosk`], [`Input`].
//! - [`pad`]: the pad's tags over time: arriving, settling, read, leaving, and the items acted
//!   on; fed inventories with their instant (pure).
//! - [`stack`]: the pad's tags grouped into items; multi-part items only when complete (pure).
//! - [`tags`]: a tag's data read from the pad, its security switched and read back.
//! - [`selftest`]: every configured device and the network path, tried once, as a table.
//! - [`queue`]: the offline queue in sled, delivered with the no-block flag, exactly once.
//! - [`offline_rules`]: offline, the item's tags and the list's facts put to the lending rules
//!   of [`access::lending`]: may it be lent, for how long, may this patron borrow (pure).
//! - [`settle`]: at start, the loans and returns a crash cut short, settled against their tags.
//! - [`offline_loans`]: "My loans" offline: the loans made here, from the queue (pure).
//! - [`status`]: `kiosk status` in words (pure).
//! - `window` (feature `window`): the slint touch screen on the main thread.

#![deny(missing_docs)]

pub mod offline_loans;
pub mod offline_rules;
pub mod pad;
pub mod queue;
pub mod remote;
pub mod selftest;
pub mod session;
pub mod settings;
pub mod settle;
pub mod sounds;
pub mod speech;
pub mod stack;
pub mod status;
pub mod tags;
pub mod titles;
#[cfg(feature = "window")]
pub mod window;

use std::sync::Arc;
use std::time::Duration;

use drivers::printer::EscPosPrinter;
use drivers::rfid::AnyFeigPad;
use offline::OfflineList;
use registry::{AnyRegistry, Registry};
use tokio::sync::mpsc;

pub use session::{Clock, Input, Kiosk, Publish};
pub use settings::KioskSettings;

/// How often the offline queue is offered to the library system.
pub const DELIVER_EVERY: Duration = Duration::from_secs(30);

/// The kiosk's devices.
#[derive(Debug, Default)]
pub struct Devices {
    /// The RFID pad.
    pub pad: Option<AnyFeigPad>,
    /// The receipt printer.
    pub printer: Option<EscPosPrinter>,
}

/// The kiosk's local clock.
pub fn system_clock() -> Clock {
    Arc::new(chrono::Local::now)
}

/// Runs the kiosk until `shutdown`: the flows on `inputs`, views to `publish`, the offline list
/// synced and the offline queue delivered in the background.
pub async fn run(
    settings: KioskSettings,
    registry: Option<AnyRegistry>,
    mut devices: Devices,
    inputs: mpsc::Receiver<Input>,
    publish: Publish,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let queue = queue::Queue::open(&settings.state_dir.join("queue"))?;
    let metrics = daemon::Metrics::new();
    let list = match &settings.allowlist {
        Some(a) => Some(OfflineList::open(a.clone())?),
        None => None,
    };
    // The kiosk's own event log and security log (the door's kind; see `eventlog`), asked by
    // `kiosk events` over the control socket while the kiosk holds it.
    let events = eventlog::EventLog::open(&settings.state_dir.join("events"))?;
    let mut background = Background(Vec::new());
    background.0.push(eventlog::control::serve(
        &settings.state_dir.join("control.sock"),
        events.clone(),
    ));
    // Events past their retention, and wrong-PIN records of offline checks whose window and
    // lockout are over: at start (they may have passed while it was down), then every ten
    // minutes.
    {
        let (list, events, clock, settings) = (
            list.clone(),
            events.clone(),
            clock.clone(),
            settings.clone(),
        );
        let purge = move || {
            if let Some(list) = &list {
                purge_failures(list, &clock);
            }
            eventlog::purge(
                &events,
                clock().timestamp_millis(),
                settings.retention,
                settings.security_retention,
            );
        };
        purge();
        background.0.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(600));
            tick.tick().await;
            loop {
                tick.tick().await;
                let purge = purge.clone();
                let _ = tokio::task::spawn_blocking(purge).await;
            }
        }));
    }
    if let (Some(list), Some(a)) = (&list, &settings.allowlist)
        && a.url.is_some()
    {
        let fetcher = offline::Fetcher::new(list)?;
        let (clock, refused_clock, events) = (clock.clone(), clock.clone(), events.clone());
        background.0.push(tokio::spawn(offline::sync_forever(
            fetcher,
            list.clone(),
            settings.sync_every,
            move || clock().timestamp(),
            // `offline` has logged the refusal on the security target; it is recorded here.
            move |r| {
                let mut e = eventlog::Event::new(
                    eventlog::Kind::Security,
                    refused_clock().timestamp_millis(),
                );
                e.code = Some("list-refused".into());
                e.detail = Some(format!("an offline list was refused: {r}"));
                events.keep(e);
            },
            {
                let m = metrics.clone();
                move |at| {
                    let (name, help) = daemon::metrics::LIST_LAST_SYNC;
                    m.set(name, help, at as f64)
                }
            },
        )));
    }
    // The library's console: loans, returns and queue conflicts as events, the gauges every
    // `status_every`. Without it (or when it cannot be set up) the kiosk works as before.
    let link = settings.console.as_ref().and_then(|c| {
        let (clock, m) = (clock.clone(), metrics.clone());
        let commands = remote::command_hook(
            c,
            remote::Parts {
                name: settings.name.clone(),
                state_dir: settings.state_dir.clone(),
                list: list.clone(),
                registry: registry.clone(),
                bound: settings.online_timeout,
                queue: queue.clone(),
                clock: clock.clone(),
                events: events.clone(),
            },
        );
        uplink::Link::start(
            c,
            report::Role::Kiosk,
            Some(settings.name.clone()),
            move || clock().timestamp_millis(),
            move || {
                m.snapshot()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            },
            // The kiosk keeps no hours of its own: policy bundles are the door's.
            None,
            commands,
        )
        .map_err(|e| tracing::error!("{e}; the kiosk works on without reporting to the console"))
        .ok()
        .map(Arc::new)
    });
    // Every event kept goes to the console too; security events wake its sender.
    if let Some(l) = &link {
        events.report_to(eventlog::Uplink {
            outbox: l.outbox.clone(),
            wake: l.wake.clone(),
        });
    }
    let mut started = eventlog::Event::new(eventlog::Kind::Daemon, clock().timestamp_millis());
    started.code = Some("started".into());
    started.detail = Some(settings.name.clone());
    events.keep(started);
    // What a crash cut short, settled against the tags on the pad before anything is delivered.
    if let Some(pad) = devices.pad.as_mut() {
        let now = clock().naive_local();
        match settle::recovered(&queue, pad, settings.security, now).await {
            Ok(s) if s != settle::Settled::default() => {
                tracing::warn!(?s, "records left by a crash settled");
            }
            Ok(_) => {}
            Err(e) => tracing::error!("{e}"),
        }
    }
    if let Some(r) = &registry {
        background.0.push(tokio::spawn(deliver_forever(
            queue.clone(),
            r.clone(),
            clock.clone(),
            Conflicts {
                events: events.clone(),
                card_key: list.as_ref().map(|l| l.settings().card_key.clone()),
            },
        )));
    }
    if let Some(addr) = settings.metrics {
        let m = metrics.clone();
        background.0.push(tokio::spawn(async move {
            if let Err(e) = m.serve(addr).await {
                tracing::error!("health endpoint {addr}: {e}");
            }
        }));
    }
    // Titles for what is lent or returned offline; without the cache, bare barcodes.
    let titles = titles::Titles::open(&settings.state_dir.join("titles"), clock().date_naive())
        .map_err(|e| {
            tracing::warn!("title cache: {e}; items handled offline show their barcodes");
        })
        .ok();
    let kiosk = Kiosk::new(
        settings,
        registry,
        list,
        queue,
        devices.pad,
        devices.printer,
        clock.clone(),
        publish,
    )
    .with_metrics(metrics)
    .with_events(events.clone());
    let kiosk = match titles {
        Some(t) => kiosk.with_titles(t),
        None => kiosk,
    };
    let kiosk = match &link {
        Some(l) => kiosk.with_uplink(l.clone()),
        None => kiosk,
    };
    kiosk.run(inputs, shutdown).await;
    for b in std::mem::take(&mut background.0) {
        b.abort();
        let _ = b.await;
    }
    let mut stopped = eventlog::Event::new(eventlog::Kind::Daemon, clock().timestamp_millis());
    stopped.code = Some("stopped".into());
    events.keep(stopped);
    // What the console has not taken stays in the outbox for the next start.
    if let Some(link) = link.and_then(|l| Arc::try_unwrap(l).ok()) {
        link.stop().await;
    }
    Ok(())
}

fn purge_failures(list: &OfflineList, clock: &Clock) {
    list.purge_failures_logged(clock().timestamp());
}

/// Background tasks that end with the kiosk, also when it is cancelled mid-way.
struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for b in &self.0 {
            b.abort();
        }
    }
}

/// Where the library system's refusals of offline loans are recorded: the security log, each
/// with its patron's pseudonym (so that it goes with the patron's export and erasure).
#[derive(Debug, Clone)]
pub struct Conflicts {
    /// The kiosk's event log.
    pub events: eventlog::EventLog,
    /// The offline list's card key, for the pseudonym (none without a list: no card is kept).
    pub card_key: Option<allowlist::CardKey>,
}

impl Conflicts {
    /// Records the conflicts in `after` that were not in `before` (queue record ids).
    fn record_new(&self, before: &[queue::Deferred], after: &[queue::Deferred], at_ms: i64) {
        let was = |id| {
            before
                .iter()
                .any(|d| d.id == id && matches!(d.state, queue::State::Conflict(_)))
        };
        for d in after {
            if matches!(d.state, queue::State::Conflict(_)) && !was(d.id) {
                let (what, card) = match &d.kind {
                    queue::Kind::Checkout { card } => (
                        "offline loan",
                        self.card_key.as_ref().map(|k| {
                            eventlog::pseudonym(k, &redact::CardNumber::new(card.clone()))
                        }),
                    ),
                    queue::Kind::Checkin => ("offline return", None),
                };
                eventlog::security_event(
                    &self.events,
                    at_ms,
                    "offline-refused",
                    card,
                    Some(d.item.clone()),
                    format!(
                        "the library system refused an {what} (queue record {}): kept for staff (`kiosk queue list`)",
                        d.id
                    ),
                );
            }
        }
    }
}

/// Offers the queue to the library system now and every [`DELIVER_EVERY`]; each new conflict is
/// recorded in the security log, whose events reach the console (once: its `offline-refused`
/// raises the console's queue-conflict alarm).
pub async fn deliver_forever<R: Registry>(
    queue: queue::Queue,
    registry: R,
    clock: Clock,
    conflicts: Conflicts,
) {
    loop {
        if queue.waiting() > 0 {
            let before = queue.list();
            let delivered = queue.deliver(&registry).await;
            conflicts.record_new(&before, &queue.list(), clock().timestamp_millis());
            match delivered {
                Ok(d) => {
                    tracing::info!(
                        delivered = d.delivered,
                        confirmed = d.confirmed_in_doubt,
                        conflicts = d.conflicts,
                        waiting = d.waiting,
                        "offline queue delivery"
                    );
                }
                Err(e) => tracing::error!("offline queue: {e}"),
            }
        }
        tokio::time::sleep(DELIVER_EVERY).await;
    }
}
