//! `[console]`: where a door or kiosk reports to the library's console. Absent, the device works
//! exactly as without a console.
//!
//! ```toml
//! [console]
//! url = "https://console.heili.example:8443/"
//! # The console's CA (pinned; the system's roots are not used).
//! ca = "console-ca.pem"
//! # The device certificate and key omatoimi-provision made (mutual TLS: required).
//! client_cert = "device.pem"
//! client_key = "device-key.pem"
//! # What waits to be delivered (default: `console-outbox` in the state directory).
//! outbox = "/var/lib/omatoimi/console-outbox"
//! # A status snapshot every this many seconds (5-300, default 15).
//! status_secs = 15
//! # The outbox's bound on disk (1-1024 MB, default 64): past it, old status snapshots go
//! # first, then routine events; entries, denials, alarms and loans never.
//! outbox_max_mb = 64
//! # The console's policy key(s), as `omatoimi-central policy-key` printed them: the branch's
//! # calendar comes from the console in bundles signed by one of these (none: the file's
//! # `[hours]` only). A key listed in `policy_revoked` no longer counts.
//! policy_keys = ["ed25519:…"]
//! policy_revoked = []
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;
use crate::registry::TlsSettings;

/// `[console]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    url: String,
    ca: PathBuf,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    outbox: Option<PathBuf>,
    status_secs: Option<u64>,
    outbox_max_mb: Option<u64>,
    #[serde(default)]
    policy_keys: Vec<String>,
    #[serde(default)]
    policy_revoked: Vec<String>,
}

/// A validated `[console]`.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// The console's device listener (`https://…`).
    pub url: String,
    /// Its CA pinned, the device's certificate presented.
    pub tls: TlsSettings,
    /// The outbox's directory.
    pub outbox: PathBuf,
    /// How often a status snapshot is taken.
    pub status_every: Duration,
    /// The outbox's bound.
    pub outbox_max_bytes: u64,
    /// The console's keys for policy bundles and commands; empty: none are taken.
    pub policy_keys: Vec<allowlist::PublicKey>,
    /// Keys whose signatures no longer count.
    pub policy_revoked: Vec<allowlist::KeyId>,
}

impl RawConsole {
    /// Checks the table of `file`; `state_dir` holds the outbox unless it is named.
    pub fn validate(&self, file: &Path, state_dir: &Path) -> Result<ConsoleSettings, ConfigError> {
        let bad = |key: &str, problem: String| {
            ConfigError::invalid(file, format!("console.{key}"), problem)
        };
        if !self.url.starts_with("https://") {
            return Err(bad(
                "url",
                format!(
                    "{:?}: the console is reached over HTTPS only (https://HOST:PORT/)",
                    self.url
                ),
            ));
        }
        let tls = crate::registry::tls_settings(
            file,
            "console",
            &Some(self.ca.clone()),
            &self.client_cert,
            &self.client_key,
        )?;
        if tls.client_identity.is_none() {
            return Err(bad(
                "client_cert",
                "the console knows a device by its certificate: name the device certificate and key omatoimi-provision made (client_cert, client_key)".into(),
            ));
        }
        let status_secs = self.status_secs.unwrap_or(15);
        if !(5..=300).contains(&status_secs) {
            return Err(bad(
                "status_secs",
                format!("{status_secs}: between 5 and 300"),
            ));
        }
        let mb = self.outbox_max_mb.unwrap_or(64);
        if !(1..=1024).contains(&mb) {
            return Err(bad("outbox_max_mb", format!("{mb}: between 1 and 1024")));
        }
        let mut policy_keys = vec![];
        for (i, k) in self.policy_keys.iter().enumerate() {
            policy_keys.push(allowlist::PublicKey::from_text(k).ok_or_else(|| {
                bad(
                    &format!("policy_keys[{i}]"),
                    format!("{k:?}: expected ed25519:<64 hex digits>, as `omatoimi-central policy-key` prints it"),
                )
            })?);
        }
        let mut policy_revoked = vec![];
        for (i, k) in self.policy_revoked.iter().enumerate() {
            let id = allowlist::PublicKey::from_text(k)
                .map(|p| p.id())
                .or_else(|| allowlist::KeyId::from_text(k));
            policy_revoked.push(id.ok_or_else(|| {
                bad(
                    &format!("policy_revoked[{i}]"),
                    format!("{k:?}: expected a key (ed25519:…) or its id (16 hex digits)"),
                )
            })?);
        }
        let dir = file.parent().unwrap_or(Path::new("."));
        Ok(ConsoleSettings {
            policy_keys,
            policy_revoked,
            url: self.url.clone(),
            tls,
            outbox: self
                .outbox
                .as_ref()
                .map_or_else(|| state_dir.join("console-outbox"), |o| dir.join(o)),
            status_every: Duration::from_secs(status_secs),
            outbox_max_bytes: mb << 20,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    use std::os::unix::fs::PermissionsExt;

    /// The table in a door.toml of a temporary directory holding the files it names.
    fn parse(text: &str) -> (tempfile::TempDir, Result<ConsoleSettings, ConfigError>) {
        let tmp = tempfile::tempdir().unwrap();
        for f in ["ca.pem", "device.pem", "device-key.pem"] {
            std::fs::write(tmp.path().join(f), "-----BEGIN CERTIFICATE-----\n").unwrap();
        }
        std::fs::set_permissions(
            tmp.path().join("device-key.pem"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let raw: RawConsole = toml::from_str(text).unwrap();
        let file = tmp.path().join("door.toml");
        let r = raw.validate(&file, &tmp.path().join("state"));
        (tmp, r)
    }

    #[test]
    fn a_console_table_reads_with_its_defaults() {
        let (tmp, s) = parse(
            "url = \"https://c:8443/\"\nca = \"ca.pem\"\nclient_cert = \"device.pem\"\nclient_key = \"device-key.pem\"\n",
        );
        let s = s.unwrap();
        assert_eq!(s.outbox, tmp.path().join("state/console-outbox"));
        assert_eq!(s.status_every, Duration::from_secs(15));
        assert_eq!(s.outbox_max_bytes, 64 << 20);
        assert_eq!(s.tls.ca, Some(tmp.path().join("ca.pem")));
    }

    #[test]
    fn plain_http_no_device_certificate_or_odd_figures_are_refused_with_the_key() {
        for (text, key) in [
            (
                "url = \"http://c/\"\nca = \"ca.pem\"\nclient_cert = \"device.pem\"\nclient_key = \"device-key.pem\"",
                "console.url",
            ),
            (
                "url = \"https://c/\"\nca = \"ca.pem\"",
                "console.client_cert",
            ),
            (
                "url = \"https://c/\"\nca = \"ca.pem\"\nclient_cert = \"device.pem\"\nclient_key = \"device-key.pem\"\nstatus_secs = 1",
                "console.status_secs",
            ),
            (
                "url = \"https://c/\"\nca = \"ca.pem\"\nclient_cert = \"device.pem\"\nclient_key = \"device-key.pem\"\noutbox_max_mb = 0",
                "console.outbox_max_mb",
            ),
        ] {
            let e = parse(text).1.unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
