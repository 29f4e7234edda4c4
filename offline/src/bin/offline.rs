//! `offline`: the device's offline list, for technicians and the demo (`cargo run -p offline --`).
//!
//! Exit codes (sysexits(3), `daemon::exit`): 0 yes (verified, applied, up to date), 1 the list's
//! "no" (unknown card, wrong PIN, lockout, no list in force), 64 a bad command line, 65 a refused
//! list, 66 a list file missing, 69 the list server unreachable, 74 the store unusable, 75 the
//! store in use or the server busy, 78 a bad configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use daemon::exit::Exit;
use offline::{OfflineAnswer, OfflineList};
use redact::CardNumber;
use registry::cli;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The offline allow-list of a door or kiosk",
    after_help = daemon::exit::HELP
)]
struct Args {
    /// The device's configuration (with an [allowlist] table).
    #[arg(short, long, global = true)]
    config: Option<PathBuf>,
    /// Log progress (security events are always logged).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The list in force: version, times, entries. No patron data.
    Status,
    /// Fetches head, delta or full list over HTTPS and applies it.
    Sync,
    /// Verifies and applies a list or delta file (from a USB stick, say).
    Apply {
        /// The `.oal` file.
        file: PathBuf,
    },
    /// Checks a card and PIN (PIN asked, or one line on stdin) against the list, as the door does.
    Check {
        /// The card number.
        card: String,
    },
}

fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339())
}

fn main() -> ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Args>("offline", "1") {
        return code;
    }
    // The store holds every patron's keyed hash: its files are this user's only, also when a
    // technician runs this by hand (the units set UMask=0077 for the daemons).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let args = match daemon::exit::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging(args.verbose);
    let Some(config) = &args.config else {
        eprintln!("offline: name the device's configuration with -c FILE");
        return Exit::Usage.into();
    };
    let settings = match config::allowlist::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Config.into();
        }
    };
    let list = match OfflineList::open(settings) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return store_exit(&e).into();
        }
    };
    let now = chrono::Utc::now().timestamp();
    match args.command {
        Command::Status => match list.store().current() {
            None => {
                println!("no list applied");
                Exit::No.into()
            }
            Some(c) => {
                let h = &c.header.header;
                println!("list version {} with {} entries", h.version, h.entry_count);
                println!(
                    "  issued {}  expires {}",
                    time(h.issued_at),
                    time(h.expires_at)
                );
                println!(
                    "  scope {:?}  signed by {:?}",
                    h.scope,
                    c.header
                        .signatures
                        .iter()
                        .map(|(k, _)| k.to_string())
                        .collect::<Vec<_>>()
                );
                match allowlist::trust::still_in_force(&c.header, &list.settings().anchors, now) {
                    Ok(()) => {
                        println!("  in force");
                        ExitCode::SUCCESS
                    }
                    Err(r) => {
                        println!("  NOT in force: {r}");
                        Exit::No.into()
                    }
                }
            }
        },
        Command::Sync => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    return Exit::Software.into();
                }
            };
            runtime.block_on(async {
                let fetcher = match offline::Fetcher::new(&list) {
                    Ok(f) => f.with_progress(show_progress),
                    Err(e) => {
                        eprintln!("{e}");
                        return Exit::Config.into();
                    }
                };
                match fetcher.sync(&list, now).await {
                    Ok(s) => {
                        println!("{}", s.words());
                        ExitCode::SUCCESS
                    }
                    Err(offline::SyncError::Apply(offline::ApplyError::Refused(r))) => {
                        println!("refused: {r}");
                        Exit::DataErr.into()
                    }
                    Err(e) => {
                        println!("error: {e}");
                        sync_exit(&e).into()
                    }
                }
            })
        }
        Command::Apply { file } => {
            let s = list.settings();
            match offline::apply_file(list.store(), &s.anchors, &file, now, s.max_list_bytes) {
                Ok(a) => {
                    println!("{a:?}");
                    ExitCode::SUCCESS
                }
                Err(offline::ApplyError::Refused(r)) => {
                    offline::log_refusal(&file.display().to_string(), &r);
                    println!("refused: {r}");
                    Exit::DataErr.into()
                }
                Err(e) => {
                    println!("error: {e}");
                    apply_exit(&e).into()
                }
            }
        }
        Command::Check { card } => {
            let pin = match cli::read_pin() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("cannot read the PIN: {e}");
                    return Exit::NoInput.into();
                }
            };
            match list.check(&CardNumber::new(card), &pin, now) {
                Ok(OfflineAnswer::Verified {
                    facts,
                    by,
                    version,
                    past_expiry,
                }) => {
                    println!(
                        "verified ({}) by list version {version}{}: category {}, home branch {}, card valid until {}, self-service {}, fines over limit {}, blocks {}",
                        by.name(),
                        if past_expiry {
                            " (EXPIRED list, grace policy)"
                        } else {
                            ""
                        },
                        facts.category,
                        facts.home_branch,
                        facts.card_expires,
                        if facts.self_service { "yes" } else { "no" },
                        if facts.fines_over_limit { "yes" } else { "no" },
                        facts.blocks.len()
                    );
                    ExitCode::SUCCESS
                }
                Ok(OfflineAnswer::NoVerifier { bcrypt_cost }) => {
                    match bcrypt_cost {
                        Some(c) => println!(
                            "the card is listed with a bcrypt hash of cost {c}, over max_bcrypt_cost: its PIN cannot be checked offline"
                        ),
                        None => println!(
                            "the card is listed without a PIN verifier and none was learned here: its PIN cannot be checked offline"
                        ),
                    }
                    Exit::No.into()
                }
                Ok(OfflineAnswer::UnknownCard) => {
                    println!("unknown card");
                    Exit::No.into()
                }
                Ok(OfflineAnswer::WrongPin { tries_left }) => {
                    println!("wrong PIN ({tries_left} tries left)");
                    Exit::No.into()
                }
                Ok(OfflineAnswer::LockedOut { until }) => {
                    println!("locked out until {}", time(until));
                    Exit::No.into()
                }
                Err(e) => {
                    println!("no answer: {e}");
                    match e {
                        offline::OfflineError::Store(e) => store_exit(&e),
                        _ => Exit::No,
                    }
                    .into()
                }
            }
        }
    }
}

/// The store's errors: in use by the running daemon (try again when it is stopped), or unusable.
fn store_exit(e: &(dyn std::error::Error + 'static)) -> Exit {
    match daemon::exit::of(e) {
        Exit::Software => Exit::IoErr,
        exit => exit,
    }
}

fn apply_exit(e: &offline::ApplyError) -> Exit {
    match e {
        offline::ApplyError::Refused(_) | offline::ApplyError::TooLarge { .. } => Exit::DataErr,
        offline::ApplyError::Io { cause, .. } => daemon::exit::of_io(cause.kind()),
        offline::ApplyError::DiskFull { .. } => Exit::CantCreat,
        offline::ApplyError::Store(e) => store_exit(e),
    }
}

/// How a sync comes on, on standard error: a line a step, and the download's megabytes (on a
/// terminal in place, in a file or the journal every tenth of the way).
fn show_progress(p: offline::Progress) {
    use std::io::{IsTerminal, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_TENTH: AtomicU64 = AtomicU64::new(u64::MAX);
    let terminal = std::io::stderr().is_terminal();
    let mb = |b: u64| b as f64 / 1_048_576.0;
    let mut err = std::io::stderr().lock();
    match p {
        offline::Progress::Asking { url } => {
            let _ = writeln!(err, "asking {url} for the newest list");
        }
        offline::Progress::Downloading { name, bytes, total } => {
            let of = total
                .map(|t| format!(" of {:.1} MB", mb(t)))
                .unwrap_or_default();
            let done = total.is_some_and(|t| bytes >= t);
            if terminal {
                let _ = write!(err, "\rdownloading {name}: {:.1} MB{of}", mb(bytes));
                if done {
                    let _ = writeln!(err);
                }
            } else {
                let tenth = total.filter(|t| *t > 0).map_or(0, |t| bytes * 10 / t);
                if done || LAST_TENTH.swap(tenth, Ordering::Relaxed) != tenth {
                    let _ = writeln!(err, "downloading {name}: {:.1} MB{of}", mb(bytes));
                }
            }
        }
        offline::Progress::Applying { name } => {
            let _ = writeln!(
                err,
                "checking {name}'s signatures and applying it (a large list takes a minute on a Pi)"
            );
        }
    }
}

fn sync_exit(e: &offline::SyncError) -> Exit {
    match e {
        offline::SyncError::Unreachable { .. } => Exit::Unavailable,
        // 5xx: the server is there but cannot serve now; 4xx: this device is refused.
        offline::SyncError::Status { status, .. } if *status >= 500 => Exit::TempFail,
        offline::SyncError::Status { .. } => Exit::NoPerm,
        offline::SyncError::NoUrl | offline::SyncError::Setup(_) => Exit::Config,
        offline::SyncError::Apply(e) => apply_exit(e),
    }
}
