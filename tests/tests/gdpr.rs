//! A patron's rights on a device: export (what it holds about one card) and erase (remove it),
//! the card read from standard input, on the real binaries. The door's event log; the kiosk's
//! offline queue, whose loans are delivered before anything is erased — and nothing is erased
//! while the library system cannot take them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use drivers::feig_twin::AirTime;
use kiosk::Input;
use rig::door::{self, TestClock};
use rig::kiosk as sim;
use ui::{Outcome, Screen};

const AINO: &str = "24680000000011";

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml")
}

fn with_card(bin: &Path, config: &Path, args: &[&str], card: &str) -> Output {
    let mut child = Command::new(bin)
        .args(["-c", &config.to_string_lossy()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{card}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Gives the door of `config` a `[console]` at `port` (a CA and a device certificate as
/// provisioning makes them, in `dir`); returns its outbox's directory.
fn console_identity(dir: &Path, config: &Path, port: u16) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "Heili console CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = (p.self_signed(&key).unwrap().pem(), key.serialize_pem());
    let device_key = provision::identity::new_key().unwrap();
    let csr = provision::identity::request(&device_key, "lemi-door-1", "heili", "LEMI").unwrap();
    let cert = provision::identity::sign(
        &csr,
        &ca.0,
        &ca.1,
        365,
        std::time::SystemTime::from(e2e::daemons_now()),
    )
    .unwrap();
    std::fs::write(dir.join("console-ca.pem"), &ca.0).unwrap();
    std::fs::write(dir.join("device.pem"), cert).unwrap();
    std::fs::write(dir.join("device-key.pem"), device_key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        dir.join("device-key.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(&format!(
        "\n[console]\nurl = \"https://127.0.0.1:{port}/\"\nca = \"console-ca.pem\"\nclient_cert = \"device.pem\"\nclient_key = \"device-key.pem\"\noutbox = \"console-outbox\"\n"
    ));
    std::fs::write(config, text).unwrap();
    dir.join("console-outbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doors_events_about_one_card_are_exported_and_erased() {
    let Some(bin) = e2e::workspace_binary("door-agent") else {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rig = door::rig(
        tmp.path(),
        &fixtures(),
        &format!("metrics = \"127.0.0.1:{port}\""),
        door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    // The door reports to a console that is down: what it keeps waits in the outbox, and the
    // patron's erasure must reach there too.
    let console_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outbox = console_identity(&rig.dir, &rig.config, console_port);
    let settings = door_agent::settings::load(&rig.config).unwrap();
    let mut d = door::start_door(
        settings,
        TestClock::starting(door::nine_pm_on(e2e::daemons_now())).clock(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    d.try_card(AINO, "1234#").await.unwrap();
    d.try_card(AINO, "9999#").await.unwrap();
    d.try_card("24680000000029", "2468#").await.unwrap();

    // The running door's health, as `door-agent status` shows it.
    let o = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "status", "--raw"])
        .output()
        .unwrap();
    let status = text(&o);
    assert!(o.status.success(), "{status}");
    for want in [
        "up ",
        "door_task_alive ",
        "allowlist_version ",
        "alarms_24h ",
        "events ",
    ] {
        assert!(status.contains(want), "status lacks {want:?}:\n{status}");
    }
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("online") && l.ends_with(" 1")),
        "{status}"
    );
    assert!(!status.contains(AINO));

    // The same in words, as a technician reads it.
    let o = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "status"])
        .output()
        .unwrap();
    let words = text(&o);
    assert!(o.status.success(), "{words}");
    for want in [
        "door-agent       up ",
        "door task        reading its inputs",
        "lock             engaged",
        "library system   reachable",
        "offline list     version ",
        "times in         Europe/Helsinki",
    ] {
        assert!(
            words.lines().any(|l| l.starts_with(want)),
            "status lacks {want:?}:\n{words}"
        );
    }
    assert!(!words.contains("_timestamp_seconds"), "{words}");

    // Forced open: a security event, kept apart.
    d.set_open(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    d.set_open(false);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // While the door runs, its log is its own.
    let busy = with_card(&bin, &rig.config, &["erase"], AINO);
    assert!(
        !busy.status.success() && text(&busy).contains("stop the door first"),
        "{}",
        text(&busy)
    );
    d.shut_down().await.unwrap();

    let out = tmp.path().join("aino.json");
    let o = with_card(
        &bin,
        &rig.config,
        &["export", "--out", &out.to_string_lossy()],
        AINO,
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let events = doc["events"].as_array().unwrap();
    assert!(events.len() >= 2, "{doc}");
    let p = doc["card_pseudonym"].as_str().unwrap();
    assert!(events.iter().all(|e| e["card"] == p));
    let raw = std::fs::read_to_string(&out).unwrap();
    assert!(
        !raw.contains(AINO),
        "the export holds the card number in clear"
    );
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions())
            & 0o777,
        0o600
    );

    assert!(daemon::fs::holds_bytes(&outbox, p.as_bytes()).unwrap());
    let o = with_card(&bin, &rig.config, &["erase"], AINO);
    assert!(
        o.status.success() && text(&o).contains(&format!("{} event(s)", events.len())),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains(&format!(
            "{} record(s) about this card removed from the console's outbox",
            events.len()
        )),
        "{}",
        text(&o)
    );
    assert!(
        !daemon::fs::holds_bytes(&outbox, p.as_bytes()).unwrap(),
        "the console's outbox still holds the erased card's pseudonym"
    );
    let again = tmp.path().join("again.json");
    with_card(
        &bin,
        &rig.config,
        &["export", "--out", &again.to_string_lossy()],
        AINO,
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&again).unwrap()).unwrap();
    assert!(doc["events"].as_array().unwrap().is_empty());
    // Erik's event is still there; an unknown card has nothing, and says so.
    let erik = tmp.path().join("erik.json");
    with_card(
        &bin,
        &rig.config,
        &["export", "--out", &erik.to_string_lossy()],
        "24680000000029",
    );
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&erik).unwrap()).unwrap();
    assert_eq!(doc["events"].as_array().unwrap().len(), 1);
    let o = with_card(&bin, &rig.config, &["erase"], "11111111111111");
    assert!(
        o.status.success() && text(&o).contains("0 event(s)"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_delivers_a_cards_offline_loans_before_erasing_and_refuses_while_offline() {
    let Some(bin) = e2e::workspace_binary("kiosk") else {
        println!("SKIPPED: the kiosk binary is not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut rig = sim::rig(tmp.path(), &fixtures(), e2e::daemons_now(), "")
        .await
        .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let mut k = sim::start_kiosk(settings, AirTime::default(), kiosk::system_clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let wait = Duration::from_secs(10);
    k.send(Input::Scan(AINO.into())).await;
    k.wait_for(wait, |v| v.screen == Screen::Pin).await.unwrap();
    k.type_digits("1234").await;
    k.wait_for(wait, |v| v.screen == Screen::Items)
        .await
        .unwrap();
    let sip = rig.running.sip2_tls.unwrap();
    rig.running.stop();
    k.pad.place(sim::tag("HE0000003", 1, 1));
    k.wait_for(wait, |v| {
        v.items.iter().any(|r| r.outcome == Outcome::LentOffline)
    })
    .await
    .unwrap();
    k.shut_down().await.unwrap();

    let out = tmp.path().join("aino.json");
    let o = with_card(
        &bin,
        &rig.config,
        &["export", "--out", &out.to_string_lossy()],
        AINO,
    );
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["records"][0]["loan_of_item"], "HE0000003", "{doc}");

    // The library system is down: nothing is erased, and the loan is not lost.
    let o = with_card(&bin, &rig.config, &["erase"], AINO);
    assert!(
        !o.status.success() && text(&o).contains("nothing was erased"),
        "{}",
        text(&o)
    );
    let o = with_card(
        &bin,
        &rig.config,
        &[
            "export",
            "--out",
            &tmp.path().join("still.json").to_string_lossy(),
        ],
        AINO,
    );
    assert!(text(&o).contains("1 offline loan(s)"), "{}", text(&o));

    // Back: delivered, then nothing left.
    rig.running = library_sim::server::start(library_sim::server::Settings {
        sip2_tls: Some(sip),
        https: None,
        dialect: sip2::Dialect {
            charset: sip2::Charset::Utf8,
            ..sip2::Dialect::standard()
        },
        ..library_sim::server::Settings::loopback(fixtures(), tmp.path().to_owned())
    })
    .await
    .unwrap();
    let o = with_card(&bin, &rig.config, &["erase"], AINO);
    assert!(
        o.status.success() && text(&o).contains("delivered 1"),
        "{}",
        text(&o)
    );
    assert!(
        rig.running
            .received()
            .iter()
            .any(|r| r.item == "HE0000003" && r.no_block && r.ok)
    );
    let o = with_card(
        &bin,
        &rig.config,
        &[
            "export",
            "--out",
            &tmp.path().join("after.json").to_string_lossy(),
        ],
        AINO,
    );
    assert!(
        text(&o).contains("0 offline loan(s) and 0 event(s)"),
        "{}",
        text(&o)
    );
}
