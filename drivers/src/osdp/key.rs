//! A reader's secure channel base key in a file: 32 hex digits (a line end allowed), mode 0600,
//! written by the technician's provisioning when it pairs the reader. The install key SCBK-D is
//! refused here: it opens a channel anyone can open, and is for the pairing step alone. Errors
//! name the file and what was wrong, never a key byte.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use osdp_cp::Scbk;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// It cannot be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// Others than its owner may read it.
    #[error(
        "{path}: mode {mode:o}: a reader's key must be readable by its owner alone (chmod 600)"
    )]
    Mode {
        /// The file.
        path: String,
        /// Its mode.
        mode: u32,
    },
    /// It does not hold a key.
    #[error("{path}: {problem}")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// It holds the install key.
    #[error(
        "{path}: this is the install key SCBK-D, which is for pairing alone: pair the reader to give it a key of its own"
    )]
    InstallKey {
        /// The file.
        path: String,
    },
}

/// Reads the key at `path`.
pub fn read_key(path: &Path) -> Result<Scbk, KeyError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| KeyError::Io {
        path: name.clone(),
        cause: e.to_string(),
    };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::Mode {
            path: name,
            mode: mode & 0o777,
        });
    }
    let text = std::fs::read(path).map_err(io)?;
    let key = parse(&text).map_err(|problem| KeyError::Malformed {
        path: name.clone(),
        problem,
    })?;
    if key.is_default() {
        return Err(KeyError::InstallKey { path: name });
    }
    Ok(key)
}

/// Writes `key` to `path`, created with mode 0600 (replaced if it exists).
pub fn write_key(path: &Path, key: &Scbk) -> Result<(), KeyError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| KeyError::Io {
        path: name.clone(),
        cause: e.to_string(),
    };
    let tmp = path.with_extension("new");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    f.write_all(encode(key).as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The key file's text: 32 hex digits and a line end.
pub fn encode(key: &Scbk) -> String {
    let hex: String = key.0.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}\n")
}

/// A new random key (from the system's CSPRNG).
pub fn new_key() -> Result<Scbk, KeyError> {
    let mut k = [0u8; 16];
    getrandom::getrandom(&mut k).map_err(|e| KeyError::Io {
        path: "the system's random source".into(),
        cause: e.to_string(),
    })?;
    Ok(Scbk(k))
}

fn parse(text: &[u8]) -> Result<Scbk, String> {
    let t = std::str::from_utf8(text).map_err(|_| "not text: 32 hex digits expected".to_owned())?;
    let t = t.trim();
    if t.len() != 32 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "{} characters: 32 hex digits expected",
            t.chars().count()
        ));
    }
    let mut k = [0u8; 16];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| "not hex".to_owned())?;
    }
    Ok(Scbk(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_written_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reader.key");
        let key = new_key().unwrap();
        write_key(&path, &key).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_key(&path).unwrap(), key);
    }

    #[test]
    fn open_modes_malformed_keys_and_the_install_key_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reader.key");
        let secret = "0123456789abcdef0123456789abcdef";
        std::fs::write(&path, secret).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_key(&path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_key(&path).is_ok());
        for bad in [
            "0123456789abcdef",
            "0123456789abcdefg123456789abcdef",
            "\u{ff}",
        ] {
            std::fs::write(&path, bad).unwrap();
            let e = read_key(&path).unwrap_err().to_string();
            assert!(e.contains("32 hex digits") && !e.contains("0123"), "{e}");
        }
        std::fs::write(&path, "303132333435363738393a3b3c3d3e3f\n").unwrap();
        let e = read_key(&path).unwrap_err().to_string();
        assert!(e.contains("SCBK-D"), "{e}");
        assert!(read_key(&dir.path().join("none")).is_err());
    }
}
