//! The allow-list publisher: reads the library system's patron export, keeps its own state so
//! that a patron whose PIN has not changed keeps the verifier made for it last time, spreads new
//! argon2id verifiers across cores, and writes signed full lists, deltas and a head file into a
//! directory any HTTPS server can serve.
//!
//! Layout:
//! - [`export`]: the patron export format (JSON Lines) and its reader.
//! - [`koha`]: the patrons read straight from a Koha database instead of an export.
//! - [`secrets`]: key files: generating, writing (mode 0600) and reading them.
//! - [`state`]: the publisher's memory of verifiers, keyed by card hash and PIN fingerprint.
//! - [`journal`]: verifiers kept as they are made, so an interrupted run is resumed.
//! - [`build`]: one publication: entries, verifiers, the full list, deltas and the head.
#![deny(missing_docs)]

pub mod build;
pub mod export;
pub mod journal;
pub mod koha;
pub mod secrets;
pub mod state;

pub use build::{Options, Publication, Source, publish};

/// Why a publication failed. Nothing in the output directory changes when it does.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// A file could not be read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The export is not usable as a whole.
    #[error("{}: {problem}", path.display())]
    Export {
        /// The export file.
        path: std::path::PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A key or state file is damaged or of the wrong kind.
    #[error("{}: {problem}", path.display())]
    BadFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The options do not make sense.
    #[error("{0}")]
    Options(String),
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |cause| PublishError::Io {
        path: path.to_owned(),
        cause,
    }
}
