//! `omatoimi-central`: the library's console.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The library's console: doors and kiosks report here.
#[derive(Parser)]
#[command(version, after_help = daemon::exit::HELP)]
struct Args {
    /// The console's configuration.
    #[arg(
        long,
        short,
        global = true,
        default_value = "/etc/omatoimi-central/central.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the console until SIGTERM or Ctrl-C.
    Serve,
    /// Brings the database's schema up to date, and stops.
    Migrate,
    /// Refuses a device certificate from now on (a stolen or retired box).
    Revoke {
        /// The device's certificate (PEM), as provisioning made it.
        #[arg(long)]
        cert: PathBuf,
        /// The device it is for.
        #[arg(long)]
        device: String,
        /// Why, for the record.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Makes the key that signs branch calendars into policy bundles (`[policy] signing_key`),
    /// readable by its owner only, and prints its public half for the devices'
    /// `[console] policy_keys`. Refuses to overwrite a key.
    PolicyKey {
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
    /// Makes a staff account, or sets a new password and role for one (its sessions end).
    /// The password is read from standard input; on a terminal, one is made and shown once.
    Staff {
        /// The user name.
        user: String,
        /// admin (everything, the audit log too), staff, or technician.
        #[arg(long)]
        role: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Args>("omatoimi-central", "8") {
        return code;
    }
    daemon::logging::init("info");
    let args = match daemon::exit::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args).await {
        Ok(()) => daemon::exit::Exit::Ok.into(),
        Err(e) => {
            eprintln!("omatoimi-central: {e:#}");
            daemon::exit::of(&*e).into()
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    if let Command::PolicyKey { out } = &args.command {
        // Needs no configuration: it is made before the configuration names it.
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        let key = allowlist::SigningKey::from_seed(seed)
            .ok_or_else(|| anyhow::anyhow!("could not make a key"))?;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
        f.write_all(key.to_text().as_bytes())?;
        f.sync_all()?;
        println!(
            "policy key written to {}; pin it on every device:\n[console]\npolicy_keys = [\"{}\"]",
            out.display(),
            key.public()
        );
        return Ok(());
    }
    let settings = daemon::exit::Tagged::exit(
        central::Settings::load(&args.config),
        daemon::exit::Exit::Config,
    )?;
    let clock = central::system_clock();
    match args.command {
        Command::Serve => {
            let console = central::run(&settings, clock).await?;
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            console.stop().await;
        }
        Command::Migrate => {
            central::Db::open(&settings.database).await?;
            println!("the database's schema is up to date");
        }
        Command::Staff { user, role } => {
            let role = central::staff::Role::from_code(&role).ok_or_else(|| {
                anyhow::anyhow!("--role {role:?}: expected admin, staff or technician")
            })?;
            let db = central::Db::open(&settings.database).await?;
            let (password, made) = if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                (central::staff::make_password()?, true)
            } else {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                (line.trim_end_matches(['\n', '\r']).to_owned(), false)
            };
            central::staff::set_account(&db, &user, role, &password, "(command line)", clock())
                .await?;
            if made {
                println!(
                    "account {user} ({}) set; its password, shown this once: {password}",
                    role.code()
                );
            } else {
                println!("account {user} ({}) set", role.code());
            }
        }
        Command::PolicyKey { .. } => {}
        Command::Revoke {
            cert,
            device,
            reason,
        } => {
            let db = central::Db::open(&settings.database).await?;
            let pem =
                std::fs::read(&cert).map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
            let sha = central::identity::pem_sha256(&pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
            if db.revoke(&sha, &device, &reason, clock()).await? {
                println!(
                    "certificate {sha} of {device} revoked: its reports are refused from now on"
                );
            } else {
                println!("certificate {sha} was already revoked");
            }
        }
    }
    Ok(())
}
