//! Helpers shared by the end-to-end tests: start a simulator on loopback ports in a temporary
//! state directory, and connect to it over TLS or TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use library_sim::client::ScriptClient;
use library_sim::requests as request;
use library_sim::server::{self, Running, Settings};
use sip2::*;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../library-sim/fixtures/heili.toml"
);
pub const AINO: &str = "24680000000011";
pub const AINO_PIN: &str = "1234";

pub fn settings(state: &Path) -> Settings {
    let lo = SocketAddr::from(([127, 0, 0, 1], 0));
    Settings {
        fixtures: PathBuf::from(FIXTURES),
        state_dir: state.to_owned(),
        sip2_tls: Some(lo),
        sip2_plain: Some(lo),
        control: Some(lo),
        dialect: dialect(),
        hostnames: vec![],
        faults: Default::default(),
        idle_timeout: Duration::from_secs(30),
        https: Some(lo),
        require_client_cert: false,
        token_lifetime: Duration::from_secs(3600),
        allowlist: None,
        clock: library_sim::clock::Clock::system(),
    }
}

pub fn dialect() -> Dialect {
    Dialect {
        charset: Charset::Utf8,
        ..Dialect::standard()
    }
}

pub async fn start(state: &Path) -> Running {
    server::start(settings(state)).await.unwrap()
}

pub async fn tls_client(sim: &Running) -> ScriptClient<TlsStream<TcpStream>> {
    let config = library_sim::tls::client_config(&sim.ca_cert).unwrap();
    let tcp = TcpStream::connect(sim.sip2_tls.unwrap()).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    ScriptClient::new(tls, dialect())
}

pub async fn plain_client(sim: &Running) -> ScriptClient<TcpStream> {
    ScriptClient::new(
        TcpStream::connect(sim.sip2_plain.unwrap()).await.unwrap(),
        dialect(),
    )
}

pub const INST: &str = "heili";

pub fn now() -> SipDate {
    library_sim::replies::sip_date(daemons_now().with_timezone(&chrono::Local).naive_local())
}

/// The instant the real binaries a test starts (door-agent, kiosk, provisioning) read from their
/// system clock, for the simulator and rigs that must agree with them: the one wall-clock read of
/// the end-to-end tests. No outcome depends on which day it is: the fixtures' dates are resolved
/// against it, and `scripts/test-dates` runs the tests with it faked to hard dates.
pub fn daemons_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// [`daemons_now`] on the box's local wall clock, as the kiosk binary records its loans.
pub fn daemons_local_now() -> chrono::NaiveDateTime {
    daemons_now().with_timezone(&chrono::Local).naive_local()
}

/// [`daemons_now`] as a local date.
pub fn daemons_today() -> chrono::NaiveDate {
    daemons_now().with_timezone(&chrono::Local).date_naive()
}

pub use library_sim::requests::login;

pub fn kiosk_login() -> Message {
    login("kiosk-lpr-1", "kiosk-secret-1", None)
}

pub fn patron_status(card: &str, pin: &str) -> Message {
    request::patron_status(INST, card, pin)
}

pub fn checkout(card: &str, pin: Option<&str>, item: &str) -> CheckoutRequest {
    request::checkout(INST, card, pin, item)
}

pub fn checkin(item: &str) -> Message {
    request::checkin(INST, "LPR", item)
}

pub fn item_information(item: &str) -> Message {
    request::item_information(INST, item)
}

/// Where a device's registry configuration points, and how.
#[derive(Debug, Clone)]
pub struct DeviceSetup {
    /// `sip2` or `koha-rest`.
    pub backend: &'static str,
    /// SIP2 (or HTTPS) address; the simulator's when `None`.
    pub address: Option<String>,
    /// Lines added to `[registry.sip2]` or `[registry.koha]`.
    pub extra: String,
    /// Request timeout.
    pub timeout_ms: u64,
    /// Credentials file contents.
    pub credentials: String,
}

impl DeviceSetup {
    /// The kiosk at Lappeenranta over SIP2/TLS.
    pub fn sip2() -> Self {
        Self {
            backend: "sip2",
            address: None,
            extra: String::new(),
            timeout_ms: 2000,
            credentials: "login = \"kiosk-lpr-1\"\npassword = \"kiosk-secret-1\"\n".into(),
        }
    }

    /// The same kiosk over Koha's REST API.
    pub fn koha() -> Self {
        Self {
            backend: "koha-rest",
            address: None,
            extra: String::new(),
            timeout_ms: 2000,
            credentials: "client_id = \"kiosk-lpr-1\"\nclient_secret = \"kiosk-secret-1\"\n".into(),
        }
    }

    /// The Koha kiosk delivering its offline loans through Koha's offline circulation service
    /// on the simulator's HTTPS side, with the fixtures' staff account.
    pub fn koha_offline(sim: &Running) -> Self {
        let mut s = Self::koha();
        s.extra = format!(
            "offline_service = \"https://localhost:{}\"\n",
            sim.https.unwrap().port()
        );
        s.credentials.push_str(
            "offline_userid = \"kiosk-offline\"\noffline_password = \"offline-secret-1\"\n",
        );
        s
    }

    /// Writes `registry.toml` and its 0600 credentials file into `dir` and loads them as a
    /// device would.
    pub fn settings(
        &self,
        dir: &Path,
        sim: &Running,
    ) -> Result<config::registry::RegistrySettings, config::ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        let secret = dir.join("registry.secret");
        std::fs::write(&secret, &self.credentials).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ca = sim.ca_cert.display();
        let table = match self.backend {
            "sip2" => format!(
                "[registry.sip2]\naddress = \"{}\"\nserver_name = \"localhost\"\nca = \"{ca}\"\ninstitution = \"heili\"\nlocation = \"LPR\"\n{}\n[registry.sip2.protocol]\ndialect = \"standard\"\ncharset = \"utf-8\"\n",
                self.address
                    .clone()
                    .unwrap_or_else(|| sim.sip2_tls.unwrap().to_string()),
                self.extra
            ),
            _ => format!(
                "[registry.koha]\nbase_url = \"https://{}\"\nca = \"{ca}\"\nlibrary_id = \"LPR\"\n{}\n",
                self.address
                    .clone()
                    .unwrap_or_else(|| format!("localhost:{}", sim.https.unwrap().port())),
                self.extra
            ),
        };
        let file = dir.join("registry.toml");
        std::fs::write(
            &file,
            format!(
                "[registry]\nbackend = \"{}\"\ncredentials = \"registry.secret\"\ntimeout_ms = {}\nconnect_timeout_ms = {}\n\n{table}",
                self.backend, self.timeout_ms, self.timeout_ms
            ),
        )
        .unwrap();
        config::registry::load(&file)
    }

    /// Starts a registry client for this setup.
    pub fn start(&self, dir: &Path, sim: &Running) -> registry::AnyRegistry {
        registry::AnyRegistry::start(&self.settings(dir, sim).unwrap()).unwrap()
    }
}

/// Every log line of the process at TRACE level, ours and our libraries', kept in memory.
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for LogCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LogCapture({} bytes)",
            self.0.lock().map_or(0, |b| b.len())
        )
    }
}

impl LogCapture {
    /// Installs the capture as the process's subscriber (once per test binary).
    pub fn install() -> Self {
        let capture = Self::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .init();
        capture
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Whether `secret` stands in `logs` as a logged value would. A short one (a 4-digit PIN) can
/// turn up inside a hex dump (a TLS signature at TRACE), so it counts only on its own; and not
/// as the value of rustls's `order_seed`, a random 16-bit number its TRACE lines print in every
/// ClientHello (once 1234, a fixture PIN, failed a clean run).
pub fn leaks(logs: &str, secret: &str) -> bool {
    logs.match_indices(secret).any(|(i, _)| {
        let before = logs[..i].chars().next_back();
        let after = logs[i + secret.len()..].chars().next();
        secret.len() > 6
            || (!before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric)
                && !logs[..i].ends_with("order_seed: "))
    })
}

/// A child process killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Kill(pub std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A pair of linked pseudo-terminals from socat under `dir`: (socat, the device's end, the
/// test's end), or `None` when socat is not installed.
pub fn socat_pair(dir: &Path, name: &str) -> Option<(Kill, PathBuf, PathBuf)> {
    let a = dir.join(format!("{name}-device"));
    let b = dir.join(format!("{name}-test"));
    let child = std::process::Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let k = Kill(child);
    for _ in 0..100 {
        if a.exists() && b.exists() {
            return Some((k, a, b));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Puts a kiosk rig's configuration on real serial lines: a barcode scanner at `scanner` (phone
/// cards' QR links read by their `number` parameter) and a FEIG pad at `pad`, in place of the
/// simulated pad.
pub fn kiosk_on_serial_lines(config: &Path, scanner: &Path, pad: &Path) -> std::io::Result<()> {
    let text = std::fs::read_to_string(config)?;
    let from = "[rfid]\ndriver = \"simulated\"";
    if !text.contains(from) {
        return Err(std::io::Error::other(
            "the rig's configuration has no simulated pad",
        ));
    }
    let text = text.replace(
        from,
        &format!(
            "[scanner]\npath = \"{}\"\nbaud = 9600\ncard = {{ query = \"number\", strip_prefix = [\"LIBRARYCARD:\"] }}\n\n[rfid]\ndriver = \"feig\"\npath = \"{}\"",
            scanner.display(),
            pad.display()
        ),
    );
    std::fs::write(config, text)
}

/// A binary of the workspace built beside this test (by `cargo test --workspace`), if it is.
pub fn workspace_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join(name);
    p.exists().then_some(p)
}

/// One line to the simulator's fault-control port (`latency 300`, `drop 1`, `clear`, …); its
/// answer, trimmed (`ok …` or `error …`).
pub async fn control(sim: &Running, command: &str) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let addr = sim.control.expect("the simulator's control port");
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("{command}\n").as_bytes())
        .await
        .unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).await.unwrap();
    line.trim_end().to_owned()
}

/// Sends `signal` to the process `pid`, by the system call. Never through the `kill` program:
/// Debian bookworm's (procps-ng 4.0.2) turns `kill -KILL -PGID` into `kill(-1, SIGKILL)`, every
/// process the caller may signal — as root the whole machine, a CI runner with it (strace with
/// the call injected shows it; `kill -s KILL -- -PGID` is right).
pub fn signal(pid: u32, signal: rustix::process::Signal) -> std::io::Result<()> {
    Ok(rustix::process::kill_process(pid_of(pid)?, signal)?)
}

/// Sends `signal` to every process in the group `pgid` (a child started with
/// `process_group(0)` leads its own), by the system call; see [`signal`].
pub fn signal_group(pgid: u32, signal: rustix::process::Signal) -> std::io::Result<()> {
    Ok(rustix::process::kill_process_group(pid_of(pgid)?, signal)?)
}

/// A process (or group) id as the system call takes it; 0 and ids past `i32` are none.
fn pid_of(id: u32) -> std::io::Result<rustix::process::Pid> {
    i32::try_from(id)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::other(format!("no such process id: {id}")))
}

#[cfg(test)]
mod tests {
    use super::leaks;

    #[test]
    fn a_short_secret_counts_on_its_own_but_not_inside_hex_or_as_rustls_random_seed() {
        assert!(leaks("pin 1234 refused", "1234"));
        assert!(leaks("pin=1234,", "1234"));
        assert!(!leaks("payload: e41234ab", "1234"));
        assert!(!leaks("order_seed: 1234,", "1234"));
        assert!(leaks("order_seed: 7, pin 1234", "1234"));
        assert!(leaks("card24680000000011x", "24680000000011"));
    }
}
