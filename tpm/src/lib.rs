//! Sealing a small secret to the box's TPM 2.0, so the SD card holds only a blob that this TPM
//! alone opens.
//!
//! The secret is sealed under the TPM's storage (owner) hierarchy: a primary key is made
//! afresh, from one fixed template, at every seal and unseal. A TPM makes the same primary key
//! from the same template for as long as its owner seed is unchanged, so nothing but the sealed
//! blob is kept on disk; another TPM (or this one after `tpm2_clear`) makes another primary key
//! and the blob's integrity check fails.
//!
//! The work is done by Debian's `tpm2-tools` (`tpm2_createprimary`, `tpm2_create -i -`,
//! `tpm2_load`, `tpm2_unseal`, `tpm2_flushcontext`), run as child processes: the secret goes in
//! on a pipe and comes out on a pipe, never in an argument or a file. The TPM is reached through a
//! TCTI string: [`tcti`] picks the configured one, else `TPM2TOOLS_TCTI`, else the kernel's
//! resource manager, `device:/dev/tpmrm0`.
//!
//! The sealed file is [`MAGIC`], then the sealed object's public and private parts (TPM2B
//! structures as `tpm2_create` writes them), each after its length as two bytes, big-endian.
//! Nothing here is secret without the TPM that sealed it.
#![deny(missing_docs)]

pub mod hmac;
pub mod testing;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The first bytes of a sealed file (one readable line, so `head -1` says what the file is).
pub const MAGIC: &[u8] = b"omatoimi tpm2-sealed v1\n";

/// The TCTI used when neither the configuration nor `TPM2TOOLS_TCTI` names one: the kernel's
/// TPM resource manager.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

/// The largest secret a TPM seals (`MAX_SYM_DATA`).
pub const MAX_SECRET: usize = 128;

/// How long one tool may take before it is stopped (a real TPM makes an ECC primary key in
/// well under a second; a hung TPM or socket must not hang a daemon's start).
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// The storage primary key's template. Every attribute is spelled out, so that a newer
/// tpm2-tools with other defaults still makes the same key (another template would make
/// another key, and no blob sealed before would open).
const PRIMARY: [&str; 8] = [
    "-C",
    "o",
    "-g",
    "sha256",
    "-G",
    "ecc256:aes128cfb",
    "-a",
    "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt",
];

/// The sealed object's attributes: bound to this TPM and this parent, opened with an empty
/// password (the box must open it unattended at every start).
const SEALED_ATTRIBUTES: &str = "fixedtpm|fixedparent|userwithauth";

/// Why sealing or unsealing failed. No variant carries the secret.
#[derive(Debug, thiserror::Error)]
pub enum TpmError {
    /// tpm2-tools is not installed.
    #[error("`{tool}` was not found: install Debian's tpm2-tools (apt install tpm2-tools)")]
    ToolsMissing {
        /// The program that was not found.
        tool: String,
    },
    /// No TPM answers at the TCTI.
    #[error(
        "no TPM at {tcti}: {detail} (is a TPM 2.0 module fitted and enabled, e.g. \
         dtoverlay=tpm-slb9670 in the Pi's config.txt, and may this user open it: group tss?)"
    )]
    NoTpm {
        /// The TCTI tried.
        tcti: String,
        /// What the TCTI loader said.
        detail: String,
    },
    /// The blob was sealed by another TPM, or by this one before its owner hierarchy was
    /// cleared.
    #[error(
        "the sealed blob does not open on this TPM ({tcti}): it was sealed by another TPM, or \
         this TPM was cleared since (the TPM said: {detail}); provision the key again"
    )]
    OtherTpm {
        /// The TCTI tried.
        tcti: String,
        /// What the TPM said.
        detail: String,
    },
    /// The bytes are not a sealed file of ours.
    #[error("not a TPM-sealed file: {0}")]
    NotSealed(String),
    /// The secret is empty or longer than a TPM seals.
    #[error("a sealed secret is 1 to {MAX_SECRET} bytes, not {0}")]
    Size(usize),
    /// A tool failed for another reason.
    #[error("{tool} failed at {tcti}: {detail}")]
    Tool {
        /// The program.
        tool: String,
        /// The TCTI.
        tcti: String,
        /// Its status and what it said on standard error.
        detail: String,
    },
    /// A tool did not finish in time.
    #[error("{tool} did not finish within {} s at {tcti}: the TPM does not answer", TOOL_TIMEOUT.as_secs())]
    Timeout {
        /// The program.
        tool: String,
        /// The TCTI.
        tcti: String,
    },
    /// A local I/O failure (the working directory for the tools' context files).
    #[error("{}: {cause}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
}

/// The TCTI to use: `configured` if given, else the `TPM2TOOLS_TCTI` environment variable, else
/// [`DEFAULT_TCTI`].
pub fn tcti(configured: Option<&str>) -> String {
    match configured.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_owned(),
        None => std::env::var("TPM2TOOLS_TCTI")
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_TCTI.to_owned()),
    }
}

/// Whether `bytes` are a sealed file (by its first line; the rest is checked at unsealing).
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// A TPM reached through one TCTI.
#[derive(Debug, Clone)]
pub struct Tpm {
    tcti: String,
}

impl Tpm {
    /// The TPM at `tcti` (e.g. `device:/dev/tpmrm0`, `swtpm:host=127.0.0.1,port=2321`).
    pub fn new(tcti: impl Into<String>) -> Self {
        Self { tcti: tcti.into() }
    }

    /// The TCTI.
    pub fn tcti(&self) -> &str {
        &self.tcti
    }

    /// Seals `secret` (1 to [`MAX_SECRET`] bytes) and returns the sealed file's bytes.
    pub fn seal(&self, secret: &[u8]) -> Result<Vec<u8>, TpmError> {
        if secret.is_empty() || secret.len() > MAX_SECRET {
            return Err(TpmError::Size(secret.len()));
        }
        self.present()?;
        let work = WorkDir::new()?;
        let primary = work.path("primary.ctx");
        let public = work.path("sealed.pub");
        let private = work.path("sealed.priv");
        self.flush()?;
        self.primary(&primary)?;
        self.flush()?;
        let created = self.run(
            "tpm2_create",
            &[
                "-C".as_ref(),
                primary.as_os_str(),
                "-a".as_ref(),
                SEALED_ATTRIBUTES.as_ref(),
                "-i".as_ref(),
                "-".as_ref(),
                "-u".as_ref(),
                public.as_os_str(),
                "-r".as_ref(),
                private.as_os_str(),
            ],
            Some(secret),
        );
        self.flush()?;
        created?;
        self.blob(MAGIC, &public, &private, "tpm2_create")
    }

    /// `magic`, then the public and private parts written by `tool`, each after its length.
    pub(crate) fn blob(
        &self,
        magic: &[u8],
        public: &Path,
        private: &Path,
        tool: &str,
    ) -> Result<Vec<u8>, TpmError> {
        let public = read(public)?;
        let private = read(private)?;
        let mut out = magic.to_vec();
        for part in [&public, &private] {
            let len = u16::try_from(part.len()).map_err(|_| TpmError::Tool {
                tool: tool.into(),
                tcti: self.tcti.clone(),
                detail: format!("wrote a part of {} bytes", part.len()),
            })?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(part);
        }
        Ok(out)
    }

    /// Unseals a sealed file's bytes with this TPM.
    pub fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>, TpmError> {
        let (public, private) = parse(sealed)?;
        self.present()?;
        let work = WorkDir::new()?;
        let primary = work.path("primary.ctx");
        let public_file = work.path("sealed.pub");
        let private_file = work.path("sealed.priv");
        let loaded = work.path("sealed.ctx");
        write(&public_file, public)?;
        write(&private_file, private)?;
        self.flush()?;
        self.primary(&primary)?;
        self.flush()?;
        let load = self.run(
            "tpm2_load",
            &[
                "-C".as_ref(),
                primary.as_os_str(),
                "-u".as_ref(),
                public_file.as_os_str(),
                "-r".as_ref(),
                private_file.as_os_str(),
                "-c".as_ref(),
                loaded.as_os_str(),
            ],
            None,
        );
        self.flush()?;
        load?;
        let secret = self.run("tpm2_unseal", &["-c".as_ref(), loaded.as_os_str()], None);
        self.flush()?;
        secret
    }

    /// A clear error, before any tool runs, when the TCTI names a device that is not there.
    pub(crate) fn present(&self) -> Result<(), TpmError> {
        let device = self
            .tcti
            .strip_prefix("device:")
            .or_else(|| self.tcti.starts_with('/').then_some(self.tcti.as_str()));
        if let Some(device) = device
            && !Path::new(device).exists()
        {
            return Err(TpmError::NoTpm {
                tcti: self.tcti.clone(),
                detail: format!("{device} does not exist"),
            });
        }
        Ok(())
    }

    pub(crate) fn primary(&self, out: &Path) -> Result<(), TpmError> {
        let mut args: Vec<&std::ffi::OsStr> = PRIMARY.iter().map(|a| a.as_ref()).collect();
        args.extend(["-c".as_ref(), out.as_os_str()]);
        self.run("tpm2_createprimary", &args, None).map(drop)
    }

    /// Flushes transient objects. The kernel's resource manager flushes a client's objects when
    /// it closes, but a TPM reached without one (a raw `/dev/tpm0`, a simulator) keeps every
    /// object the tools load until it runs out of its few slots.
    pub(crate) fn flush(&self) -> Result<(), TpmError> {
        self.run("tpm2_flushcontext", &["-t".as_ref()], None)
            .map(drop)
    }

    /// Runs `tool -T TCTI args…`, with `input` on its standard input, and returns its standard
    /// output.
    pub(crate) fn run(
        &self,
        tool: &str,
        args: &[&std::ffi::OsStr],
        input: Option<&[u8]>,
    ) -> Result<Vec<u8>, TpmError> {
        let mut child = Command::new(tool)
            .arg("-T")
            .arg(&self.tcti)
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TpmError::ToolsMissing { tool: tool.into() },
                _ => TpmError::Tool {
                    tool: tool.into(),
                    tcti: self.tcti.clone(),
                    detail: format!("cannot start it: {e}"),
                },
            })?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            // Dropped at the end of this block: the tool sees the end of its input.
            if let Err(e) = stdin.write_all(bytes) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TpmError::Tool {
                    tool: tool.into(),
                    tcti: self.tcti.clone(),
                    detail: format!("writing its input: {e}"),
                });
            }
        }
        // The tools write little (at most a few hundred bytes), well under a pipe's buffer, so
        // waiting before reading cannot deadlock.
        let deadline = Instant::now() + TOOL_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(TpmError::Timeout {
                        tool: tool.into(),
                        tcti: self.tcti.clone(),
                    });
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(TpmError::Tool {
                        tool: tool.into(),
                        tcti: self.tcti.clone(),
                        detail: format!("waiting for it: {e}"),
                    });
                }
            }
        };
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let Some(mut o) = child.stdout.take() {
            let _ = o.read_to_end(&mut stdout);
        }
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_end(&mut stderr);
        }
        if status.success() {
            return Ok(stdout);
        }
        let said = String::from_utf8_lossy(&stderr);
        let detail = summary(&said);
        Err(if said.contains("Could not load tcti") {
            TpmError::NoTpm {
                tcti: self.tcti.clone(),
                detail,
            }
        } else if said.contains("integrity check failed") {
            TpmError::OtherTpm {
                tcti: self.tcti.clone(),
                detail,
            }
        } else {
            TpmError::Tool {
                tool: tool.into(),
                tcti: self.tcti.clone(),
                detail: format!("{status}: {detail}"),
            }
        })
    }
}

/// The public and private parts of a sealed file.
fn parse(bytes: &[u8]) -> Result<(&[u8], &[u8]), TpmError> {
    parse_parts(bytes, MAGIC)
}

/// The public and private parts of a file that begins with `magic`.
pub(crate) fn parse_parts<'a>(
    bytes: &'a [u8],
    magic: &[u8],
) -> Result<(&'a [u8], &'a [u8]), TpmError> {
    let rest = bytes.strip_prefix(magic).ok_or_else(|| {
        TpmError::NotSealed(format!(
            "it does not begin with {:?}",
            String::from_utf8_lossy(magic).trim_end()
        ))
    })?;
    let mut parts = [&[][..]; 2];
    let mut rest = rest;
    for (part, name) in parts.iter_mut().zip(["public", "private"]) {
        let truncated = || TpmError::NotSealed(format!("truncated in its {name} part"));
        let (len, tail) = rest.split_first_chunk::<2>().ok_or_else(truncated)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || tail.len() < len {
            return Err(truncated());
        }
        let (this, tail) = tail.split_at(len);
        *part = this;
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(TpmError::NotSealed(format!(
            "{} bytes after its private part",
            rest.len()
        )));
    }
    Ok((parts[0], parts[1]))
}

/// The tools' standard error in a line: each message once, without the library's source
/// locations.
fn summary(stderr: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in stderr.lines() {
        // "ERROR:tcti:src/…/tcti-device.c:452:Tss2_Tcti_Device_Init() Failed to open …"
        let line = match line.find("() ") {
            Some(i) => &line[i + 3..],
            None => line.strip_prefix("ERROR: ").unwrap_or(line),
        };
        let line = line.trim();
        if !line.is_empty() && !lines.iter().any(|l| l == line) {
            lines.push(line.to_owned());
        }
    }
    if lines.is_empty() {
        return "no message".into();
    }
    lines.join("; ")
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TpmError> {
    std::fs::read(path).map_err(|cause| TpmError::Io {
        path: path.to_owned(),
        cause,
    })
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), TpmError> {
    std::fs::write(path, bytes).map_err(|cause| TpmError::Io {
        path: path.to_owned(),
        cause,
    })
}

/// A private (0700) directory for the tools' context files, removed when dropped. None of them
/// is secret: contexts are encrypted by the TPM, the sealed parts are the sealed file's.
#[derive(Debug)]
pub(crate) struct WorkDir(PathBuf);

impl WorkDir {
    pub(crate) fn new() -> Result<Self, TpmError> {
        use std::os::unix::fs::DirBuilderExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "omatoimi-tpm-{}-{nanos}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|cause| TpmError::Io {
                path: path.clone(),
                cause,
            })?;
        Ok(Self(path))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_file_is_parsed_and_damage_is_named() {
        let mut f = MAGIC.to_vec();
        f.extend_from_slice(&[0, 2, 1, 2, 0, 3, 4, 5, 6]);
        assert!(is_sealed(&f));
        let (public, private) = parse(&f).unwrap();
        assert_eq!((public, private), (&[1u8, 2][..], &[4u8, 5, 6][..]));
        for bad in [&f[..f.len() - 1], &f[..MAGIC.len() + 3], &f[1..]] {
            assert!(matches!(parse(bad), Err(TpmError::NotSealed(_))));
        }
        let mut longer = f.clone();
        longer.push(0);
        assert!(matches!(parse(&longer), Err(TpmError::NotSealed(_))));
        assert!(!is_sealed(b"0123456789abcdef"));
    }

    #[test]
    fn the_tcti_is_the_configured_one_else_the_environment_else_the_device() {
        assert_eq!(tcti(Some(" swtpm:port=1 ")), "swtpm:port=1");
        // The environment is the test process's: only its absence is asserted on.
        if std::env::var_os("TPM2TOOLS_TCTI").is_none() {
            assert_eq!(tcti(None), DEFAULT_TCTI);
            assert_eq!(tcti(Some("")), DEFAULT_TCTI);
        }
    }

    #[test]
    fn stderr_is_summed_up_without_source_locations() {
        let s = "ERROR:tcti:src/tss2-tcti/tcti-device.c:452:Tss2_Tcti_Device_Init() Failed to open specified TCTI device file /dev/tpmrm0: No such file or directory \nERROR: Could not load tcti, got: \"device:/dev/tpmrm0\"\n";
        assert_eq!(
            summary(s),
            "Failed to open specified TCTI device file /dev/tpmrm0: No such file or directory; Could not load tcti, got: \"device:/dev/tpmrm0\""
        );
    }

    #[test]
    fn a_missing_device_is_named_before_any_tool_runs() {
        let e = Tpm::new("device:/nonexistent/tpmrm9")
            .unseal(&[MAGIC, &[0, 1, 1, 0, 1, 1]].concat())
            .map(drop);
        let Err(e @ TpmError::NoTpm { .. }) = e else {
            panic!("expected NoTpm, got {e:?}")
        };
        assert!(e.to_string().contains("/nonexistent/tpmrm9"), "{e}");
        assert!(matches!(
            Tpm::new("device:/x").seal(&[0; 129]),
            Err(TpmError::Size(129))
        ));
    }
}
