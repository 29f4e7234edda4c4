//! `rig`: the README's demo, and a door or a kiosk on simulated devices against the library-system
//! simulator, driven from the terminal. For development and demonstration only.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// A door and a kiosk on simulated devices against the library-system simulator: the README's
/// demo, and each device for a person to try.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the simulator and run a scripted SIP2 session against it over TLS, printing what
    /// happens: login, patron status with right and wrong PINs, checkout, renew, checkin.
    Demo {
        /// State directory (a fresh temporary one if not given).
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Fixture catalogue (the shipped Heili demo catalogue if not given).
        #[arg(long, value_name = "FILE")]
        fixtures: Option<PathBuf>,
    },
    /// The Lemi door on simulated hardware against the simulator, driven from the terminal.
    Door {
        /// State directory (a fresh temporary one if not given).
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
    },
    /// The self-checkout kiosk's window on simulated devices against the simulator, for a person
    /// to click (build with `--features window`; needs a display).
    Kiosk {
        /// State directory (a fresh temporary one if not given).
        #[arg(long)]
        state: Option<PathBuf>,
    },
}

#[cfg(feature = "window")]
fn kiosk_window(state: Option<PathBuf>) -> anyhow::Result<()> {
    let t = tempfile::Builder::new()
        .prefix("rig-kiosk-")
        .tempdir()
        .context("cannot make a temporary state directory")?;
    let state = state.unwrap_or_else(|| t.path().to_owned());
    let fixtures = library_sim::fixtures_or_default(&state, None)?;
    rig::kiosk::interactive(&state, &fixtures, chrono::Utc::now())
}

#[cfg(not(feature = "window"))]
fn kiosk_window(_state: Option<PathBuf>) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no window; run `cargo run -p rig --features window -- kiosk` (slint, needs libfontconfig1-dev and a display)"
    )
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // The kiosk's window needs the main thread; everything else runs on tokio.
    let result = match cli.command {
        Command::Kiosk { state } => kiosk_window(state),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(run(cli))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rig: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Door { state } => {
            let t = tempfile::Builder::new()
                .prefix("rig-door-")
                .tempdir()
                .context("cannot make a temporary state directory")?;
            let state = state.unwrap_or_else(|| t.path().to_owned());
            let fixtures = library_sim::fixtures_or_default(&state, None)?;
            rig::door::interactive(&state, &fixtures, chrono::Utc::now()).await
        }
        Command::Demo { state, fixtures } => {
            // Without --state, a temporary directory, removed when the demo ends.
            let (state, _temporary) = match state {
                Some(s) => (s, None),
                None => {
                    let t = tempfile::Builder::new()
                        .prefix("rig-demo-")
                        .tempdir()
                        .context("cannot make a temporary state directory")?;
                    (t.path().to_owned(), Some(t))
                }
            };
            let fixtures = library_sim::fixtures_or_default(&state, fixtures)?;
            rig::demo::run(&state, &fixtures, chrono::Utc::now()).await
        }
        // Handled in `main`: the window needs the main thread, outside this runtime.
        Command::Kiosk { .. } => anyhow::bail!("the kiosk's window is started from main"),
    }
}
