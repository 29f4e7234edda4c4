//! The `[registry]` table: how a door or kiosk reaches the central library system — over SIP2
//! (TLS, or plain TCP only when `insecure_plain_tcp` says so) or over Koha's REST API — and how
//! the library system's answers map to the facts the access policy reads.
//!
//! ```toml
//! [registry]
//! backend = "sip2"                 # sip2 or koha-rest
//! credentials = "registry.secret"  # TOML, mode 0600: login + password, or client_id + client_secret
//! timeout_ms = 3000                # every request, connecting included
//! connect_timeout_ms = 2000
//!
//! [registry.sip2]
//! address = "sip2.example.fi:6443"
//! server_name = "sip2.example.fi"  # checked against the certificate; the address's host by default
//! ca = "library-ca.pem"            # pinned CA; the system's roots when absent
//! client_cert = "device.pem"       # optional: mutual TLS with the device's identity
//! client_key = "device-key.pem"
//! institution = "heili"            # AO
//! location = "LPR"                 # CP, the branch the device stands in
//! heartbeat_secs = 60              # SC status while idle; 0 turns it off
//!
//! [registry.sip2.protocol]         # the dialect, as in config::sip2
//! dialect = "aurora"
//!
//! [registry.sip2.flags]            # per patron-status flag: ignore, note, deny-loans, deny-all
//! hold_privileges_denied = "ignore"
//!
//! [registry.sip2.fields]           # extension fields carrying patron facts; "" turns one off
//! birth_date = "PB"
//!
//! [registry.koha]
//! base_url = "https://koha.example.fi"
//! ca = "library-ca.pem"
//! library_id = "LPR"
//! self_service_plugin = true       # Koha-Suomi's self-service permission check
//! # Offline loans and returns, delivered through Koha's offline circulation service (the staff
//! # interface's, as Koha's own offline client uses it); the staff account's offline_userid and
//! # offline_password go in the credentials file.
//! offline_service = "https://koha-staff.example.fi"  # or the full …/offline_circ/service.pl
//! offline_pending = false          # true: queued in Koha for staff to review, not processed
//! offline_timestamps = "utc"       # or "local": how this Koha reads the original time
//! ```
//!
//! Relative paths are relative to the configuration file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use redact::Pin;
use serde::Deserialize;
use sip2::{Dialect, FieldCode};

use crate::ConfigError;
use crate::sip2::RawSip2;

/// The raw `[registry]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegistry {
    /// `sip2` or `koha-rest`.
    pub backend: String,
    /// The credentials file.
    pub credentials: PathBuf,
    /// Bound on every request, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Bound on connecting (TCP and TLS), in milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// The SIP2 backend.
    pub sip2: Option<RawSip2Backend>,
    /// The Koha REST backend.
    pub koha: Option<RawKoha>,
}

/// The raw `[registry.sip2]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSip2Backend {
    /// `host:port`.
    pub address: String,
    /// Name checked against the server's certificate.
    pub server_name: Option<String>,
    /// Pinned CA certificate (PEM).
    pub ca: Option<PathBuf>,
    /// Device certificate (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Device key (PEM) for mutual TLS.
    pub client_key: Option<PathBuf>,
    /// Plain TCP, no TLS.
    #[serde(default)]
    pub insecure_plain_tcp: bool,
    /// Institution id (AO).
    pub institution: String,
    /// Location code (CP) sent at login and with returns.
    pub location: Option<String>,
    /// Seconds between SC-status heartbeats on an idle connection.
    pub heartbeat_secs: Option<u64>,
    /// Dialect and its overrides.
    #[serde(default)]
    pub protocol: RawSip2,
    /// Per-flag effects.
    #[serde(default)]
    pub flags: BTreeMap<String, String>,
    /// Extension field codes.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// The raw `[registry.koha]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKoha {
    /// `https://host[:port]`, without `/api/v1`.
    pub base_url: String,
    /// Pinned CA certificate (PEM).
    pub ca: Option<PathBuf>,
    /// Device certificate (PEM) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// Device key (PEM) for mutual TLS.
    pub client_key: Option<PathBuf>,
    /// The branch the device stands in (checkouts and returns are made there).
    pub library_id: String,
    /// Ask the Koha-Suomi self-service plugin for the patron's permission.
    #[serde(default)]
    pub self_service_plugin: bool,
    /// The staff interface's offline circulation service (`…/offline_circ/service.pl`), or the
    /// staff interface's base URL.
    pub offline_service: Option<String>,
    /// Queue offline loans and returns in Koha for staff to review (`pending=true`).
    #[serde(default)]
    pub offline_pending: bool,
    /// `utc` (the default) or `local`: the time zone Koha reads the original times in.
    pub offline_timestamps: Option<String>,
}

/// What a set patron-status flag does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlagEffect {
    /// Not reported at all.
    Ignore,
    /// Reported to the patron; blocks nothing.
    Note,
    /// Blocks borrowing and renewing, not entry.
    DenyLoans,
    /// Blocks entry and borrowing.
    DenyAll,
}

impl FlagEffect {
    /// Parses `ignore`, `note`, `deny-loans`, `deny-all`.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ignore" => Self::Ignore,
            "note" => Self::Note,
            "deny-loans" => Self::DenyLoans,
            "deny-all" => Self::DenyAll,
            _ => return None,
        })
    }
}

/// The 14 patron-status flags by their config names, in wire order.
pub const FLAG_NAMES: [&str; 14] = [
    "charge_privileges_denied",
    "renewal_privileges_denied",
    "recall_privileges_denied",
    "hold_privileges_denied",
    "card_reported_lost",
    "too_many_items_charged",
    "too_many_items_overdue",
    "too_many_renewals",
    "too_many_claims_of_items_returned",
    "too_many_items_lost",
    "excessive_outstanding_fines",
    "excessive_outstanding_fees",
    "recall_overdue",
    "too_many_items_billed",
];

/// Where patron facts travel in SIP2 extension fields; `None` when the system does not send one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronFields {
    /// Birth date, `YYYYMMDD` (or a SIP2 date).
    pub birth_date: Option<FieldCode>,
    /// Patron category.
    pub category: Option<FieldCode>,
    /// Home branch.
    pub home_branch: Option<FieldCode>,
    /// Card expiry date.
    pub card_expiry: Option<FieldCode>,
    /// Self-service permission, `Y`/`N`.
    pub self_service: Option<FieldCode>,
    /// Guardian's consent for a minor, `Y`/`N`.
    pub guardian_consent: Option<FieldCode>,
    /// Self-service blocks, `branch:reason:YYYYMMDD` joined by `;` (branch and date may be empty).
    pub self_service_blocks: Option<FieldCode>,
}

/// How a dialect's patron replies map to facts: one effect per flag, and the extension fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronMapping {
    /// Effect of each of the 14 flags, in wire order.
    pub flags: [FlagEffect; 14],
    /// Extension fields.
    pub fields: PatronFields,
}

impl PatronMapping {
    /// The documented defaults for a dialect preset.
    ///
    /// Flags, for every dialect: a lending ban (charge privileges denied), a lost card and fines
    /// or fees over the limit deny entry and loans; renewal, recall and hold privileges, too many
    /// renewals and recalls are ignored (a "hold privileges denied" must not stop a loan); the
    /// other counts are noted to the patron, and the library system refuses the loan itself if
    /// its rules say so.
    ///
    /// Fields: Koha sends PB (birth date), PC (category) and AQ (home branch); Evergreen sends PB,
    /// PC, AQ and PA as the card's expiry; FOLIO and Sierra send none of these; Aurora's fields
    /// are not publicly documented, and its defaults are those of our simulator (PB, PC, AQ, PX
    /// expiry, PS self-service, PG guardian consent, PA self-service blocks), to confirm with the
    /// library's system staff.
    pub fn preset(dialect: &str) -> Self {
        use FlagEffect::*;
        let flags = [
            DenyAll, Ignore, Ignore, Ignore, DenyAll, Note, Note, Ignore, Note, Note, DenyAll,
            DenyAll, Ignore, Note,
        ];
        let c = |s: &[u8; 2]| Some(FieldCode(*s));
        let none = PatronFields {
            birth_date: None,
            category: None,
            home_branch: None,
            card_expiry: None,
            self_service: None,
            guardian_consent: None,
            self_service_blocks: None,
        };
        let fields = match dialect {
            "koha" => PatronFields {
                birth_date: c(b"PB"),
                category: c(b"PC"),
                home_branch: c(b"AQ"),
                ..none
            },
            "evergreen" => PatronFields {
                birth_date: c(b"PB"),
                category: c(b"PC"),
                home_branch: c(b"AQ"),
                card_expiry: c(b"PA"),
                ..none
            },
            "aurora" | "standard" => PatronFields {
                birth_date: c(b"PB"),
                category: c(b"PC"),
                home_branch: c(b"AQ"),
                card_expiry: c(b"PX"),
                self_service: c(b"PS"),
                guardian_consent: c(b"PG"),
                self_service_blocks: c(b"PA"),
            },
            _ => none,
        };
        Self { flags, fields }
    }
}

/// The secrets in the credentials file.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// The device's SIP2 account.
    Sip2 {
        /// CN.
        login: String,
        /// CO.
        password: Pin,
    },
    /// An OAuth2 client of Koha's REST API.
    OAuth2 {
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: Pin,
        /// The staff account that delivers offline loans and returns through Koha's offline
        /// circulation service (`offline_userid`, `offline_password`), when there is one.
        offline: Option<StaffAccount>,
    },
}

/// A Koha staff account (a user id and its password).
#[derive(Clone)]
pub struct StaffAccount {
    /// The staff user id.
    pub userid: String,
    /// Its password.
    pub password: Pin,
}

impl std::fmt::Debug for StaffAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffAccount")
            .field("userid", &self.userid)
            .finish_non_exhaustive()
    }
}

/// How Koha's offline circulation service reads the original time of a loan or return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineTimestamps {
    /// As UTC, converted to the library's time zone (newer Koha).
    Utc,
    /// As the library's local time (older Koha).
    Local,
}

/// Koha's offline circulation service, as `[registry.koha]` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KohaOffline {
    /// The full URL of `…/cgi-bin/koha/offline_circ/service.pl`.
    pub service: String,
    /// Queue for staff review instead of processing (`pending=true`).
    pub pending: bool,
    /// The time zone of the `timestamp` sent.
    pub timestamps: OfflineTimestamps,
}

/// TLS settings shared by both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Pinned CA; the system's roots when `None`.
    pub ca: Option<PathBuf>,
    /// Device certificate and key for mutual TLS.
    pub client_identity: Option<(PathBuf, PathBuf)>,
}

/// A validated `[registry.sip2]`.
#[derive(Debug, Clone)]
pub struct Sip2Settings {
    /// `host:port`.
    pub address: String,
    /// The name the certificate must carry.
    pub server_name: String,
    /// TLS, or `None` for plain TCP (insecure, logged at start).
    pub tls: Option<TlsSettings>,
    /// AO.
    pub institution: String,
    /// CP.
    pub location: Option<String>,
    /// Heartbeat interval; `None` when off.
    pub heartbeat: Option<Duration>,
    /// The dialect.
    pub dialect: Dialect,
    /// Facts mapping.
    pub mapping: PatronMapping,
}

/// A validated `[registry.koha]`.
#[derive(Debug, Clone)]
pub struct KohaSettings {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// TLS.
    pub tls: TlsSettings,
    /// The device's branch.
    pub library_id: String,
    /// Use the Koha-Suomi self-service plugin.
    pub self_service_plugin: bool,
    /// Koha's offline circulation service for offline loans and returns; `None`: they cannot
    /// be delivered over this backend.
    pub offline: Option<KohaOffline>,
}

/// Which backend.
#[derive(Debug, Clone)]
pub enum Backend {
    /// SIP2.
    Sip2(Sip2Settings),
    /// Koha's REST API.
    KohaRest(KohaSettings),
}

/// A validated `[registry]`.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// The backend.
    pub backend: Backend,
    /// The secrets.
    pub credentials: Credentials,
    /// Bound on every request.
    pub timeout: Duration,
    /// Bound on connecting.
    pub connect_timeout: Duration,
}

/// A file's `[registry]` table: a `registry.toml` holding just it, or a device's `door.toml` or
/// `kiosk.toml` (as provisioning writes them), whose other tables are left alone: they are the
/// daemon's to check. The table itself still refuses unknown keys.
#[derive(Debug, Clone, Deserialize)]
pub struct RawRegistryFile {
    /// The table.
    pub registry: RawRegistry,
}

/// Reads and validates the `[registry]` table of a file (`registry.toml`, `door.toml`,
/// `kiosk.toml`).
pub fn load(path: &Path) -> Result<RegistrySettings, ConfigError> {
    let raw: RawRegistryFile = crate::load(path)?;
    raw.registry.validate(path)
}

pub(crate) fn resolve(file: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(p)
    }
}

pub(crate) fn tls_settings(
    file: &Path,
    table: &str,
    ca: &Option<PathBuf>,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
) -> Result<TlsSettings, ConfigError> {
    let client_identity = match (cert, key) {
        (Some(c), Some(k)) => Some((resolve(file, c), resolve(file, k))),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                file,
                format!("{table}.client_key"),
                "client_cert is set, so client_key (the device's private key, PEM) is needed too",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                file,
                format!("{table}.client_cert"),
                "client_key is set, so client_cert (the device's certificate, PEM) is needed too",
            ));
        }
    };
    let ca = ca.as_ref().map(|p| resolve(file, p));
    for (k, p) in [("ca", ca.as_ref())].into_iter().chain(
        client_identity
            .iter()
            .flat_map(|(c, kk)| [("client_cert", Some(c)), ("client_key", Some(kk))]),
    ) {
        if let Some(p) = p {
            if !p.is_file() {
                return Err(ConfigError::invalid(
                    file,
                    format!("{table}.{k}"),
                    format!("{} is not a readable file (expected PEM)", p.display()),
                ));
            }
        }
    }
    Ok(TlsSettings {
        ca,
        client_identity,
    })
}

pub(crate) fn millis(
    file: &Path,
    key: &str,
    v: Option<u64>,
    default: u64,
) -> Result<Duration, ConfigError> {
    let ms = v.unwrap_or(default);
    if !(10..=120_000).contains(&ms) {
        return Err(ConfigError::invalid(
            file,
            key,
            format!("{ms} ms; expected 10 to 120000"),
        ));
    }
    Ok(Duration::from_millis(ms))
}

impl RawRegistry {
    /// Validates, reading the credentials file (which must not be readable by others).
    pub fn validate(&self, file: &Path) -> Result<RegistrySettings, ConfigError> {
        let timeout = millis(file, "registry.timeout_ms", self.timeout_ms, 3000)?;
        let connect_timeout = millis(
            file,
            "registry.connect_timeout_ms",
            self.connect_timeout_ms,
            2000,
        )?;
        let backend = match self.backend.as_str() {
            "sip2" => {
                let s = self.sip2.as_ref().ok_or_else(|| {
                    ConfigError::invalid(
                        file,
                        "registry.sip2",
                        "backend is \"sip2\", so a [registry.sip2] table is needed",
                    )
                })?;
                Backend::Sip2(s.validate(file)?)
            }
            "koha-rest" => {
                let k = self.koha.as_ref().ok_or_else(|| {
                    ConfigError::invalid(
                        file,
                        "registry.koha",
                        "backend is \"koha-rest\", so a [registry.koha] table is needed",
                    )
                })?;
                Backend::KohaRest(k.validate(file)?)
            }
            other => {
                return Err(ConfigError::invalid(
                    file,
                    "registry.backend",
                    format!("unknown backend {other:?}; expected \"sip2\" or \"koha-rest\""),
                ));
            }
        };
        let credentials = read_credentials(&resolve(file, &self.credentials), file, &backend)?;
        Ok(RegistrySettings {
            backend,
            credentials,
            timeout,
            connect_timeout,
        })
    }
}

impl RawSip2Backend {
    fn validate(&self, file: &Path) -> Result<Sip2Settings, ConfigError> {
        let (host, port) = self.address.rsplit_once(':').ok_or_else(|| {
            ConfigError::invalid(
                file,
                "registry.sip2.address",
                format!("{:?}; expected host:port", self.address),
            )
        })?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(ConfigError::invalid(
                file,
                "registry.sip2.address",
                format!("{:?}; expected host:port with a port 1-65535", self.address),
            ));
        }
        let server_name = self.server_name.clone().unwrap_or_else(|| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        });
        let tls = if self.insecure_plain_tcp {
            if self.ca.is_some() || self.client_cert.is_some() {
                return Err(ConfigError::invalid(
                    file,
                    "registry.sip2.insecure_plain_tcp",
                    "plain TCP has no TLS, so ca and client_cert would be ignored; remove one or the other",
                ));
            }
            None
        } else {
            Some(tls_settings(
                file,
                "registry.sip2",
                &self.ca,
                &self.client_cert,
                &self.client_key,
            )?)
        };
        if self.institution.is_empty() {
            return Err(ConfigError::invalid(
                file,
                "registry.sip2.institution",
                "empty; expected the institution id (AO) the library system gave",
            ));
        }
        let dialect = self.protocol.dialect(file, "registry.sip2.protocol")?;
        let mut mapping = PatronMapping::preset(&dialect.name);
        for (name, effect) in &self.flags {
            let i = FLAG_NAMES.iter().position(|n| n == name).ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    format!("registry.sip2.flags.{name}"),
                    format!("unknown flag; expected one of {}", FLAG_NAMES.join(", ")),
                )
            })?;
            mapping.flags[i] = FlagEffect::from_name(effect).ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    format!("registry.sip2.flags.{name}"),
                    format!("{effect:?}; expected ignore, note, deny-loans or deny-all"),
                )
            })?;
        }
        for (name, code) in &self.fields {
            let key = format!("registry.sip2.fields.{name}");
            let parsed = if code.is_empty() {
                None
            } else {
                match code.as_bytes() {
                    [a, b]
                        if a.is_ascii_uppercase()
                            && (b.is_ascii_uppercase() || b.is_ascii_digit()) =>
                    {
                        Some(FieldCode([*a, *b]))
                    }
                    _ => {
                        return Err(ConfigError::invalid(
                            file,
                            key,
                            format!(
                                "{code:?}; expected a two-letter field code like \"PB\", or \"\" for none"
                            ),
                        ));
                    }
                }
            };
            let f = &mut mapping.fields;
            let slot = match name.as_str() {
                "birth_date" => &mut f.birth_date,
                "category" => &mut f.category,
                "home_branch" => &mut f.home_branch,
                "card_expiry" => &mut f.card_expiry,
                "self_service" => &mut f.self_service,
                "guardian_consent" => &mut f.guardian_consent,
                "self_service_blocks" => &mut f.self_service_blocks,
                _ => {
                    return Err(ConfigError::invalid(
                        file,
                        key,
                        "unknown fact; expected birth_date, category, home_branch, card_expiry, self_service, guardian_consent or self_service_blocks",
                    ));
                }
            };
            *slot = parsed;
        }
        let heartbeat = match self.heartbeat_secs.unwrap_or(60) {
            0 => None,
            s if s > 3600 => {
                return Err(ConfigError::invalid(
                    file,
                    "registry.sip2.heartbeat_secs",
                    format!("{s}; expected 0 (off) to 3600"),
                ));
            }
            s => Some(Duration::from_secs(s)),
        };
        Ok(Sip2Settings {
            address: self.address.clone(),
            server_name,
            tls,
            institution: self.institution.clone(),
            location: self.location.clone().filter(|l| !l.is_empty()),
            heartbeat,
            dialect,
            mapping,
        })
    }
}

impl RawKoha {
    fn validate(&self, file: &Path) -> Result<KohaSettings, ConfigError> {
        let url = self.base_url.trim_end_matches('/');
        let Some(rest) = url.strip_prefix("https://") else {
            return Err(ConfigError::invalid(
                file,
                "registry.koha.base_url",
                format!("{url:?}; expected an https:// address (patron PINs cross it)"),
            ));
        };
        if rest.is_empty() || rest.contains(['?', '#', ' ']) {
            return Err(ConfigError::invalid(
                file,
                "registry.koha.base_url",
                format!("{url:?}; expected https://host[:port][/path]"),
            ));
        }
        if self.library_id.is_empty() {
            return Err(ConfigError::invalid(
                file,
                "registry.koha.library_id",
                "empty; expected the Koha library (branch) code of the device",
            ));
        }
        let timestamps = match self.offline_timestamps.as_deref() {
            None | Some("utc") => OfflineTimestamps::Utc,
            Some("local") => OfflineTimestamps::Local,
            Some(other) => {
                return Err(ConfigError::invalid(
                    file,
                    "registry.koha.offline_timestamps",
                    format!("{other:?}; expected \"utc\" (newer Koha) or \"local\" (older Koha)"),
                ));
            }
        };
        let offline = match &self.offline_service {
            Some(service) => Some(KohaOffline {
                service: offline_service_url(file, service)?,
                pending: self.offline_pending,
                timestamps,
            }),
            None if self.offline_pending || self.offline_timestamps.is_some() => {
                return Err(ConfigError::invalid(
                    file,
                    "registry.koha.offline_service",
                    "missing: offline_pending and offline_timestamps are for Koha's offline circulation service; set offline_service to the staff interface's address",
                ));
            }
            None => None,
        };
        Ok(KohaSettings {
            base_url: url.to_owned(),
            tls: tls_settings(
                file,
                "registry.koha",
                &self.ca,
                &self.client_cert,
                &self.client_key,
            )?,
            library_id: self.library_id.clone(),
            self_service_plugin: self.self_service_plugin,
            offline,
        })
    }
}

/// The path of Koha's offline circulation service under the staff interface.
pub const OFFLINE_SERVICE_PATH: &str = "/cgi-bin/koha/offline_circ/service.pl";

/// The service's full URL from `offline_service`: the URL itself when it names a `.pl`, else the
/// staff interface's base URL with [`OFFLINE_SERVICE_PATH`] after it. HTTPS only: a staff
/// password and card numbers cross it.
fn offline_service_url(file: &Path, given: &str) -> Result<String, ConfigError> {
    let key = "registry.koha.offline_service";
    let url = given.trim_end_matches('/');
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(ConfigError::invalid(
            file,
            key,
            format!(
                "{url:?}; expected an https:// address (a staff password and card numbers cross it)"
            ),
        ));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(ConfigError::invalid(
            file,
            key,
            format!(
                "{url:?}; expected https://staff-host[:port] or its full {OFFLINE_SERVICE_PATH}"
            ),
        ));
    }
    Ok(if url.ends_with(".pl") {
        url.to_owned()
    } else {
        format!("{url}{OFFLINE_SERVICE_PATH}")
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    login: Option<String>,
    password: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    offline_userid: Option<String>,
    offline_password: Option<String>,
}

/// Reads the credentials file named by `config`; it must be readable by its owner only.
fn read_credentials(
    path: &Path,
    config: &Path,
    backend: &Backend,
) -> Result<Credentials, ConfigError> {
    crate::check_private(path, config, "registry.credentials")?;
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        file: path.to_owned(),
        cause,
    })?;
    // The parser's own message quotes the offending line, which may hold the secret: only the
    // line number is given.
    let raw: RawCredentials = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text.get(..s.start).unwrap_or("").matches('\n').count() + 1);
        ConfigError::Syntax {
            file: path.to_owned(),
            message: format!(
                "{}not valid: expected only `login` and `password` (SIP2) or `client_id` and `client_secret` (Koha, with `offline_userid` and `offline_password` for offline circulation), each a quoted string (the line is not shown: it may hold the secret)",
                line.map(|l| format!("line {l}: ")).unwrap_or_default()
            ),
        }
    })?;
    let need = |v: Option<String>, key: &str, what: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::invalid(path, key, format!("missing; expected {what}")))
    };
    let staff = raw.offline_userid.is_some() || raw.offline_password.is_some();
    match backend {
        Backend::Sip2(_) if staff => Err(ConfigError::invalid(
            path,
            "offline_userid",
            "a Koha staff account, but the backend is SIP2: remove offline_userid and offline_password",
        )),
        Backend::Sip2(_) => Ok(Credentials::Sip2 {
            login: need(raw.login, "login", "the device's SIP2 login (CN)")?,
            password: Pin::new(need(
                raw.password,
                "password",
                "the device's SIP2 password (CO)",
            )?),
        }),
        Backend::KohaRest(k) => {
            let offline = match (&k.offline, staff) {
                (Some(_), _) => Some(StaffAccount {
                    userid: need(
                        raw.offline_userid,
                        "offline_userid",
                        "the Koha staff account that delivers offline loans (registry.koha.offline_service is set)",
                    )?,
                    password: Pin::new(need(
                        raw.offline_password,
                        "offline_password",
                        "the password of the Koha staff account offline_userid",
                    )?),
                }),
                (None, true) => {
                    return Err(ConfigError::invalid(
                        config,
                        "registry.koha.offline_service",
                        "missing: the credentials file has a staff account for Koha's offline circulation; set offline_service to the staff interface's address",
                    ));
                }
                (None, false) => None,
            };
            Ok(Credentials::OAuth2 {
                client_id: need(raw.client_id, "client_id", "the Koha API client id")?,
                client_secret: Pin::new(need(
                    raw.client_secret,
                    "client_secret",
                    "the Koha API client secret",
                )?),
                offline,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copies an example into a directory with the files it names, as a technician would.
    fn example(name: &str, secret: &str) -> Result<RegistrySettings, ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().map_err(|cause| ConfigError::Read {
            file: PathBuf::from("tempdir"),
            cause,
        })?;
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let text = std::fs::read_to_string(&src).unwrap_or_default();
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap_or_default();
        for pem in ["heili-ca.pem", "koha-ca.pem"] {
            std::fs::write(dir.path().join(pem), "-----BEGIN CERTIFICATE-----\n")
                .unwrap_or_default();
        }
        let s = dir.path().join("registry.secret");
        std::fs::write(&s, secret).unwrap_or_default();
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o600)).unwrap_or_default();
        load(&file)
    }

    /// The device's own file, as provisioning writes it, in a directory with the files it
    /// names.
    fn device_file(name: &str, secret: &str) -> (tempfile::TempDir, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let file = dir.path().join(name);
        std::fs::write(&file, std::fs::read_to_string(&src).unwrap()).unwrap();
        std::fs::write(dir.path().join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
        let s = dir.path().join(secret);
        std::fs::write(&s, "login = \"door-lemi\"\npassword = \"x\"\n").unwrap();
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o600)).unwrap();
        (dir, file)
    }

    #[test]
    fn a_doors_and_a_kiosks_own_files_give_their_registry_table() {
        for (name, secret, location) in [
            ("door.toml", "door-sip2.secret", "LEMI"),
            ("kiosk.toml", "kiosk-sip2.secret", "LPR"),
        ] {
            let (_dir, file) = device_file(name, secret);
            let s = load(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
            let Backend::Sip2(sip) = s.backend else {
                panic!("{name}: not sip2")
            };
            assert_eq!(sip.location.as_deref(), Some(location), "{name}");
            assert_eq!(sip.dialect.name, "aurora", "{name}");
        }
    }

    #[test]
    fn the_registry_table_still_refuses_an_unknown_key_in_a_door_file() {
        let (_dir, file) = device_file("door.toml", "door-sip2.secret");
        let text = std::fs::read_to_string(&file).unwrap();
        let text = text.replacen("timeout_ms = 3000", "timeout_ms = 3000\ntimout = 1", 1);
        std::fs::write(&file, text).unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("timout"), "{e}");
        // A file without the table says so.
        std::fs::write(&file, "[door]\nname = \"x\"\n").unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("registry"), "{e}");
    }

    #[test]
    fn the_examples_load() {
        let s = example(
            "registry-sip2.toml",
            "login = \"door-lemi\"\npassword = \"x\"\n",
        )
        .unwrap();
        let Backend::Sip2(sip) = s.backend else {
            panic!("not sip2")
        };
        assert_eq!(sip.dialect.name, "aurora");
        assert_eq!(sip.server_name, "sip2.heili.example");
        assert_eq!(sip.mapping.flags[3], FlagEffect::Ignore);
        assert_eq!(sip.mapping.flags[6], FlagEffect::DenyLoans);
        assert_eq!(s.timeout, Duration::from_millis(3000));
        let k = example("registry-koha-rest.toml", KOHA_SECRET).unwrap();
        assert!(matches!(k.backend, Backend::KohaRest(ref k) if k.self_service_plugin));
        let Backend::KohaRest(koha) = &k.backend else {
            panic!("not koha")
        };
        assert_eq!(
            koha.offline,
            Some(KohaOffline {
                service: "https://koha-staff.example.fi/cgi-bin/koha/offline_circ/service.pl"
                    .into(),
                pending: false,
                timestamps: OfflineTimestamps::Utc,
            })
        );
        let Credentials::OAuth2 { offline, .. } = &k.credentials else {
            panic!("not oauth2")
        };
        assert_eq!(
            offline.as_ref().map(|s| s.userid.as_str()),
            Some("kiosk-off")
        );
    }

    const KOHA_SECRET: &str = "client_id = \"a\"\nclient_secret = \"b\"\noffline_userid = \"kiosk-off\"\noffline_password = \"st4ff-pw\"\n";

    /// The Koha example with its `offline_*` lines edited by `edit`, loaded with `secret`.
    fn koha_offline(
        edit: impl Fn(String) -> String,
        secret: &str,
    ) -> Result<RegistrySettings, ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry-koha-rest.toml");
        let text = edit(std::fs::read_to_string(&src).unwrap());
        let file = dir.path().join("registry.toml");
        std::fs::write(&file, text).unwrap();
        std::fs::write(
            dir.path().join("koha-ca.pem"),
            "-----BEGIN CERTIFICATE-----\n",
        )
        .unwrap();
        let s = dir.path().join("registry.secret");
        std::fs::write(&s, secret).unwrap();
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o600)).unwrap();
        load(&file)
    }

    #[test]
    fn koha_offline_circulation_is_optional_and_checked() {
        // Without the service and the staff account: none, and no error.
        let none = koha_offline(
            |t| {
                t.lines()
                    .filter(|l| !l.starts_with("offline_"))
                    .collect::<Vec<_>>()
                    .join("\n")
            },
            "client_id = \"a\"\nclient_secret = \"b\"\n",
        )
        .unwrap();
        assert!(matches!(none.backend, Backend::KohaRest(ref k) if k.offline.is_none()));
        // A full URL is kept; local times and pending are read.
        let full = koha_offline(
            |t| {
                t.replace(
                    "\"https://koha-staff.example.fi\"",
                    "\"https://staff.example.fi:8443/cgi-bin/koha/offline_circ/service.pl\"",
                )
                .replace("offline_pending = false", "offline_pending = true")
                .replace(
                    "offline_timestamps = \"utc\"",
                    "offline_timestamps = \"local\"",
                )
            },
            KOHA_SECRET,
        )
        .unwrap();
        let Backend::KohaRest(k) = full.backend else {
            panic!("not koha")
        };
        assert_eq!(
            k.offline,
            Some(KohaOffline {
                service: "https://staff.example.fi:8443/cgi-bin/koha/offline_circ/service.pl"
                    .into(),
                pending: true,
                timestamps: OfflineTimestamps::Local,
            })
        );
        // Mistakes name the key and what to set.
        for (edit, secret, words) in [
            (
                (
                    "\"https://koha-staff.example.fi\"",
                    "\"http://koha-staff.example.fi\"",
                ),
                KOHA_SECRET,
                "registry.koha.offline_service",
            ),
            (
                (
                    "offline_timestamps = \"utc\"",
                    "offline_timestamps = \"UTC+2\"",
                ),
                KOHA_SECRET,
                "registry.koha.offline_timestamps",
            ),
            (
                ("offline_service = ", "# offline_service = "),
                KOHA_SECRET,
                "set offline_service",
            ),
            (
                ("", ""),
                "client_id = \"a\"\nclient_secret = \"b\"\n",
                "offline_userid",
            ),
            (
                ("", ""),
                "client_id = \"a\"\nclient_secret = \"b\"\noffline_userid = \"kiosk-off\"\n",
                "offline_password",
            ),
        ] {
            let e = koha_offline(|t| t.replace(edit.0, edit.1), secret)
                .unwrap_err()
                .to_string();
            assert!(e.contains(words), "{words}: {e}");
            assert!(!e.contains("st4ff-pw"), "{e}");
        }
        // A staff account with only the service's settings left out still says what to set.
        let e = koha_offline(
            |t| {
                t.lines()
                    .filter(|l| !l.starts_with("offline_"))
                    .collect::<Vec<_>>()
                    .join("\n")
            },
            KOHA_SECRET,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("offline_service"), "{e}");
        assert!(!e.contains("st4ff-pw"), "{e}");
    }

    #[test]
    fn a_mistyped_staff_password_line_is_not_quoted() {
        let e = koha_offline(
            |t| t,
            "client_id = \"a\"\nclient_secret = \"b\"\noffline_userid = \"kiosk-off\"\noffline_password = st4ff-pw\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("line 4") && e.contains("offline_password"),
            "{e}"
        );
        assert!(!e.contains("st4ff-pw"), "{e}");
    }

    #[test]
    fn credentials_of_the_wrong_kind_name_what_is_missing() {
        let e = example(
            "registry-sip2.toml",
            "client_id = \"a\"\nclient_secret = \"b\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("registry.secret") && e.contains("login"), "{e}");
    }

    #[test]
    fn a_mistyped_credentials_file_never_quotes_the_secret() {
        for bad in [
            "login = \"door-lemi\"\npasword = \"s3cret-pw\"\n",
            "login = \"door-lemi\"\npassword = s3cret-pw\n",
            "login = \"door-lemi\"\npassword = 31337\n",
        ] {
            let e = example("registry-sip2.toml", bad).unwrap_err().to_string();
            assert!(e.contains("registry.secret") && e.contains("line 2"), "{e}");
            assert!(!e.contains("s3cret") && !e.contains("31337"), "{e}");
        }
    }

    #[test]
    fn presets_document_which_flags_block() {
        for d in Dialect::PRESETS {
            let m = PatronMapping::preset(d);
            assert_eq!(m.flags[0], FlagEffect::DenyAll, "{d}: a lending ban blocks");
            assert_eq!(
                m.flags[3],
                FlagEffect::Ignore,
                "{d}: hold privileges do not stop a loan"
            );
        }
        assert_eq!(
            PatronMapping::preset("evergreen").fields.card_expiry,
            Some(FieldCode(*b"PA"))
        );
        assert_eq!(PatronMapping::preset("folio").fields.birth_date, None);
    }
}
