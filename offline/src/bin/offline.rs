//! `offline`: the device's offline list, for technicians and the demo (`cargo run -p offline --`).
//!
//! Exit codes: 0 yes (verified, applied, up to date), 1 the list's "no" (unknown card, wrong PIN,
//! lockout) or a refused list, 2 no usable list or no answer from the server, 64 bad configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use offline::{OfflineAnswer, OfflineList};
use redact::CardNumber;
use registry::cli;

#[derive(Parser, Debug)]
#[command(version, about = "The offline allow-list of a door or kiosk")]
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
    // The store holds every patron's keyed hash: its files are this user's only, also when a
    // technician runs this by hand (the units set UMask=0077 for the daemons).
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let args = Args::parse();
    cli::init_logging(args.verbose);
    let Some(config) = &args.config else {
        eprintln!("offline: name the device's configuration with -c FILE");
        return ExitCode::from(64);
    };
    let settings = match config::allowlist::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(64);
        }
    };
    let list = match OfflineList::open(settings) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let now = chrono::Utc::now().timestamp();
    match args.command {
        Command::Status => match list.store().current() {
            None => {
                println!("no list applied");
                ExitCode::from(2)
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
                        ExitCode::from(2)
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
                    return ExitCode::from(70);
                }
            };
            runtime.block_on(async {
                let fetcher = match offline::Fetcher::new(&list) {
                    Ok(f) => f,
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::from(64);
                    }
                };
                match fetcher.sync(&list, now).await {
                    Ok(s) => {
                        println!("{s:?}");
                        ExitCode::SUCCESS
                    }
                    Err(offline::SyncError::Apply(offline::ApplyError::Refused(r))) => {
                        println!("refused: {r}");
                        ExitCode::from(1)
                    }
                    Err(e) => {
                        println!("error: {e}");
                        ExitCode::from(2)
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
                    ExitCode::from(1)
                }
                Err(e) => {
                    println!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Check { card } => {
            let pin = match cli::read_pin() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("cannot read the PIN: {e}");
                    return ExitCode::from(64);
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
                    ExitCode::from(1)
                }
                Ok(OfflineAnswer::UnknownCard) => {
                    println!("unknown card");
                    ExitCode::from(1)
                }
                Ok(OfflineAnswer::WrongPin { tries_left }) => {
                    println!("wrong PIN ({tries_left} tries left)");
                    ExitCode::from(1)
                }
                Ok(OfflineAnswer::LockedOut { until }) => {
                    println!("locked out until {}", time(until));
                    ExitCode::from(1)
                }
                Err(e) => {
                    println!("no answer: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
