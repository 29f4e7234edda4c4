//! `allowlist-publish`: keys, lists and deltas for the offline allow-list.
//!
//! Exit codes (sysexits(3), `daemon::exit`): 0 done, 64 bad arguments, 65 a bad export, key or
//! state file, 66 an input file missing, 73 an output that cannot be made, 74 other I/O.

use std::path::PathBuf;
use std::process::ExitCode;

use allowlist::{Argon2Params, SignedHeader};
use clap::{Parser, Subcommand};
use publisher::secrets;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Builds and signs the offline allow-list for doors and kiosks",
    after_help = daemon::exit::HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
// Parsed once; the size of the build variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Makes a new Ed25519 signing key: `DIR/signing-<id>.key` (0600) and `.pub` (pin it on devices).
    Keygen {
        /// Directory for the key files.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Makes the card-hashing key (0600); it goes to the publisher and every device, never in a list.
    /// With --for NAME and --from FILE: writes the key of branch or device NAME derived from the
    /// consortium's key in FILE, for provisioning that branch's devices (see --branch-list).
    CardKey {
        /// The key file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Derive the key of this branch or device instead of making a new one.
        #[arg(long = "for", requires = "from")]
        for_scope: Option<String>,
        /// The consortium's card key file to derive from.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Publishes the next version from a patron export or a Koha database: full list, deltas, head.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["export", "koha"])))]
    Build {
        /// The patron export (JSON Lines; see the README).
        #[arg(long)]
        export: Option<PathBuf>,
        /// Read the patrons from a Koha database instead: the connector's TOML file (connection,
        /// attribute codes; see the README). Read-only, in one transaction.
        #[arg(long)]
        koha: Option<PathBuf>,
        /// The publisher's state directory (verifiers kept between runs).
        #[arg(long)]
        state: PathBuf,
        /// The output directory served to devices.
        #[arg(long)]
        out: PathBuf,
        /// A signing key file; give two while rotating keys.
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// The card-hashing key file.
        #[arg(long)]
        card_key: PathBuf,
        /// A scope name devices must share: consortium, branch or device (repeatable).
        #[arg(long = "scope", required = true)]
        scope: Vec<String>,
        /// Hours the list stays valid.
        #[arg(long, default_value_t = 72)]
        valid_hours: i64,
        /// Fine limit in cents (default: the export header's).
        #[arg(long)]
        fine_limit_cents: Option<u64>,
        /// Earlier versions to make deltas from.
        #[arg(long, default_value_t = 7)]
        keep: usize,
        /// Threads making verifiers (default: every core).
        #[arg(long)]
        jobs: Option<usize>,
        /// argon2id memory in KiB.
        #[arg(long, default_value_t = Argon2Params::OWASP_MINIMUM.memory_kib)]
        argon2_memory_kib: u32,
        /// argon2id passes.
        #[arg(long, default_value_t = Argon2Params::OWASP_MINIMUM.iterations)]
        argon2_iterations: u32,
        /// Share of unusable export lines tolerated, in percent.
        #[arg(long, default_value_t = 1.0)]
        max_bad_percent: f64,
        /// The highest bcrypt cost carried into the list (each step doubles a door's time per
        /// check); patrons whose hash costs more are listed without a verifier.
        #[arg(long, default_value_t = publisher::build::MAX_BCRYPT_COST,
              value_parser = clap::value_parser!(u8).range(4..=31))]
        max_bcrypt_cost: u8,
        /// Also publish a list for this branch or device in OUT/NAME/, keyed with its own card
        /// key derived from --card-key (give each of its devices `card-key --for NAME`), so a
        /// stolen door's key reverses no other branch's card hashes (repeatable).
        #[arg(long = "branch-list")]
        branch_lists: Vec<String>,
        /// No progress lines.
        #[arg(long)]
        quiet: bool,
    },
    /// Prints a list file's signed header: version, times, scope, signers, size. No patron data.
    Inspect {
        /// A `.oal` file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Cli>("allowlist-publish", "1") {
        return code;
    }
    let cli = match daemon::exit::parse_args::<Cli>() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("allowlist-publish: {e}");
            exit_of(&e).into()
        }
    }
}

fn run(command: Command) -> Result<(), publisher::PublishError> {
    match command {
        Command::Keygen { dir } => {
            let (key, private, public) = secrets::new_signing_key(&dir)?;
            println!("new signing key {}", key.public().id());
            println!(
                "  private: {} (0600; keep it on the publisher only)",
                private.display()
            );
            println!("  public:  {}", public.display());
            println!(
                "pin it on devices, in [allowlist] keys:\n  \"{}\"",
                key.public()
            );
        }
        Command::CardKey {
            out,
            for_scope: Some(name),
            from: Some(from),
        } => {
            let consortium = secrets::read_card_key(&from)?;
            if out.exists() {
                return Err(publisher::PublishError::Options(format!(
                    "{} exists; a card key is never overwritten",
                    out.display()
                )));
            }
            let key = consortium.for_scope(&name);
            secrets::write_secret(&out, &format!("{}\n", key.to_text()))?;
            println!(
                "card key {} of {name} (derived from {}) in {} (0600)",
                key.id(),
                consortium.id(),
                out.display()
            );
            println!(
                "copy it to the card_key file (0600) of {name}'s devices only; they take the lists in OUT/{name}/"
            );
        }
        Command::CardKey { out, .. } => {
            let key = secrets::new_card_key(&out)?;
            println!("new card key {} in {} (0600)", key.id(), out.display());
            println!("copy it to each device's card_key file (0600); it never goes into a list");
        }
        Command::Build {
            export,
            koha,
            state,
            out,
            keys,
            card_key,
            scope,
            valid_hours,
            fine_limit_cents,
            keep,
            jobs,
            argon2_memory_kib,
            argon2_iterations,
            max_bad_percent,
            max_bcrypt_cost,
            branch_lists,
            quiet,
        } => {
            let now = chrono::Utc::now().timestamp();
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let from_koha = koha.is_some();
            let source = match (export, koha) {
                (_, Some(k)) => publisher::Source::Koha(k),
                (Some(e), None) => publisher::Source::Export(e),
                (None, None) => {
                    return Err(publisher::PublishError::Options(
                        "give --export FILE or --koha FILE".into(),
                    ));
                }
            };
            let p = publisher::publish(&publisher::Options {
                source,
                state,
                out,
                keys,
                card_key,
                scope,
                valid_for: valid_hours.saturating_mul(3600),
                fine_limit_cents,
                keep,
                jobs,
                argon2: Argon2Params {
                    memory_kib: argon2_memory_kib,
                    iterations: argon2_iterations,
                    lanes: 1,
                },
                now,
                progress: !quiet,
                max_problem_share: max_bad_percent / 100.0,
                max_bcrypt_cost,
                branch_lists,
            })?;
            for pr in &p.problems {
                if from_koha {
                    eprintln!("  skipped: {}", pr.problem);
                } else {
                    eprintln!("  skipped line {}: {}", pr.line, pr.problem);
                }
            }
            println!(
                "published version {}: {} patrons ({} without self-service permission left out); PINs: {} by the library system's own hash, {} argon2id verifiers kept, {} made in {:.1} s, {} without a verifier",
                p.version,
                p.entries,
                p.without_permission,
                p.library_hashes,
                p.reused,
                p.made,
                p.verifier_time.as_secs_f64(),
                p.without_verifier.iter().map(|(_, n)| n).sum::<usize>()
            );
            println!("  {} ({} bytes)", p.full.0.display(), p.full.1);
            for (from, path, size) in &p.deltas {
                println!("  {} (from version {from}, {size} bytes)", path.display());
            }
            for b in &p.branch_lists {
                println!(
                    "  {} ({} bytes, card key {}, {} deltas; keyed and written in {:.2} s)",
                    b.full.0.display(),
                    b.full.1,
                    b.card_key,
                    b.deltas,
                    b.time.as_secs_f64()
                );
            }
            println!(
                "  signed in {:.2} s, deltas in {:.2} s, all in {:.1} s",
                p.sign_time.as_secs_f64(),
                p.delta_time.as_secs_f64(),
                p.total_time.as_secs_f64()
            );
        }
        Command::Inspect { file } => {
            let bytes = std::fs::read(&file).map_err(|cause| publisher::PublishError::Io {
                path: file.clone(),
                cause,
            })?;
            let s = SignedHeader::parse(&bytes).map_err(|e| publisher::PublishError::BadFile {
                path: file.clone(),
                problem: e.to_string(),
            })?;
            let h = &s.header;
            let time = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map_or_else(|| t.to_string(), |d| d.to_rfc3339())
            };
            println!(
                "{}: {:?} list, version {}",
                file.display(),
                h.kind,
                h.version
            );
            if let Some((v, _)) = h.base {
                println!("  applies to version {v}");
            }
            println!(
                "  issued {}  expires {}",
                time(h.issued_at),
                time(h.expires_at)
            );
            println!("  scope {:?}", h.scope);
            println!(
                "  signed by {:?}",
                s.signatures
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .collect::<Vec<_>>()
            );
            println!(
                "  card key {}  verifiers {}",
                h.card_key,
                h.argon2.phc_prefix()
            );
            println!(
                "  {} entries in the list; body {} bytes",
                h.entry_count, h.body_len
            );
        }
    }
    Ok(())
}

/// The code a failed publication ends with.
fn exit_of(e: &publisher::PublishError) -> daemon::exit::Exit {
    use daemon::exit::Exit;
    use publisher::PublishError as P;
    match e {
        P::Io { cause, .. } => match cause.kind() {
            std::io::ErrorKind::AlreadyExists => Exit::CantCreat,
            kind => daemon::exit::of_io(kind),
        },
        P::Export { .. } | P::BadFile { .. } => Exit::DataErr,
        P::Options(_) => Exit::Usage,
    }
}
