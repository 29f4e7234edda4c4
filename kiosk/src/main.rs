//! `kiosk`: the self-checkout daemon.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use drivers::card::{CardEvent, CardReader};
use kiosk::queue::{Queue, State};
use kiosk::settings::{self, PadSettings};
use kiosk::{Devices, Input};
use tokio::sync::mpsc;

#[derive(Debug, Parser)]
#[command(version, about = "The self-checkout kiosk of a staffless library")]
struct Cli {
    /// The configuration file.
    #[arg(
        short,
        long,
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
    },
    /// Check the configuration file and exit.
    CheckConfig,
    /// The offline queue: loans and returns waiting for the library system.
    Queue {
        #[command(subcommand)]
        what: QueueCommand,
    },
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
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiosk: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = settings::load(&cli.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match cli.command.unwrap_or(Command::Run { headless: false }) {
        Command::CheckConfig => {
            println!("{}: valid ({})", cli.config.display(), settings.name);
            for w in settings.warnings() {
                println!("warning: {w}");
            }
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
        Command::Run { headless } => serve(settings, runtime, headless),
    }
}

fn serve(
    settings: settings::KioskSettings,
    runtime: tokio::runtime::Runtime,
    headless: bool,
) -> anyhow::Result<()> {
    let (tx, rx) = mpsc::channel(64);
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
            let mut scanner = drivers::serial::SerialScanner::open(s.clone());
            let tx = tx.clone();
            runtime.spawn(async move {
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
                        CardEvent::Unreadable { reader, why } => {
                            tracing::warn!("scanner {reader}: {why}")
                        }
                        other => tracing::debug!("scanner: {other:?}"),
                    }
                }
            });
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
