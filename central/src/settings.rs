//! `central.toml`: the database and the device listener.
//!
//! ```toml
//! # sqlite:PATH (created when missing) or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE
//! database = "sqlite:/var/lib/omatoimi-central/central.db"
//!
//! [devices]
//! # Where doors and kiosks report (HTTPS; a device certificate required).
//! listen = "0.0.0.0:8443"
//! # The console's own certificate and key, which devices pin through their `[console] ca`.
//! certificate = "console.pem"
//! key = "console-key.pem"
//! # The library's device CA: the one that signs the certificates `omatoimi-provision` requests.
//! device_ca = "device-ca.pem"
//!
//! # The fleet's gauges for Prometheus (loopback only; optional).
//! [metrics]
//! listen = "127.0.0.1:9464"
//!
//! # The staff's pages (HTTPS with the console's certificate; optional).
//! [staff]
//! listen = "0.0.0.0:8444"
//!
//! # Branch calendars sent to devices as signed policy bundles (optional): the key made by
//! # `omatoimi-central policy-key`, whose public half devices pin (`[console] policy_keys`).
//! [policy]
//! signing_key = "policy-key.txt"
//! valid_days = 7        # a bundle's life; a new one is signed daily and at every change
//! days_ahead = 400      # the holidays and closed days a bundle carries
//!
//! # A patron's export and erasure from the console (optional): the library's card key (the
//! # consortium's, as the publisher holds it; 0600), with which the console keys a card number
//! # into the hashes each device knows it by. The number itself is never kept.
//! [patrons]
//! card_key = "card.key"
//! # Names in "who was in" (optional): a file with a `[registry]` table for Koha's REST API, as
//! # a device's (`backend = "koha-rest"`, its credentials file); names are fetched at the moment
//! # they are shown, never kept.
//! library_system = "registry.toml"
//!
//! # Alarms: who is told, how and when (optional).
//! [alarms]
//! time_zone = "Europe/Helsinki"
//! silent_minutes = 15
//! [alarms.smtp]
//! server = "smtp.example.fi"
//! port = 587
//! tls = "starttls"              # or "tls" (port 465)
//! from = "Omatoimi <omatoimi@example.fi>"
//! [[alarms.notify]]
//! name = "Night duty"
//! email = ["duty@example.fi"]
//! webhook = "https://sms.example.fi/hook"
//! rules = ["forced-open", "held-open", "tamper", "silent"]
//! quiet_hours = "22:00-07:00"
//! ```
//!
//! Relative paths are from the file's directory. The key must be its owner's only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::ConfigError;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    database: String,
    devices: RawDevices,
    metrics: Option<RawMetrics>,
    staff: Option<RawStaff>,
    alarms: Option<RawAlarms>,
    retention: Option<RawRetention>,
    policy: Option<RawPolicy>,
    patrons: Option<RawPatrons>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatrons {
    card_key: PathBuf,
    library_system: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    signing_key: PathBuf,
    valid_days: Option<u32>,
    days_ahead: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    status_days: Option<u32>,
    events_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaff {
    listen: String,
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    session_idle_minutes: Option<u32>,
    session_hours: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlarms {
    time_zone: Option<String>,
    silent_minutes: Option<u32>,
    console_url: Option<String>,
    smtp: Option<RawSmtp>,
    #[serde(default)]
    notify: Vec<RawNotify>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    server: String,
    port: Option<u16>,
    tls: Option<String>,
    from: String,
    username: Option<String>,
    password_file: Option<PathBuf>,
    ca: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    name: String,
    #[serde(default)]
    email: Vec<String>,
    webhook: Option<String>,
    rules: Vec<String>,
    quiet_hours: Option<String>,
    #[serde(default)]
    branches: Vec<String>,
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevices {
    listen: String,
    certificate: PathBuf,
    key: PathBuf,
    device_ca: PathBuf,
}

/// The console's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite:PATH` or `postgres://…`.
    pub database: String,
    /// The device listener.
    pub devices: DeviceListener,
    /// Where the fleet's gauges are served (`/metrics`, loopback), if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The staff's pages, if served.
    pub staff: Option<StaffListener>,
    /// Alarm rules and their recipients.
    pub alarms: Alarms,
    /// How long the database keeps what devices report.
    pub retention: Retention,
    /// The signer of policy bundles, if the console sends calendars down.
    pub policy: Option<std::sync::Arc<crate::policy::Publisher>>,
    /// A patron's export and erasure, and names in "who was in" (`[patrons]`).
    pub patrons: Option<crate::patrons::PatronRights>,
}

/// How long the database keeps what devices report (days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Status history (default 90).
    pub status_days: u32,
    /// Events and acknowledged alarms (default 365, as the doors keep security events).
    pub events_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            status_days: 90,
            events_days: 365,
        }
    }
}

/// The staff's pages: HTTPS, no client certificate, a signed-in session.
#[derive(Debug, Clone)]
pub struct StaffListener {
    /// Address and port.
    pub listen: SocketAddr,
    /// The certificate chain (PEM); the devices' listener's unless set.
    pub certificate: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// A session unused this long ends (ms).
    pub idle_ms: i64,
    /// A session ends this long after sign-in, used or not (ms).
    pub max_ms: i64,
}

/// Alarm rules and who is told.
#[derive(Debug, Clone)]
pub struct Alarms {
    /// The library's time zone (quiet hours are in it, and messages show times in it).
    pub time_zone: jiff::tz::TimeZone,
    /// Its name, for messages.
    pub time_zone_name: String,
    /// A device that has not reported this long raises `silent` (ms).
    pub silent_ms: i64,
    /// The staff pages' address, for links in messages.
    pub console_url: Option<String>,
    /// The mail server, if any recipient is told by e-mail.
    pub smtp: Option<Smtp>,
    /// Who is told.
    pub notify: Vec<Recipient>,
}

impl Default for Alarms {
    fn default() -> Self {
        Self {
            time_zone: jiff::tz::TimeZone::get("Europe/Helsinki")
                .unwrap_or(jiff::tz::TimeZone::UTC),
            time_zone_name: "Europe/Helsinki".into(),
            silent_ms: 15 * 60_000,
            console_url: None,
            smtp: None,
            notify: vec![],
        }
    }
}

/// How mail leaves: always over TLS, except to a server on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS on the submission port (587), required.
    Starttls,
    /// TLS from the first byte (465).
    Tls,
    /// No TLS: only to a mail server on loopback (a local relay that does the rest).
    LoopbackPlain,
}

/// The mail server.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// Its host name (checked against its certificate).
    pub server: String,
    /// Its port.
    pub port: u16,
    /// How TLS is used.
    pub tls: SmtpTls,
    /// The sender (`Name <address>`).
    pub from: String,
    /// User name and password, when the server wants them.
    pub login: Option<(String, String)>,
    /// A CA to trust beyond the system's (a library's own mail server).
    pub ca: Option<PathBuf>,
}

/// Who is told of which alarms.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// For pages and the delivery record.
    pub name: String,
    /// E-mail addresses.
    pub email: Vec<String>,
    /// A URL that takes a JSON POST (an SMS gateway, a chat room's incoming webhook).
    pub webhook: Option<String>,
    /// The rules told.
    pub rules: Vec<crate::rules::Rule>,
    /// Non-urgent alarms wait through these.
    pub quiet_hours: Option<crate::rules::QuietHours>,
    /// Only these branches (OU); every branch when empty.
    pub branches: Vec<String>,
    /// The language messages are written in.
    pub lang: crate::words::Lang,
}

/// Where devices report, and the certificates of that listener.
#[derive(Debug, Clone)]
pub struct DeviceListener {
    /// Address and port.
    pub listen: SocketAddr,
    /// The console's certificate chain (PEM).
    pub certificate: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The library's device CA (PEM).
    pub device_ca: PathBuf,
}

impl Settings {
    /// Reads and checks `central.toml`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let raw: RawFile = config::load(path)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let database = raw.database.trim().to_owned();
        if !(database.starts_with("sqlite:")
            || database.starts_with("postgres://")
            || database.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                path,
                "database",
                "not sqlite:PATH or postgres://USER@HOST/DATABASE",
            ));
        }
        let listen = raw.devices.listen.parse().map_err(|_| {
            ConfigError::invalid(
                path,
                "devices.listen",
                format!("{:?} is not an address and port", raw.devices.listen),
            )
        })?;
        let key = dir.join(&raw.devices.key);
        config::check_private(&key, path, "devices.key")?;
        let metrics = raw
            .metrics
            .map(|m| config::loopback_address(path, "metrics.listen", &m.listen))
            .transpose()?;
        let staff = raw
            .staff
            .map(|st| staff_listener(path, dir, st, &raw.devices))
            .transpose()?;
        let alarms = raw
            .alarms
            .map(|a| alarms(path, dir, a))
            .transpose()?
            .unwrap_or_default();
        let retention = match raw.retention {
            None => Retention::default(),
            Some(r) => {
                let d = Retention::default();
                let status_days = r.status_days.unwrap_or(d.status_days);
                let events_days = r.events_days.unwrap_or(d.events_days);
                if !(1..=3650).contains(&status_days) {
                    return Err(ConfigError::invalid(
                        path,
                        "retention.status_days",
                        "between 1 and 3650",
                    ));
                }
                if !(1..=3650).contains(&events_days) {
                    return Err(ConfigError::invalid(
                        path,
                        "retention.events_days",
                        "between 1 and 3650",
                    ));
                }
                Retention {
                    status_days,
                    events_days,
                }
            }
        };
        let policy = raw
            .policy
            .map(|p| policy(path, dir, p))
            .transpose()?
            .map(std::sync::Arc::new);
        let patrons = raw
            .patrons
            .map(|p| {
                let file = dir.join(&p.card_key);
                config::check_private(&file, path, "patrons.card_key")?;
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    ConfigError::invalid(path, "patrons.card_key", format!("{}: {e}", file.display()))
                })?;
                let key = allowlist::CardKey::from_text(&text).ok_or_else(|| {
                    ConfigError::invalid(
                        path,
                        "patrons.card_key",
                        format!(
                            "{}: not a card key (64 hex digits; the publisher's `allowlist-publish card-key` makes one)",
                            file.display()
                        ),
                    )
                })?;
                let names = p
                    .library_system
                    .map(|f| {
                        let file = dir.join(f);
                        let r = config::registry::load(&file)?;
                        let config::registry::Backend::KohaRest(koha) = &r.backend else {
                            return Err(ConfigError::invalid(
                                path,
                                "patrons.library_system",
                                format!(
                                    "{}: names need Koha's REST API (backend = \"koha-rest\"); SIP2 cannot list patrons",
                                    file.display()
                                ),
                            ));
                        };
                        registry::koha::KohaRegistry::new(koha, &r).map_err(|e| {
                            ConfigError::invalid(path, "patrons.library_system", e.to_string())
                        })
                    })
                    .transpose()?;
                Ok::<_, ConfigError>(crate::patrons::PatronRights { key, names })
            })
            .transpose()?;
        if patrons.is_some() && policy.is_none() {
            return Err(ConfigError::invalid(
                path,
                "patrons",
                "a patron's export and erasure are signed commands: set [policy] signing_key too",
            ));
        }
        Ok(Self {
            policy,
            patrons,
            metrics,
            staff,
            alarms,
            retention,
            database: resolve_sqlite(&database, dir),
            devices: DeviceListener {
                listen,
                certificate: dir.join(raw.devices.certificate),
                key,
                device_ca: dir.join(raw.devices.device_ca),
            },
        })
    }
}

fn policy(path: &Path, dir: &Path, p: RawPolicy) -> Result<crate::policy::Publisher, ConfigError> {
    let file = dir.join(&p.signing_key);
    config::check_private(&file, path, "policy.signing_key")?;
    let text = std::fs::read_to_string(&file).map_err(|e| {
        ConfigError::invalid(
            path,
            "policy.signing_key",
            format!("{}: {e}", file.display()),
        )
    })?;
    let key = allowlist::SigningKey::from_text(&text).ok_or_else(|| {
        ConfigError::invalid(
            path,
            "policy.signing_key",
            format!(
                "{}: not a key file (ed25519-seed:…); make one with `omatoimi-central policy-key`",
                file.display()
            ),
        )
    })?;
    let valid_days = p.valid_days.unwrap_or(7);
    if !(2..=90).contains(&valid_days) {
        return Err(ConfigError::invalid(
            path,
            "policy.valid_days",
            "between 2 and 90",
        ));
    }
    let days_ahead = p.days_ahead.unwrap_or(400);
    if !(7..=1000).contains(&days_ahead) {
        return Err(ConfigError::invalid(
            path,
            "policy.days_ahead",
            "between 7 and 1000",
        ));
    }
    Ok(crate::policy::Publisher::new(key, valid_days, days_ahead))
}

fn staff_listener(
    path: &Path,
    dir: &Path,
    st: RawStaff,
    devices: &RawDevices,
) -> Result<StaffListener, ConfigError> {
    let listen = st.listen.parse().map_err(|_| {
        ConfigError::invalid(
            path,
            "staff.listen",
            format!("{:?} is not an address and port", st.listen),
        )
    })?;
    let key = dir.join(st.key.as_ref().unwrap_or(&devices.key));
    config::check_private(&key, path, "staff.key")?;
    let idle = st.session_idle_minutes.unwrap_or(30);
    if !(5..=480).contains(&idle) {
        return Err(ConfigError::invalid(
            path,
            "staff.session_idle_minutes",
            "between 5 and 480",
        ));
    }
    let hours = st.session_hours.unwrap_or(12);
    if !(1..=24).contains(&hours) {
        return Err(ConfigError::invalid(
            path,
            "staff.session_hours",
            "between 1 and 24",
        ));
    }
    Ok(StaffListener {
        listen,
        certificate: dir.join(st.certificate.as_ref().unwrap_or(&devices.certificate)),
        key,
        idle_ms: i64::from(idle) * 60_000,
        max_ms: i64::from(hours) * 3_600_000,
    })
}

fn alarms(path: &Path, dir: &Path, a: RawAlarms) -> Result<Alarms, ConfigError> {
    let zone = a.time_zone.unwrap_or_else(|| "Europe/Helsinki".into());
    let time_zone = jiff::tz::TimeZone::get(&zone).map_err(|_| {
        ConfigError::invalid(
            path,
            "alarms.time_zone",
            format!("{zone:?} is not a time zone (e.g. \"Europe/Helsinki\")"),
        )
    })?;
    let silent = a.silent_minutes.unwrap_or(15);
    if !(2..=1440).contains(&silent) {
        return Err(ConfigError::invalid(
            path,
            "alarms.silent_minutes",
            "between 2 and 1440",
        ));
    }
    let smtp = a.smtp.map(|m| smtp(path, dir, m)).transpose()?;
    let mut notify = vec![];
    for (i, n) in a.notify.into_iter().enumerate() {
        let key = |k: &str| format!("alarms.notify[{i}].{k}");
        let mut rules = vec![];
        for r in &n.rules {
            rules.push(crate::rules::Rule::from_code(r).ok_or_else(|| {
                let known: Vec<_> = crate::rules::Rule::ALL.iter().map(|r| r.code()).collect();
                ConfigError::invalid(
                    path,
                    key("rules"),
                    format!("{r:?} is not a rule; the rules are {}", known.join(", ")),
                )
            })?);
        }
        if n.email.is_empty() && n.webhook.is_none() {
            return Err(ConfigError::invalid(
                path,
                key("email"),
                format!(
                    "{:?} has no e-mail address and no webhook: nobody would be told",
                    n.name
                ),
            ));
        }
        for e in &n.email {
            if e.parse::<lettre::Address>().is_err() {
                return Err(ConfigError::invalid(
                    path,
                    key("email"),
                    format!("{e:?} is not an e-mail address"),
                ));
            }
        }
        if !n.email.is_empty() && smtp.is_none() {
            return Err(ConfigError::invalid(
                path,
                key("email"),
                "e-mail needs [alarms.smtp]",
            ));
        }
        if let Some(url) = &n.webhook {
            webhook_url(url).map_err(|why| ConfigError::invalid(path, key("webhook"), why))?;
        }
        let quiet_hours = n
            .quiet_hours
            .as_deref()
            .map(crate::rules::QuietHours::parse)
            .transpose()
            .map_err(|why| ConfigError::invalid(path, key("quiet_hours"), why))?;
        let lang = match n.lang.as_deref() {
            None => crate::words::Lang::Fi,
            Some(l) => crate::words::Lang::from_code(l).ok_or_else(|| {
                ConfigError::invalid(
                    path,
                    key("lang"),
                    format!("{l:?}: expected \"fi\", \"sv\" or \"en\""),
                )
            })?,
        };
        notify.push(Recipient {
            lang,
            name: n.name,
            email: n.email,
            webhook: n.webhook,
            rules,
            quiet_hours,
            branches: n.branches,
        });
    }
    Ok(Alarms {
        time_zone,
        time_zone_name: zone,
        silent_ms: i64::from(silent) * 60_000,
        console_url: a.console_url,
        smtp,
        notify,
    })
}

fn smtp(path: &Path, dir: &Path, m: RawSmtp) -> Result<Smtp, ConfigError> {
    let tls = match m.tls.as_deref().unwrap_or("starttls") {
        "starttls" => SmtpTls::Starttls,
        "tls" => SmtpTls::Tls,
        "none" => SmtpTls::LoopbackPlain,
        other => {
            return Err(ConfigError::invalid(
                path,
                "alarms.smtp.tls",
                format!(
                    "{other:?}: expected \"starttls\", \"tls\" or \"none\" (a relay on this host only)"
                ),
            ));
        }
    };
    if tls == SmtpTls::LoopbackPlain && !is_loopback_host(&m.server) {
        return Err(ConfigError::invalid(
            path,
            "alarms.smtp.tls",
            "mail without TLS goes only to a relay on this host (localhost, 127.0.0.1 or ::1)",
        ));
    }
    if m.from.parse::<lettre::message::Mailbox>().is_err() {
        return Err(ConfigError::invalid(
            path,
            "alarms.smtp.from",
            format!("{:?} is not a sender (Name <address>)", m.from),
        ));
    }
    let login = match (m.username, m.password_file) {
        (Some(u), Some(f)) => {
            let f = dir.join(f);
            config::check_private(&f, path, "alarms.smtp.password_file")?;
            let pw = std::fs::read_to_string(&f).map_err(|cause| ConfigError::Read {
                file: f.clone(),
                cause,
            })?;
            Some((u, pw.trim_end_matches(['\n', '\r']).to_owned()))
        }
        (None, None) => None,
        _ => {
            return Err(ConfigError::invalid(
                path,
                "alarms.smtp.username",
                "username and password_file go together",
            ));
        }
    };
    let port = m.port.unwrap_or(match tls {
        SmtpTls::Starttls => 587,
        SmtpTls::Tls => 465,
        SmtpTls::LoopbackPlain => 25,
    });
    Ok(Smtp {
        server: m.server,
        port,
        tls,
        from: m.from,
        login,
        ca: m.ca.map(|c| dir.join(c)),
    })
}

fn is_loopback_host(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A webhook goes over HTTPS, or plain HTTP to this host only.
pub fn webhook_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or("");
        let host = match authority.rsplit_once(':') {
            Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
            _ => authority,
        };
        if is_loopback_host(host) {
            return Ok(());
        }
    }
    Err(format!(
        "{url:?}: a webhook is https://…, or http:// to this host only"
    ))
}

/// A relative SQLite path is from the configuration's directory.
fn resolve_sqlite(url: &str, dir: &Path) -> String {
    match url.strip_prefix("sqlite:") {
        Some(p) if !p.starts_with('/') && !p.starts_with("//") && !p.starts_with(':') => {
            format!("sqlite:{}", dir.join(p).display())
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_relative_database_and_files_are_from_the_files_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("console-key.pem");
        std::fs::write(&key, "x").unwrap();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let file = tmp.path().join("central.toml");
        std::fs::write(
            &file,
            "database = \"sqlite:central.db\"\n[devices]\nlisten = \"127.0.0.1:8443\"\ncertificate = \"console.pem\"\nkey = \"console-key.pem\"\ndevice_ca = \"/etc/ca.pem\"\n",
        )
        .unwrap();
        let s = Settings::load(&file).unwrap();
        assert_eq!(
            s.database,
            format!("sqlite:{}", tmp.path().join("central.db").display())
        );
        assert_eq!(s.devices.device_ca, Path::new("/etc/ca.pem"));
        assert_eq!(s.devices.key, key);
    }

    #[test]
    fn a_wrong_database_or_address_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("central.toml");
        for (text, key) in [
            ("database = \"mysql://x\"", "database"),
            ("database = \"sqlite:x\"", "listen"),
        ] {
            std::fs::write(
                &file,
                format!("{text}\n[devices]\nlisten = \"everywhere\"\ncertificate = \"c\"\nkey = \"k\"\ndevice_ca = \"ca\"\n"),
            )
            .unwrap();
            let e = Settings::load(&file).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn patron_rights_need_a_card_key_the_policy_key_and_koha_for_names() {
        let tmp = tempfile::tempdir().unwrap();
        let private = |name: &str, text: &str| {
            let p = tmp.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        };
        private("console-key.pem", "x");
        private("card.key", &"ab".repeat(32));
        private("bad.key", "not a key");
        private(
            "policy-key.txt",
            &allowlist::SigningKey::from_seed([1; 32]).unwrap().to_text(),
        );
        private("registry.secret", "login = \"c\"\npassword = \"p\"\n");
        std::fs::write(
            tmp.path().join("sip2.toml"),
            "[registry]\nbackend = \"sip2\"\ncredentials = \"registry.secret\"\n[registry.sip2]\naddress = \"127.0.0.1:6001\"\nserver_name = \"localhost\"\ninstitution = \"heili\"\nlocation = \"LPR\"\n",
        )
        .unwrap();
        let file = tmp.path().join("central.toml");
        let load = |tables: &str| {
            std::fs::write(
                &file,
                format!("database = \"sqlite:central.db\"\n[devices]\nlisten = \"127.0.0.1:8443\"\ncertificate = \"console.pem\"\nkey = \"console-key.pem\"\ndevice_ca = \"/etc/ca.pem\"\n{tables}"),
            )
            .unwrap();
            Settings::load(&file)
        };
        let policy = "[policy]\nsigning_key = \"policy-key.txt\"\n";
        let s = load(&format!("{policy}[patrons]\ncard_key = \"card.key\"\n")).unwrap();
        let p = s.patrons.unwrap();
        assert_eq!(p.key.to_text(), "ab".repeat(32));
        assert!(p.names.is_none());
        for (tables, said) in [
            (
                "[patrons]\ncard_key = \"card.key\"\n".to_owned(),
                "[policy] signing_key",
            ),
            (
                format!("{policy}[patrons]\ncard_key = \"bad.key\"\n"),
                "not a card key",
            ),
            (
                format!(
                    "{policy}[patrons]\ncard_key = \"card.key\"\nlibrary_system = \"sip2.toml\"\n"
                ),
                "SIP2 cannot list patrons",
            ),
        ] {
            let e = load(&tables).unwrap_err().to_string();
            assert!(e.contains(said), "{e}");
        }
    }
}
