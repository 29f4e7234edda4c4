//! The offline list goes to enrolled devices only (mutual TLS), from the simulator and from a
//! library's own server: Debian's real nginx with `config/examples/nginx-allowlist.conf`, its
//! paths and port rewritten to a temporary directory. A device presenting the certificate
//! provisioning makes (signed by the library's device CA) syncs and applies the list; a client
//! without a certificate, with one from another CA or with an expired one is refused, and the
//! refusal is logged.
//!
//! nginx must be installed (`scripts/test` installs Debian's package); without it the nginx test
//! fails, unless `OMATOIMI_SKIP_NGINX=1` says to skip it. `OMATOIMI_NGINX` names another binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use allowlist::Argon2Params;
use library_sim::fixtures::Fixtures;
use library_sim::publishing::{self, PublisherFiles};
use offline::{Applied, Fetcher, OfflineAnswer, OfflineList, SyncError, Synced};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use redact::{CardNumber, Pin};

/// Cheap verifiers keep the test fast; the format carries the parameters.
const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};
const AINO: &str = "24680000000011";
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config/examples/nginx-allowlist.conf"
);

fn now() -> i64 {
    e2e::daemons_now().timestamp()
}

/// The publisher's keys and one list from the shipped fixtures, in `dir`.
fn published(dir: &Path) -> PublisherFiles {
    let fixtures = Fixtures::parse(
        Path::new("heili.toml"),
        library_sim::DEFAULT_FIXTURES,
        library_sim::clock::Clock::from_fn(e2e::daemons_now).today(),
    )
    .unwrap();
    let files = publishing::ensure_publisher(dir).unwrap();
    publishing::publish(&fixtures, None, &files, now(), 72, CHEAP).unwrap();
    files
}

/// A CA: its certificate and key, PEM.
fn ca(name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

/// A device identity as omatoimi-provision makes it: its own key, an enrolment request, signed
/// by `ca` for `days` days from `from`. Written to `dir/device.pem` and `dir/device-key.pem`.
fn device_identity(
    dir: &Path,
    ca: &(String, String),
    from: SystemTime,
    days: u32,
) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let key = provision::identity::new_key().unwrap();
    let csr = provision::identity::request(&key, "lemi-door-1", "heili", "LEMI").unwrap();
    let cert = provision::identity::sign(&csr, &ca.0, &ca.1, days, from).unwrap();
    let (cert_path, key_path) = (dir.join("device.pem"), dir.join("device-key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    (cert_path, key_path)
}

/// A device's `[allowlist]` (the list at `url`, the server's CA pinned, `identity` presented if
/// given) and its open list.
fn device(
    dir: &Path,
    files: &PublisherFiles,
    url: &str,
    ca: &Path,
    identity: Option<&(PathBuf, PathBuf)>,
) -> OfflineList {
    std::fs::create_dir_all(dir).unwrap();
    let key = dir.join("card-key.secret");
    std::fs::copy(&files.card_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut toml = format!(
        "[allowlist]\nurl = \"{url}\"\nca = \"{}\"\nstore = \"store\"\ncard_key = \"card-key.secret\"\nscopes = [\"heili\", \"LEMI\"]\nkeys = [\"{}\"]\n",
        ca.display(),
        files.public_key
    );
    if let Some((cert, key)) = identity {
        toml += &format!(
            "client_cert = \"{}\"\nclient_key = \"{}\"\n",
            cert.display(),
            key.display()
        );
    }
    std::fs::write(dir.join("door.toml"), toml).unwrap();
    OfflineList::open(config::allowlist::load(&dir.join("door.toml")).unwrap()).unwrap()
}

/// Syncs `list` with a fresh fetcher.
async fn sync(list: &OfflineList) -> Result<Synced, SyncError> {
    Fetcher::new(list).unwrap().sync(list, now()).await
}

/// A device that holds the list can let Aino in with the library system away.
fn applied_and_answers(list: &OfflineList, synced: Result<Synced, SyncError>) {
    assert!(
        matches!(synced, Ok(Synced::Applied(Applied::Full { entries, .. })) if entries > 0),
        "{synced:?}"
    );
    assert!(matches!(
        list.check(&CardNumber::new(AINO), &Pin::new("1234"), now())
            .unwrap(),
        OfflineAnswer::Verified { .. }
    ));
}

/// Refused by the server with 403; the device has no list.
fn refused_403(what: &str, list: &OfflineList, synced: Result<Synced, SyncError>) {
    match &synced {
        Err(e @ SyncError::Status { status: 403, .. }) => {
            // The device's log says what to look at.
            assert!(e.to_string().contains("allowlist.client_cert"), "{e}");
        }
        other => panic!("{what}: expected a 403, got {other:?}"),
    }
    assert!(list.store().held().is_none(), "{what}: a list was applied");
}

// --- The simulator ------------------------------------------------------------------------------

/// Log lines, for the simulator's refusals.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// On the current-thread runtime, the simulator's tasks run on this thread, under its logger.
#[tokio::test(flavor = "current_thread")]
async fn the_simulator_serves_the_list_only_to_devices_with_a_certificate_from_its_ca() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _logger = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_target(true)
            .with_max_level(tracing::Level::INFO)
            .finish(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let files = published(tmp.path());
    let mut s = e2e::settings(tmp.path());
    s.allowlist = Some(files.out.clone());
    let sim = library_sim::server::start(s).await.unwrap();
    let url = format!("https://localhost:{}/allowlist/", sim.https.unwrap().port());

    // The simulator's own device certificate.
    let enrolled = (sim.device_cert.clone(), sim.device_key.clone());
    let door = device(
        &tmp.path().join("door"),
        &files,
        &url,
        &sim.ca_cert,
        Some(&enrolled),
    );
    applied_and_answers(&door, sync(&door).await);

    // One that provisioning made and the simulator's CA signed.
    let sim_ca = (
        std::fs::read_to_string(&sim.ca_cert).unwrap(),
        std::fs::read_to_string(tmp.path().join("ca-key.pem")).unwrap(),
    );
    let provisioned = device_identity(
        &tmp.path().join("provisioned-id"),
        &sim_ca,
        SystemTime::from(e2e::daemons_now()),
        30,
    );
    let door2 = device(
        &tmp.path().join("door2"),
        &files,
        &url,
        &sim.ca_cert,
        Some(&provisioned),
    );
    applied_and_answers(&door2, sync(&door2).await);

    // No certificate: a 403, logged as a security event.
    let stranger = device(
        &tmp.path().join("stranger"),
        &files,
        &url,
        &sim.ca_cert,
        None,
    );
    refused_403("no certificate", &stranger, sync(&stranger).await);
    let text = logs.text();
    assert!(
        text.contains("security") && text.contains("offline list refused: no device certificate"),
        "{text}"
    );

    // A certificate from another CA, or an expired one from the simulator's: the handshake is
    // refused, and the simulator logs it.
    let other = device_identity(
        &tmp.path().join("other-id"),
        &ca("Some other library's devices"),
        SystemTime::from(e2e::daemons_now()),
        30,
    );
    let expired = device_identity(
        &tmp.path().join("expired-id"),
        &sim_ca,
        SystemTime::from(e2e::daemons_now()) - Duration::from_secs(40 * 86_400),
        30,
    );
    for (what, identity) in [("another CA", &other), ("expired", &expired)] {
        let before = logs.text().matches("TLS handshake failed").count();
        let list = device(
            &tmp.path().join(format!("{what}-door")),
            &files,
            &url,
            &sim.ca_cert,
            Some(identity),
        );
        let synced = sync(&list).await;
        match &synced {
            Err(SyncError::Unreachable { message, .. }) => {
                println!("{what}: {message}");
                assert!(message.contains("certificate"), "{what}: {message}")
            }
            other => panic!("{what}: expected the handshake refused, got {other:?}"),
        }
        assert!(list.store().held().is_none(), "{what}: a list was applied");
        // The server's side of a refused handshake may be logged a moment after the client's.
        let t = Instant::now();
        while logs.text().matches("TLS handshake failed").count() == before
            && t.elapsed() < Duration::from_secs(5)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            logs.text().matches("TLS handshake failed").count() > before,
            "{what}: the refusal is not logged:\n{}",
            logs.text()
        );
    }
    sim.stop();
}

// --- nginx --------------------------------------------------------------------------------------

/// nginx's binary: `OMATOIMI_NGINX`, else `nginx` on the PATH or in the sbin directories (where
/// Debian puts it, off a normal user's PATH).
fn nginx_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OMATOIMI_NGINX") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "OMATOIMI_NGINX={}: no such file", p.display());
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// A running nginx of the test's own: its prefix, pid, logs and temporary files in `dir`, in the
/// foreground as one process (no master, no workers switching to another user), stopped on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Stops it gracefully and returns its access log. nginx writes a request's line in
    /// its log phase, after the response has gone out, so a client can see its answer
    /// before the line exists; after a graceful stop every line is written.
    fn stop_and_access_log(self) -> String {
        let dir = self.dir.clone();
        self.stop();
        std::fs::read_to_string(dir.join("access.log")).unwrap_or_default()
    }

    /// Stops it as a service manager would (SIGQUIT: a graceful stop), and waits.
    fn stop(mut self) {
        let _ = e2e::signal(self.child.id(), rustix::process::Signal::QUIT);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(status.success(), "nginx stopped with {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not stop within 10 s of SIGQUIT");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The shipped example with its names, paths and port replaced: every one must be in it, so a
/// change to the example that the test does not follow fails here.
fn site_config(port: u16, dir: &Path, published: &Path) -> String {
    let mut site = std::fs::read_to_string(EXAMPLE).unwrap();
    let d = dir.display();
    for (from, to) in [
        ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
        ("listen [::]:443 ssl;", String::new()),
        (
            "/etc/omatoimi/list-server/server.pem",
            format!("{d}/server.pem"),
        ),
        (
            "/etc/omatoimi/list-server/server-key.pem",
            format!("{d}/server-key.pem"),
        ),
        (
            "/etc/omatoimi/list-server/device-ca.pem",
            format!("{d}/device-ca.pem"),
        ),
        (
            "/var/log/nginx/omatoimi-allowlist.log",
            format!("{d}/access.log"),
        ),
        (
            "/var/log/nginx/omatoimi-allowlist.error.log",
            format!("{d}/error.log"),
        ),
        (
            "/srv/omatoimi/published/",
            format!("{}/", published.display()),
        ),
    ] {
        assert_eq!(
            site.matches(from).count(),
            1,
            "{EXAMPLE} no longer holds `{from}` once: update this test with it"
        );
        site = site.replace(from, &to);
    }
    // Nothing else of the system's is named.
    for line in site.lines() {
        let code = line.split('#').next().unwrap_or_default();
        assert!(
            !code.contains("/etc/") && !code.contains("/var/") && !code.contains("/srv/"),
            "{EXAMPLE}: a system path the test does not replace: {line}"
        );
    }
    site
}

/// A free loopback port (free a moment ago: the caller retries if nginx finds it taken).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts nginx with the example as its one site; `None` when the port was taken meanwhile.
fn start_nginx(bin: &Path, dir: &Path, published: &Path) -> Option<(Nginx, u16)> {
    let port = free_port();
    let d = dir.display();
    std::fs::write(dir.join("site.conf"), site_config(port, dir, published)).unwrap();
    let main = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/tmp/body;\n  \
         proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n  \
         uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n  \
         include {d}/site.conf;\n}}\n"
    );
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    // Check the configuration first: a mistake in the example is told as nginx says it.
    let t = Command::new(bin)
        .arg("-t")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .output()
        .unwrap();
    assert!(
        t.status.success(),
        "nginx -t refuses the example:\n{}",
        String::from_utf8_lossy(&t.stderr)
    );
    let child = Command::new(bin)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut nginx = Nginx {
        child,
        dir: dir.to_owned(),
    };
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(status)) = nginx.child.try_wait() {
            let log = nginx.error_log();
            if log.contains("Address already in use") {
                return None;
            }
            panic!("nginx exited at start ({status}):\n{log}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((nginx, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "nginx did not listen on 127.0.0.1:{port} within 10 s:\n{}",
        nginx.error_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_with_the_shipped_config_serves_the_list_to_enrolled_devices_only() {
    let Some(bin) = nginx_binary() else {
        if std::env::var("OMATOIMI_SKIP_NGINX").is_ok_and(|v| v == "1") {
            println!("SKIPPED: nginx is not installed and OMATOIMI_SKIP_NGINX=1");
            return;
        }
        panic!(
            "nginx is not installed: this test runs Debian's nginx with \
             config/examples/nginx-allowlist.conf. Install it (`apt-get install nginx`; \
             scripts/test does), name another binary with OMATOIMI_NGINX, or set \
             OMATOIMI_SKIP_NGINX=1 to skip this test"
        );
    };
    let version = Command::new(&bin).arg("-v").output().unwrap();
    println!("{}", String::from_utf8_lossy(&version.stderr).trim());

    let tmp = tempfile::tempdir().unwrap();
    let files = published(&tmp.path().join("publisher"));
    let server_dir = tmp.path().join("nginx");
    std::fs::create_dir_all(&server_dir).unwrap();

    // The list server's certificate, from a CA the devices pin.
    let server_ca = ca("Heili list server CA");
    let server_ca_key = KeyPair::from_pem(&server_ca.1).unwrap();
    let server_ca_cert = CertificateParams::from_ca_cert_pem(&server_ca.0)
        .unwrap()
        .self_signed(&server_ca_key)
        .unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .unwrap()
        .signed_by(&server_key, &server_ca_cert, &server_ca_key)
        .unwrap();
    std::fs::write(server_dir.join("server.pem"), server_cert.pem()).unwrap();
    std::fs::write(
        server_dir.join("server-key.pem"),
        server_key.serialize_pem(),
    )
    .unwrap();
    let pinned = tmp.path().join("server-ca.pem");
    std::fs::write(&pinned, &server_ca.0).unwrap();

    // The library's device CA, which nginx trusts for clients.
    let device_ca = ca("Heili devices CA");
    std::fs::write(server_dir.join("device-ca.pem"), &device_ca.0).unwrap();

    let mut started = None;
    for _ in 0..5 {
        started = start_nginx(&bin, &server_dir, &files.out);
        if started.is_some() {
            break;
        }
    }
    let (nginx, port) = started.expect("no free loopback port for nginx in 5 tries");
    let url = format!("https://127.0.0.1:{port}/allowlist/");

    // An enrolled device: its certificate as provisioning makes it, signed by the device CA.
    let enrolled = device_identity(
        &tmp.path().join("door-id"),
        &device_ca,
        SystemTime::from(e2e::daemons_now()),
        365,
    );
    let door = device(
        &tmp.path().join("door"),
        &files,
        &url,
        &pinned,
        Some(&enrolled),
    );
    let fetcher = Fetcher::new(&door).unwrap();
    applied_and_answers(&door, fetcher.sync(&door, now()).await);
    // nginx's ETag and If-None-Match: the next sync costs a 304.
    let again = fetcher.sync(&door, now()).await;
    assert!(matches!(again, Ok(Synced::Unchanged { .. })), "{again:?}");

    // No certificate.
    let stranger = device(&tmp.path().join("stranger"), &files, &url, &pinned, None);
    refused_403("no certificate", &stranger, sync(&stranger).await);

    // A certificate from another library's CA.
    let other = device_identity(
        &tmp.path().join("other-id"),
        &ca("Some other library's devices"),
        SystemTime::from(e2e::daemons_now()),
        365,
    );
    let foreign = device(
        &tmp.path().join("foreign"),
        &files,
        &url,
        &pinned,
        Some(&other),
    );
    refused_403("another CA", &foreign, sync(&foreign).await);

    // An expired certificate from the right CA.
    let old = device_identity(
        &tmp.path().join("expired-id"),
        &device_ca,
        SystemTime::from(e2e::daemons_now()) - Duration::from_secs(400 * 86_400),
        365,
    );
    let expired = device(
        &tmp.path().join("expired"),
        &files,
        &url,
        &pinned,
        Some(&old),
    );
    refused_403("expired", &expired, sync(&expired).await);

    // Each is in the access log with the certificate's verdict.
    let log = nginx.stop_and_access_log();
    println!("nginx's access log:\n{log}");
    for expect in [
        "\"GET /allowlist/full.oal HTTP/1.1\" 200",
        "client_verify=\"SUCCESS\" device=\"",
        "CN=lemi-door-1",
        "client_verify=\"NONE\"",
        "client_verify=\"FAILED:",
        "certificate has expired",
    ] {
        assert!(
            log.contains(expect),
            "no `{expect}` in the access log:\n{log}"
        );
    }
    assert_eq!(
        log.lines().filter(|l| l.contains("\" 403 ")).count(),
        3,
        "three refusals:\n{log}"
    );
}
