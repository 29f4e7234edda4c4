//! What the door-agent and the kiosk share with the system around them: systemd's notification
//! protocol, and a health endpoint on localhost in Prometheus' text format.
//!
//! Layout:
//! - [`exit`]: one exit-code scheme for every binary (sysexits(3)), and the code an error ends
//!   the process with.
//! - [`man`]: each binary's man page (`--man`), from its clap definition.
//! - [`notify`]: `READY=1`, `WATCHDOG=1`, `STOPPING=1` to `$NOTIFY_SOCKET`, and the watchdog
//!   interval systemd asked for.
//! - [`gdpr`]: the card number from standard input and private export files, for `export` and
//!   `erase`.
//! - [`fs`]: a private umask, private directories, and the lock and crash-safe swap of a store
//!   rewritten so that what it removed is gone from its files.
//! - [`metrics`]: gauges a daemon sets as it runs, served at `/metrics` (no personal data:
//!   numbers only, no labels that could carry a card).
//! - [`selftest`]: a `selftest` line and the pass/fail table a technician reads.
#![deny(missing_docs)]

pub mod exit;
pub mod fs;
pub mod gdpr;
pub mod logging;
pub mod man;
pub mod metrics;
pub mod notify;
pub mod selftest;

pub use metrics::Metrics;
pub use notify::{notify, watchdog_interval};

/// The users in `passwd` (the text of `/etc/passwd`): name, uid and primary gid.
pub fn users(passwd: &str) -> impl Iterator<Item = (&str, u32, u32)> {
    passwd.lines().filter_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _password = f.next()?;
        Some((name, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Refuses to work in a state directory that belongs to another user: root running a daemon's
/// command on a provisioned box would leave files in it (sled's, the event log's) that the
/// service user then cannot open. A directory not made yet is fine.
pub fn check_state_owner(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() == me {
        return Ok(());
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = users(&passwd)
        .find(|u| u.1 == meta.uid())
        .map_or_else(|| meta.uid().to_string(), |u| u.0.to_owned());
    Err(format!(
        "{} belongs to the user `{name}`: run this as that user (sudo -u {name} …), or the files it makes there would lock the service out",
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_state_directory_of_another_user_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(super::check_state_owner(dir.path()), Ok(()));
        assert_eq!(
            super::check_state_owner(&dir.path().join("not-yet")),
            Ok(())
        );
        let theirs = if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(dir.path(), Some(65534), None).expect("chown");
            dir.path().to_owned()
        } else {
            std::path::PathBuf::from("/")
        };
        let e = super::check_state_owner(&theirs).expect_err("refused");
        assert!(e.contains("sudo -u"), "{e}");
    }
}
