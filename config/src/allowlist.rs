//! The `[allowlist]` table: the device side of the signed offline allow-list.
//!
//! ```toml
//! [allowlist]
//! url = "https://lists.heili.example/allowlist/"   # where head.oal, full.oal and deltas are
//! ca = "ca.pem"                                     # pinned CA; system roots if absent
//! client_cert = "device.pem"                        # the device's certificate and key: list
//! client_key = "device-key.pem"                     # servers serve enrolled devices only (mTLS)
//! store = "/var/lib/omatoimi/allowlist"             # the sled database
//! card_key = "card-key.secret"                      # 0600; the card-hashing key
//! scopes = ["heili", "LEMI", "lemi-door-1"]         # names this device answers to
//! keys = ["ed25519:…"]                              # pinned publisher keys (two while rotating)
//! revoked = ["0123456789abcdef"]                    # key ids no longer trusted
//! when_expired = "deny"                             # or "grace" with grace_hours
//! grace_hours = 0
//! max_bcrypt_cost = 12                              # the library system's hashes a door runs
//! learn_pins = "listed"                             # learn PINs accepted online: listed/any/off
//! learned_pin_days = 90                             # kept this long after the last online check
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use allowlist::guard::GuardPolicy;
use allowlist::{Anchors, CardKey, KeyId, PublicKey};
use serde::Deserialize;

use crate::ConfigError;
use crate::registry::{TlsSettings, millis, resolve, tls_settings};

/// The raw `[allowlist]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllowlist {
    /// Base HTTPS URL of the published directory.
    pub url: Option<String>,
    /// Pinned CA (PEM).
    pub ca: Option<PathBuf>,
    /// Device certificate for mutual TLS (PEM).
    pub client_cert: Option<PathBuf>,
    /// Its key (PEM).
    pub client_key: Option<PathBuf>,
    /// The sled store directory.
    pub store: PathBuf,
    /// The card-hashing key file (0600): 64 hex digits in clear, or a file sealed by the box's
    /// TPM 2.0 (`omatoimi-provision --tpm`, recognised by its first line), unsealed at load.
    pub card_key: PathBuf,
    /// The TPM that sealed `card_key`, as a TCTI (`device:/dev/tpmrm0`); when absent,
    /// `TPM2TOOLS_TCTI`, else `device:/dev/tpmrm0`. Ignored for a key in clear.
    #[serde(default)]
    pub card_key_tpm: Option<String>,
    /// Scope names of this device.
    pub scopes: Vec<String>,
    /// Pinned public keys, `ed25519:<hex>`.
    pub keys: Vec<String>,
    /// Revoked key ids.
    #[serde(default)]
    pub revoked: Vec<String>,
    /// `deny` or `grace`.
    #[serde(default)]
    pub when_expired: Option<String>,
    /// Hours an expired list is still used under `grace`.
    #[serde(default)]
    pub grace_hours: Option<u32>,
    /// Allowed lag of the device clock behind a list's issue time, in seconds (default 300).
    #[serde(default)]
    pub clock_skew_secs: Option<u32>,
    /// Wrong PINs before a card is locked out (default 5).
    #[serde(default)]
    pub max_pin_failures: Option<u32>,
    /// Lockout and failure window, minutes (default 15).
    #[serde(default)]
    pub lockout_minutes: Option<u32>,
    /// Download timeout in milliseconds (default 60000).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Largest list accepted, in MB (default 512).
    #[serde(default)]
    pub max_list_mb: Option<u32>,
    /// The store's cache in MB (default 16).
    #[serde(default)]
    pub cache_mb: Option<u32>,
    /// The highest bcrypt cost a list entry may make this device run (default 12).
    #[serde(default)]
    pub max_bcrypt_cost: Option<u8>,
    /// Which patrons' PINs this device learns after the library system accepts them online:
    /// `listed` (default: cards on the list), `any` (also cards the list does not know, with
    /// the facts the library system gave), or `off`.
    #[serde(default)]
    pub learn_pins: Option<String>,
    /// Days a learned PIN verifier is kept after it was last confirmed online (default 90).
    #[serde(default)]
    pub learned_pin_days: Option<u32>,
}

/// Which PINs a device learns after an online check, so a patron who has come in once online
/// comes in offline even when the library system exports no PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnPins {
    /// None.
    Off,
    /// Cards on the list.
    Listed,
    /// Any card the library system accepted, keeping the facts it gave for cards the list
    /// does not know.
    Any,
}

/// How a device checks PINs offline beyond the list's own verifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflinePins {
    /// The highest bcrypt cost run (each step doubles the time of a check).
    pub max_bcrypt_cost: u8,
    /// Which PINs are learned.
    pub learn: LearnPins,
    /// How long a learned verifier is kept after it was last confirmed online, in seconds.
    pub learned_for: i64,
}

impl Default for OfflinePins {
    fn default() -> Self {
        Self {
            max_bcrypt_cost: 12,
            learn: LearnPins::Listed,
            learned_for: 90 * 86_400,
        }
    }
}

/// What a door does when its list has expired and the network is down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenExpired {
    /// No offline entry at all.
    Deny,
    /// Use the expired list for this many more seconds, logging every use.
    Grace(i64),
}

/// The validated `[allowlist]`.
#[derive(Debug, Clone)]
pub struct AllowlistSettings {
    /// Base URL (ends with `/`), if the device fetches lists itself.
    pub url: Option<String>,
    /// TLS for fetching.
    pub tls: TlsSettings,
    /// The store directory.
    pub store: PathBuf,
    /// The card key.
    pub card_key: CardKey,
    /// Keys, revocations, scopes.
    pub anchors: Anchors,
    /// The expired-list policy.
    pub when_expired: WhenExpired,
    /// PIN lockout.
    pub guard: GuardPolicy,
    /// Download timeout.
    pub timeout: Duration,
    /// Largest list in bytes.
    pub max_list_bytes: u64,
    /// Store cache in bytes.
    pub cache_bytes: u64,
    /// bcrypt ceiling and learned PINs.
    pub pins: OfflinePins,
}

/// A file holding an `[allowlist]` table (and perhaps others).
#[derive(Debug, Deserialize)]
pub struct RawAllowlistFile {
    /// The table.
    pub allowlist: RawAllowlist,
}

/// Reads and validates the `[allowlist]` table of a file; other tables are ignored.
pub fn load(path: &Path) -> Result<AllowlistSettings, ConfigError> {
    #[derive(Deserialize)]
    struct Any {
        allowlist: Option<RawAllowlist>,
    }
    let raw: Any = crate::load(path)?;
    raw.allowlist
        .ok_or_else(|| {
            ConfigError::invalid(path, "allowlist", "missing; expected an [allowlist] table")
        })?
        .validate(path)
}

/// One line for `check-config` about the card key of the file at `path`: in clear on disk, or
/// sealed by the TPM (unsealed again, timed). `None` when the file has no `[allowlist]` table.
pub fn card_key_line(path: &Path) -> Option<String> {
    #[derive(Deserialize)]
    struct Any {
        allowlist: Option<RawAllowlist>,
    }
    let raw = crate::load::<Any>(path).ok()?.allowlist?;
    let started = std::time::Instant::now();
    Some(match raw.card_key(path) {
        Ok((_, CardKeySource::Sealed { path, tcti })) => format!(
            "card key: sealed by the TPM at {tcti} ({}); unsealed in {} ms",
            path.display(),
            started.elapsed().as_millis()
        ),
        Ok((_, CardKeySource::Clear(key))) => format!(
            "card key: in clear in {} (0600): whoever holds the SD card holds it; \
             `omatoimi-provision … --tpm` seals it to a TPM",
            key.display()
        ),
        Err(e) => format!("card key: {e}"),
    })
}

/// The device's one wrong-PIN lockout: `[allowlist] max_pin_failures` and `lockout_minutes`,
/// over the library system's answers and the list's alike. Older configurations set it in the
/// device's own table (`[door]`, `[kiosk]`) as well, under the same names: such a value is read
/// as the one setting when `[allowlist]` does not give it, and is an error when `[allowlist]`
/// gives another. `list` is the device's `[allowlist]`, if it has one (a kiosk that lends only
/// online has none, and sets the lockout in its own table); `device` names the device's table.
/// Returns the policy and the keys read from the device's table where `[allowlist]` is their
/// place (for a warning that they moved).
pub fn one_lockout(
    file: &Path,
    list: Option<&RawAllowlist>,
    device: &str,
    max_pin_failures: Option<u32>,
    lockout_minutes: Option<u32>,
) -> Result<(GuardPolicy, Vec<String>), ConfigError> {
    let mut moved = vec![];
    let mut one = |name: &str,
                   older: Option<u32>,
                   listed: Option<u32>,
                   default: u32,
                   range: std::ops::RangeInclusive<u32>| {
        let value = match (older, listed) {
            (Some(a), Some(b)) if a != b => {
                return Err(ConfigError::invalid(
                    file,
                    format!("{device}.{name}"),
                    format!(
                        "{a}, but allowlist.{name} is {b}: the wrong-PIN lockout is one setting \
                         for the device, kept in [allowlist]; remove this one"
                    ),
                ));
            }
            (Some(a), listed) => {
                if list.is_some() {
                    moved.push(format!("{device}.{name}"));
                }
                listed.unwrap_or(a)
            }
            (None, listed) => listed.unwrap_or(default),
        };
        // An error names the key the value came from.
        let table = if older.is_some() { device } else { "allowlist" };
        if !range.contains(&value) {
            return Err(ConfigError::invalid(
                file,
                format!("{table}.{name}"),
                format!("{value}; expected {} to {}", range.start(), range.end()),
            ));
        }
        Ok(value)
    };
    let failures = one(
        "max_pin_failures",
        max_pin_failures,
        list.and_then(|l| l.max_pin_failures),
        5,
        1..=20,
    )?;
    let minutes = one(
        "lockout_minutes",
        lockout_minutes,
        list.and_then(|l| l.lockout_minutes),
        15,
        1..=1440,
    )?;
    Ok((
        GuardPolicy {
            max_failures: failures,
            window: i64::from(minutes) * 60,
            lockout: i64::from(minutes) * 60,
        },
        moved,
    ))
}

/// Where a device's card key is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardKeySource {
    /// In clear, in this file (0600).
    Clear(PathBuf),
    /// In this file, sealed by the TPM at this TCTI.
    Sealed {
        /// The sealed file.
        path: PathBuf,
        /// The TPM it was unsealed with.
        tcti: String,
    },
}

impl RawAllowlist {
    /// Reads the card key: from a file in clear, or unsealed by the box's TPM from a sealed
    /// file. Either file must not be readable by others. Nothing is logged: the key, clear or
    /// unsealed, goes nowhere but the returned value.
    pub fn card_key(&self, file: &Path) -> Result<(CardKey, CardKeySource), ConfigError> {
        const KEY: &str = "allowlist.card_key";
        let key_path = resolve(file, &self.card_key);
        crate::check_private(&key_path, file, KEY)?;
        let bytes = std::fs::read(&key_path).map_err(|cause| ConfigError::Read {
            file: key_path.clone(),
            cause,
        })?;
        if !tpm::is_sealed(&bytes) {
            let card_key = std::str::from_utf8(&bytes)
                .ok()
                .and_then(CardKey::from_text)
                .ok_or_else(|| {
                    ConfigError::invalid(
                        file,
                        KEY,
                        format!(
                            "{} does not hold a card key (expected 64 hex digits, or a file \
                             sealed by omatoimi-provision --tpm)",
                            key_path.display()
                        ),
                    )
                })?;
            return Ok((card_key, CardKeySource::Clear(key_path)));
        }
        let tcti = tpm::tcti(self.card_key_tpm.as_deref());
        let chosen_by = if self.card_key_tpm.is_some() {
            "allowlist.card_key_tpm"
        } else if std::env::var_os("TPM2TOOLS_TCTI").is_some() {
            "TPM2TOOLS_TCTI; set allowlist.card_key_tpm to choose another"
        } else {
            "the default; set allowlist.card_key_tpm to choose another"
        };
        let unsealed = tpm::Tpm::new(&tcti).unseal(&bytes).map_err(|e| {
            ConfigError::invalid(
                file,
                KEY,
                format!(
                    "{} is sealed by a TPM and did not unseal with the TPM at {tcti} ({chosen_by}): {e}",
                    key_path.display()
                ),
            )
        })?;
        let card_key = std::str::from_utf8(&unsealed)
            .ok()
            .and_then(CardKey::from_text)
            .ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    KEY,
                    format!(
                        "{} unsealed, but what it holds is not a card key (64 hex digits)",
                        key_path.display()
                    ),
                )
            })?;
        Ok((
            card_key,
            CardKeySource::Sealed {
                path: key_path,
                tcti,
            },
        ))
    }

    /// Validates, reading the card-key file (which must not be readable by others), unsealing
    /// it with the box's TPM when it is sealed.
    pub fn validate(&self, file: &Path) -> Result<AllowlistSettings, ConfigError> {
        let url = match &self.url {
            Some(u) if !u.starts_with("https://") => {
                return Err(ConfigError::invalid(
                    file,
                    "allowlist.url",
                    format!("{u:?}: expected an https:// URL (lists are fetched over TLS only)"),
                ));
            }
            Some(u) => Some(if u.ends_with('/') {
                u.clone()
            } else {
                format!("{u}/")
            }),
            None => None,
        };
        let tls = tls_settings(
            file,
            "allowlist",
            &self.ca,
            &self.client_cert,
            &self.client_key,
        )?;
        let (card_key, _) = self.card_key(file)?;
        if self.keys.is_empty() {
            return Err(ConfigError::invalid(
                file,
                "allowlist.keys",
                "empty; expected at least one publisher key, \"ed25519:<64 hex digits>\"",
            ));
        }
        let keys = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                PublicKey::from_text(k).ok_or_else(|| {
                    ConfigError::invalid(
                        file,
                        format!("allowlist.keys[{i}]"),
                        format!("{k:?}: expected \"ed25519:\" and 64 hex digits"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let revoked = self
            .revoked
            .iter()
            .enumerate()
            .map(|(i, k)| {
                KeyId::from_text(k).ok_or_else(|| {
                    ConfigError::invalid(
                        file,
                        format!("allowlist.revoked[{i}]"),
                        format!("{k:?}: expected a key id, 16 hex digits"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.iter().all(|k| revoked.contains(&k.id())) {
            return Err(ConfigError::invalid(
                file,
                "allowlist.revoked",
                "every pinned key is revoked; pin the new key in `keys` first",
            ));
        }
        if self.scopes.is_empty() || self.scopes.iter().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::invalid(
                file,
                "allowlist.scopes",
                "expected the names this device answers to, e.g. [\"heili\", \"LEMI\"]",
            ));
        }
        let when_expired = match (
            self.when_expired.as_deref().unwrap_or("deny"),
            self.grace_hours,
        ) {
            ("deny", None | Some(0)) => WhenExpired::Deny,
            ("deny", Some(_)) => {
                return Err(ConfigError::invalid(
                    file,
                    "allowlist.grace_hours",
                    "set, but when_expired is \"deny\"; set when_expired = \"grace\" or remove it",
                ));
            }
            ("grace", Some(h)) if (1..=168).contains(&h) => WhenExpired::Grace(i64::from(h) * 3600),
            ("grace", _) => {
                return Err(ConfigError::invalid(
                    file,
                    "allowlist.grace_hours",
                    "with when_expired = \"grace\", expected 1 to 168 hours",
                ));
            }
            (other, _) => {
                return Err(ConfigError::invalid(
                    file,
                    "allowlist.when_expired",
                    format!("{other:?}; expected \"deny\" or \"grace\""),
                ));
            }
        };
        let minutes = self.lockout_minutes.unwrap_or(15);
        if !(1..=1440).contains(&minutes) {
            return Err(ConfigError::invalid(
                file,
                "allowlist.lockout_minutes",
                format!("{minutes}; expected 1 to 1440"),
            ));
        }
        let failures = self.max_pin_failures.unwrap_or(5);
        if !(1..=20).contains(&failures) {
            return Err(ConfigError::invalid(
                file,
                "allowlist.max_pin_failures",
                format!("{failures}; expected 1 to 20"),
            ));
        }
        let pins = self.offline_pins(file)?;
        let skew = self.clock_skew_secs.unwrap_or(300);
        if skew > 3600 {
            return Err(ConfigError::invalid(
                file,
                "allowlist.clock_skew_secs",
                format!("{skew}; expected at most 3600"),
            ));
        }
        Ok(AllowlistSettings {
            url,
            tls,
            store: resolve(file, &self.store),
            anchors: Anchors {
                keys,
                revoked,
                scopes: self.scopes.clone(),
                card_key: card_key.id(),
                clock_skew: i64::from(skew),
            },
            card_key,
            when_expired,
            guard: GuardPolicy {
                max_failures: failures,
                window: i64::from(minutes) * 60,
                lockout: i64::from(minutes) * 60,
            },
            timeout: millis(file, "allowlist.timeout_ms", self.timeout_ms, 60_000)?,
            max_list_bytes: u64::from(self.max_list_mb.unwrap_or(512)) << 20,
            cache_bytes: u64::from(self.cache_mb.unwrap_or(16).max(1)) << 20,
            pins,
        })
    }

    fn offline_pins(&self, file: &Path) -> Result<OfflinePins, ConfigError> {
        let d = OfflinePins::default();
        let max_bcrypt_cost = self.max_bcrypt_cost.unwrap_or(d.max_bcrypt_cost);
        if !(4..=16).contains(&max_bcrypt_cost) {
            return Err(ConfigError::invalid(
                file,
                "allowlist.max_bcrypt_cost",
                format!(
                    "{max_bcrypt_cost}; expected 4 to 16 (each step doubles a check: 12 takes about a second on a Raspberry Pi 4)"
                ),
            ));
        }
        let learn = match self.learn_pins.as_deref() {
            None | Some("listed") => LearnPins::Listed,
            Some("any") => LearnPins::Any,
            Some("off") => LearnPins::Off,
            Some(other) => {
                return Err(ConfigError::invalid(
                    file,
                    "allowlist.learn_pins",
                    format!("{other:?}; expected \"listed\", \"any\" or \"off\""),
                ));
            }
        };
        let days = self.learned_pin_days.unwrap_or(90);
        if !(1..=730).contains(&days) {
            return Err(ConfigError::invalid(
                file,
                "allowlist.learned_pin_days",
                format!("{days}; expected 1 to 730"),
            ));
        }
        Ok(OfflinePins {
            max_bcrypt_cost,
            learn,
            learned_for: i64::from(days) * 86_400,
        })
    }
}
