//! Key files: signing keys, the card-hashing key and the publisher's own secret, each a line of
//! text in a file only its owner may read.

use std::io::Write;
use std::path::{Path, PathBuf};

use allowlist::{CardKey, SigningKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::{PublishError, io};

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], PublishError> {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| PublishError::Options("the system's random source failed".into()))?;
    Ok(b)
}

/// Writes `text` to `path` with mode 0600, atomically (a temporary file renamed into place).
pub fn write_secret(path: &Path, text: &str) -> Result<(), PublishError> {
    write_atomic(path, text.as_bytes(), 0o600)
}

/// Writes `bytes` to `path` atomically with `mode`: readers see the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PublishError> {
    let tmp = tmp_name(path);
    {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(mode);
        }
        let _ = mode;
        let mut f = o.open(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn tmp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Reads a secret file, refusing one that others may read.
pub fn read_secret(path: &Path) -> Result<String, PublishError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PublishError::BadFile {
                path: path.to_owned(),
                problem: format!(
                    "mode {mode:04o} lets others read it; expected 0600 (chmod 600 it)"
                ),
            });
        }
    }
    let _ = meta;
    std::fs::read_to_string(path).map_err(io(path))
}

/// Reads a signing key file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, PublishError> {
    SigningKey::from_text(&read_secret(path)?).ok_or_else(|| PublishError::BadFile {
        path: path.to_owned(),
        problem: "not a signing key (expected `ed25519-seed:` and 64 hex digits)".into(),
    })
}

/// Reads a card-key file.
pub fn read_card_key(path: &Path) -> Result<CardKey, PublishError> {
    CardKey::from_text(&read_secret(path)?).ok_or_else(|| PublishError::BadFile {
        path: path.to_owned(),
        problem: "not a card key (expected 64 hex digits)".into(),
    })
}

/// Makes a new signing key in `dir`: `signing-<id>.key` (0600) and `signing-<id>.pub`.
/// Returns the key and the two paths.
pub fn new_signing_key(dir: &Path) -> Result<(SigningKey, PathBuf, PathBuf), PublishError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let key = SigningKey::from_seed(random()?)
        .ok_or_else(|| PublishError::Options("Ed25519 refused a random seed".into()))?;
    let id = key.public().id();
    let private = dir.join(format!("signing-{id}.key"));
    let public = dir.join(format!("signing-{id}.pub"));
    write_secret(&private, &key.to_text())?;
    write_atomic(&public, format!("{}\n", key.public()).as_bytes(), 0o644)?;
    Ok((key, private, public))
}

/// Makes a new card-hashing key at `path` (0600), unless one is there (it is never overwritten:
/// a new card key makes every device's list useless until each gets the new key).
pub fn new_card_key(path: &Path) -> Result<CardKey, PublishError> {
    if path.exists() {
        return Err(PublishError::Options(format!(
            "{} exists; a card key is never overwritten (every device would need the new one)",
            path.display()
        )));
    }
    let key = CardKey::new(random()?);
    write_secret(path, &format!("{}\n", key.to_text()))?;
    Ok(key)
}
