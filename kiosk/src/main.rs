//! `kiosk`: the self-checkout daemon.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use daemon::exit::{Exit, Tagged};
use drivers::card::{CardEvent, CardReader};
use drivers::scan::ScanRule;
use kiosk::queue::{Queue, State};
use kiosk::settings::{self, PadSettings};
use kiosk::{Devices, Input};
use tokio::sync::mpsc;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The self-checkout kiosk of a staffless library",
    after_help = daemon::exit::HELP
)]
struct Cli {
    /// The configuration file.
    #[arg(
        short,
        long,
        global = true,
        value_name = "FILE",
        default_value = "/etc/omatoimi/kiosk.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the kiosk (the default).
    Run {
        /// No window: the flows run and log, for a kiosk whose screen is driven elsewhere.
        #[arg(long)]
        headless: bool,
        /// With --headless: touches from this file or FIFO, one a line (`borrow`, `return`,
        /// `finish`, `receipt`, `no-receipt`, `dismiss`, `cancel`), for a screen driven
        /// elsewhere (and the tests that drive the real binary).
        #[arg(long, requires = "headless", value_name = "PATH")]
        touches: Option<PathBuf>,
    },
    /// Check the configuration file and exit.
    CheckConfig,
    /// The running kiosk's health (from its loopback endpoint, `[kiosk] metrics`) in words:
    /// uptime, a patron at it, the library system, offline loans waiting or refused, the
    /// offline list, the RFID pad and the printer, in the box's local time. Exits 69 when the
    /// kiosk does not answer.
    Status {
        /// The gauges as `name value` lines, for scripts (the names without `omatoimi_`).
        #[arg(long)]
        raw: bool,
    },
    /// Try every configured device and the network path once, and print a pass/fail table
    /// (the kiosk must be stopped). Exits non-zero when something fails.
    Selftest {
        /// Print a test page on a ready printer (its code page's letters and a ruler).
        #[arg(long)]
        test_page: bool,
    },
    /// The offline queue: loans and returns waiting for the library system.
    Queue {
        #[command(subcommand)]
        what: QueueCommand,
    },
    /// The kiosk's event log: refusals at login and security events, oldest first, each card
    /// only as its keyed pseudonym. Asks the running kiosk, or reads the log when it is stopped.
    Events {
        /// From (the box's local time, "2026-03-03 21:00"); 7 days ago when left out.
        #[arg(long)]
        from: Option<String>,
        /// To, exclusive; now when left out.
        #[arg(long)]
        to: Option<String>,
        /// The security log: PIN guessing, tags whose security would not switch, refused
        /// lists, commands and offline loans; kept apart and longer
        /// (`security_retention_days`, 365), for noticing a breach and reporting it within 72
        /// hours.
        #[arg(long)]
        security: bool,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A patron's right of access: what this kiosk holds about one card (its offline loans
    /// waiting for the library system, its refusals and security events, its wrong PINs at
    /// offline checks), as JSON. The card number is read from standard input. The kiosk must be
    /// stopped.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// A patron's right to erasure: the card's offline loans are delivered to the library system
    /// first, then nothing of it is left here (the loans, its events in both logs and the
    /// console's outbox, the record of its wrong PINs at offline checks). Nothing is removed
    /// while a loan cannot be delivered. The card number is read from standard input; the kiosk
    /// must be stopped.
    Erase,
}

/// The event log of a stopped kiosk (none yet on a kiosk that never ran this version).
fn open_events_stopped(
    settings: &settings::KioskSettings,
) -> anyhow::Result<Option<eventlog::EventLog>> {
    let path = settings.state_dir.join("events");
    if !daemon::fs::store_exists(&path) {
        return Ok(None);
    }
    Ok(Some(eventlog::EventLog::open(&path).map_err(|e| {
        match e {
            eventlog::EventLogError::InUse { .. } => daemon::exit::Coded::new(
                Exit::TempFail,
                "the event log is in use: stop the kiosk first (systemctl stop kiosk)",
            )
            .into(),
            e => anyhow::anyhow!(e),
        }
    })?))
}

/// The card's pseudonym in the event log (none without an offline list's card key: then no
/// event names a card).
fn pseudonym(settings: &settings::KioskSettings, card: &redact::CardNumber) -> Option<String> {
    settings
        .allowlist
        .as_ref()
        .map(|a| eventlog::pseudonym(&a.card_key, card))
}

fn open_queue_stopped(settings: &settings::KioskSettings) -> anyhow::Result<Queue> {
    Ok(Queue::open(&settings.state_dir.join("queue"))
        .map_err(|e| format!("{e}\nIs the kiosk running? Stop it first (systemctl stop kiosk)."))
        .exit(Exit::TempFail)?)
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// List what waits, and the conflicts kept for staff (no card numbers shown).
    List,
    /// Deliver now (the kiosk must be stopped: the queue is its own while it runs).
    Send,
    /// Remove a conflict staff have dealt with.
    Dismiss {
        /// The record's number from `queue list`.
        id: u64,
    },
}

fn main() -> std::process::ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Cli>("kiosk", "8") {
        return code;
    }
    // Private files and directories (the queue holds card numbers) also when started by hand.
    daemon::fs::private_umask();
    let cli = match daemon::exit::parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    daemon::logging::init("info");
    match run(cli) {
        Ok(()) => Exit::Ok.into(),
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            daemon::exit::of(&*e).into()
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = settings::load(&cli.config).exit(Exit::Config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let command = cli.command.unwrap_or(Command::Run {
        headless: false,
        touches: None,
    });
    if !matches!(command, Command::CheckConfig | Command::Status { .. }) {
        daemon::check_state_owner(&settings.state_dir).exit(Exit::NoPerm)?;
    }
    match command {
        Command::CheckConfig => {
            println!("{}: valid ({})", cli.config.display(), settings.name);
            if let Some(line) = config::allowlist::card_key_line(&cli.config) {
                println!("{line}");
            }
            for w in settings.warnings() {
                println!("warning: {w}");
            }
            Ok(())
        }
        Command::Selftest { test_page } => {
            let checks = runtime.block_on(kiosk::selftest::run(
                &settings,
                chrono::Utc::now().timestamp(),
                test_page,
            ));
            print!("{}", kiosk::selftest::table(&checks));
            if let Err(e) = daemon::selftest::record(
                &settings.state_dir,
                &checks,
                chrono::Utc::now().timestamp(),
            ) {
                eprintln!(
                    "warning: the outcome was not kept for the console ({}): {e}",
                    settings.state_dir.display()
                );
            }
            let failed = checks.iter().filter(|c| !c.ok).count();
            if failed > 0 {
                return Err(daemon::exit::Coded::new(
                    Exit::No,
                    format!("{failed} check(s) failed"),
                )
                .into());
            }
            Ok(())
        }
        Command::Status { raw } => {
            let Some(addr) = settings.metrics else {
                return Err(daemon::exit::Coded::new(
                    Exit::Config,
                    "no health endpoint configured: set [kiosk] metrics = \"127.0.0.1:9464\"",
                )
                .into());
            };
            let gauges = runtime
                .block_on(daemon::metrics::read(addr))
                .map_err(|e| format!("{addr}: {e}: is the kiosk running?"))
                .exit(Exit::Unavailable)?;
            if raw {
                for (name, value) in gauges {
                    println!("{name:<48} {value}");
                }
            } else {
                print!(
                    "{}",
                    kiosk::status::words(
                        &gauges,
                        &access::zone::Zone::system(),
                        chrono::Utc::now()
                    )
                );
            }
            Ok(())
        }
        Command::Export { out } => {
            let card = daemon::gdpr::card_from_stdin()?;
            let q = open_queue_stopped(&settings)?;
            let records: Vec<serde_json::Value> = q
                .of_card(&card)
                .into_iter()
                .map(|d| {
                    serde_json::json!({
                        "loan_of_item": d.item,
                        "at": d.at.to_string(),
                        "due": d.due.map(|t| t.to_string()),
                        "state": match &d.state {
                            State::Conflict(w) => format!("refused by the library system: {w}"),
                            _ => "waiting for the library system".to_owned(),
                        },
                    })
                })
                .collect();
            let p = pseudonym(&settings, &card);
            let events = match (open_events_stopped(&settings)?, &p) {
                (Some(log), Some(p)) => log.for_card(p)?,
                _ => vec![],
            };
            let doc = serde_json::json!({
                "device": settings.name,
                "what": "what this kiosk holds about one library card: offline loans until the library system has them, and its refusals at login and security events (PIN guessing, a tag whose security would not switch, a refused offline loan; the card appears only as its keyed pseudonym); loans and returns made online are the library system's",
                "card_pseudonym": p,
                "exported_at": chrono::Local::now().to_rfc3339(),
                "records": records,
                "events": events,
            });
            daemon::gdpr::write_private(&out, &serde_json::to_vec_pretty(&doc)?)?;
            println!(
                "{} offline loan(s) and {} event(s) written to {}",
                records.len(),
                events.len(),
                out.display()
            );
            Ok(())
        }
        Command::Erase => {
            let card = daemon::gdpr::card_from_stdin()?;
            let q = open_queue_stopped(&settings)?;
            let held = q.of_card(&card);
            if held.iter().any(|d| !matches!(d.state, State::Conflict(_))) {
                let Some(r) = &settings.registry else {
                    anyhow::bail!(
                        "no [registry] configured: the card's offline loans cannot be delivered, so nothing was erased"
                    );
                };
                let registry = runtime.block_on(async { registry::AnyRegistry::start(r) })?;
                let d = runtime.block_on(q.deliver(&registry))?;
                println!("delivered {} queued record(s) first", d.delivered);
            }
            let left = q.of_card(&card);
            let waiting = left
                .iter()
                .filter(|d| !matches!(d.state, State::Conflict(_)))
                .count();
            let conflicts: Vec<u64> = left
                .iter()
                .filter(|d| matches!(d.state, State::Conflict(_)))
                .map(|d| d.id)
                .collect();
            if waiting > 0 {
                return Err(daemon::exit::Coded::new(
                    Exit::TempFail,
                    format!(
                        "{waiting} offline loan(s) of this card could not be delivered (is the library system reachable?): nothing was erased; try again when it answers"
                    ),
                )
                .into());
            }
            if !conflicts.is_empty() {
                anyhow::bail!(
                    "the library system refused offline loan(s) {conflicts:?} of this card: staff must settle them (kiosk queue list, then queue dismiss ID) before erasure; nothing was erased"
                );
            }
            // Removed records are gone from the files after each delivery; this also takes any
            // a version before that left behind.
            q.compact()?;
            if let Some(p) = pseudonym(&settings, &card) {
                if let Some(log) = open_events_stopped(&settings)? {
                    let n = log.erase_card(&p)?;
                    println!("{n} event(s) about this card removed from the event log");
                }
                // Events waiting for the library's console carry the same pseudonym.
                if let Some(c) = &settings.console
                    && daemon::fs::store_exists(&c.outbox)
                {
                    let outbox =
                        uplink::Outbox::open(&c.outbox, c.outbox_max_bytes).map_err(|e| {
                            anyhow::anyhow!("the console's outbox (is the kiosk running?): {e}")
                        })?;
                    let n = outbox.erase_cards(&[&p])?;
                    println!("{n} record(s) about this card removed from the console's outbox");
                }
            }
            // Wrong PINs this kiosk counted at offline checks, kept apart from the list.
            if let Some(a) = &settings.allowlist {
                let list = offline::OfflineList::open(a.clone()).map_err(|e| {
                    anyhow::anyhow!(
                        "{e}\nIs the kiosk running? Stop it first (systemctl stop kiosk)."
                    )
                })?;
                if list.erase_card(&card)? {
                    println!("this card's wrong-PIN record removed");
                }
            }
            println!(
                "nothing about this card is held on this kiosk any more ({} record(s) were delivered and removed)",
                held.len()
            );
            println!(
                "The offline list comes from the library system: erase the patron there, and the next list leaves them out."
            );
            Ok(())
        }
        Command::Events {
            from,
            to,
            security,
            json,
        } => {
            let zone = access::zone::Zone::system();
            let now = chrono::Utc::now();
            let at =
                |text: Option<String>, or: chrono::DateTime<chrono::Utc>| -> anyhow::Result<i64> {
                    match text {
                        Some(text) => Ok(eventlog::local_ms(&text, &zone)
                            .map_err(|why| daemon::exit::Coded::new(Exit::Usage, why))?),
                        None => Ok(or.timestamp_millis()),
                    }
                };
            let q = eventlog::control::Query {
                from: at(from, now - chrono::Duration::days(7))?,
                to: at(to, now + chrono::Duration::seconds(1))?,
                alarms: false,
                security,
            };
            let sock = settings.state_dir.join("control.sock");
            let events = match runtime.block_on(eventlog::control::ask(&sock, &q)) {
                Ok(e) => e,
                // No kiosk running: read the log directly.
                Err(_) => match open_events_stopped(&settings)? {
                    Some(log) => eventlog::control::answer(&log, &q)?,
                    None => vec![],
                },
            };
            print!("{}", eventlog::listing(&events, &zone, json));
            Ok(())
        }
        Command::Queue { what } => {
            let q = Queue::open(&settings.state_dir.join("queue"))?;
            match what {
                QueueCommand::List => {
                    for d in q.list() {
                        let kind = match d.kind {
                            kiosk::queue::Kind::Checkout { .. } => "loan",
                            kiosk::queue::Kind::Checkin => "return",
                        };
                        let state = match &d.state {
                            State::Staged { .. } => "being recorded".to_owned(),
                            State::Pending => "waiting".to_owned(),
                            State::InFlight => "in doubt (checked before sending)".to_owned(),
                            State::Conflict(w) => format!("CONFLICT: {w}"),
                        };
                        println!(
                            "{:>6}  {kind:<6}  {:<16}  {}  {state}",
                            d.id,
                            d.item,
                            d.at.format("%Y-%m-%d %H:%M")
                        );
                    }
                    Ok(())
                }
                QueueCommand::Send => {
                    let Some(r) = &settings.registry else {
                        anyhow::bail!("no [registry] configured");
                    };
                    let registry = runtime.block_on(async { registry::AnyRegistry::start(r) })?;
                    let d = runtime.block_on(q.deliver(&registry))?;
                    println!(
                        "delivered {} ({} found already there), conflicts {}, still waiting {}",
                        d.delivered, d.confirmed_in_doubt, d.conflicts, d.waiting
                    );
                    Ok(())
                }
                QueueCommand::Dismiss { id } => {
                    if q.dismiss(id)? {
                        println!("record {id} removed");
                        Ok(())
                    } else {
                        anyhow::bail!("no conflict numbered {id}")
                    }
                }
            }
        }
        Command::Run { headless, touches } => serve(settings, runtime, headless, touches),
    }
}

/// Hands a scanner's scans to the kiosk as they come; a scan that is no text is logged (without
/// what was read) and dropped.
async fn forward_scans(mut scanner: impl CardReader, tx: mpsc::Sender<Input>) {
    while let Some(ev) = scanner.next().await {
        match ev {
            CardEvent::Card { number, .. } => {
                if tx
                    .send(Input::Scan(number.expose().to_owned()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            CardEvent::Unreadable { reader, why } => tracing::warn!("scanner {reader}: {why}"),
            other => tracing::debug!("scanner: {other:?}"),
        }
    }
}

/// A touch named in a `--touches` line.
fn touch(line: &str) -> Option<ui::Action> {
    use ui::{Action, Mode};
    Some(match line.trim() {
        "borrow" => Action::Start(Mode::Borrow),
        "return" => Action::Start(Mode::Checkin),
        "finish" => Action::Finish,
        "receipt" => Action::Receipt(true),
        "no-receipt" => Action::Receipt(false),
        "dismiss" => Action::Dismiss,
        "cancel" => Action::Cancel,
        _ => return None,
    })
}

/// Forwards the touches named in `path`, a line each, until it ends, on a thread of its own (a
/// FIFO is opened for reading and writing, which neither waits for a writer nor ends when one
/// goes, and a thread blocked on it does not hold up the kiosk's stop).
fn forward_touches(path: PathBuf, tx: mpsc::Sender<Input>) {
    use std::io::BufRead;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(path.metadata().is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_fifo()
        }))
        .open(&path);
    let file = match opened {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("touches {}: {e}", path.display());
            return;
        }
    };
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { return };
            match touch(&line) {
                Some(a) => {
                    if tx.blocking_send(Input::Ui(a)).is_err() {
                        return;
                    }
                }
                None => tracing::warn!("touches: an unknown touch ignored"),
            }
        }
    });
}

fn serve(
    settings: settings::KioskSettings,
    runtime: tokio::runtime::Runtime,
    headless: bool,
    touches: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel(64);
    if let Some(path) = touches {
        forward_touches(path, tx.clone());
    }
    let registry = {
        let _guard = runtime.enter();
        settings
            .registry
            .as_ref()
            .map(registry::AnyRegistry::start)
            .transpose()?
    };
    let devices = {
        let _guard = runtime.enter();
        let pad = match &settings.pad {
            Some(PadSettings::Feig { path, baud }) => match drivers::rfid::open_serial(path, *baud)
            {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!("RFID pad: {e}; running with barcodes only");
                    None
                }
            },
            Some(PadSettings::Simulated) => Some(drivers::feig_twin::SimPad::new().connect()),
            None => None,
        };
        if let Some(s) = &settings.scanner {
            // Cards and items alike arrive as their text; the session reads a card by the card
            // rule at the welcome screen and checks items where they are scanned.
            match s {
                settings::ScannerSettings::Serial(port) => runtime.spawn(forward_scans(
                    drivers::serial::SerialScanner::open(port.clone(), ScanRule::text()),
                    tx.clone(),
                )),
                settings::ScannerSettings::Keyboard(k) => runtime.spawn(forward_scans(
                    drivers::keyboard::KeyboardScanner::open(k.clone(), ScanRule::text()),
                    tx.clone(),
                )),
            };
        }
        Devices {
            pad,
            printer: settings
                .printer
                .as_ref()
                .map(|p| drivers::printer::EscPosPrinter::new(p.link.clone(), p.timeout)),
        }
    };
    // Closing the window stops the kiosk too (the scanner's task would keep it waiting).
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = closed_rx => {}
        }
        tracing::info!("stopping");
    };
    #[cfg(feature = "window")]
    if !headless {
        let view = ui::View {
            language: settings.language.clone(),
            ..ui::View::default()
        };
        let window = kiosk::window::Window::new(&view, tx.clone())?;
        let publish = window.publisher();
        let engine = std::thread::spawn(move || {
            let r = runtime.block_on(kiosk::run(
                settings,
                registry,
                devices,
                rx,
                publish,
                kiosk::system_clock(),
                shutdown,
            ));
            kiosk::window::quit();
            r
        });
        window.run()?;
        let _ = closed_tx.send(());
        drop(tx);
        return engine
            .join()
            .map_err(|_| anyhow::anyhow!("the kiosk's task panicked"))?;
    }
    let _ = headless;
    // Held to the end: with no window, only a signal stops the kiosk.
    let _no_window = closed_tx;
    runtime.block_on(kiosk::run(
        settings,
        registry,
        devices,
        rx,
        Box::new(|v| tracing::debug!(screen = ?v.screen, rows = v.items.len(), "view")),
        kiosk::system_clock(),
        shutdown,
    ))
}
