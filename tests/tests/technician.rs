//! A technician's path with the real binaries, as the README tells it: `omatoimi-provision door`
//! on a new box, `door-agent check-config`, `door-agent selftest` with the technician at the
//! door (opening it when the lock is released, presenting a card, pressing a key), the device's
//! enrolment request signed by the library's CA and installed by running provisioning again, the
//! door started, `door-agent status`, and a selftest with the reader and keypad unplugged.
//!
//! The library system is the simulator, asking for the device's client certificate on SIP2 and
//! on the list's HTTPS server; the reader and keypad are serial lines (socat pseudo-terminals);
//! the pins are files. The unit files are verified with systemd-analyze in `systemd.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drivers::gpio::FileBackend;
use e2e::Kill;

const CARD: &str = "24680000000011";
const LOCK: u8 = 17;
const CONTACT: u8 = 27;

fn me() -> String {
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[2] == uid.to_string()).then(|| f[0].to_owned())
        })
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A technician at the door: answers the selftest's prompts on its standard error.
struct AtTheDoor {
    gpio: PathBuf,
    scanner: Option<PathBuf>,
    keypad: Option<PathBuf>,
    opens_door: bool,
}

/// Runs `door-agent selftest` with `tech` answering; (success, table, what it said).
fn selftest(bin: &Path, config: &Path, wait: u64, tech: AtTheDoor) -> (bool, String, String) {
    let mut child = Command::new(bin)
        .args([
            "-c",
            &config.to_string_lossy(),
            "selftest",
            "--wait",
            &wait.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let log = said.clone();
    let listener = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if line.contains("The lock is released") && tech.opens_door {
                let gpio = tech.gpio.clone();
                std::thread::spawn(move || {
                    let until = |want: bool| {
                        let t = Instant::now();
                        while FileBackend::level(&gpio, LOCK) != Some(want) {
                            if t.elapsed() > Duration::from_secs(5) {
                                return false;
                            }
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        true
                    };
                    // A lock that stays engaged keeps the door shut, and the selftest fails.
                    if !until(true) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                    FileBackend::set_level(&gpio, CONTACT, true).unwrap();
                    let _ = until(false);
                    std::thread::sleep(Duration::from_millis(500));
                    FileBackend::set_level(&gpio, CONTACT, false).unwrap();
                });
            }
            if line.contains("Present a library card")
                && let Some(p) = &tech.scanner
            {
                std::thread::sleep(Duration::from_millis(300));
                let mut f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                f.write_all(format!("{CARD}\r\n").as_bytes()).unwrap();
            }
            if line.contains("Press any key")
                && let Some(p) = &tech.keypad
            {
                std::thread::sleep(Duration::from_millis(300));
                let mut f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                f.write_all(b"5").unwrap();
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    listener.join().unwrap();
    let said = said.lock().unwrap().clone();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        said,
    )
}

/// Unplugs a serial device made by `e2e::socat_pair`: its socat is killed, and its device path
/// goes, as a USB device's node does. A killed socat leaves its link behind, pointing at a
/// pseudo-terminal number the system hands to the next process that asks (on a busy machine,
/// another test's socat): the selftest then found the reader "present" and someone else's
/// terminal locked ("Unable to acquire exclusive lock on serial port").
fn unplug(socat: Kill, device: &Path) {
    drop(socat);
    match std::fs::remove_file(device) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{}: {e}", device.display()),
    }
    assert!(
        std::fs::symlink_metadata(device).is_err(),
        "{}",
        device.display()
    );
}

fn has(table: &str, rows: &[&str]) {
    for row in rows {
        assert!(table.contains(row), "{row:?} missing:\n{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_technician_provisions_checks_and_starts_a_door() {
    let (Some(provision), Some(door)) = (
        e2e::workspace_binary("omatoimi-provision"),
        e2e::workspace_binary("door-agent"),
    ) else {
        println!("SKIPPED: the binaries are not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((scanner_line, scanner_dev, scanner_test)) = e2e::socat_pair(tmp.path(), "scanner")
    else {
        println!("SKIPPED: socat is not installed");
        return;
    };
    let (keypad_line, keypad_dev, keypad_test) = e2e::socat_pair(tmp.path(), "keypad").unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let lib = tmp.path().join("library");
    let (running, publisher, _) =
        rig::door::start_library(&lib, &fixtures, e2e::daemons_now(), 72, true)
            .await
            .unwrap();
    let sip = running.sip2_tls.unwrap();
    let https = running.https.unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let etc = tmp.path().join("etc");
    let gpio = tmp.path().join("gpio");
    let config = etc.join("door.toml");
    let places = vec![
        "door".to_owned(),
        "--etc".into(),
        etc.to_string_lossy().into(),
        "--state".into(),
        tmp.path().join("state").to_string_lossy().into(),
        "--user".into(),
        me(),
    ];
    let mut first = places.clone();
    first.extend(
        [
            "--device-id",
            "lemi-door-1",
            "--name",
            "Lemi main door",
            "--institution",
            "heili",
            "--branch",
            "LEMI",
            "--sip2",
            &sip.to_string(),
            "--server-name",
            "localhost",
            "--ca",
            &running.ca_cert.to_string_lossy(),
            "--sip2-login",
            "door-lemi",
            "--sip2-password-stdin",
            "--list-url",
            &format!("https://localhost:{}/allowlist/", https.port()),
            "--list-key",
            &publisher.public_key,
            "--card-key",
            &publisher.card_key.to_string_lossy(),
            "--gpio",
            &format!("files:{}", gpio.display()),
            "--reader",
            &format!("serial:{}", scanner_dev.display()),
            "--keypad",
            &format!("serial:{}", keypad_dev.display()),
            "--metrics",
            &metrics.to_string(),
            "--self-service",
            "07:00-22:00",
        ]
        .map(str::to_owned),
    );
    let provision_with = |args: &[String], stdin: &str| {
        let mut child = Command::new(&provision)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    };

    // 1. Provision.
    let o = provision_with(&first, "door-secret-2\n");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    has(&t, &["created", "device-key.pem", "device.csr", "Next:"]);
    assert!(!t.contains("door-secret-2"), "{t}");

    // 2. check-config.
    let o = Command::new(&door)
        .args(["-c", &config.to_string_lossy(), "check-config"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("valid (Lemi main door, branch LEMI"),
        "{}",
        text(&o)
    );

    // 3. Selftest before the CA has signed: the hardware passes; the library system refuses a
    //    device without its certificate, and there is no list yet.
    let tech = || AtTheDoor {
        gpio: gpio.clone(),
        scanner: Some(scanner_test.clone()),
        keypad: Some(keypad_test.clone()),
        opens_door: true,
    };
    let (ok, table, said) = selftest(&door, &config, 10, tech());
    assert!(!ok, "{table}");
    has(
        &table,
        &[
            "ok    door pins",
            "ok    door contact",
            "ok    exit button",
            "ok    LEDs and buzzer",
            "ok    lock relay",
            "ok    serial reader",
            "ok    card read",
            "ok    keypad",
            "FAIL  library system",
            "FAIL  offline list",
        ],
    );
    assert!(said.contains("The lock is released"), "{said}");
    assert!(
        !table.contains(CARD) && !said.contains(CARD),
        "{table}{said}"
    );

    // 4. The library's CA signs the request; provisioning again installs the certificate,
    //    taking every other answer from the config it wrote.
    let cert = tmp.path().join("lemi-door-1.pem");
    let o = Command::new(&provision)
        .args([
            "sign",
            "--ca-cert",
            &running.ca_cert.to_string_lossy(),
            "--ca-key",
            &lib.join("ca-key.pem").to_string_lossy(),
            "--csr",
            &etc.join("device.csr").to_string_lossy(),
            "--out",
            &cert.to_string_lossy(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut again = places.clone();
    again.extend(["--device-cert".to_owned(), cert.to_string_lossy().into()]);
    let o = provision_with(&again, "");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    has(&t, &["kept", "device certificate: CN=lemi-door-1"]);
    assert!(!t.contains("Send "), "no request to send any more:\n{t}");
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("client_cert = \"device.pem\""),
        "{written}"
    );
    // A bare re-run keeps the certificate in the config.
    let o = provision_with(&places, "");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);

    // 5. The door starts (as systemd would), fetches its list over mutual TLS, and reports.
    let mut daemon = Kill(
        Command::new(&door)
            .args(["-c", &config.to_string_lossy(), "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let status = || {
        Command::new(&door)
            .args(["-c", &config.to_string_lossy(), "status", "--raw"])
            .output()
            .unwrap()
    };
    let mut seen = String::new();
    for _ in 0..150 {
        let o = status();
        seen = text(&o);
        let version = seen
            .lines()
            .find(|l| l.starts_with("allowlist_version"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok());
        let online = seen
            .lines()
            .any(|l| l.starts_with("online ") && l.trim_end().ends_with(" 1"));
        if o.status.success() && version.is_some_and(|v| v >= 1.0) && online {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    has(
        &seen,
        &[
            "up ",
            "allowlist_version",
            "allowlist_last_sync_timestamp_seconds",
        ],
    );
    assert!(
        seen.lines()
            .any(|l| l.starts_with("online ") && l.trim_end().ends_with(" 1")),
        "the door knows it is online before any patron:\n{seen}"
    );
    e2e::signal(daemon.0.id(), rustix::process::Signal::TERM).unwrap();
    let t = Instant::now();
    let mut stopped = None;
    while t.elapsed() < Duration::from_secs(10) {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            stopped = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stopped.expect("stopped on SIGTERM").success());

    // 6. Selftest with the certificate and the list: everything passes.
    let (ok, table, said) = selftest(&door, &config, 10, tech());
    assert!(ok, "{table}\n{said}");
    has(
        &table,
        &[
            "ok    library system",
            "ok    offline list",
            "ok    lock relay",
        ],
    );

    // 7. The reader and the keypad unplugged, and nobody opens the door: each is named.
    unplug(scanner_line, &scanner_dev);
    unplug(keypad_line, &keypad_dev);
    let (ok, table, _) = selftest(
        &door,
        &config,
        2,
        AtTheDoor {
            gpio: gpio.clone(),
            scanner: None,
            keypad: None,
            opens_door: false,
        },
    );
    assert!(!ok, "{table}");
    has(
        &table,
        &[
            "FAIL  serial reader",
            "(plugged in?)",
            "FAIL  card read",
            "FAIL  keypad",
            "FAIL  lock relay",
            "never read open",
            "ok    library system",
        ],
    );
    assert_eq!(
        FileBackend::level(&gpio, LOCK),
        Some(false),
        "the lock is engaged after the selftest"
    );
    running.stop();
}
