//! `door-agent`: the door daemon and its staff commands. Parses arguments, sets up logging, and
//! hands over to the library.

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use daemon::exit::{Coded, Exit, Tagged};
use door_agent::control::{self, Query};
use door_agent::events::EventLog;
use door_agent::{Devices, devices, settings, system_clock};
use registry::AnyRegistry;

#[derive(Parser)]
#[command(
    version,
    about = "The door daemon of a staffless library",
    after_help = daemon::exit::HELP
)]
struct Args {
    /// The door's configuration file.
    #[arg(
        short,
        long,
        global = true,
        env = "DOOR_AGENT_CONFIG",
        default_value = "/etc/omatoimi/door.toml"
    )]
    config: PathBuf,
    /// More log detail.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the door (the default). The lock is engaged first, from the `[gpio]` table alone,
    /// before the rest of the configuration is read, and again on every way out.
    Run,
    /// Engage the lock and exit. Reads only the `[gpio]` table's backend, `dir`, `lock` and
    /// `lock_active_high`, so it works when the rest of the configuration does not validate; the
    /// unit runs it after every stop of the daemon (ExecStopPost).
    Lock,
    /// Read and validate the configuration, then exit.
    CheckConfig,
    /// Try every configured device and the network path with the technician at the door: the
    /// contact, exit and tamper inputs at rest, the LEDs and buzzer, the lock relay through the
    /// door contact, the readers and a card read, the keypad, the library system and the
    /// offline list. Prints a pass/fail table; exits non-zero when something fails. The door
    /// must be stopped (systemctl stop door-agent).
    Selftest {
        /// Seconds to wait for each thing the technician does (open the door, present a card,
        /// press a key).
        #[arg(long, default_value_t = 20)]
        wait: u64,
    },
    /// The running door's health (from its loopback endpoint, `[door] metrics`) in words: the
    /// library's state, the lock, alarms, the last entry and refusal in the door's local time,
    /// uptime, the library system, the offline list. Exits 69 when the door does not answer.
    Status {
        /// The gauges as `name value` lines, for scripts (the names without `omatoimi_`).
        #[arg(long)]
        raw: bool,
    },
    /// Events between two local times ("2026-03-03 21:00"), oldest first, pseudonymised.
    Events {
        /// From (local time of the branch), inclusive.
        #[arg(long)]
        from: String,
        /// To, exclusive.
        #[arg(long)]
        to: String,
        /// Only alarms and tampering.
        #[arg(long)]
        alarms: bool,
        /// The security log: forced or held doors, tampering, PIN guessing, refused offline
        /// lists, clock jumps; kept apart and longer (`security_retention_days`, 365), for
        /// noticing a breach and reporting it within 72 hours.
        #[arg(long)]
        security: bool,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A patron's right of access: every event this door holds about one card, as JSON. The
    /// card number is read from standard input (never an argument: `ps` would show it). The
    /// daemon must be stopped.
    Export {
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// A patron's right to erasure: remove every event about one card (read from standard
    /// input), and the record of its wrong PINs at offline checks. The daemon must be stopped.
    Erase,
}

fn open_log_stopped(s: &settings::DoorSettings) -> anyhow::Result<EventLog> {
    let path = s.state_dir.join("events");
    // Opening would create an empty log: a wrong state_dir must not "export" nothing. A log a
    // crash left mid-rewrite (`events.new`, `events.old`) is one: opening finishes the swap.
    anyhow::ensure!(
        daemon::fs::store_exists(&path),
        "{}: no event log here (is state_dir right?)",
        path.display()
    );
    EventLog::open(&path).map_err(|e| match e {
        door_agent::events::EventLogError::InUse { .. } => Coded::new(
            Exit::TempFail,
            "the event log is in use: stop the door first (systemctl stop door-agent)",
        )
        .into(),
        e => anyhow::anyhow!(e),
    })
}

/// Logs to stderr (the journal under systemd, with priorities): warnings, or progress with
/// `--verbose`; `RUST_LOG` overrides.
fn init_logging(verbose: bool) {
    daemon::logging::init(if verbose { "info" } else { "warn" });
}

fn main() -> std::process::ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Args>("door-agent", "8") {
        return code;
    }
    // Private files and directories (the event log, the offline list) also when started by hand.
    daemon::fs::private_umask();
    let mut args = match daemon::exit::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let command = args.command.take().unwrap_or(Command::Run);
    // The service says what it is and what it found when it starts; the tools stay quiet.
    init_logging(args.verbose || matches!(command, Command::Run));
    // The door fails locked: the lock first, before anything else can fail.
    let lock = match command {
        Command::Run | Command::Lock => match engage(&args.config) {
            Ok(lock) => Some(lock),
            Err(e) => {
                eprintln!("door-agent: cannot engage the lock: {e:#}; check the door by hand");
                return daemon::exit::of(&*e).into();
            }
        },
        _ => None,
    };
    if let (Command::Lock, Some(lock)) = (&command, &lock) {
        println!("GPIO {}: the lock is engaged", lock.settings().lock.number);
        return std::process::ExitCode::SUCCESS;
    }
    let engager = lock.as_ref().map(devices::ClaimedLock::engager);
    if let Some(e) = &engager {
        devices::engage_on_panic(e.clone());
    }
    // The selftest claims the lock itself (after it made sure the door is stopped) and leaves
    // here what engages it on the way out.
    let selftest_lock = std::sync::OnceLock::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let result = match &runtime {
        Ok(runtime) => runtime.block_on(real_main(args, command, lock, &selftest_lock)),
        Err(e) => Err(anyhow::anyhow!("cannot start: {e}")),
    };
    // Every way out of `run` (and of a selftest that claimed the lock) engages the lock again,
    // and for good, before the runtime is shut down.
    let unlocked = engager
        .or_else(|| selftest_lock.get().cloned())
        .and_then(|e| e.engage_for_good(devices::ENGAGE_WAIT).err());
    if let Some(e) = &unlocked {
        eprintln!("door-agent: cannot engage the lock: {e}; check the door by hand");
    }
    // Dropping the runtime would wait for every blocking task to end, and a USB keypad's read
    // waits in one for the next key press: a stop would hang until systemd's SIGKILL.
    if let Ok(runtime) = runtime {
        runtime.shutdown_timeout(SHUTDOWN_WAIT);
    }
    match result {
        Ok(()) if unlocked.is_none() => Exit::Ok.into(),
        Ok(()) => Exit::IoErr.into(),
        Err(e) => {
            eprintln!("door-agent: {e:#}");
            daemon::exit::of(&*e).into()
        }
    }
}

/// How long the way out waits for blocking tasks (a keypad's read) before leaving them.
const SHUTDOWN_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// The lock's pin from the configuration (only that), claimed and engaged.
fn engage(config: &std::path::Path) -> anyhow::Result<devices::ClaimedLock> {
    let lock = settings::load_lock(config).exit(Exit::Config)?;
    devices::engage_lock(&lock).map_err(|e| anyhow::Error::from(Coded::new(Exit::IoErr, e)))
}

async fn real_main(
    args: Args,
    command: Command,
    lock: Option<devices::ClaimedLock>,
    selftest_lock: &std::sync::OnceLock<std::sync::Arc<dyn drivers::gpio::Engage>>,
) -> anyhow::Result<()> {
    let s = settings::load(&args.config).exit(Exit::Config)?;
    // `events` asks a running door over its socket and writes nothing; it checks when it reads
    // the log itself.
    if !matches!(
        command,
        Command::CheckConfig | Command::Status { .. } | Command::Events { .. }
    ) {
        daemon::check_state_owner(&s.state_dir).exit(Exit::NoPerm)?;
    }
    match command {
        Command::CheckConfig => {
            println!(
                "{}: valid ({}, branch {}, {} reader(s))",
                args.config.display(),
                s.name,
                s.rules.branch,
                s.readers.len()
            );
            if let Some(line) = config::allowlist::card_key_line(&args.config) {
                println!("{line}");
            }
            // The console's calendar this door holds, when it takes one.
            if let Some(trust) = door_agent::policy_trust(&s) {
                let dir = s.state_dir.join("policy");
                println!(
                    "policy bundle: {}",
                    uplink::policy::describe(&dir, &trust, Utc::now().timestamp())
                );
            }
            for w in s.warnings() {
                println!("warning: {w}");
            }
            Ok(())
        }
        Command::Status { raw } => {
            let Some(addr) = s.metrics else {
                return Err(Coded::new(
                    Exit::Config,
                    "no health endpoint configured: set [door] metrics = \"127.0.0.1:9465\"",
                )
                .into());
            };
            let gauges = daemon::metrics::read(addr).await.map_err(|e| {
                Coded::new(
                    Exit::Unavailable,
                    format!("{addr}: {e}: is the door-agent running?"),
                )
            })?;
            if raw {
                for (name, value) in gauges {
                    println!("{name:<48} {value}");
                }
            } else {
                print!(
                    "{}",
                    door_agent::status::words(&gauges, &s.schedule.zone, Utc::now())
                );
            }
            Ok(())
        }
        Command::Export { out } => {
            let card = daemon::gdpr::card_from_stdin()?;
            let p = door_agent::pseudonym(&s.allowlist.card_key, &card);
            let events = open_log_stopped(&s)?.for_card(&p)?;
            let doc = serde_json::json!({
                "device": s.name,
                "what": "events of the door-agent's log about one library card; the card appears only as its keyed hash",
                "card_pseudonym": p,
                "exported_at": Utc::now().to_rfc3339(),
                "events": events,
            });
            daemon::gdpr::write_private(&out, &serde_json::to_vec_pretty(&doc)?)?;
            println!("{} event(s) written to {}", events.len(), out.display());
            Ok(())
        }
        Command::Erase => {
            let card = daemon::gdpr::card_from_stdin()?;
            let p = door_agent::pseudonym(&s.allowlist.card_key, &card);
            let n = open_log_stopped(&s)?.erase_card(&p)?;
            println!("{n} event(s) about this card removed from the event log");
            // Events waiting for the library's console carry the same pseudonym.
            if let Some(c) = &s.console {
                if daemon::fs::store_exists(&c.outbox) {
                    let outbox = uplink::Outbox::open(&c.outbox, c.outbox_max_bytes)
                        .context("the console's outbox (is the door-agent running?)")?;
                    let n = outbox.erase_cards(&[&p])?;
                    println!("{n} record(s) about this card removed from the console's outbox");
                }
            }
            // Wrong PINs this door counted at offline checks, kept apart from the list.
            let list = offline::OfflineList::open(s.allowlist.clone())
                .context("the offline list's store (is the door-agent running?)")?;
            if list.erase_card(&card)? {
                println!("this card's wrong-PIN record removed");
            }
            println!(
                "The offline list on this device comes from the library system: erase the patron there, and the next list leaves them out."
            );
            Ok(())
        }
        Command::Events {
            from,
            to,
            alarms,
            security,
            json,
        } => {
            let zone = s.schedule.zone;
            let at = |text: &str| eventlog::local_ms(text, &zone).map_err(anyhow::Error::msg);
            let q = Query {
                from: at(&from)?,
                to: at(&to)?,
                alarms,
                security,
            };
            let sock = s.state_dir.join("control.sock");
            let events = match control::ask(&sock, &q).await {
                Ok(e) => e,
                // No daemon running: read the log directly.
                Err(_) => {
                    daemon::check_state_owner(&s.state_dir).exit(Exit::NoPerm)?;
                    control::answer(&EventLog::open(&s.state_dir.join("events"))?, &q)?
                }
            };
            print!("{}", eventlog::listing(&events, &zone, json));
            Ok(())
        }
        Command::Selftest { wait } => {
            let say = |text: &str| eprintln!(">> {text}");
            let tech = door_agent::selftest::Technician {
                wait: std::time::Duration::from_secs(wait),
                show: std::time::Duration::from_secs(1),
                say: &say,
            };
            let checks = tokio::select! {
                checks = door_agent::selftest::run(&s, &tech, Utc::now().timestamp(), selftest_lock) => checks,
                () = shutdown() => {
                    // Stopped mid-test (Ctrl-C, a terminal hung up): the pins keep their level
                    // after exit, so the lock is engaged again (claimed again, when the test had
                    // not claimed it yet), and the signals are off.
                    let engaged = match selftest_lock.get() {
                        Some(lock) => lock.engage_for_good(devices::ENGAGE_WAIT).is_ok(),
                        None => devices::open_door(&s).is_ok(),
                    };
                    return Err(Coded::new(Exit::TempFail, format!(
                        "selftest interrupted; {}",
                        if engaged { "the lock is engaged" } else { "the lock could not be engaged again: check the door" }
                    )).into());
                }
            };
            print!("{}", daemon::selftest::table(&checks));
            if let Err(e) = daemon::selftest::record(&s.state_dir, &checks, Utc::now().timestamp())
            {
                eprintln!(
                    "warning: the outcome was not kept for the console ({}): {e}",
                    s.state_dir.display()
                );
            }
            let failed = checks.iter().filter(|c| !c.ok).count();
            if failed > 0 {
                return Err(Coded::new(Exit::No, format!("{failed} check(s) failed")).into());
            }
            Ok(())
        }
        // Handled before the runtime starts.
        Command::Lock => Ok(()),
        Command::Run => {
            let stop = shutdown();
            let registry = s
                .registry
                .as_ref()
                .map(AnyRegistry::start)
                .transpose()
                .map_err(|e| {
                    let exit = if e.is_offline() {
                        Exit::Unavailable
                    } else {
                        Exit::Config
                    };
                    Coded::new(exit, e)
                })?;
            let door = match lock {
                Some(lock) => devices::open_door_with(&s, lock)?,
                None => devices::open_door(&s)?,
            };
            let inputs = devices::open_inputs(&s)?;
            let display = devices::open_display(&s).unwrap_or_else(|e| {
                // The door works without it: cards, keys, lock and the LED say the rest.
                tracing::error!("{e:#}; the door goes on without its display");
                None
            });
            let devs = Devices {
                cards: inputs.cards,
                keys: inputs.keys,
                door,
                // The OSDP readers' LEDs and buzzers; their display when no other is named.
                feedback: inputs.feedback,
                display: display.or(inputs.display),
                clock: system_clock(),
            };
            door_agent::run(s, registry, devs, stop).await
        }
    }
}

/// SIGTERM (systemd), SIGINT or SIGQUIT (a terminal's keys) or SIGHUP (a terminal that went
/// away: a technician's dropped SSH session mid-selftest, with the lock released, would otherwise
/// end the process where it stands). The handlers are in place when this returns, not when it is
/// first polled: a SIGTERM while the door starts is a clean stop too.
fn shutdown() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let signals = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
        signal(SignalKind::quit()),
    );
    async move {
        match signals {
            (Ok(mut term), Ok(mut int), Ok(mut hup), Ok(mut quit)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                    _ = hup.recv() => {}
                    _ = quit.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
