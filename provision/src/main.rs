//! `omatoimi-provision`: turns a new box into a door or a kiosk of one library, from flags or, on
//! a terminal, from a few questions. Run it again at any time: the device key stays, files that
//! are already right stay, and what the last run did not finish gets done.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Parser, Subcommand};
use provision::install::{Installer, Owner};
use provision::{Answers, DoorAnswers, Keypad, KioskAnswers, Layout, Reader, Role};

#[derive(Parser)]
#[command(
    version,
    about = "Turns a new box into a trusted door or kiosk of one library",
    after_help = daemon::exit::HELP,
    long_about = "Turns a new box into a trusted door or kiosk of one library: makes the device's key pair and enrolment request, installs the pinned CA, the offline list's keys, the card-hashing secret and the SIP2 account (0600, the service user's), writes a config the daemon's own check has passed, and prints what to do next. Missing answers are asked on a terminal. Running it again is safe: the device key is kept, and answers missing from the command line are taken from the config already written."
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Provision this box as a door (door-agent).
    Door {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        door: DoorArgs,
    },
    /// Provision this box as a self-checkout kiosk.
    Kiosk {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        kiosk: KioskArgs,
    },
    /// Sign a device's enrolment request with a library's own CA (on the CA's machine, not the
    /// box): a client certificate to give back to the box with --device-cert.
    Sign {
        /// The CA's certificate (PEM).
        #[arg(long)]
        ca_cert: PathBuf,
        /// The CA's private key (PEM).
        #[arg(long)]
        ca_key: PathBuf,
        /// The box's device.csr.
        #[arg(long)]
        csr: PathBuf,
        /// Where to write the certificate.
        #[arg(long)]
        out: PathBuf,
        /// Days the certificate is valid (1 to 3650).
        #[arg(long, default_value_t = 825, value_parser = clap::value_parser!(u32).range(1..=3650))]
        days: u32,
    },
}

#[derive(clap::Args)]
struct Common {
    /// The config directory.
    #[arg(long, default_value = "/etc/omatoimi")]
    etc: PathBuf,
    /// The daemon's state directory [default: /var/lib/omatoimi/door or …/kiosk].
    #[arg(long)]
    state: Option<PathBuf>,
    /// The service user that reads the secrets (made by the package's sysusers file).
    #[arg(long, default_value = "omatoimi")]
    user: String,
    /// This box's id: its certificate's name and one of its offline-list scopes (lemi-door-1).
    #[arg(long)]
    device_id: Option<String>,
    /// A name for people (Lemi main door).
    #[arg(long)]
    name: Option<String>,
    /// The library's SIP2 institution id (heili).
    #[arg(long)]
    institution: Option<String>,
    /// The branch code (LEMI).
    #[arg(long)]
    branch: Option<String>,
    /// fi, sv or en.
    #[arg(long)]
    language: Option<String>,
    /// The SIP2 server, HOST:PORT (TLS).
    #[arg(long)]
    sip2: Option<String>,
    /// The name on the SIP2 server's certificate, if not the address's host.
    #[arg(long)]
    server_name: Option<String>,
    /// The SIP2 dialect: standard, koha, evergreen, folio, sierra, aurora.
    #[arg(long)]
    dialect: Option<String>,
    /// The library system's CA certificate (PEM) to pin.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// The device's SIP2 login.
    #[arg(long)]
    sip2_login: Option<String>,
    /// Read the SIP2 password from standard input (never give it as an argument: `ps` shows
    /// arguments).
    #[arg(long)]
    sip2_password_stdin: bool,
    /// Where the signed offline list is published (https://…/allowlist/).
    #[arg(long)]
    list_url: Option<String>,
    /// A pinned publisher key, ed25519:<hex> (twice while keys are rotated).
    #[arg(long = "list-key")]
    list_keys: Vec<String>,
    /// The list server's CA, if it is not the library system's.
    #[arg(long)]
    list_ca: Option<PathBuf>,
    /// The card-hashing secret from the library's list publisher (card-key.secret).
    #[arg(long)]
    card_key: Option<PathBuf>,
    /// Seal the card-hashing secret with this box's TPM 2.0 (card-key.sealed, which no other
    /// TPM opens) instead of installing it in clear (card-key.secret, which is then removed).
    /// TCTI: the TPM to use [default: TPM2TOOLS_TCTI, else device:/dev/tpmrm0]. A box whose
    /// config names a TPM keeps it on later runs.
    #[arg(long, value_name = "TCTI", num_args = 0..=1, default_missing_value = "")]
    tpm: Option<String>,
    /// The device certificate the CA made from device.csr.
    #[arg(long)]
    device_cert: Option<PathBuf>,
    /// The health endpoint, on loopback [default: 127.0.0.1:9465 for a door, 127.0.0.1:9464
    /// for a kiosk].
    #[arg(long)]
    metrics: Option<String>,
}

#[derive(clap::Args, Default)]
struct DoorArgs {
    /// The pins: rppal (a Raspberry Pi) or files:DIR (simulated).
    #[arg(long)]
    gpio: Option<String>,
    /// The lock relay's BCM pin.
    #[arg(long)]
    lock_pin: Option<u8>,
    /// The door contact's pin.
    #[arg(long)]
    contact_pin: Option<u8>,
    /// The exit button's pin.
    #[arg(long)]
    exit_pin: Option<u8>,
    /// The green LED's pin.
    #[arg(long)]
    green_pin: Option<u8>,
    /// The red LED's pin.
    #[arg(long)]
    red_pin: Option<u8>,
    /// The buzzer's pin.
    #[arg(long)]
    buzzer_pin: Option<u8>,
    /// The reader's tamper switch pin.
    #[arg(long)]
    tamper_pin: Option<u8>,
    /// A card reader: pcsc, pcsc:NAME, serial:/dev/ttyACM0, keyboard:/dev/input/by-id/…-event-kbd,
    /// wiegand:D0,D1 or osdp:/dev/ttyUSB0[,address=N] (an OSDP reader in install mode, paired now)
    /// (repeatable).
    #[arg(long = "reader")]
    readers: Vec<String>,
    /// The PIN keypad: evdev:/dev/input/by-id/…-event-kbd or serial:/dev/ttyUSB0.
    #[arg(long, conflicts_with = "no_keypad")]
    keypad: Option<String>,
    /// A card-only door, with no PIN keypad.
    #[arg(long)]
    no_keypad: bool,
    /// Daily self-service hours, e.g. 07:00-22:00 (repeatable).
    #[arg(long = "self-service")]
    self_service: Vec<String>,
    /// The branch's time zone.
    #[arg(long)]
    timezone: Option<String>,
}

#[derive(clap::Args, Default)]
struct KioskArgs {
    /// The library's name on receipts.
    #[arg(long)]
    library: Option<String>,
    /// The RFID pad: feig:/dev/ttyUSB0.
    #[arg(long)]
    pad: Option<String>,
    /// The barcode scanner: a serial device's path, or keyboard:/dev/input/by-id/…-event-kbd for
    /// a USB scanner typing as a keyboard.
    #[arg(long)]
    scanner: Option<String>,
    /// The receipt printer: tcp:HOST:9100, device:/dev/usb/lp0 or serial:PATH.
    #[arg(long)]
    printer: Option<String>,
}

/// What the config already written says, for answers a re-run leaves out.
struct Previous(toml::Value);

impl Previous {
    fn read(path: &Path) -> Self {
        Self(
            std::fs::read_to_string(path)
                .ok()
                .and_then(|t| t.parse::<toml::Table>().ok())
                .map_or(toml::Value::Table(Default::default()), toml::Value::Table),
        )
    }
    fn get(&self, dotted: &str) -> Option<&toml::Value> {
        dotted.split('.').try_fold(&self.0, |v, k| v.get(k))
    }
    fn str(&self, dotted: &str) -> Option<String> {
        self.get(dotted)?.as_str().map(str::to_owned)
    }
    fn pin(&self, dotted: &str) -> Option<u8> {
        u8::try_from(self.get(dotted)?.as_integer()?).ok()
    }
    fn strings(&self, dotted: &str) -> Vec<String> {
        self.get(dotted)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Asks on the terminal, or notes what is missing.
struct Asker {
    terminal: bool,
    missing: Vec<String>,
    /// Where answers are read and questions asked: the terminal (stdin and stderr).
    input: Box<dyn BufRead>,
    output: Box<dyn Write>,
}

/// Times a required question is asked again after an empty answer.
const ASKED_AT_MOST: usize = 3;

impl Asker {
    fn on_terminal(terminal: bool) -> Self {
        Self {
            terminal,
            missing: Vec::new(),
            input: Box::new(std::io::BufReader::new(std::io::stdin())),
            output: Box::new(std::io::stderr()),
        }
    }

    /// The flag's value, else (on a terminal) the technician's answer: a required answer left
    /// empty is asked for again, a few times, before it counts as missing.
    fn answer(&mut self, flag: &str, question: &str, given: Option<String>) -> String {
        if let Some(v) = given {
            return v;
        }
        if self.terminal {
            for attempt in 0..ASKED_AT_MOST {
                if attempt == 0 {
                    let _ = write!(self.output, "{question}: ");
                } else {
                    let _ = write!(self.output, "  an answer is needed ({flag}): ");
                }
                let _ = self.output.flush();
                let mut line = String::new();
                match self.input.read_line(&mut line) {
                    // The end of the input (Ctrl-D): no more answers.
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = line.trim();
                if !line.is_empty() {
                    return line.to_owned();
                }
            }
        }
        self.missing.push(format!("{flag} ({question})"));
        String::new()
    }

    /// What to tell the technician when answers are missing.
    fn missing_text(&self) -> String {
        let how = if self.terminal {
            "not answered; give them as flags, or answer when asked"
        } else {
            "give the flags, or run on a terminal to be asked"
        };
        format!(
            "nothing was written; missing ({how}):\n  - {}",
            self.missing.join("\n  - ")
        )
    }
}

/// The SIP2 password, typed unseen on the terminal; an empty one is asked for again.
fn ask_password() -> anyhow::Result<String> {
    for attempt in 0..ASKED_AT_MOST {
        let prompt = if attempt == 0 {
            "Its SIP2 password: "
        } else {
            "  a password is needed: "
        };
        let pw = rpassword::prompt_password(prompt)?;
        if !pw.is_empty() {
            return Ok(pw);
        }
    }
    Err(daemon::exit::Coded::new(
        daemon::exit::Exit::Usage,
        "nothing was written: no SIP2 password was typed",
    )
    .into())
}

fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

fn gather(
    role: Role,
    c: Common,
    door: Option<DoorArgs>,
    kiosk: Option<KioskArgs>,
) -> anyhow::Result<Answers> {
    let layout = Layout::new(&c.etc, role);
    let prev = Previous::read(&layout.config);
    let section = role.name();
    let terminal = std::io::stdin().is_terminal();
    let mut ask = Asker::on_terminal(terminal);
    let device_id = ask.answer(
        "--device-id",
        "This box's id (e.g. lemi-door-1)",
        c.device_id
            .or_else(|| prev.strings("allowlist.scopes").get(2).cloned()),
    );
    let institution = ask.answer(
        "--institution",
        "The library's SIP2 institution id (e.g. heili)",
        c.institution
            .or_else(|| prev.str("registry.sip2.institution")),
    );
    let branch = ask.answer(
        "--branch",
        "The branch code (e.g. LEMI)",
        c.branch.or_else(|| prev.str(&format!("{section}.branch"))),
    );
    let sip2 = ask.answer(
        "--sip2",
        "The SIP2 server, HOST:PORT",
        c.sip2.or_else(|| prev.str("registry.sip2.address")),
    );
    let ca = match c.ca {
        Some(p) => Some(p),
        None if layout.ca.exists() => None,
        None => Some(PathBuf::from(ask.answer(
            "--ca",
            "The library system's CA certificate file (PEM)",
            None,
        )))
        .filter(|p| !p.as_os_str().is_empty()),
    };
    let list_url = ask.answer(
        "--list-url",
        "Where the offline list is published (https://…/allowlist/)",
        c.list_url.or_else(|| prev.str("allowlist.url")),
    );
    let mut list_keys = c.list_keys;
    if list_keys.is_empty() {
        list_keys = prev.strings("allowlist.keys");
    }
    if list_keys.is_empty() {
        let k = ask.answer(
            "--list-key",
            "The list publisher's public key (ed25519:…)",
            None,
        );
        if !k.is_empty() {
            list_keys.push(k);
        }
    }
    let tpm = match c.tpm {
        Some(t) => Some(tpm::tcti(Some(&t))),
        None => prev.str("allowlist.card_key_tpm"),
    };
    let card_key = match c.card_key {
        Some(p) => Some(p),
        None if layout.card_key.exists() => None,
        None if tpm.is_some() && layout.card_key_sealed.exists() => None,
        None => Some(PathBuf::from(ask.answer(
            "--card-key",
            "The card-hashing secret file from the list publisher",
            None,
        )))
        .filter(|p| !p.as_os_str().is_empty()),
    };
    let (sip2_login, sip2_password) = if c.sip2_password_stdin {
        let login = ask.answer("--sip2-login", "The device's SIP2 login", c.sip2_login);
        let pw = if terminal {
            ask_password()?
        } else {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        };
        (login, Some(redact::Pin::new(pw)))
    } else if layout.secret.exists() && c.sip2_login.is_none() {
        (String::new(), None)
    } else if terminal {
        let login = ask.answer("--sip2-login", "The device's SIP2 login", c.sip2_login);
        let pw = ask_password()?;
        (login, Some(redact::Pin::new(pw)))
    } else {
        let login = ask.answer("--sip2-login", "The device's SIP2 login", c.sip2_login);
        (login, None)
    };

    let default_name = format!("{branch} {section}");
    let name = c
        .name
        .or_else(|| prev.str(&format!("{section}.name")))
        .unwrap_or(default_name);
    let language = c
        .language
        .or_else(|| prev.str(&format!("{section}.language")))
        .unwrap_or_else(|| "fi".into());
    let dialect = c
        .dialect
        .or_else(|| prev.str("registry.sip2.protocol.dialect"))
        .unwrap_or_else(|| "standard".into());

    let mut problems = Vec::new();
    // The hardware named on this run replaces what an existing config had.
    let mut hardware: Vec<&'static str> = Vec::new();
    let door = {
        let d = door.unwrap_or_default();
        if d.gpio.is_some()
            || [
                d.lock_pin,
                d.contact_pin,
                d.exit_pin,
                d.green_pin,
                d.red_pin,
                d.buzzer_pin,
                d.tamper_pin,
            ]
            .iter()
            .any(Option::is_some)
        {
            hardware.push("gpio");
        }
        if !d.readers.is_empty() {
            hardware.push("readers");
        }
        if d.keypad.is_some() || d.no_keypad {
            hardware.push("keypad");
        }
        let prev_gpio = match (prev.str("gpio.backend"), prev.str("gpio.dir")) {
            (Some(b), Some(dir)) if b == "files" => Some(format!("files:{dir}")),
            (Some(b), _) => Some(b),
            _ => None,
        };
        let mut readers = Vec::new();
        for r in &d.readers {
            match Reader::parse(r) {
                Ok(r) => readers.push(r),
                Err(e) => problems.push(format!("--reader {e}")),
            }
        }
        if readers.is_empty()
            && let Some(arr) = prev.get("readers").and_then(|v| v.as_array())
        {
            for r in arr {
                let kind = r.get("kind").and_then(|v| v.as_str()).unwrap_or("");
                let s = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                let n = |k: &str| {
                    r.get(k)
                        .and_then(|v| v.as_integer())
                        .and_then(|i| u8::try_from(i).ok())
                };
                match (kind, s("reader"), s("path"), n("d0"), n("d1")) {
                    ("pcsc", name, _, _, _) => readers.push(Reader::Pcsc(name)),
                    ("serial", _, Some(p), _, _) => readers.push(Reader::Serial(p)),
                    ("keyboard", _, Some(p), _, _) => readers.push(Reader::Keyboard(p)),
                    ("wiegand", _, _, Some(a), Some(b)) => readers.push(Reader::Wiegand(a, b)),
                    ("osdp", _, Some(path), _, _) => readers.push(Reader::Osdp {
                        path,
                        address: n("address").unwrap_or(0),
                    }),
                    _ => {}
                }
            }
        }
        if readers.is_empty() && role == Role::Door {
            readers.push(Reader::Pcsc(None));
        }
        let keypad_text = match d.keypad {
            Some(k) => Some(k),
            None if d.no_keypad => None,
            None => match (prev.str("keypad.kind"), prev.str("keypad.path")) {
                (Some(k), Some(p)) => Some(format!("{k}:{p}")),
                _ if role == Role::Door => Some(ask.answer(
                    "--keypad",
                    "The PIN keypad (evdev:/dev/input/by-id/…-event-kbd or serial:/dev/ttyUSB0; --no-keypad for a card-only door)",
                    None,
                ))
                .filter(|k| !k.is_empty()),
                _ => None,
            },
        };
        let keypad = match keypad_text.as_deref().map(Keypad::parse) {
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                problems.push(format!("--keypad {e}"));
                None
            }
            None => None,
        };
        let self_service = if d.self_service.is_empty() {
            let p = prev.strings("hours.self_service.daily");
            if p.is_empty() {
                vec!["07:00-22:00".to_owned()]
            } else {
                p
            }
        } else {
            d.self_service
        };
        DoorAnswers {
            gpio: d.gpio.or(prev_gpio).unwrap_or_else(|| "rppal".into()),
            lock: d.lock_pin.or(prev.pin("gpio.lock")).unwrap_or(17),
            contact: d.contact_pin.or(prev.pin("gpio.contact")).unwrap_or(27),
            exit: d.exit_pin.or(prev.pin("gpio.exit")).or(Some(22)),
            green: d.green_pin.or(prev.pin("gpio.green")).or(Some(5)),
            red: d.red_pin.or(prev.pin("gpio.red")).or(Some(6)),
            buzzer: d.buzzer_pin.or(prev.pin("gpio.buzzer")).or(Some(13)),
            tamper: d.tamper_pin.or(prev.pin("gpio.tamper")),
            readers,
            keypad,
            self_service,
            timezone: d
                .timezone
                .or_else(|| prev.str("hours.timezone"))
                .unwrap_or_else(|| "Europe/Helsinki".into()),
            metrics: c
                .metrics
                .clone()
                .or_else(|| prev.str("door.metrics"))
                .unwrap_or_else(|| "127.0.0.1:9465".into()),
        }
    };
    let kiosk = {
        let k = kiosk.unwrap_or_default();
        for (given, table) in [
            (k.pad.is_some(), "rfid"),
            (k.scanner.is_some(), "scanner"),
            (k.printer.is_some(), "printer"),
        ] {
            if given {
                hardware.push(table);
            }
        }
        let prev_pad = match (prev.str("rfid.driver"), prev.str("rfid.path")) {
            (Some(d), Some(p)) if d == "feig" => Some(format!("feig:{p}")),
            (Some(d), _) if d == "simulated" => Some(d),
            _ => None,
        };
        KioskAnswers {
            library: k
                .library
                .or_else(|| prev.str("kiosk.library"))
                .unwrap_or_else(|| name.clone()),
            pad: k.pad.or(prev_pad),
            scanner: k.scanner.or_else(|| {
                let path = prev.str("scanner.path")?;
                Some(match prev.str("scanner.kind").as_deref() {
                    Some("keyboard") => format!("keyboard:{path}"),
                    _ => path,
                })
            }),
            printer: k.printer.or_else(|| prev.str("printer.link")),
            metrics: c
                .metrics
                .clone()
                .or_else(|| prev.str("kiosk.metrics"))
                .unwrap_or_else(|| "127.0.0.1:9464".into()),
        }
    };
    if !ask.missing.is_empty() {
        return Err(daemon::exit::Coded::new(daemon::exit::Exit::Usage, ask.missing_text()).into());
    }
    if !problems.is_empty() {
        return Err(daemon::exit::Coded::new(
            daemon::exit::Exit::Usage,
            format!("nothing was written:\n  - {}", problems.join("\n  - ")),
        )
        .into());
    }
    Ok(Answers {
        role,
        state: c
            .state
            .unwrap_or_else(|| PathBuf::from("/var/lib/omatoimi").join(section)),
        etc: c.etc,
        device_id,
        name,
        institution,
        branch,
        language,
        server_name: c
            .server_name
            .or_else(|| prev.str("registry.sip2.server_name")),
        sip2,
        dialect,
        ca,
        sip2_login,
        sip2_password,
        list_url,
        list_keys,
        list_ca: c.list_ca,
        card_key,
        tpm,
        device_cert: c.device_cert,
        door,
        hardware,
        kiosk,
    })
}

fn run(args: Args) -> anyhow::Result<()> {
    let (role, common, door, kiosk) = match args.command {
        Command::Sign {
            ca_cert,
            ca_key,
            csr,
            out,
            days,
        } => {
            let read = |p: &Path| {
                std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
            };
            let pem = provision::identity::sign(
                &read(&csr)?,
                &read(&ca_cert)?,
                &read(&ca_key)?,
                days,
                SystemTime::now(),
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", csr.display()))?;
            std::fs::write(&out, pem).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
            println!(
                "{} signed for {days} days: give {} to the box (omatoimi-provision … --device-cert {})",
                csr.display(),
                out.display(),
                out.display()
            );
            return Ok(());
        }
        Command::Door { common, door } => (Role::Door, common, Some(door), None),
        Command::Kiosk { common, kiosk } => (Role::Kiosk, common, None, Some(kiosk)),
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let owner = Owner::lookup(&common.user, &passwd).ok_or_else(|| {
        anyhow::anyhow!(
            "no user `{}` on this box: install the omatoimi package (its sysusers file makes the user), or run `systemd-sysusers /usr/lib/sysusers.d/omatoimi.conf`",
            common.user
        )
    })?;
    let installer = Installer::new(owner, euid()).map_err(anyhow::Error::msg)?;
    let answers = gather(role, common, door, kiosk)?;
    println!(
        "Provisioning {} as {} ({}) of {}/{}:",
        answers.device_id,
        role.name(),
        answers.name,
        answers.institution,
        answers.branch
    );
    let report = provision::provision(&answers, &installer, SystemTime::now())?;
    for (path, outcome) in &report.steps {
        println!("  {:<9} {}", outcome.word(), path.display());
    }
    if let Some(c) = &report.cert {
        println!(
            "  device certificate: {} (issued by {})",
            c.subject, c.issuer
        );
    }
    for p in &report.paired {
        println!("  paired    OSDP reader {p}");
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    println!("Next:");
    for (i, s) in provision::next_steps(&answers, &report, &installer.owner().user)
        .iter()
        .enumerate()
    {
        println!("  {}. {s}", i + 1);
    }
    Ok(())
}

fn main() -> ExitCode {
    // The man pages, made when the package is built (scripts/package).
    if let Some(code) = daemon::man::if_asked::<Args>("omatoimi-provision", "8") {
        return code;
    }
    let args = match daemon::exit::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("omatoimi-provision: {e:#}");
            daemon::exit::of(&*e).into()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn asker(terminal: bool, typed: &str) -> Asker {
        Asker {
            terminal,
            missing: Vec::new(),
            input: Box::new(std::io::Cursor::new(typed.as_bytes().to_vec())),
            output: Box::new(std::io::sink()),
        }
    }

    #[test]
    fn an_empty_answer_on_a_terminal_is_asked_for_again_and_the_end_of_input_is_missing() {
        let mut a = asker(true, "\n  \nLEMI\n");
        assert_eq!(a.answer("--branch", "The branch", None), "LEMI");
        assert!(a.missing.is_empty());
        // Three empty answers: missing, and said as a terminal's.
        let mut a = asker(true, "\n\n\nlate\n");
        assert_eq!(a.answer("--branch", "The branch", None), "");
        assert_eq!(a.missing, ["--branch (The branch)"]);
        let said = a.missing_text();
        assert!(said.contains("answer when asked") && !said.contains("run on a terminal"));
        // Ctrl-D at once.
        let mut a = asker(true, "");
        assert_eq!(a.answer("--sip2", "The SIP2 server", None), "");
        assert_eq!(a.missing.len(), 1);
        // Not a terminal: nothing is read, and the message says how to be asked.
        let mut a = asker(false, "LEMI\n");
        assert_eq!(a.answer("--branch", "The branch", None), "");
        assert!(a.missing_text().contains("run on a terminal"));
        // A flag wins.
        let mut a = asker(true, "");
        assert_eq!(a.answer("--branch", "q", Some("IMA".into())), "IMA");
    }
}
