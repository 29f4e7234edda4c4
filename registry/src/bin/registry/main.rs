//! `registry`: a technician's tool to ask the library system what the door and the kiosk ask —
//! check a card and PIN, list a patron's loans, lend and take back an item — over whichever
//! backend the configuration names. The PIN is read from the terminal (or one line of standard
//! input when it is not a terminal), never from the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use registry::cli;

use clap::{Parser, Subcommand};
use daemon::exit::Exit;
use registry::{AnyRegistry, PatronLogin, Registry, RegistryError, ReturnRoute, Verification};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Ask the library system what a door or kiosk asks",
    after_help = daemon::exit::HELP
)]
struct Args {
    /// Configuration file with a [registry] table: a registry.toml, or the device's own
    /// door.toml or kiosk.toml (only its [registry] table is read).
    #[arg(
        long,
        short,
        global = true,
        default_value = "/etc/omatoimi/registry.toml"
    )]
    config: PathBuf,
    /// Log connection events to standard error.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a card and PIN and show what the access policy would read.
    Verify {
        /// Card number.
        card: String,
    },
    /// List a patron's loans and holds.
    Loans {
        /// Card number.
        card: String,
    },
    /// Lend an item to a patron.
    Checkout {
        /// Card number.
        card: String,
        /// Item barcode.
        item: String,
    },
    /// Renew a patron's loan.
    Renew {
        /// Card number.
        card: String,
        /// Item barcode.
        item: String,
    },
    /// Take an item back at this device's branch.
    Checkin {
        /// Item barcode.
        item: String,
    },
    /// Show what the library system knows of an item.
    Item {
        /// Item barcode.
        item: String,
    },
}

fn main() -> ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Args>("registry", "1") {
        return code;
    }
    let args = match daemon::exit::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    cli::init_logging(args.verbose);
    let settings = match config::registry::load(&args.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Exit::Config.into();
        }
    };
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
        let registry = match AnyRegistry::start(&settings) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return Exit::Config.into();
            }
        };
        match run(&registry, args.command).await {
            Ok(true) => Exit::Ok.into(),
            Ok(false) => Exit::No.into(),
            Err(Failure::Registry(e)) => {
                eprintln!("error: {e}");
                exit_of(&e).into()
            }
            Err(e @ Failure::Pin(_)) => {
                eprintln!("error: {e}");
                Exit::NoInput.into()
            }
        }
    })
}

/// Why a command failed: the library system's answer, or the PIN it could not read.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Standard input (or the terminal) gave no PIN: EX_NOINPUT, as for a missing input file.
    #[error("cannot read the PIN: {0}")]
    Pin(std::io::Error),
}

fn login(card: String) -> Result<PatronLogin, Failure> {
    let pin = cli::read_pin().map_err(Failure::Pin)?;
    Ok(PatronLogin {
        card: redact::CardNumber::new(card),
        pin,
    })
}

fn date(d: Option<chrono::NaiveDateTime>) -> String {
    d.map_or_else(|| "—".into(), |d| d.format("%d.%m.%Y").to_string())
}

/// Runs one command; `Ok(false)` is the library's "no".
async fn run(r: &AnyRegistry, command: Command) -> Result<bool, Failure> {
    match command {
        Command::Verify { card } => {
            let login = login(card)?;
            let started = Instant::now();
            let v = r.verify(&login).await?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            match v {
                Verification::UnknownCard { message } => {
                    println!("unknown card{}", suffix(message));
                    Ok(false)
                }
                Verification::WrongPin { message } => {
                    println!("wrong PIN{}", suffix(message));
                    Ok(false)
                }
                Verification::Verified(f) => {
                    let today = chrono::Local::now().date_naive();
                    println!("card and PIN verified ({ms:.1} ms over {})", r.kind());
                    let opt = |v: Option<String>| v.unwrap_or_else(|| "not sent".into());
                    println!(
                        "  card valid:        {}",
                        if f.card_valid { "yes" } else { "no" }
                    );
                    println!(
                        "  card expires:      {}",
                        opt(f.card_expires.map(|d| d.format("%d.%m.%Y").to_string()))
                    );
                    println!(
                        "  age:               {}",
                        opt(f.age_on(today).map(|a| a.to_string()))
                    );
                    println!("  category:          {}", opt(f.category.clone()));
                    println!("  home branch:       {}", opt(f.home_branch.clone()));
                    println!(
                        "  self-service:      {}",
                        opt(f.self_service.map(|b| if b {
                            "permitted".into()
                        } else {
                            "not permitted".into()
                        }))
                    );
                    println!(
                        "  guardian consent:  {}",
                        opt(f
                            .guardian_consent
                            .map(|b| if b { "yes".into() } else { "no".into() }))
                    );
                    println!(
                        "  fines:             {}",
                        opt(f.fines.map(|c| format!("{c} €")))
                    );
                    if f.blocks.is_empty() {
                        println!("  blocks:            none");
                    }
                    for b in &f.blocks {
                        let mut line = format!("{:?} ({:?})", b.kind, b.effect);
                        if let Some(br) = &b.branch {
                            line.push_str(&format!(" at {br}"));
                        }
                        if let Some(u) = b.until {
                            line.push_str(&format!(" until {}", u.format("%d.%m.%Y")));
                        }
                        if let Some(why) = &b.reason {
                            line.push_str(&format!(": {why}"));
                        }
                        println!("  block:             {line}");
                    }
                    if let Some(m) = &f.screen_message {
                        println!("  library says:      {m}");
                    }
                    println!(
                        "  may enter:         {}   may borrow: {}",
                        if f.denies_entry() {
                            "no"
                        } else {
                            "yes (by the library system's blocks)"
                        },
                        if f.denies_loans() { "no" } else { "yes" }
                    );
                    Ok(true)
                }
            }
        }
        Command::Loans { card } => {
            let login = login(card)?;
            let a = r.account(&login).await?;
            println!("{} loan(s), {} hold(s)", a.loans.len(), a.holds.len());
            for l in &a.loans {
                println!(
                    "  {}  due {}{}  {}",
                    l.item,
                    date(l.due),
                    if l.overdue { " OVERDUE" } else { "" },
                    l.title.as_deref().unwrap_or("")
                );
            }
            for h in &a.holds {
                println!("  hold: {}  {}", h.item, h.title.as_deref().unwrap_or(""));
            }
            Ok(true)
        }
        Command::Checkout { card, item } => {
            let login = login(card)?;
            let o = r.checkout(&login, &item).await?;
            print_loan("lent", &o);
            Ok(o.ok)
        }
        Command::Renew { card, item } => {
            let login = login(card)?;
            let o = r.renew(&login, &item).await?;
            print_loan("renewed", &o);
            Ok(o.ok)
        }
        Command::Checkin { item } => {
            let o = r.checkin(&item).await?;
            let route = match &o.route {
                ReturnRoute::Shelf => "to the shelf".to_owned(),
                ReturnRoute::Hold => "to the holds shelf".to_owned(),
                ReturnRoute::Transfer { to } => {
                    format!(
                        "to be sent to {}",
                        to.as_deref().unwrap_or("another branch")
                    )
                }
                ReturnRoute::Staff => "to the staff".to_owned(),
            };
            if o.ok {
                println!(
                    "returned {} {}: {route}{}",
                    o.item,
                    title(&o.title),
                    suffix(o.message)
                );
            } else {
                println!("not returned {}{}", o.item, suffix(o.message));
            }
            Ok(o.ok)
        }
        Command::Item { item } => {
            let f = r.item(&item).await?;
            if !f.known {
                println!("unknown item {}{}", f.item, suffix(f.message));
                return Ok(false);
            }
            println!(
                "{} {}: {:?}, due {}, at {}",
                f.item,
                title(&f.title),
                f.status,
                date(f.due),
                f.location.as_deref().unwrap_or("—")
            );
            Ok(true)
        }
    }
}

fn title(t: &Option<String>) -> String {
    t.as_deref().map_or_else(String::new, |t| format!("«{t}»"))
}

fn suffix(m: Option<String>) -> String {
    m.map_or_else(String::new, |m| format!(": {m}"))
}

fn print_loan(verb: &str, o: &registry::LoanOutcome) {
    if o.ok {
        println!("{verb} {} {}, due {}", o.item, title(&o.title), date(o.due));
    } else {
        println!(
            "not {verb} {} {}{}",
            o.item,
            title(&o.title),
            suffix(o.message.clone())
        );
    }
}

/// The code a failed command ends with: the library system not answering is not our setup.
fn exit_of(e: &RegistryError) -> Exit {
    match e {
        RegistryError::Unreachable(_) | RegistryError::Timeout(_) => Exit::Unavailable,
        RegistryError::Tls(_) | RegistryError::DeviceRefused(_) => Exit::NoPerm,
        RegistryError::Protocol(_) => Exit::DataErr,
        RegistryError::Server(_) => Exit::TempFail,
        RegistryError::Setup(_) => Exit::Config,
    }
}
