//! `library-sim`: a library-system simulator speaking SIP2 over TLS.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use library_sim::faults::Faults;
use library_sim::server::{self, Settings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A library-system simulator: SIP2 over TLS with a fixture catalogue of patrons and items.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve SIP2 (and, with --https, Koha's REST API) to self-check units and doors until
    /// stopped (Ctrl-C or SIGTERM).
    ///
    /// On first start it makes its own CA and server certificate in the state directory; clients
    /// pin DIR/ca.pem.
    Serve {
        /// State directory: loans, fines, CA and certificates.
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Fixture catalogue (TOML). Without it, the shipped Heili demo catalogue is copied to
        /// DIR/fixtures.toml on first start and used from there.
        #[arg(long, value_name = "FILE")]
        fixtures: Option<PathBuf>,
        /// Address for SIP2 over TLS.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6443")]
        sip2_tls: SocketAddr,
        /// Also serve SIP2 over plain TCP here (only behind a VPN or stunnel).
        #[arg(long, value_name = "ADDR")]
        sip2_plain: Option<SocketAddr>,
        /// Fault-control port (keep it on loopback): `latency MS`, `drop N`, `garbage N`,
        /// `bad-checksum N`, `refuse-login on|off`, `clear`, `status`.
        #[arg(long, value_name = "ADDR")]
        control: Option<SocketAddr>,
        /// SIP2 dialect: standard, koha, evergreen, folio, sierra, aurora.
        #[arg(long, default_value = "standard")]
        dialect: String,
        /// Character set of field values: utf-8, iso-8859-1, cp850.
        #[arg(long, default_value = "utf-8")]
        charset: String,
        /// Message terminator: cr or crlf.
        #[arg(long, default_value = "cr")]
        terminator: String,
        /// Another host name or address for the server certificate (repeatable).
        #[arg(long, value_name = "NAME")]
        hostname: Vec<String>,
        /// Fault: delay every reply by this many milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Fault: refuse every login.
        #[arg(long)]
        refuse_login: bool,
        /// Close a connection idle this many seconds.
        #[arg(long, default_value_t = 600)]
        idle_timeout_secs: u64,
        /// Address for Koha's REST API over HTTPS (the device accounts are its OAuth2 clients).
        #[arg(long, value_name = "ADDR")]
        https: Option<SocketAddr>,
        /// Let in only clients with a certificate signed by the simulator's CA (DIR/device.pem
        /// is one).
        #[arg(long)]
        require_client_cert: bool,
        /// Lifetime of the REST API's OAuth2 tokens, in seconds.
        #[arg(long, default_value_t = 3600)]
        token_lifetime_secs: u64,
        /// Serve the offline allow-list published in DIR/allowlist/published (see `publish`) at
        /// https://ADDR/allowlist/ (needs --https), only to clients with a certificate signed by
        /// the simulator's CA (DIR/device.pem is one); others get 403.
        #[arg(long)]
        allowlist: bool,
    },
    /// Publish the next signed offline allow-list from the fixture catalogue into
    /// DIR/allowlist/published, making the publisher's keys on first use; prints the public key
    /// and card-key file a device needs.
    Publish {
        /// State directory (as for `serve`).
        #[arg(long, value_name = "DIR")]
        state: PathBuf,
        /// Fixture catalogue.
        #[arg(long, value_name = "FILE")]
        fixtures: Option<PathBuf>,
        /// Hours the list stays valid.
        #[arg(long, default_value_t = 72)]
        valid_hours: i64,
    },
    /// Write a patron export (the publisher's input) from the fixtures, or a synthetic one.
    Export {
        /// Output file (JSON Lines).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Fixture catalogue (the shipped one if not given).
        #[arg(long, value_name = "FILE")]
        fixtures: Option<PathBuf>,
        /// Instead, N synthetic patrons (for benchmarks).
        #[arg(long, value_name = "N")]
        synthetic: Option<u64>,
        /// With --synthetic: this many patrons changed (evenly spread).
        #[arg(long, default_value_t = 0)]
        changed: u64,
        /// With --changed: the share of changes that are new PINs (0 to 1); the rest are fines.
        #[arg(long, default_value_t = 0.2)]
        new_pin_share: f64,
    },
    /// Send one command to a running simulator's fault-control port and print its answer.
    Control {
        /// The control address.
        addr: SocketAddr,
        /// The command, e.g. `garbage 1`.
        #[arg(required = true)]
        command: Vec<String>,
    },
}

fn dialect(name: &str, charset: &str, terminator: &str) -> anyhow::Result<sip2::Dialect> {
    let raw = config::sip2::RawSip2 {
        dialect: Some(name.into()),
        charset: Some(charset.into()),
        terminator: Some(terminator.into()),
        ..Default::default()
    };
    Ok(raw.dialect(Path::new("command line"), "")?)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Control { .. });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(if quiet { "warn" } else { "info" })
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("library-sim: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            state,
            fixtures,
            sip2_tls,
            sip2_plain,
            control,
            dialect: name,
            charset,
            terminator,
            hostname,
            latency_ms,
            refuse_login,
            idle_timeout_secs,
            https,
            require_client_cert,
            token_lifetime_secs,
            allowlist,
        } => {
            let allowlist = allowlist.then(|| state.join("allowlist").join("published"));
            let settings = Settings {
                fixtures: library_sim::fixtures_or_default(&state, fixtures)?,
                state_dir: state,
                sip2_tls: Some(sip2_tls),
                sip2_plain,
                control,
                dialect: dialect(&name, &charset, &terminator)?,
                hostnames: hostname,
                faults: Faults {
                    latency: Duration::from_millis(latency_ms),
                    refuse_login,
                    ..Faults::default()
                },
                idle_timeout: Duration::from_secs(idle_timeout_secs.max(1)),
                https,
                require_client_cert,
                token_lifetime: Duration::from_secs(token_lifetime_secs.max(1)),
                allowlist,
                clock: library_sim::clock::Clock::system(),
            };
            server::run(settings, shutdown_signal()).await
        }
        Command::Publish {
            state,
            fixtures,
            valid_hours,
        } => {
            let path = library_sim::fixtures_or_default(&state, fixtures)?;
            let clock = library_sim::clock::Clock::system();
            let f = library_sim::fixtures::Fixtures::load(&path, clock.today())?;
            let files = library_sim::publishing::ensure_publisher(&state)?;
            let p = library_sim::publishing::publish(
                &f,
                None,
                &files,
                clock.now().timestamp(),
                valid_hours,
                allowlist::Argon2Params::OWASP_MINIMUM,
            )?;
            println!(
                "published version {} with {} patrons in {}",
                p.version,
                p.entries,
                files.out.display()
            );
            println!("device config: keys = [\"{}\"]", files.public_key);
            println!("card key: {}", files.card_key.display());
            Ok(())
        }
        Command::Export {
            out,
            fixtures,
            synthetic,
            changed,
            new_pin_share,
        } => {
            match synthetic {
                Some(n) => {
                    library_sim::publishing::synthetic_export(&out, n, changed, new_pin_share)?
                }
                None => {
                    let clock = library_sim::clock::Clock::system();
                    let f = match fixtures {
                        Some(p) => library_sim::fixtures::Fixtures::load(&p, clock.today())?,
                        None => library_sim::fixtures::Fixtures::parse(
                            Path::new("heili.toml"),
                            library_sim::DEFAULT_FIXTURES,
                            clock.today(),
                        )?,
                    };
                    library_sim::publishing::export(&f, None, &out, &clock.now().to_rfc3339())?;
                }
            }
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Control { addr, command } => {
            let mut tcp = tokio::net::TcpStream::connect(addr)
                .await
                .with_context(|| format!("cannot reach the control port {addr}"))?;
            tcp.write_all(format!("{}\n", command.join(" ")).as_bytes())
                .await?;
            let mut line = String::new();
            BufReader::new(tcp).read_line(&mut line).await?;
            print!("{line}");
            if line.starts_with("error") {
                anyhow::bail!("command refused");
            }
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
