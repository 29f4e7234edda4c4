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
        Ok(Self {
            metrics,
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
}
