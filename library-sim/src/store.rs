//! The simulator's state on disk: one JSON file, replaced atomically (write a temporary file,
//! flush it, rename it over the old one, flush the directory), so a crash leaves the old state or
//! the new one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::circulation::State;

/// Where the state lives.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

/// A state file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The file is not a state this simulator wrote.
    #[error("{}: not a simulator state file: {cause}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: serde_json::Error,
    },
}

impl Store {
    /// The store in `dir` (file `state.json`).
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join("state.json"),
        }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, or `None` on a first start.
    pub fn load(&self) -> Result<Option<State>, StoreError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => {
                return Err(StoreError::Io {
                    path: self.path.clone(),
                    cause,
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|cause| StoreError::Corrupt {
                path: self.path.clone(),
                cause,
            })
    }

    /// Replaces the saved state.
    pub fn save(&self, state: &State) -> Result<(), StoreError> {
        let io = |cause| StoreError::Io {
            path: self.path.clone(),
            cause,
        };
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| io(std::io::Error::other(e)))?;
        let tmp = self.path.with_extension("json.tmp");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode_private()
            .open(&tmp)
            .map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(io)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

/// Files holding patron data or keys are readable by their owner only.
pub(crate) trait PrivateMode {
    fn mode_private(&mut self) -> &mut Self;
}

impl PrivateMode for OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_loads_back_and_a_first_start_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert_eq!(store.load().unwrap(), None);
        let mut state = State::default();
        state.fines.insert("card".into(), 120);
        store.save(&state).unwrap();
        assert_eq!(store.load().unwrap(), Some(state));
        assert!(!dir.path().join("state.json.tmp").exists());
    }

    #[test]
    fn a_corrupt_state_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        fs::write(store.path(), b"{ not json").unwrap();
        let e = store.load().unwrap_err().to_string();
        assert!(
            e.contains("state.json") && e.contains("not a simulator state file"),
            "{e}"
        );
    }
}
