//! The library's console takes what devices report, over real TLS on a real socket, into a real
//! SQLite file and into a real PostgreSQL server (Debian's `postgresql`, started here as a user
//! the test creates, since PostgreSQL refuses to run as root): each record stored once however
//! often it is sent, the device named by its certificate only, a certificate from another CA or
//! none refused in the handshake, a revoked one refused, odd records refused alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use central::settings::DeviceListener;
use report::{Batch, Body, Event, Record, Role};

mod console_common;
use console_common::*;

/// The console's clock: a fixed instant the test moves.
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn record(seq: u64, body: Body) -> Record {
    Record {
        id: format!("{seq:032x}"),
        seq,
        at: T0 - 60_000 + seq as i64,
        body,
    }
}

fn event(kind: &str, code: &str, card: Option<&str>) -> Body {
    Body::Event {
        event: Event {
            kind: kind.into(),
            code: Some(code.into()),
            card: card.map(str::to_owned),
            source: Some("online".into()),
            detail: None,
        },
    }
}

fn status(up: f64) -> Body {
    Body::Status {
        gauges: [
            ("omatoimi_up".to_owned(), up),
            ("omatoimi_alarms_24h".to_owned(), 1.0),
        ]
        .into_iter()
        .collect(),
    }
}

fn batch(name: &str, records: Vec<Record>) -> Batch {
    Batch {
        v: report::VERSION,
        role: Role::Door,
        name: Some(name.into()),
        software: "0.1.0".into(),
        sent_at: T0 - 2_000,
        records,
    }
}

async fn post(c: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<(u16, String), String> {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.unwrap_or_default()))
}

async fn post_batch(c: &reqwest::Client, url: &str, b: &Batch) -> report::Ack {
    let (status, body) = post(c, url, serde_json::to_vec(b).unwrap()).await.unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// One recipient, told of every rule by webhook (not started here: deliveries stay queued).
fn night_duty() -> central::settings::Alarms {
    central::settings::Alarms {
        notify: vec![central::settings::Recipient {
            name: "Night duty".into(),
            email: vec![],
            webhook: Some("http://127.0.0.1:9/hook".into()),
            rules: central::rules::Rule::ALL.to_vec(),
            quiet_hours: None,
            branches: vec![],
            lang: central::words::Lang::En,
        }],
        ..Default::default()
    }
}

async fn count(db: &central::Db, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Everything the console promises about taking reports, against the database at `url`.
async fn ingest_suite(url: &str, backend: central::db::Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let clock = Arc::new(AtomicI64::new(T0));
    let c2 = clock.clone();
    let db = central::Db::open(url).await.unwrap();
    assert_eq!(db.backend(), backend);
    // Opening again finds the schema up to date.
    central::Db::open(url).await.unwrap();
    let listener = DeviceListener {
        listen: "127.0.0.1:0".parse().unwrap(),
        certificate: pki.dir.join("console.pem"),
        key: pki.dir.join("console-key.pem"),
        device_ca: pki.dir.join("device-ca.pem"),
    };
    let console = central::ingest::start(
        &listener,
        db.clone(),
        Arc::new(move || c2.load(Ordering::SeqCst)),
        Arc::new(night_duty()),
    )
    .await
    .unwrap();
    let url = format!(
        "https://127.0.0.1:{}/v1/report",
        console.devices_addr.port()
    );
    let door = device_identity(&pki.device_ca, "lemi-door-1", "LEMI");
    let c = client(&pki, Some(&door));

    // Two events and a status: all stored, the device named by its certificate.
    let card = "00112233445566778899aabbccddeeff";
    let first = batch(
        "Lemi door",
        vec![
            record(1, event("entry", "ok", Some(card))),
            record(2, event("alarm", "forced-open", None)),
            record(3, status(1.0)),
        ],
    );
    let ack = post_batch(&c, &url, &first).await;
    assert_eq!((ack.acked.clone(), ack.duplicates), (vec![1, 2, 3], 0));
    assert!(ack.rejected.is_empty());
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 2);
    let row = db.device("lemi-door-1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.institution.as_str(),
            row.branch.as_str(),
            row.role.as_str()
        ),
        ("heili", "LEMI", "door")
    );
    assert_eq!(row.name.as_deref(), Some("Lemi door"));
    assert_eq!(row.last_seen, T0);
    assert_eq!(row.clock_skew_ms, Some(2_000));
    assert_eq!(row.last_status_at, Some(T0 - 60_000 + 3));
    let gauges: serde_json::Value = serde_json::from_str(row.gauges.as_deref().unwrap()).unwrap();
    assert_eq!(gauges["omatoimi_up"], 1.0);

    // The same batch again (the answer was lost on the way): acknowledged, stored once.
    clock.store(T0 + 5_000, Ordering::SeqCst);
    let again = post_batch(&c, &url, &first).await;
    assert_eq!((again.acked, again.duplicates), (vec![1, 2, 3], 3));
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 2);
    // The forced door raised one alarm, replay or not, and queued one delivery for it.
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE rule = 'forced-open'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&db, "SELECT CAST(COUNT(*) AS BIGINT) FROM deliveries WHERE state = 'pending' AND channel = 'webhook'").await,
        1
    );

    // A record with a card number is refused alone; the others go in. An older status does not
    // replace the newer one.
    let mixed = batch(
        "lemi-door-2",
        vec![
            record(4, event("denied", "pin", Some("24680000000011"))),
            record(5, event("entry", "ok", Some(card))),
            Record {
                at: T0 - 3_600_000,
                ..record(6, status(0.0))
            },
        ],
    );
    let ack = post_batch(&c, &url, &mixed).await;
    assert_eq!(ack.acked, vec![5, 6]);
    assert_eq!(ack.rejected.len(), 1);
    assert_eq!(ack.rejected[0].seq, 4);
    assert!(
        ack.rejected[0].why.contains("pseudonym"),
        "{:?}",
        ack.rejected
    );
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 3);
    let row = db.device("lemi-door-1").await.unwrap().unwrap();
    assert_eq!(row.last_status_at, Some(T0 - 60_000 + 3));
    // The body's name is a label: it speaks for no other device.
    assert_eq!(row.name.as_deref(), Some("lemi-door-2"));
    assert!(db.device("lemi-door-2").await.unwrap().is_none());

    // A second device of the same library.
    let kiosk = device_identity(&pki.device_ca, "kivi-kiosk-1", "KIVI");
    let mut b = batch("Kivi kiosk", vec![record(1, event("loan", "online", None))]);
    b.role = Role::Kiosk;
    let ack = post_batch(&client(&pki, Some(&kiosk)), &url, &b).await;
    assert_eq!((ack.acked, ack.duplicates), (vec![1], 0));
    assert_eq!(db.event_count("kivi-kiosk-1").await.unwrap(), 1);
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 3);

    // The fleet's gauges, as Prometheus's own parser reads them.
    let mut console = console;
    console
        .serve_metrics("127.0.0.1:0".parse().unwrap(), central::system_clock())
        .await
        .unwrap();
    let text = client(&pki, None)
        .get(format!("http://{}/metrics", console.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let samples = prometheus_judge(&text);
    assert!(
        samples.contains(&(
            "omatoimi_up".to_owned(),
            "LEMI lemi-door-1 door".to_owned(),
            1.0
        )),
        "{samples:?}\n{text}"
    );
    assert!(
        samples.iter().any(
            |(n, l, _)| n == "omatoimi_console_device_last_report_age_seconds"
                && l == "KIVI kivi-kiosk-1 kiosk"
        ),
        "{samples:?}"
    );
    assert!(samples.contains(&("omatoimi_console_devices".to_owned(), String::new(), 2.0)));

    // Whole batches refused with words: another version, too large, not JSON.
    let mut v2 = serde_json::to_value(batch("x", vec![])).unwrap();
    v2["v"] = 2.into();
    let (status, words) = post(&c, &url, serde_json::to_vec(&v2).unwrap())
        .await
        .unwrap();
    assert_eq!(status, 400, "{words}");
    assert!(words.contains("version 2"), "{words}");
    let (status, words) = post(&c, &url, vec![b' '; report::MAX_BODY_BYTES + 10])
        .await
        .unwrap();
    assert_eq!(status, 413, "{words}");
    let (status, _) = post(&c, &url, b"not json".to_vec()).await.unwrap();
    assert_eq!(status, 400);

    // No certificate, or one from another library's CA: refused in the handshake.
    let none = post(
        &client(&pki, None),
        &url,
        serde_json::to_vec(&first).unwrap(),
    )
    .await;
    assert!(none.is_err(), "{none:?}");
    let stranger = device_identity(&ca("Another library's devices"), "lemi-door-1", "LEMI");
    let foreign = post(
        &client(&pki, Some(&stranger)),
        &url,
        serde_json::to_vec(&first).unwrap(),
    )
    .await;
    assert!(foreign.is_err(), "{foreign:?}");

    // A revoked certificate: refused, nothing stored.
    let sha = central::identity::pem_sha256(door.0.as_bytes()).unwrap();
    assert!(db.revoke(&sha, "lemi-door-1", "stolen", T0).await.unwrap());
    assert!(!db.revoke(&sha, "lemi-door-1", "stolen", T0).await.unwrap());
    let late = batch(
        "Lemi door",
        vec![record(7, event("entry", "ok", Some(card)))],
    );
    let (status, words) = post(&c, &url, serde_json::to_vec(&late).unwrap())
        .await
        .unwrap();
    assert_eq!(status, 403, "{words}");
    assert!(words.contains("revoked"), "{words}");
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 3);
    // The box provisioned again (a new certificate) reports again.
    let door2 = device_identity(&pki.device_ca, "lemi-door-1", "LEMI");
    let ack = post_batch(&client(&pki, Some(&door2)), &url, &late).await;
    assert_eq!(ack.acked, vec![7]);
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 4);

    // What the staff's pages read and write, on this database too.
    let alarms = central::alarms::list(&db, None, 10).await.unwrap();
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0].told.len(), 1);
    assert_eq!(
        central::alarms::open_by_device(&db).await.unwrap()["lemi-door-1"],
        1
    );
    assert!(
        central::alarms::acknowledge(&db, &alarms[0].alarm_id, "aino", "seen", T0)
            .await
            .unwrap()
    );
    assert!(
        !central::alarms::acknowledge(&db, &alarms[0].alarm_id, "aino", "again", T0)
            .await
            .unwrap()
    );
    assert_eq!(
        central::alarms::list(&db, Some("lemi-door-1"), 10)
            .await
            .unwrap()[0]
            .acked_by
            .as_deref(),
        Some("aino")
    );
    assert_eq!(db.recent_events("lemi-door-1", 2).await.unwrap().len(), 2);
    assert!(
        !db.status_history("lemi-door-1", 5)
            .await
            .unwrap()
            .is_empty()
    );
    let role = central::staff::Role::Admin;
    central::staff::set_account(&db, "aino", role, "aino-pass-word-1", "(test)", T0)
        .await
        .unwrap();
    let s = central::staff::sign_in(&db, "aino", "aino-pass-word-1", T0, "127.0.0.1")
        .await
        .unwrap();
    let live = central::staff::session(&db, &s.token, T0 + 1, 60_000, 3_600_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.account.role, role);
    assert!(
        central::staff::session(&db, &s.token, T0 + 120_000, 60_000, 3_600_000)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        central::staff::sign_in(&db, "aino", "wrong-password", T0, "127.0.0.1")
            .await
            .is_err()
    );
    let log = central::staff::audit_log(&db, 10).await.unwrap();
    assert!(log.iter().any(|a| a.action == "sign-in-refused"));
    // Status history: a snapshot every 15 s keeps one per 5 minutes, and every change of a
    // problem gauge; the device's latest is always the newest.
    let history = || async { db.status_history("kivi-kiosk-1", 1000).await.unwrap().len() };
    let kiosk = device_identity(&pki.device_ca, "kivi-kiosk-1", "KIVI");
    let kc = client(&pki, Some(&kiosk));
    let snap = |i: i64, online: f64| Record {
        id: format!("{:032x}", 0xabc000 + i),
        seq: 100 + i as u64,
        at: T0 + i * 15_000,
        body: Body::Status {
            gauges: [
                ("omatoimi_online".to_owned(), online),
                ("omatoimi_uptime_seconds".to_owned(), i as f64),
            ]
            .into_iter()
            .collect(),
        },
    };
    let every_15s: Vec<Record> = (0..40)
        .map(|i| snap(i, if i == 7 { 0.0 } else { 1.0 }))
        .collect();
    post_batch(&kc, &url, &batch("Kivi kiosk", every_15s.clone())).await;
    // 10 minutes of snapshots: the first, the two changes (offline at 1:45, back at 2:00), and
    // 5 minutes after the last kept (7:00).
    assert_eq!(history().await, 4);
    let again = post_batch(&kc, &url, &batch("Kivi kiosk", every_15s)).await;
    assert_eq!(again.acked.len(), 40);
    assert_eq!(history().await, 4);
    let latest = db.device("kivi-kiosk-1").await.unwrap().unwrap();
    assert_eq!(latest.last_status_at, Some(T0 + 39 * 15_000));
    // Retention: a year on, the history and the events are gone, the devices stay.
    let pruned = db.prune(T0 + 400 * 86_400_000, 90, 365).await.unwrap();
    assert!(pruned > 5, "{pruned}");
    assert_eq!(history().await, 0);
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 0);

    assert_eq!(
        central::alarms::sweep_silent(&db, &night_duty(), T0 + 86_400_000)
            .await
            .unwrap(),
        db.devices().await.unwrap().len()
    );

    console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sqlite_console_stores_each_report_once_from_certified_devices_only() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", tmp.path().join("central.db").display());
    ingest_suite(&url, central::db::Backend::Sqlite).await;
    // A real SQLite file, in WAL mode.
    assert!(tmp.path().join("central.db").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_console_stores_each_report_once_from_certified_devices_only() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    ingest_suite(&pg.url(), central::db::Backend::Postgres).await;
    // The schema is PostgreSQL's own tables, made by the migrations.
    let db = central::Db::open(&pg.url()).await.unwrap();
    let tables: Vec<String> = sqlx_tables(&db).await;
    for t in [
        "devices",
        "events",
        "revoked_certs",
        "status_history",
        "_sqlx_migrations",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} missing: {tables:?}");
    }
    pg.stop();
}

/// Staff clicking while devices report: transactions that read the newest version and then
/// write the next, many at once on one database, all succeed and never reuse a version. (With
/// SQLite's plain `BEGIN` the write after the read failed at once with "database is locked", and
/// a librarian's click got a 503 in CI.)
async fn concurrent_writers_suite(url: &str) {
    let db = central::Db::open(url).await.unwrap();
    let publisher = Arc::new(central::policy::Publisher::new(
        allowlist::SigningKey::from_seed([3; 32]).unwrap(),
        30,
        14,
    ));
    let mut tasks = vec![];
    for writer in 0..6_i64 {
        let (db, publisher) = (db.clone(), publisher.clone());
        tasks.push(tokio::spawn(async move {
            let branch = if writer % 3 == 0 { "KIRJ" } else { "LEMI" };
            let cal = central::policy::BranchCalendar::new(branch);
            let mut versions = vec![];
            for i in 0..20_i64 {
                // The same moment for every writer: the version must still grow past the newest.
                let now = 1_800_000_000_000 + i;
                versions.push((branch, publisher.publish(&db, &cal, now).await?));
                // Another kind of write in between (as a device's report would be).
                db.revoke(&format!("{writer:02}{i:062}"), "test", "test", now)
                    .await?;
            }
            Ok::<_, central::db::DbError>(versions)
        }));
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in tasks {
        for v in t.await.unwrap().expect("a concurrent write failed") {
            assert!(seen.insert(v), "version {v:?} made twice");
        }
    }
    assert_eq!(seen.len(), 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writers_at_the_same_moment_all_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    concurrent_writers_suite(&format!("sqlite:{}", tmp.path().join("c.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writers_at_the_same_moment_all_succeed() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    concurrent_writers_suite(&pg.url()).await;
    pg.stop();
}

async fn sqlx_tables(db: &central::Db) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(
        "SELECT CAST(tablename AS TEXT) AS t FROM pg_catalog.pg_tables WHERE schemaname = 'public'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get::<String, _>("t").unwrap())
    .collect()
}

/// Every sample of `text` as the Prometheus project's Python parser reads it (the interop venv
/// scripts/test installs): name, the branch, device and role labels, value.
fn prometheus_judge(text: &str) -> Vec<(String, String, f64)> {
    use std::io::Write;
    let python = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/interop-venv/bin/python"
    );
    let judge = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        l = s.labels
        who = " ".join(l[k] for k in ("branch", "device", "role") if k in l)
        print(s.name, who, repr(s.value), sep="\t")
"#;
    let mut child = Command::new(python)
        .args(["-c", judge])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{python}: {e}: the judge is Prometheus's Python parser \
                 (`target/interop-venv/bin/pip install prometheus-client==0.26.0`; scripts/test does)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the text:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].parse().unwrap())
        })
        .collect()
}

/// A door's outbox while the console is down: nothing is lost, everything arrives once when it
/// is back, the outbox empties; a revoked device is told so and keeps its records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_keeps_its_reports_while_the_console_is_down_and_delivers_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let door = device_identity(&pki.device_ca, "lemi-door-1", "LEMI");
    let tls = device_tls(&pki, &door);
    // The console's port, nothing listening yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sender = uplink::Sender::new(
        &format!("https://127.0.0.1:{port}/"),
        &tls,
        Role::Door,
        Some("Lemi door".into()),
    )
    .unwrap();
    let outbox = uplink::Outbox::open(&tmp.path().join("outbox"), 64 << 20).unwrap();
    let card = "00112233445566778899aabbccddeeff";
    for i in 0..1_200i64 {
        outbox
            .push(T0 + i, event("entry", "ok", Some(card)))
            .unwrap();
        if i % 100 == 0 {
            outbox.push(T0 + i, status(1.0)).unwrap();
            outbox
                .push(T0 + i, event("alarm", "held-open", None))
                .unwrap();
        }
    }
    let queued = outbox.counts().records;
    assert_eq!(queued, 1_224);
    let down = sender.send_once(&outbox, T0).await;
    assert!(
        matches!(down, Err(uplink::SendError::Unreachable(_))),
        "{down:?}"
    );
    assert_eq!(
        outbox.counts().records,
        queued,
        "nothing lost while the console is down"
    );

    // The console comes up on that port.
    let db = central::Db::open(&format!(
        "sqlite:{}",
        tmp.path().join("central.db").display()
    ))
    .await
    .unwrap();
    let console = central::ingest::start(
        &DeviceListener {
            listen: format!("127.0.0.1:{port}").parse().unwrap(),
            certificate: pki.dir.join("console.pem"),
            key: pki.dir.join("console-key.pem"),
            device_ca: pki.dir.join("device-ca.pem"),
        },
        db.clone(),
        Arc::new(|| T0 + 3_600_000),
        Arc::default(),
    )
    .await
    .unwrap();
    let sent = sender.drain(&outbox, T0 + 3_600_000).await.unwrap();
    assert_eq!(sent.acked as u64, queued, "{sent:?}");
    assert_eq!((sent.duplicates, sent.rejected), (0, 0));
    assert_eq!(outbox.counts().records, 0);
    assert_eq!(db.event_count("lemi-door-1").await.unwrap(), 1_212);
    assert_eq!(
        sender.send_once(&outbox, T0).await.unwrap(),
        uplink::Sent::default()
    );

    // Revoked: the device is told, and keeps what it has.
    let sha = central::identity::pem_sha256(door.0.as_bytes()).unwrap();
    db.revoke(&sha, "lemi-door-1", "stolen", T0).await.unwrap();
    outbox.push(T0, event("tamper", "opened", None)).unwrap();
    let refused = sender.send_once(&outbox, T0).await;
    assert!(
        matches!(&refused, Err(uplink::SendError::Revoked(w)) if w.contains("revoked")),
        "{refused:?}"
    );
    assert_eq!(outbox.counts().records, 1);
    console.stop().await;
}

/// A door on its twins reports to the console: a forced door arrives as an alarm within seconds
/// (the outbox wakes the sender), and status snapshots carry the door's gauges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_door_reaches_the_console_within_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let db = central::Db::open(&format!(
        "sqlite:{}",
        tmp.path().join("central.db").display()
    ))
    .await
    .unwrap();
    let console = central::ingest::start(
        &DeviceListener {
            listen: "127.0.0.1:0".parse().unwrap(),
            certificate: pki.dir.join("console.pem"),
            key: pki.dir.join("console-key.pem"),
            device_ca: pki.dir.join("device-ca.pem"),
        },
        db.clone(),
        central::system_clock(),
        Arc::default(),
    )
    .await
    .unwrap();
    let identity = device_identity(&pki.device_ca, "lemi-door-1", "LEMI");
    let tls = device_tls(&pki, &identity);

    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let nine_pm = rig::door::nine_pm_on(e2e::daemons_now());
    let rig = rig::door::rig(&tmp.path().join("door"), &fixtures, "", nine_pm, 72)
        .await
        .unwrap();
    let mut settings = door_agent::settings::load(&rig.config).unwrap();
    settings.console = Some(config::console::ConsoleSettings {
        url: format!("https://127.0.0.1:{}/", console.devices_addr.port()),
        tls,
        outbox: tmp.path().join("outbox"),
        status_every: Duration::from_secs(5),
        outbox_max_bytes: 64 << 20,
        policy_keys: vec![],
        policy_revoked: vec![],
    });
    let clock = rig.clock.clone();
    let mut door = rig::door::start_door(settings, clock.clock()).unwrap();
    let alarms = || async {
        use sqlx::Row;
        sqlx::query("SELECT code FROM events WHERE device_id = $1 AND kind = $2")
            .bind("lemi-door-1")
            .bind("alarm")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>("code").unwrap())
            .collect::<Vec<_>>()
    };
    // The door started and reported it; then it is forced.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.event_count("lemi-door-1").await.unwrap() == 0 {
        assert!(
            Instant::now() < deadline,
            "the door's start never reached the console"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(door.relocked(Duration::from_secs(4)).await);
    let forced = Instant::now();
    door.set_open(true);
    assert_eq!(
        door.outcome(Duration::from_secs(2)).await,
        Some(access::door::Feedback::Alarm(
            access::watch::Alarm::ForcedOpen
        ))
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while alarms().await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the forced door never reached the console"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = forced.elapsed();
    println!(
        "a forced door reached the console's database {} ms after the door opened",
        took.as_millis()
    );
    assert_eq!(alarms().await, vec!["forced-open".to_owned()]);
    assert!(took < Duration::from_secs(10), "{took:?}");
    door.set_open(false);

    // A card reader the door loses (an OSDP reader cut off, say) is an alarm that lasts until
    // the reader is back.
    let reader_alarm = || async {
        use sqlx::Row;
        sqlx::query("SELECT cleared_at FROM alarms WHERE device_id = $1 AND rule = $2")
            .bind("lemi-door-1")
            .bind("reader-lost")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<Option<i64>, _>("cleared_at").unwrap().is_some())
            .collect::<Vec<bool>>()
    };
    door.cards
        .send(drivers::card::CardEvent::ReaderLost {
            reader: "osdp:/dev/ttyUSB0#1".into(),
            why: "no reply to POLL in 3 tries of 200 ms".into(),
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while reader_alarm().await != vec![false] {
        assert!(
            Instant::now() < deadline,
            "no open reader-lost alarm: {:?}",
            reader_alarm().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    door.cards
        .send(drivers::card::CardEvent::ReaderFound {
            reader: "osdp:/dev/ttyUSB0#1".into(),
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while reader_alarm().await != vec![true] {
        assert!(
            Instant::now() < deadline,
            "the reader-lost alarm was not cleared: {:?}",
            reader_alarm().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An OSDP reader whose housing is opened: tampering, the alarm told at once, naming the
    // reader; the reader is not lost (no second reader-lost alarm).
    door.cards
        .send(drivers::card::CardEvent::Tampered {
            reader: "osdp:/dev/ttyUSB0#1".into(),
        })
        .await;
    let tamper_alarm = || async {
        use sqlx::Row;
        sqlx::query("SELECT detail FROM alarms WHERE device_id = $1 AND rule = $2")
            .bind("lemi-door-1")
            .bind("tamper")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<Option<String>, _>("detail").unwrap())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tamper_alarm().await.is_empty() {
        assert!(Instant::now() < deadline, "no tamper alarm");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        tamper_alarm().await,
        vec![Some("osdp:/dev/ttyUSB0#1".to_owned())]
    );
    assert_eq!(reader_alarm().await, vec![true], "the reader counted lost");
    // A status snapshot with the door's gauges.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = db.device("lemi-door-1").await.unwrap().unwrap();
        // The first snapshot is taken at start, before the list's first sync; a later one
        // carries the list's version.
        let g: Option<serde_json::Value> = row
            .gauges
            .as_deref()
            .map(|g| serde_json::from_str(g).unwrap());
        if let Some(g) = g
            .as_ref()
            .filter(|g| g.get("omatoimi_allowlist_version").is_some())
        {
            assert_eq!(g["omatoimi_up"], 1.0, "{g}");
            assert_eq!(
                g["omatoimi_allowlist_version"], rig.list_version as f64,
                "{g}"
            );
            assert_eq!(row.role, "door");
            assert_eq!(row.name.as_deref(), Some("Lemi main door"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no status snapshot with the list's version reached the console: {g:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    door.shut_down().await.unwrap();
    rig.running.stop();
    console.stop().await;
}

/// A PostgreSQL server of its own in a temporary directory, on a free loopback port, run as an
/// unprivileged user when the test runs as root.
struct Postgres {
    child: Child,
    _dir: tempfile::TempDir,
    port: u16,
    log: PathBuf,
}

const PG_USER: &str = "omatoimi-pgtest";

fn pg_bindir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("OMATOIMI_PG_BINDIR") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn id_of(flag: &str) -> String {
    let o = Command::new("id").args([flag, PG_USER]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

impl Postgres {
    fn start() -> Option<Self> {
        let Some(bin) = pg_bindir() else {
            if std::env::var("OMATOIMI_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
                println!("SKIPPED: PostgreSQL is not installed and OMATOIMI_SKIP_POSTGRES=1");
                return None;
            }
            panic!(
                "PostgreSQL is not installed: this test runs Debian's postgresql. Install it \
                 (`apt-get install postgresql`; scripts/test does), name its bin directory with \
                 OMATOIMI_PG_BINDIR, or set OMATOIMI_SKIP_POSTGRES=1 to skip this test"
            );
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // PostgreSQL refuses to run as root: as root, the server runs as a user of its own.
        let mut prefix: Vec<String> = vec![];
        if is_root() {
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_USER,
                ])
                .stderr(Stdio::null())
                .status();
            let st = Command::new("chown")
                .args([
                    "-R",
                    &format!("{PG_USER}:"),
                    &dir.path().display().to_string(),
                ])
                .status()
                .unwrap();
            assert!(st.success(), "chown to {PG_USER}");
            prefix = vec![
                "setpriv".into(),
                format!("--reuid={}", id_of("-u")),
                format!("--regid={}", id_of("-g")),
                "--clear-groups".into(),
                "--".into(),
            ];
        }
        let run = |program: PathBuf, args: &[&str]| {
            let mut c = if prefix.is_empty() {
                Command::new(program)
            } else {
                let mut c = Command::new(&prefix[0]);
                c.args(&prefix[1..]).arg(program);
                c
            };
            c.args(args).env("LC_ALL", "C");
            c
        };
        let out = run(
            bin.join("initdb"),
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.path().join("postgres.log");
        let logfile = std::fs::File::create(&log).unwrap();
        if !prefix.is_empty() {
            let _ = Command::new("chown")
                .args([&format!("{PG_USER}:"), &log.display().to_string()])
                .status();
        }
        let child = run(
            bin.join("postgres"),
            &[
                "-D",
                &data.display().to_string(),
                "-k",
                &dir.path().display().to_string(),
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
        )
        .stdout(logfile.try_clone().unwrap())
        .stderr(logfile)
        .spawn()
        .unwrap();
        let pg = Self {
            child,
            _dir: dir,
            port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && std::fs::read_to_string(&pg.log)
                    .unwrap_or_default()
                    .contains("ready to accept connections")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start in 60 s:\n{}",
                std::fs::read_to_string(&pg.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A fast shutdown (SIGINT), waited for.
    fn stop(mut self) {
        let _ = e2e::signal(self.child.id(), rustix::process::Signal::INT);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = e2e::signal(self.child.id(), rustix::process::Signal::INT);
            let _ = self.child.wait();
        }
    }
}
