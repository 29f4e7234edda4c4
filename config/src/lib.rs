//! The typed configuration of our daemons and tools, read from TOML in two stages: a raw stage
//! that serde fills with no work done, then validation into the types the code uses, with errors
//! that name the file, the key and what was expected. It does no other I/O than reading the file.
//!
//! Layout:
//! - [`load`]: reading a TOML file into any raw type, and [`ConfigError`].
//! - [`sip2`]: a SIP2 dialect: a preset with per-setting overrides.
//! - [`allowlist`]: the `[allowlist]` table: where the signed offline list comes from, the keys
//!   and scope a device trusts, and what a door does when the list has expired.
//! - [`registry`]: the `[registry]` table: backend, addresses, TLS, credentials, timeouts, and
//!   how patron replies map to facts.
//! - [`warnings`]: valid but risky settings, for `check-config`.
#![deny(missing_docs)]

pub mod allowlist;
pub mod console;
pub mod registry;
pub mod sip2;
pub mod warnings;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration problem, with where it is and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {cause}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not valid TOML, or a key has the wrong type or is unknown.
    #[error("{}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// The parser's message, which names the line, column and key.
        message: String,
    },
    /// A key has a value of the right type that is still not allowed.
    #[error("{}: key `{key}`: {problem}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// The dotted key.
        key: String,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// Several problems in one file, each named (a technician fixes them in one go).
    #[error("{}: {} problems:{}", file.display(), problems.len(), list(problems))]
    Several {
        /// The file.
        file: PathBuf,
        /// Each problem.
        problems: Vec<ConfigError>,
    },
}

/// Each problem on a line of its own, without the file's name again.
fn list(problems: &[ConfigError]) -> String {
    problems
        .iter()
        .map(|p| match p {
            ConfigError::Invalid { key, problem, .. } => format!("\n  - key `{key}`: {problem}"),
            other => format!("\n  - {other}"),
        })
        .collect()
}

/// The problems found in one file, gathered so that all are named at once rather than one per
/// run: each table's validation goes through [`Problems::check`], then [`Problems::finish`].
#[derive(Debug)]
pub struct Problems {
    file: PathBuf,
    found: Vec<ConfigError>,
}

impl Problems {
    /// None found yet in `file`.
    pub fn new(file: &Path) -> Self {
        Self {
            file: file.to_owned(),
            found: Vec::new(),
        }
    }

    /// The value, or `None` with the problem kept.
    pub fn check<T>(&mut self, r: Result<T, ConfigError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(ConfigError::Several { problems, .. }) => {
                self.found.extend(problems);
                None
            }
            Err(e) => {
                self.found.push(e);
                None
            }
        }
    }

    /// Keeps a problem found directly.
    pub fn add(&mut self, e: ConfigError) {
        self.found.push(e);
    }

    /// Ok when none was found; the one problem; or all of them.
    pub fn finish(mut self) -> Result<(), ConfigError> {
        match self.found.len() {
            0 => Ok(()),
            1 => Err(self.found.remove(0)),
            _ => Err(ConfigError::Several {
                file: self.file,
                problems: self.found,
            }),
        }
    }
}

impl ConfigError {
    /// An invalid value of `key` in `file`.
    pub fn invalid(file: &Path, key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            file: file.to_owned(),
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Reads `path` as TOML into the raw type `T`.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        file: path.to_owned(),
        cause,
    })?;
    parse(path, &text)
}

/// Parses `text` as TOML into `T`, reporting errors against `path`.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Syntax {
        file: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })
}

/// Refuses a secret file (named by `key` in `config`) that others may read.
pub fn check_private(path: &Path, config: &Path, key: &str) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|cause| ConfigError::Read {
        file: path.to_owned(),
        cause,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::invalid(
                config,
                key,
                format!(
                    "{} has mode {mode:04o}, readable by others; expected 0600 (chmod 600 it)",
                    path.display()
                ),
            ));
        }
    }
    let _ = meta;
    Ok(())
}

/// A loopback `address:port` at `key` (a daemon's health endpoint listens on nothing else).
pub fn loopback_address(
    file: &Path,
    key: &str,
    text: &str,
) -> Result<std::net::SocketAddr, ConfigError> {
    let addr: std::net::SocketAddr = text.parse().map_err(|_| {
        ConfigError::invalid(
            file,
            key,
            "expected a loopback address and port, e.g. \"127.0.0.1:9464\"",
        )
    })?;
    if !addr.ip().is_loopback() {
        return Err(ConfigError::invalid(
            file,
            key,
            "the health endpoint listens on loopback only (127.0.0.1 or ::1)",
        ));
    }
    Ok(addr)
}
