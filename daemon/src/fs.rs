//! The daemons' files: private whatever the umask they were started with, and stores whose
//! removals take the bytes with them.
//!
//! sled 0.34 is log-structured: a removed key's value stays readable in the database file until
//! its segment happens to be reused, so "removed" is not "gone". A store that must forget
//! (erasure, retention, a delivered loan) is therefore rewritten: the survivors are copied into
//! a fresh database beside it (`<dir>.new`), made durable, and swapped in by two renames
//! (`<dir>` to `<dir>.old`, `<dir>.new` to `<dir>`), after which the old one is deleted. A crash
//! at any step leaves the old store or the new one whole, and [`recover`] finishes or rolls back
//! what it finds at the next open. [`lock`] keeps a second process (the daemon and a staff
//! command) out of a store for as long as one has it open, so no one opens a half-swapped store.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Files and directories this process creates from now on are its user's only (umask 077), as
/// the systemd units' `UMask=0077` does; for a technician running a command by hand. Returns
/// the mask it replaced.
pub fn private_umask() -> u32 {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077)).as_raw_mode()
}

/// Creates `dir` and any missing parents with mode 0700, and makes `dir` itself 0700 if it
/// existed with a wider mode.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| named(dir, "cannot create", e))?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| named(dir, "cannot make private", e))?;
    }
    Ok(())
}

fn named(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {what}: {e}", path.display()))
}

/// `<dir><suffix>`, beside `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dir.with_file_name(name)
}

/// An exclusive hold on a store (`<dir>.lock`, 0600) for as long as it lives.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

/// How long [`lock`] waits for a hold that may be ending.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes the store at `dir` for this process, or fails with [`io::ErrorKind::WouldBlock`] when
/// another process has it. A hold this process has just let go of can outlive its close for a
/// moment: a child forked by another thread in that moment shares the lock file until its exec
/// closes it (found as a test reopening a queue while other tests started processes), so a hold
/// is waited out for up to half a second before it is taken for another process's.
pub fn lock(dir: &Path) -> io::Result<DirLock> {
    let path = sibling(dir, ".lock");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| named(&path, "cannot open", e))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(DirLock { _file: file }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if std::time::Instant::now() >= deadline {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("{} is in use by another process", dir.display()),
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(e) => return Err(named(&path, "cannot lock", e.into())),
        }
    }
}

/// Opens a sled database as `config` says, waiting up to two seconds while sled's own lock on
/// it is still held. sled releases that lock from a background flusher after the last handle is
/// dropped, so a store closed and opened again within one process (a task restarted, a rewrite
/// swapped in, a test) can find it held for a moment by nobody who will keep it. Another
/// process's hold ends the wait with the same error, two seconds later (the stores that take
/// [`lock`] first rule that out).
pub fn open_sled(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match config.open() {
            // sled 0.34 reports its lock as an I/O error of kind `Other` with these words.
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Bytes free for this user on the file system holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let v = rustix::fs::statvfs(path)?;
    Ok(v.f_bavail.saturating_mul(v.f_frsize))
}

/// Whether `dir` takes a new file durably: one is written, synced and removed again.
pub fn writable(dir: &Path) -> io::Result<()> {
    let probe = dir.join(".writable-probe");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)?;
    io::Write::write_all(&mut f, b"probe")?;
    let synced = f.sync_all();
    let removed = std::fs::remove_file(&probe);
    synced.and(removed)
}

/// Whether `needle` is in the raw bytes of any file under `dir` (recursively): how erasure is
/// checked, on the files themselves rather than through the store that wrote them.
pub fn holds_bytes(dir: &Path, needle: &[u8]) -> io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let found = if path.is_dir() {
            holds_bytes(&path, needle)?
        } else {
            std::fs::read(&path)?
                .windows(needle.len().max(1))
                .any(|w| w == needle)
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Finishes or rolls back a swap a crash interrupted (call it holding [`lock`], before opening
/// `dir`). `<dir>` is the store when it exists: a `<dir>.new` beside it was not swapped in yet,
/// and a `<dir>.old` was already swapped out. Without `<dir>`, the crash came between the two
/// renames, when `<dir>.new` was already durable: it is the store.
pub fn recover(dir: &Path) -> io::Result<()> {
    let (new, old) = (sibling(dir, ".new"), sibling(dir, ".old"));
    if !dir.exists() {
        if new.exists() {
            std::fs::rename(&new, dir).map_err(|e| named(&new, "cannot swap in", e))?;
        } else if old.exists() {
            std::fs::rename(&old, dir).map_err(|e| named(&old, "cannot restore", e))?;
        }
        sync_parent(dir)?;
    }
    for leftover in [new, old] {
        if leftover.exists() {
            std::fs::remove_dir_all(&leftover).map_err(|e| named(&leftover, "cannot remove", e))?;
        }
    }
    Ok(())
}

/// Whether there is a store at `dir`, counting one a crash left halfway through a swap (only
/// `<dir>.new` and `<dir>.old` there), which [`recover`] finishes at the next open.
pub fn store_exists(dir: &Path) -> bool {
    dir.exists() || sibling(dir, ".new").exists() || sibling(dir, ".old").exists()
}

/// A fresh, empty, private directory beside `dir` to build its replacement in.
pub fn staging(dir: &Path) -> io::Result<PathBuf> {
    let new = sibling(dir, ".new");
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(|e| named(&new, "cannot remove", e))?;
    }
    create_private_dir(&new)?;
    Ok(new)
}

/// Makes the replacement built in [`staging`] durable and private (0600 files, 0700
/// directories), puts it in the place of `dir`, and deletes the old store. The store using
/// either must be closed.
pub fn swap_in(dir: &Path) -> io::Result<()> {
    let (new, old) = (sibling(dir, ".new"), sibling(dir, ".old"));
    sync_tree(&new)?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| named(&old, "cannot remove", e))?;
    }
    std::fs::rename(dir, &old).map_err(|e| named(dir, "cannot swap out", e))?;
    sync_parent(dir)?;
    std::fs::rename(&new, dir).map_err(|e| named(&new, "cannot swap in", e))?;
    sync_parent(dir)?;
    std::fs::remove_dir_all(&old).map_err(|e| named(&old, "cannot remove", e))?;
    sync_parent(dir)
}

/// [`swap_in`], then the store opened again from whichever of the old and the new is whole
/// ([`recover`] after a swap that failed halfway): the reopened store, and how the swap went.
/// `fail` turns this module's I/O errors into the caller's.
pub fn swap_in_and_reopen<T, E>(
    dir: &Path,
    open: impl FnOnce(&Path) -> Result<T, E>,
    fail: impl Fn(io::Error) -> E,
) -> Result<(T, Result<(), E>), E> {
    let swapped = swap_in(dir).map_err(&fail);
    recover(dir).map_err(&fail)?;
    Ok((open(dir)?, swapped))
}

fn sync_parent(dir: &Path) -> io::Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| named(parent, "cannot sync", e))
}

/// Every file under `dir` made 0600 and synced, every directory 0700 and synced.
fn sync_tree(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| named(dir, "cannot read", e))? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            sync_tree(&path)?;
        } else if meta.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| named(&path, "cannot sync", e))?;
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| named(dir, "cannot sync", e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn put(dir: &Path, text: &str) {
        create_private_dir(dir).unwrap();
        std::fs::write(dir.join("data"), text).unwrap();
    }

    fn read(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("data")).unwrap()
    }

    #[test]
    fn a_swap_replaces_the_store_and_leaves_nothing_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        put(&dir, "old");
        let new = staging(&dir).unwrap();
        put(&new, "new");
        swap_in(&dir).unwrap();
        assert_eq!(read(&dir), "new");
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["store"]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&dir.join("data"))), (0o700, 0o600));
    }

    #[test]
    fn a_crash_at_each_step_of_a_swap_leaves_the_old_store_or_the_new_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let (new, old) = (sibling(&dir, ".new"), sibling(&dir, ".old"));
        // While the replacement is being built: the old one.
        put(&dir, "old");
        put(&new, "half");
        recover(&dir).unwrap();
        assert_eq!(read(&dir), "old");
        assert!(!new.exists());
        // Between the renames: the new one, which was durable before the first.
        std::fs::rename(&dir, &old).unwrap();
        put(&new, "new");
        assert!(store_exists(&dir));
        recover(&dir).unwrap();
        assert_eq!(read(&dir), "new");
        assert!(!old.exists() && !new.exists());
        // Before the old one was deleted (or halfway through): the new one.
        put(&old, "old");
        recover(&dir).unwrap();
        assert_eq!(read(&dir), "new");
        assert!(!old.exists());
    }

    #[test]
    fn a_locked_store_is_refused_to_a_second_holder_until_released() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let held = lock(&dir).unwrap();
        // flock locks belong to the open file, so a second open in this process conflicts as
        // another process's would.
        let e = lock(&dir).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(e.to_string().contains("in use"), "{e}");
        drop(held);
        lock(&dir).unwrap();
    }

    #[test]
    fn a_hold_let_go_of_while_waiting_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let held = lock(&dir).unwrap();
        // Let go of 50 ms from now, as a forked child's copy of the file goes at its exec.
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(held);
        });
        let t = std::time::Instant::now();
        lock(&dir).unwrap();
        assert!(t.elapsed() < LOCK_WAIT, "{:?}", t.elapsed());
        letting_go.join().unwrap();
    }

    #[test]
    fn a_private_umask_makes_new_files_their_owners_only() {
        // The mask is per process: set it back so other tests see what they started with.
        let before = private_umask();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("f"), "x").unwrap();
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(before));
        let mode = |p: &str| {
            std::fs::metadata(tmp.path().join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!((mode("d"), mode("f")), (0o700, 0o600));
    }
}

/// A small private file of records, rewritten whole at every change so that a removed record
/// leaves no bytes (the PIN-failure records, the learned PIN verifiers): opened with
/// [`open_record_file`], replaced with [`replace_record_file`]. Holds `dir` against other
/// processes while it lives.
#[derive(Debug)]
pub struct RecordFile {
    dir: PathBuf,
    name: &'static str,
    _lock: DirLock,
}

/// Opens (or creates, private to this user) the directory `dir` holding the record file `name`,
/// takes it for this process, deletes a `<name>.new` a crash left half written, and returns the
/// file's bytes (`None` when there is none yet).
pub fn open_record_file(
    dir: &Path,
    name: &'static str,
) -> io::Result<(RecordFile, Option<Vec<u8>>)> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let lock = lock(dir)?;
    create_private_dir(dir)?;
    let new = dir.join(format!("{name}.new"));
    if new.exists() {
        std::fs::remove_file(&new)?;
    }
    let bytes = match std::fs::read(dir.join(name)) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    Ok((
        RecordFile {
            dir: dir.to_owned(),
            name,
            _lock: lock,
        },
        bytes,
    ))
}

impl RecordFile {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(self.name)
    }

    /// Replaces the file with `bytes`, durably: written to `<name>.new` (0600), synced, renamed
    /// over the file, the directory synced. A failure leaves the old file and no `.new`.
    pub fn replace(&self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let new = self.dir.join(format!("{}.new", self.name));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&new)
            .and_then(|mut file| {
                file.write_all(bytes)?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&new, self.path()))
            .and_then(|()| File::open(&self.dir)?.sync_all());
        if written.is_err() {
            let _ = std::fs::remove_file(&new);
        }
        written
    }
}
