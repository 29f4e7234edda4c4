//! Putting files in place so that a run stopped at any point, and run again, ends the same: each
//! file is written beside its place, synced, given its mode and owner, then renamed over it, so a
//! file is either the old one or the new one. A file already as wanted is left alone.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Who owns what the service reads: its user, and the group config files are readable by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The service user's name.
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
}

impl Owner {
    /// Looks `user` up in `passwd` (the text of `/etc/passwd`, where `systemd-sysusers` puts it).
    pub fn lookup(user: &str, passwd: &str) -> Option<Self> {
        daemon::users(passwd)
            .find(|u| u.0 == user)
            .map(|(_, uid, gid)| Self {
                user: user.to_owned(),
                uid,
                gid,
            })
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It was not there.
    Created,
    /// It was there with other content, mode or owner.
    Replaced,
    /// It was already as wanted.
    Unchanged,
    /// It was there and is kept on purpose (the device key).
    Kept,
    /// It was there and is removed (the card key in clear, once sealed).
    Removed,
}

impl Outcome {
    /// A word for the log.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Replaced => "replaced",
            Outcome::Unchanged => "unchanged",
            Outcome::Kept => "kept",
            Outcome::Removed => "removed",
        }
    }
}

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (certificates, requests): 0644, root's.
    Public,
    /// Root and the service's group (config): 0640.
    Group,
    /// The service user only (keys and secrets): 0600, the service user's.
    Secret,
}

/// Writes files under an owner, as root or as the owner itself.
#[derive(Debug, Clone)]
pub struct Installer {
    owner: Owner,
    /// Root may chown; anyone else may only write files that stay their own.
    as_root: bool,
}

/// An I/O failure at a path.
#[derive(Debug, thiserror::Error)]
#[error("{}: {cause}", path.display())]
pub struct InstallError {
    /// Where.
    pub path: PathBuf,
    /// Why.
    pub cause: std::io::Error,
}

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |cause| InstallError {
        path: path.to_owned(),
        cause,
    }
}

impl Installer {
    /// An installer for `owner`; `euid` is the effective user running it.
    pub fn new(owner: Owner, euid: u32) -> Result<Self, String> {
        if euid != 0 && euid != owner.uid {
            return Err(format!(
                "only root can give files to the user `{}`: run this with sudo",
                owner.user
            ));
        }
        Ok(Self {
            owner,
            as_root: euid == 0,
        })
    }

    /// The service user.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    fn wanted(&self, access: Access) -> (u32, u32, u32) {
        let (uid, gid) = if self.as_root {
            match access {
                Access::Public => (0, 0),
                Access::Group => (0, self.owner.gid),
                Access::Secret => (self.owner.uid, self.owner.gid),
            }
        } else {
            (self.owner.uid, self.owner.gid)
        };
        let mode = match access {
            Access::Public => 0o644,
            Access::Group => 0o640,
            Access::Secret => 0o600,
        };
        (uid, gid, mode)
    }

    /// A directory with `mode`, the service user's when `service` (state), root's otherwise with
    /// the service's group (config). Made with its parents if missing. A directory that was
    /// already there is left as it is (the package's tmpfiles and the unit's `StateDirectory`
    /// make them right; a wrong `--etc /etc` must not change `/etc`).
    pub fn dir(&self, path: &Path, mode: u32, service: bool) -> Result<Outcome, InstallError> {
        if path.is_dir() {
            return Ok(Outcome::Unchanged);
        }
        fs::create_dir_all(path).map_err(at(path))?;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(at(path))?;
        if self.as_root {
            let uid = if service { self.owner.uid } else { 0 };
            std::os::unix::fs::chown(path, Some(uid), Some(self.owner.gid)).map_err(at(path))?;
        }
        Ok(Outcome::Created)
    }

    /// Puts `bytes` at `path` with `access`, atomically; unchanged if already so.
    pub fn file(&self, path: &Path, bytes: &[u8], access: Access) -> Result<Outcome, InstallError> {
        let (uid, gid, mode) = self.wanted(access);
        let existing = fs::metadata(path).ok();
        if let Some(meta) = &existing
            && meta.is_file()
            && meta.mode() & 0o7777 == mode
            && (!self.as_root || (meta.uid() == uid && meta.gid() == gid))
            && fs::read(path).ok().as_deref() == Some(bytes)
        {
            return Ok(Outcome::Unchanged);
        }
        let tmp = temp_beside(path);
        self.write_temp(&tmp, bytes, mode, uid, gid)?;
        fs::rename(&tmp, path).map_err(at(path))?;
        sync_dir(path);
        Ok(if existing.is_some() {
            Outcome::Replaced
        } else {
            Outcome::Created
        })
    }

    /// Writes `bytes` beside `path` (not yet in place), for a check before [`Installer::commit`].
    pub fn stage(
        &self,
        path: &Path,
        bytes: &[u8],
        access: Access,
    ) -> Result<PathBuf, InstallError> {
        let (uid, gid, mode) = self.wanted(access);
        let tmp = temp_beside(path);
        self.write_temp(&tmp, bytes, mode, uid, gid)?;
        Ok(tmp)
    }

    /// Moves a staged file into place.
    pub fn commit(&self, staged: &Path, path: &Path) -> Result<Outcome, InstallError> {
        let existed = path.exists();
        if existed && fs::read(path).ok() == fs::read(staged).ok() {
            let (same_mode, same_owner) = match (fs::metadata(path), fs::metadata(staged)) {
                (Ok(a), Ok(b)) => (
                    a.mode() & 0o7777 == b.mode() & 0o7777,
                    a.uid() == b.uid() && a.gid() == b.gid(),
                ),
                _ => (false, false),
            };
            if same_mode && same_owner {
                let _ = fs::remove_file(staged);
                return Ok(Outcome::Unchanged);
            }
        }
        fs::rename(staged, path).map_err(at(path))?;
        sync_dir(path);
        Ok(if existed {
            Outcome::Replaced
        } else {
            Outcome::Created
        })
    }

    fn write_temp(
        &self,
        tmp: &Path,
        bytes: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<(), InstallError> {
        // A temporary file left by a run that was stopped is simply written over.
        let _ = fs::remove_file(tmp);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
            .map_err(at(tmp))?;
        f.write_all(bytes).map_err(at(tmp))?;
        f.sync_all().map_err(at(tmp))?;
        drop(f);
        if self.as_root {
            std::os::unix::fs::chown(tmp, Some(uid), Some(gid)).map_err(at(tmp))?;
        }
        fs::set_permissions(tmp, fs::Permissions::from_mode(mode)).map_err(at(tmp))?;
        Ok(())
    }
}

/// `.name.provisioning` beside `path`.
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.provisioning"))
}

fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_found_in_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nomatoimi:x:998:997:omatoimi self-service daemons:/var/lib/omatoimi:/usr/sbin/nologin\n";
        assert_eq!(
            Owner::lookup("omatoimi", passwd),
            Some(Owner {
                user: "omatoimi".into(),
                uid: 998,
                gid: 997
            })
        );
        assert_eq!(Owner::lookup("omato", passwd), None);
        assert_eq!(Owner::lookup("x", "x:y\n"), None);
    }

    #[test]
    fn a_file_is_written_once_and_then_left_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let me = Owner {
            user: "me".into(),
            uid: fs::metadata(dir.path()).expect("meta").uid(),
            gid: fs::metadata(dir.path()).expect("meta").gid(),
        };
        let inst = Installer {
            owner: me,
            as_root: false,
        };
        let p = dir.path().join("card-key.secret");
        // A stray temporary file from a stopped run does not get in the way.
        fs::write(temp_beside(&p), "half").expect("stray");
        assert_eq!(
            inst.file(&p, b"k1", Access::Secret).expect("w"),
            Outcome::Created
        );
        assert_eq!(
            fs::metadata(&p).expect("m").mode() & 0o777,
            0o600,
            "secret mode"
        );
        assert_eq!(
            inst.file(&p, b"k1", Access::Secret).expect("w"),
            Outcome::Unchanged
        );
        assert_eq!(
            inst.file(&p, b"k1", Access::Group).expect("w"),
            Outcome::Replaced
        );
        assert_eq!(fs::metadata(&p).expect("m").mode() & 0o777, 0o640);
        assert!(!temp_beside(&p).exists());
    }

    #[test]
    fn only_root_gives_files_away() {
        let o = Owner {
            user: "omatoimi".into(),
            uid: 998,
            gid: 997,
        };
        assert!(Installer::new(o.clone(), 1000).is_err());
        assert!(Installer::new(o.clone(), 998).is_ok());
        assert!(Installer::new(o, 0).is_ok());
    }
}
