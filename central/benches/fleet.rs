//! The console under a fleet: N devices (500; `FLEET_BENCH_DEVICES`) each reporting every 15 s
//! over its own mutual-TLS connection to the real `omatoimi-central` binary (a child process,
//! SQLite on disk with synchronous=FULL, or `FLEET_BENCH_DATABASE=postgres://…`), with events:
//! now and then an entry, and from 1 % of reports a burst of 100 events (an outbox catching up
//! after an outage). For `FLEET_BENCH_SECS` (120).
//!
//! Reports: ingest latency (p50/p90/p99/max) against a floor measured in the same run on the
//! same connections (a POST the console refuses with 404 before any database work: TLS, HTTP and
//! the process's own scheduling), the console's memory (VmHWM, VmRSS), and the database's growth:
//! bytes per stored status snapshot and per event (SQLite's dbstat), and per device per year at
//! the rates stated.
//!
//! `cargo bench -p central --bench fleet`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use report::{Batch, Body, Event, Record, Role};

/// When the devices' clock starts (2026-01-01T00:00:00Z).
const T0_MS: i64 = 1_767_225_600_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ca(name: &str) -> (String, String, KeyPair, rcgen::Certificate) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = p.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem(), key, cert)
}

fn status_mib(pid: u32, field: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A small deterministic generator (xorshift), so every run sends the same load.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let devices = env("FLEET_BENCH_DEVICES", 500) as usize;
    let secs = env("FLEET_BENCH_SECS", 120);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The console's CA and certificate, the library's device CA.
    let (console_ca_pem, _, console_ca_key, console_ca) = ca("bench console CA");
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&key, &console_ca, &console_ca_key)
        .unwrap();
    std::fs::write(dir.join("console.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("console-key.pem"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        dir.join("console-key.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (device_ca_pem, device_ca_key_pem, _, _) = ca("bench devices CA");
    std::fs::write(dir.join("device-ca.pem"), &device_ca_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database = std::env::var("FLEET_BENCH_DATABASE")
        .unwrap_or_else(|_| format!("sqlite:{}", dir.join("central.db").display()));
    let sqlite = database.starts_with("sqlite:");
    std::fs::write(
        dir.join("central.toml"),
        format!(
            "database = \"{database}\"\n[devices]\nlisten = \"127.0.0.1:{port}\"\ncertificate = \"console.pem\"\nkey = \"console-key.pem\"\ndevice_ca = \"device-ca.pem\"\n"
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_omatoimi-central"))
        .arg("--config")
        .arg(dir.join("central.toml"))
        .arg("serve")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = child.id();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the console did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let idle_rss = status_mib(pid, "VmRSS:");

    // Device identities, as provisioning makes them.
    // Valid from 2000 to 2099: the bench runs the same on any date (rustls checks the
    // certificates against the real clock).
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    let identities: Vec<(String, String)> = (0..devices)
        .map(|i| {
            let key = provision::identity::new_key().unwrap();
            let id = format!("dev-{i:04}");
            let branch = format!("B{:02}", i % 40);
            let csr = provision::identity::request(&key, &id, "bench", &branch).unwrap();
            let cert =
                provision::identity::sign(&csr, &device_ca_pem, &device_ca_key_pem, 36_500, now)
                    .unwrap();
            (cert, key.serialize_pem())
        })
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ingest = Arc::new(Mutex::new(Vec::<f64>::new()));
    let floor = Arc::new(Mutex::new(Vec::<f64>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let records = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let events_sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    rt.block_on(async {
        let mut tasks = vec![];
        for (i, (cert, key)) in identities.into_iter().enumerate() {
            let (ingest, floor, failures, records, events_sent) = (
                ingest.clone(),
                floor.clone(),
                failures.clone(),
                records.clone(),
                events_sent.clone(),
            );
            let console_ca_pem = console_ca_pem.clone();
            tasks.push(tokio::spawn(async move {
                let client = client(&console_ca_pem, &cert, &key);
                let url = format!("https://127.0.0.1:{port}/v1/report");
                let nothing = format!("https://127.0.0.1:{port}/v1/nothing");
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((i as u64 + 1) * 0x1000_0001));
                // Spread over the first 15 s, as real devices are.
                tokio::time::sleep(Duration::from_millis(rng.next() % 15_000)).await;
                let mut seq = 0u64;
                let mut tick = tokio::time::interval(Duration::from_secs(15));
                let role = if i % 5 == 4 { Role::Kiosk } else { Role::Door };
                let deadline = started + Duration::from_secs(secs);
                loop {
                    tick.tick().await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    // The devices' clock: a fixed start and the time run since (no day's date in it).
                    let at = T0_MS + started.elapsed().as_millis() as i64;
                    let mut recs = vec![];
                    let mut push = |body: Body, seq: &mut u64, rng: &mut Rng| {
                        *seq += 1;
                        recs.push(Record {
                            id: format!("{:016x}{:016x}", rng.next(), rng.next()),
                            seq: *seq,
                            at,
                            body,
                        });
                    };
                    let gauges = (0..15)
                        .map(|g| {
                            (
                                format!("omatoimi_bench_gauge_{g}"),
                                (rng.next() % 100) as f64,
                            )
                        })
                        .chain([
                            ("omatoimi_up".to_owned(), 1.0),
                            ("omatoimi_online".to_owned(), 1.0),
                        ])
                        .collect();
                    push(Body::Status { gauges }, &mut seq, &mut rng);
                    let n_events = if rng.chance(10) {
                        100
                    } else if rng.chance(200) {
                        1
                    } else {
                        0
                    };
                    for _ in 0..n_events {
                        let card = format!("{:016x}{:016x}", rng.next(), rng.next());
                        push(
                            Body::Event {
                                event: Event {
                                    kind: "entry".into(),
                                    code: Some("ok".into()),
                                    card: Some(card),
                                    source: Some("online".into()),
                                    detail: None,
                                },
                            },
                            &mut seq,
                            &mut rng,
                        );
                    }
                    events_sent.fetch_add(n_events, std::sync::atomic::Ordering::Relaxed);
                    records.fetch_add(recs.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    let batch = Batch {
                        v: report::VERSION,
                        role,
                        name: None,
                        software: "bench".into(),
                        sent_at: at,
                        records: recs,
                    };
                    let body = serde_json::to_vec(&batch).unwrap();
                    let t = Instant::now();
                    match client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.bytes().await;
                            ingest
                                .lock()
                                .unwrap()
                                .push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(r) => failures
                            .lock()
                            .unwrap()
                            .push(format!("HTTP {}", r.status())),
                        Err(e) => failures.lock().unwrap().push(e.to_string()),
                    }
                    // The floor, on the same connection.
                    let t = Instant::now();
                    if let Ok(r) = client.post(&nothing).body("{}").send().await {
                        let _ = r.bytes().await;
                        floor
                            .lock()
                            .unwrap()
                            .push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let hwm = status_mib(pid, "VmHWM:");
    let rss = status_mib(pid, "VmRSS:");
    let cpu = cpu_secs(pid);
    terminate(pid);
    let _ = child.wait();

    let mut ingest = ingest.lock().unwrap().clone();
    let mut floor = floor.lock().unwrap().clone();
    ingest.sort_by(f64::total_cmp);
    floor.sort_by(f64::total_cmp);
    let failures = failures.lock().unwrap().clone();
    let records = records.load(std::sync::atomic::Ordering::Relaxed);
    let events = events_sent.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "fleet: {devices} devices, every 15 s for {elapsed:.0} s: {} reports ({:.1}/s), {records} records, {events} events; {} failed{}",
        ingest.len(),
        ingest.len() as f64 / elapsed,
        failures.len(),
        failures
            .first()
            .map(|f| format!(" (first: {f})"))
            .unwrap_or_default()
    );
    for (name, v) in [("ingest", &ingest), ("floor (404, no database)", &floor)] {
        println!(
            "  {name:<26} p50 {:>7.1} ms  p90 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
            percentile(v, 0.5),
            percentile(v, 0.9),
            percentile(v, 0.99),
            v.last().copied().unwrap_or(0.0)
        );
    }
    println!(
        "  ingest / floor at p99: {:.2}×",
        percentile(&ingest, 0.99) / percentile(&floor, 0.99).max(0.001)
    );
    println!(
        "  console memory: {idle_rss:.1} MiB idle, {rss:.1} MiB at the end, peak {hwm:.1} MiB (VmHWM)"
    );
    println!(
        "  console CPU: {cpu:.1} s in {elapsed:.0} s ({:.1} % of one core)",
        cpu / elapsed * 100.0
    );

    if sqlite {
        rt.block_on(async {
            let db = central::Db::open(&database).await.unwrap();
            use sqlx::Row;
            let count = |sql: &'static str| {
                let db = db.clone();
                async move {
                    sqlx::query(sql)
                        .fetch_one(db.pool())
                        .await
                        .unwrap()
                        .try_get::<i64, _>(0)
                        .unwrap()
                }
            };
            let status_rows = count("SELECT CAST(COUNT(*) AS BIGINT) FROM status_history").await;
            let event_rows = count("SELECT CAST(COUNT(*) AS BIGINT) FROM events").await;
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(db.pool()).await;
            let table = |name: &'static str| {
                let db = db.clone();
                async move {
                    sqlx::query("SELECT CAST(SUM(pgsize) AS BIGINT) FROM dbstat WHERE name = $1")
                        .bind(name)
                        .fetch_one(db.pool())
                        .await
                        .ok()
                        .and_then(|r| r.try_get::<Option<i64>, _>(0).ok().flatten())
                        .unwrap_or(0)
                }
            };
            let status_bytes = table("status_history").await
                + table("status_by_device_and_time").await
                + table("sqlite_autoindex_status_history_1").await;
            let event_bytes = table("events").await
                + table("events_by_device_and_time").await
                + table("events_by_kind_and_time").await
                + table("sqlite_autoindex_events_1").await;
            let file = std::fs::metadata(dir.join("central.db")).map_or(0, |m| m.len());
            println!(
                "  database: {:.1} MiB on disk; {status_rows} status snapshots kept, {event_rows} events",
                file as f64 / 1048576.0
            );
            if status_bytes > 0 && event_bytes > 0 {
                let per_status = status_bytes as f64 / status_rows.max(1) as f64;
                let per_event = event_bytes as f64 / event_rows.max(1) as f64;
                // A year: one snapshot kept per 5 minutes (more only when a problem gauge changes),
                // and a busy door's 300 entries and denials a day.
                let year_status = 365.0 * 24.0 * 12.0 * per_status;
                let year_events = 365.0 * 300.0 * per_event;
                println!(
                    "  bytes per row with its indexes: status snapshot {per_status:.0} (17 gauges), event {per_event:.0}"
                );
                println!(
                    "  growth per device per year: {:.1} MiB status history + {:.1} MiB events (300 a day) = {:.1} MiB; with the default retention (status 90 days, events 365) a device holds at most {:.1} MiB, {devices} devices {:.2} GiB",
                    year_status / 1048576.0,
                    year_events / 1048576.0,
                    (year_status + year_events) / 1048576.0,
                    (year_status * 90.0 / 365.0 + year_events) / 1048576.0,
                    (year_status * 90.0 / 365.0 + year_events) * devices as f64 / 1073741824.0
                );
            } else {
                println!("  (this SQLite has no dbstat table: per-row sizes not measured)");
            }
        });
    }
}

/// User and system CPU seconds of a process (/proc/PID/stat, at 100 ticks a second).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// SIGTERM by the system call, not the `kill` program (whose Debian bookworm build signals every
/// process for a negative id written as `-KILL -PGID`).
fn terminate(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

fn client(console_ca: &str, cert: &str, key: &str) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(console_ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
        .map(|c| c.unwrap())
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}
