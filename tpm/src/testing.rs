//! A software TPM for tests: Debian's `swtpm`, started on free local ports with its own state
//! directory (so each instance is another TPM, with its own seeds), stopped when dropped.
//!
//! A test that needs it calls [`Swtpm::start_or_skip`]: when `swtpm` or `tpm2-tools` is not
//! installed that is an error saying so (a test fails, it does not pass unseen), unless
//! [`SKIP_ENV`] is set to `1`.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set to `1` to skip the tests that need a software TPM when swtpm is not installed.
pub const SKIP_ENV: &str = "OMATOIMI_SKIP_SWTPM";

/// A running swtpm.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    port: u16,
    state: PathBuf,
}

/// Whether `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

impl Swtpm {
    /// Starts a software TPM with its state in `state` (made if missing), or `Ok(None)` when
    /// swtpm or tpm2-tools is missing and [`SKIP_ENV`] is `1`.
    pub fn start_or_skip(state: &Path) -> Result<Option<Self>, String> {
        let missing: Vec<&str> = [("swtpm", "swtpm"), ("tpm2_createprimary", "tpm2-tools")]
            .into_iter()
            .filter(|(program, _)| !on_path(program))
            .map(|(_, package)| package)
            .collect();
        if !missing.is_empty() {
            if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
                eprintln!(
                    "SKIPPED: {} not installed and {SKIP_ENV}=1",
                    missing.join(" and ")
                );
                return Ok(None);
            }
            return Err(format!(
                "the TPM tests need Debian's {} (apt install swtpm tpm2-tools; scripts/test \
                 installs them), or {SKIP_ENV}=1 to skip them",
                missing.join(" and ")
            ));
        }
        Self::start(state).map(Some)
    }

    /// Starts a software TPM with its state in `state`.
    pub fn start(state: &Path) -> Result<Self, String> {
        std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
        let mut last = String::new();
        // Free ports are picked, released, then taken by swtpm: another process may take one in
        // between, so a start that fails is tried again on others.
        for _ in 0..10 {
            let Some(port) = free_pair() else {
                last = "no two free consecutive local ports".into();
                continue;
            };
            let log = state.join("swtpm.log");
            let log_file =
                std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let mut child = Command::new("swtpm")
                .args(["socket", "--tpm2", "--server"])
                .arg(format!("type=tcp,port={port}"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={}", port + 1))
                .arg("--tpmstate")
                .arg(format!("dir={}", state.display()))
                .args(["--flags", "not-need-init,startup-clear"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("swtpm: cannot start it: {e}"))?;
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!(
                        "swtpm exited ({status}): {}",
                        std::fs::read_to_string(&log).unwrap_or_default().trim()
                    );
                    break;
                }
                if TcpStream::connect((Ipv4Addr::LOCALHOST, port + 1)).is_ok()
                    && TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
                {
                    return Ok(Self {
                        child,
                        port,
                        state: state.to_owned(),
                    });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last = "swtpm did not listen within 10 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Err(last)
    }

    /// The TCTI that reaches it.
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// Its state directory.
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// Stops it (as dropping it does).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A free local port whose successor is free too.
fn free_pair() -> Option<u16> {
    let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    let port = first.local_addr().ok()?.port();
    let next = port.checked_add(1)?;
    let _second = TcpListener::bind((Ipv4Addr::LOCALHOST, next)).ok()?;
    Some(port)
}
