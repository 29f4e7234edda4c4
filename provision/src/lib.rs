//! Provisioning: turning a new box into a trusted door or kiosk of one library.
//!
//! One run, from flags or a technician's answers:
//! 1. checks every input first (the CA, the allow-list keys, the card-hashing secret, the
//!    addresses, the hardware specs), reporting all problems at once and writing nothing;
//! 2. makes the device's key pair (once: a re-run keeps it) and its enrolment request;
//! 3. installs the pinned CA, the card-hashing secret (in clear, or with `--tpm` sealed by the
//!    box's TPM 2.0) and the SIP2 account (0600, the service user's), and the device certificate
//!    when the CA has returned one;
//! 4. writes the config beside its place, validates it with the daemon's own loader, and only
//!    then moves it into place.
//!
//! Every file goes in by an atomic rename, so a run stopped anywhere leaves each file old or new,
//! and running the same command again finishes the job.
#![deny(missing_docs)]

pub mod identity;
pub mod install;
pub mod render;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use install::{Access, Installer, Outcome};
pub use render::{Keypad, Reader};

/// What the box becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A door-agent.
    Door,
    /// A self-checkout kiosk.
    Kiosk,
}

impl Role {
    /// `door` or `kiosk`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Door => "door",
            Role::Kiosk => "kiosk",
        }
    }
    /// The daemon's binary and unit name.
    pub fn daemon(self) -> &'static str {
        match self {
            Role::Door => "door-agent",
            Role::Kiosk => "kiosk",
        }
    }
}

/// A door's hardware and hours.
#[derive(Debug, Clone)]
pub struct DoorAnswers {
    /// `rppal` or `files:DIR` (simulated pins).
    pub gpio: String,
    /// Lock relay pin (BCM).
    pub lock: u8,
    /// Door contact pin.
    pub contact: u8,
    /// Exit button pin.
    pub exit: Option<u8>,
    /// Green LED.
    pub green: Option<u8>,
    /// Red LED.
    pub red: Option<u8>,
    /// Buzzer.
    pub buzzer: Option<u8>,
    /// Tamper switch.
    pub tamper: Option<u8>,
    /// Card readers.
    pub readers: Vec<Reader>,
    /// PIN keypad.
    pub keypad: Option<Keypad>,
    /// Daily self-service hours, e.g. `07:00-22:00`.
    pub self_service: Vec<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Health endpoint.
    pub metrics: String,
}

/// A kiosk's devices.
#[derive(Debug, Clone)]
pub struct KioskAnswers {
    /// The library's name on receipts.
    pub library: String,
    /// `feig:/dev/ttyUSB0` or `simulated`.
    pub pad: Option<String>,
    /// A serial barcode scanner's path, or `keyboard:PATH` for a keyboard-wedge one.
    pub scanner: Option<String>,
    /// A receipt printer link (`tcp:HOST:9100`, `device:/dev/usb/lp0`, `serial:PATH`).
    pub printer: Option<String>,
    /// Health endpoint.
    pub metrics: String,
}

/// Everything provisioning needs, gathered from flags and questions.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Door or kiosk.
    pub role: Role,
    /// The config directory (`/etc/omatoimi`).
    pub etc: PathBuf,
    /// The daemon's state directory (`/var/lib/omatoimi/door`).
    pub state: PathBuf,
    /// This box's id: the certificate's name and one of its list scopes (`lemi-door-1`).
    pub device_id: String,
    /// A name for people (`Lemi main door`).
    pub name: String,
    /// The SIP2 institution id (`heili`).
    pub institution: String,
    /// The branch code (`LEMI`).
    pub branch: String,
    /// fi, sv or en.
    pub language: String,
    /// The SIP2 server, `host:port`.
    pub sip2: String,
    /// The name on the server's certificate, if not the address's host.
    pub server_name: Option<String>,
    /// The SIP2 dialect preset.
    pub dialect: String,
    /// The CA to pin (a file to copy); `None` keeps the one installed.
    pub ca: Option<PathBuf>,
    /// The device's SIP2 login.
    pub sip2_login: String,
    /// Its password; `None` keeps the installed account file.
    pub sip2_password: Option<redact::Pin>,
    /// Where the offline list is published (HTTPS).
    pub list_url: String,
    /// Pinned publisher keys, `ed25519:<hex>`.
    pub list_keys: Vec<String>,
    /// The list server's CA, if not the library system's.
    pub list_ca: Option<PathBuf>,
    /// The card-hashing secret (a file from the library's publisher); `None` keeps the one
    /// installed.
    pub card_key: Option<PathBuf>,
    /// The TPM (a TCTI, e.g. `device:/dev/tpmrm0`) to seal the card-hashing secret with, so
    /// that only the sealed file (`card-key.sealed`) is on the SD card; `None` installs it in
    /// clear (`card-key.secret`).
    pub tpm: Option<String>,
    /// The device certificate the CA returned, to install.
    pub device_cert: Option<PathBuf>,
    /// Door settings.
    pub door: DoorAnswers,
    /// The hardware tables given anew on this run (`gpio`, `readers`, `keypad`; `rfid`,
    /// `scanner`, `printer`): an existing config gets them rewritten from these answers, the
    /// rest of it kept as it was.
    pub hardware: Vec<&'static str>,
    /// Kiosk settings.
    pub kiosk: KioskAnswers,
}

/// The files a provisioned box has, under the config directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The config file.
    pub config: PathBuf,
    /// The device's private key.
    pub key: PathBuf,
    /// Its enrolment request.
    pub csr: PathBuf,
    /// Its certificate, once signed.
    pub cert: PathBuf,
    /// The pinned CA.
    pub ca: PathBuf,
    /// The list server's CA.
    pub list_ca: PathBuf,
    /// The card-hashing secret, in clear.
    pub card_key: PathBuf,
    /// The card-hashing secret, sealed by the box's TPM.
    pub card_key_sealed: PathBuf,
    /// The SIP2 account.
    pub secret: PathBuf,
}

impl Layout {
    /// The files for `role` in `etc`.
    pub fn new(etc: &Path, role: Role) -> Self {
        Self {
            config: etc.join(format!("{}.toml", role.name())),
            key: etc.join("device-key.pem"),
            csr: etc.join("device.csr"),
            cert: etc.join("device.pem"),
            ca: etc.join("ca.pem"),
            list_ca: etc.join("list-ca.pem"),
            card_key: etc.join("card-key.secret"),
            card_key_sealed: etc.join("card-key.sealed"),
            secret: etc.join(render::secret_name(role)),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each file or directory and what happened to it.
    pub steps: Vec<(PathBuf, Outcome)>,
    /// The device certificate in place, if any.
    pub cert: Option<identity::CertInfo>,
    /// The config's warnings (valid but risky settings).
    pub warnings: Vec<String>,
    /// The OSDP readers paired on this run: who each one is.
    pub paired: Vec<String>,
}

fn read_text(path: &Path, what: &str, problems: &mut Vec<String>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Some(t),
        Err(e) => {
            problems.push(format!("{what}: {}: {e}", path.display()));
            None
        }
    }
}

fn pem_certs(text: &str) -> usize {
    rustls_pemfile::certs(&mut text.as_bytes())
        .filter(Result::is_ok)
        .count()
}

/// Every file the run installs, read and checked before anything is written: from its flag, or
/// the copy an earlier run installed.
struct Inputs {
    ca: String,
    list_ca: Option<String>,
    /// The card key's file: the clear text, or the sealed blob.
    card_key: Vec<u8>,
    secret: Vec<u8>,
    /// The device key an earlier run made.
    key: Option<rcgen::KeyPair>,
    /// The device certificate, fitting that key.
    cert: Option<(String, identity::CertInfo)>,
}

/// The file named by `flag`, else the one installed at `installed`, with where it came from.
fn source(
    flag_value: &Option<PathBuf>,
    installed: &Path,
    flag: &str,
    p: &mut Vec<String>,
) -> Option<(String, PathBuf)> {
    match flag_value {
        Some(f) => read_text(f, flag, p).map(|t| (t, f.clone())),
        None if installed.exists() => {
            read_text(installed, "installed", p).map(|t| (t, installed.to_owned()))
        }
        None => None,
    }
}

fn check_inputs(a: &Answers, layout: &Layout, now: SystemTime) -> Result<Inputs, Vec<String>> {
    let mut p = Vec::new();
    let id_ok = !a.device_id.is_empty()
        && a.device_id.len() <= 63
        && a.device_id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !a.device_id.starts_with('-');
    if !id_ok {
        p.push(format!(
            "--device-id `{}`: expected lower-case letters, digits and '-', at most 63 (e.g. lemi-door-1)",
            a.device_id
        ));
    }
    for (flag, v) in [
        ("--branch", &a.branch),
        ("--institution", &a.institution),
        ("--name", &a.name),
    ] {
        if v.trim().is_empty() {
            p.push(format!("{flag}: must not be empty"));
        }
    }
    match a.sip2.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|n| n > 0) => {}
        _ => p.push(format!(
            "--sip2 `{}`: expected HOST:PORT, e.g. sip2.heili.fi:6443",
            a.sip2
        )),
    }
    if !a.list_url.starts_with("https://") {
        p.push(format!(
            "--list-url `{}`: expected an https:// address (the list is fetched over TLS)",
            a.list_url
        ));
    }
    if a.list_keys.is_empty() {
        p.push("--list-key: at least one publisher key (ed25519:…) is needed".into());
    }
    for k in &a.list_keys {
        if allowlist::PublicKey::from_text(k).is_none() {
            p.push(format!(
                "--list-key `{k}`: expected ed25519: and 64 hex digits, as `allowlist-publish` prints it"
            ));
        }
    }
    let pem = |found: Option<(String, PathBuf)>, what: &str, p: &mut Vec<String>| {
        let (text, from) = found?;
        if pem_certs(&text) == 0 {
            p.push(format!(
                "{}: no PEM certificate in it ({what})",
                from.display()
            ));
            return None;
        }
        Some(text)
    };
    let ca = source(&a.ca, &layout.ca, "--ca", &mut p);
    if ca.is_none() && a.ca.is_none() {
        p.push("--ca: the library system's CA certificate (PEM) to pin".into());
    }
    let ca = pem(ca, "the library system's CA", &mut p);
    let list_ca = source(&a.list_ca, &layout.list_ca, "--list-ca", &mut p);
    let list_ca = pem(list_ca, "the list server's CA", &mut p);
    let card_key = match source(&a.card_key, &layout.card_key, "--card-key", &mut p) {
        Some((t, from)) => {
            if allowlist::CardKey::from_text(t.trim()).is_some() {
                Some(t)
            } else {
                p.push(format!(
                    "--card-key: {}: not a card-hashing key (the `card-key.secret` the library's list publisher made)",
                    from.display()
                ));
                None
            }
        }
        None => {
            let sealed_in_place = a.tpm.is_some() && layout.card_key_sealed.exists();
            if a.card_key.is_none() && !sealed_in_place {
                p.push("--card-key: the library's card-hashing secret (card-key.secret from the list publisher)".into());
            }
            None
        }
    };
    let card_key = match &a.tpm {
        None => card_key.map(String::into_bytes),
        Some(tcti) => sealed_card_key(card_key.as_deref(), &layout.card_key_sealed, tcti, &mut p),
    };
    let secret = match &a.sip2_password {
        Some(pw) if pw.is_empty() => {
            p.push("the SIP2 password is empty".into());
            None
        }
        Some(_) if a.sip2_login.trim().is_empty() => {
            p.push("--sip2-login: must not be empty".into());
            None
        }
        Some(pw) => Some(
            format!(
                "# The device's SIP2 account (mode 0600, the service user's).\nlogin = {}\npassword = {}\n",
                render::q(&a.sip2_login),
                render::q(pw.expose())
            )
            .into_bytes(),
        ),
        None if !a.sip2_login.is_empty() => {
            p.push("--sip2-login: a new login needs its password too (--sip2-password-stdin)".into());
            None
        }
        None => match std::fs::read(&layout.secret) {
            Ok(b) => Some(b),
            Err(_) => {
                p.push(
                    "the SIP2 password: give --sip2-password-stdin, or run on a terminal to be asked"
                        .into(),
                );
                None
            }
        },
    };
    let key = match std::fs::read_to_string(&layout.key) {
        Ok(pem) => match identity::key_from_pem(&pem) {
            Ok(k) => Some(k),
            Err(e) => {
                p.push(format!(
                    "{}: {e}; a damaged device key is not replaced silently: move it away and run again (the CA then signs a new request)",
                    layout.key.display()
                ));
                None
            }
        },
        Err(_) => None,
    };
    let cert = match (
        source(&a.device_cert, &layout.cert, "--device-cert", &mut p),
        &key,
    ) {
        (None, _) => None,
        (Some((_, from)), None) => {
            p.push(format!(
                "{}: this box has no device key yet: provision it first and have its device.csr signed",
                from.display()
            ));
            None
        }
        (Some((text, from)), Some(k)) => match identity::check_cert(&text, k, &a.device_id, now) {
            Ok(info) => Some((text, info)),
            Err(e) => {
                let hint = if a.device_cert.is_none() {
                    " (installed by an earlier run: remove it to go on without it, or give a new one with --device-cert)".to_owned()
                } else {
                    String::new()
                };
                p.push(format!("{}: {e}{hint}", from.display()));
                None
            }
        },
    };
    if a.role == Role::Door {
        let d = &a.door;
        let mut pins = vec![d.lock, d.contact];
        pins.extend(
            [d.exit, d.green, d.red, d.buzzer, d.tamper]
                .into_iter()
                .flatten(),
        );
        for r in &d.readers {
            if let Reader::Wiegand(d0, d1) = r {
                pins.extend([*d0, *d1]);
            }
        }
        let mut sorted = pins.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != pins.len() {
            p.push(format!("the door's pins are not all different: {pins:?}"));
        }
        if d.readers.is_empty() {
            p.push("--reader: a door needs at least one card reader".into());
        }
        if !(d.gpio == "rppal" || d.gpio.starts_with("files:")) {
            p.push(format!(
                "--gpio `{}`: expected rppal (a Raspberry Pi) or files:DIR (simulated pins)",
                d.gpio
            ));
        }
    }
    match (ca, card_key, secret) {
        (Some(ca), Some(card_key), Some(secret)) if p.is_empty() => Ok(Inputs {
            ca,
            list_ca,
            card_key,
            secret,
            key,
            cert,
        }),
        _ => Err(p),
    }
}

/// The sealed card-key file to install with `--tpm`: the one in place when it unseals on this
/// box's TPM to the key given (or no key is given), so a re-run leaves it alone; else `clear`
/// sealed anew. Sealing writes nothing to disk: the sealed bytes are installed with the rest.
fn sealed_card_key(
    clear: Option<&str>,
    installed: &Path,
    tcti: &str,
    p: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let tpm = tpm::Tpm::new(tcti);
    let wanted = clear.and_then(|t| allowlist::CardKey::from_text(t.trim()));
    if installed.exists() {
        let in_place = std::fs::read(installed)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                let key = tpm.unseal(&bytes).map_err(|e| e.to_string())?;
                std::str::from_utf8(&key)
                    .ok()
                    .and_then(allowlist::CardKey::from_text)
                    .map(|k| (bytes, k))
                    .ok_or_else(|| "it unsealed to something that is not a card key".to_owned())
            });
        match (in_place, &wanted) {
            (Ok((bytes, _)), None) => return Some(bytes),
            (Ok((bytes, key)), Some(w)) if key.id() == w.id() => return Some(bytes),
            // Another key, or a blob this TPM does not open: sealed anew below.
            (_, Some(_)) => {}
            (Err(e), None) => {
                p.push(format!(
                    "{}: {e}; give the library's card key with --card-key to seal it again",
                    installed.display()
                ));
                return None;
            }
        }
    }
    let key = wanted?;
    match tpm.seal(key.to_text().as_bytes()) {
        Ok(sealed) => Some(sealed),
        Err(e) => {
            p.push(format!("--tpm: the card key could not be sealed: {e}"));
            None
        }
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The inputs have problems; nothing was written.
    #[error("nothing was written:\n  - {}", .0.join("\n  - "))]
    Inputs(Vec<String>),
    /// A file could not be put in place; what is done stays done, run again when mended.
    #[error(transparent)]
    Install(#[from] install::InstallError),
    /// The device identity could not be made or checked.
    #[error("{}: {cause}", path.display())]
    Identity {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: identity::IdentityError,
    },
    /// The written config did not pass the daemon's own check (it was not put in place).
    #[error("the config was not put in place: {0}")]
    Config(String),
    /// An OSDP reader could not be paired (its key file was not put in place).
    #[error("OSDP reader {reader}: not paired: {cause}")]
    Pairing {
        /// The reader's port and address.
        reader: String,
        /// Why, and what to check.
        cause: String,
    },
}

/// Provisions the box as `a` says, installing through `installer`; `now` checks the device
/// certificate's dates.
pub fn provision(
    a: &Answers,
    installer: &Installer,
    now: SystemTime,
) -> Result<Report, ProvisionError> {
    let layout = Layout::new(&a.etc, a.role);
    let inputs = check_inputs(a, &layout, now).map_err(ProvisionError::Inputs)?;
    let mut report = Report::default();
    let mut step = |path: &Path, o: Outcome| report.steps.push((path.to_owned(), o));

    step(&a.etc, installer.dir(&a.etc, 0o750, false)?);
    step(&a.state, installer.dir(&a.state, 0o700, true)?);

    // The device key: made once; a re-run, or a later role on the same box, keeps it (its mode
    // and owner mended).
    let key = match inputs.key {
        Some(key) => {
            installer.file(&layout.key, key.serialize_pem().as_bytes(), Access::Secret)?;
            step(&layout.key, Outcome::Kept);
            key
        }
        None => {
            let key = identity::new_key().map_err(|cause| ProvisionError::Identity {
                path: layout.key.clone(),
                cause,
            })?;
            step(
                &layout.key,
                installer.file(&layout.key, key.serialize_pem().as_bytes(), Access::Secret)?,
            );
            key
        }
    };
    let csr_fits = std::fs::read_to_string(&layout.csr)
        .ok()
        .is_some_and(|pem| identity::request_fits(&pem, &key, &a.device_id));
    if csr_fits {
        step(&layout.csr, Outcome::Unchanged);
    } else {
        let csr =
            identity::request(&key, &a.device_id, &a.institution, &a.branch).map_err(|cause| {
                ProvisionError::Identity {
                    path: layout.csr.clone(),
                    cause,
                }
            })?;
        step(
            &layout.csr,
            installer.file(&layout.csr, csr.as_bytes(), Access::Public)?,
        );
    }

    let mut files: Vec<(&Path, &[u8], Access)> = vec![
        (&layout.ca, inputs.ca.as_bytes(), Access::Public),
        (
            if a.tpm.is_some() {
                &layout.card_key_sealed
            } else {
                &layout.card_key
            },
            &inputs.card_key,
            Access::Secret,
        ),
        (&layout.secret, &inputs.secret, Access::Secret),
    ];
    if let Some(ca) = &inputs.list_ca {
        files.push((&layout.list_ca, ca.as_bytes(), Access::Public));
    }
    if let Some((cert, _)) = &inputs.cert {
        files.push((&layout.cert, cert.as_bytes(), Access::Public));
    }
    for (path, bytes, access) in files {
        step(path, installer.file(path, bytes, access)?);
    }
    report.cert = inputs.cert.map(|(_, info)| info);
    if a.role == Role::Door {
        pair_readers(a, installer, &mut report)?;
    }

    // The config last: written beside its place, checked by the daemon's own loader, then moved.
    // An existing one keeps everything provisioning does not own (hardware, hours, rules, and
    // whatever was edited by hand).
    let with_list_ca = inputs.list_ca.is_some();
    let text = match std::fs::read_to_string(&layout.config) {
        Ok(existing) => render::update(&existing, a, report.cert.is_some(), with_list_ca)
            .map_err(|e| ProvisionError::Config(format!("{}: {e}", layout.config.display())))?,
        Err(_) => render::config(a, report.cert.is_some(), with_list_ca),
    };
    let staged = installer.stage(&layout.config, text.as_bytes(), Access::Group)?;
    let checked = match a.role {
        Role::Door => door_agent::settings::load(&staged).map(|s| s.warnings()),
        Role::Kiosk => kiosk::settings::load(&staged).map(|s| s.warnings()),
    };
    match checked {
        Ok(w) => report.warnings = w,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(ProvisionError::Config(e.to_string()));
        }
    }
    let o = installer.commit(&staged, &layout.config)?;
    report.steps.push((layout.config.clone(), o));
    // With the key sealed and the config naming the sealed file, the key in clear goes. (Flash
    // storage may keep the deleted blocks: a key that was once in clear on this card is as safe
    // as the card was.)
    if a.tpm.is_some() && layout.card_key.exists() {
        std::fs::remove_file(&layout.card_key).map_err(|cause| install::InstallError {
            path: layout.card_key.clone(),
            cause,
        })?;
        report
            .steps
            .push((layout.card_key.clone(), Outcome::Removed));
    }
    Ok(report)
}

/// Pairs each OSDP reader that has no key file yet: a new random key staged beside its place,
/// given to the reader (which must be in install mode, holding SCBK-D) inside a secure channel,
/// the channel opened again under it, and only then the file put in place. A reader whose key
/// file is there and readable was paired on an earlier run and is left alone.
fn pair_readers(
    a: &Answers,
    installer: &Installer,
    report: &mut Report,
) -> Result<(), ProvisionError> {
    for r in &a.door.readers {
        let Reader::Osdp { path, address } = r else {
            continue;
        };
        let file = a.etc.join(render::osdp_key_name(path, *address));
        let reader = format!("{path}#{address}");
        if drivers::osdp::key::read_key(&file).is_ok() {
            report.steps.push((file, Outcome::Kept));
            continue;
        }
        let failed = |cause: String| ProvisionError::Pairing {
            reader: reader.clone(),
            cause,
        };
        let key = drivers::osdp::key::new_key().map_err(|e| failed(e.to_string()))?;
        let staged = installer.stage(
            &file,
            drivers::osdp::key::encode(&key).as_bytes(),
            Access::Secret,
        )?;
        let port = drivers::serial::PortSettings {
            path: path.clone(),
            baud: 9600,
        };
        let paired = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                rt.block_on(drivers::osdp::pair(&port, *address, &key))
                    .map_err(|e| e.to_string())
            });
        match paired {
            Ok(identity) => {
                let o = installer.commit(&staged, &file)?;
                report.steps.push((file, o));
                report.paired.push(format!("{reader}: {identity}"));
            }
            Err(cause) => {
                let _ = std::fs::remove_file(&staged);
                return Err(failed(format!(
                    "{cause} (is it wired, at this address, and in install mode? a reader paired before needs its factory reset)"
                )));
            }
        }
    }
    Ok(())
}

/// What the technician does next, as numbered lines.
pub fn next_steps(a: &Answers, report: &Report, user: &str) -> Vec<String> {
    let layout = Layout::new(&a.etc, a.role);
    let config = layout.config.display();
    let daemon = a.role.daemon();
    let mut out = Vec::new();
    if report.cert.is_none() {
        out.push(format!(
            "Send {} to the library system's CA (or sign it with your own: omatoimi-provision sign --ca-cert CA.pem --ca-key CA-KEY.pem --csr device.csr --out device.pem), then run this same command again with --device-cert device.pem. Until then the device logs in with its SIP2 account alone.",
            layout.csr.display()
        ));
    }
    if let (Some(tcti), Some(from)) = (&a.tpm, &a.card_key) {
        out.push(format!(
            "The card key is sealed to this box's TPM ({tcti}); delete the copy brought in ({}) if it was only for this box.",
            from.display()
        ));
    }
    out.push(format!("{daemon} -c {config} check-config"));
    out.push(format!(
        "sudo -u {user} {daemon} -c {config} selftest    (as the service user, so the files it makes stay the service's; it also fetches the first offline list)"
    ));
    out.push(format!("systemctl enable --now {daemon}"));
    out.push(format!("{daemon} -c {config} status"));
    out
}
