//! The real `kiosk` binary, headless, on real serial ports (socat pseudo-terminals): the FEIG
//! reader twin at the far end of one, a barcode scanner's line at the other; the simulator as
//! library system. A phone card's QR link scanned logs the patron in (this kiosk asks no PIN), a
//! tag placed is lent and unsecured, a barcode scanned is lent, and SIGTERM stops the kiosk
//! cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use e2e::Kill;
use std::time::Duration;

use drivers::feig_twin::SimPad;
use e2e::leaks;
use rig::kiosk as sim;
use tokio_serial::SerialPortBuilderExt;

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_binary_lends_over_real_serial_lines_and_stops_on_sigterm() {
    let Some(bin) = e2e::workspace_binary("kiosk") else {
        println!("SKIPPED: the kiosk binary is not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let Some((_pad_line, pad_dev, pad_test)) = e2e::socat_pair(tmp.path(), "pad") else {
        println!("SKIPPED: socat is not installed");
        return;
    };
    let (_scan_line, scan_dev, scan_test) = e2e::socat_pair(tmp.path(), "scanner").unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rig = sim::rig(
        tmp.path(),
        &fixtures,
        e2e::daemons_now(),
        &format!("pin_required = false\nmetrics = \"127.0.0.1:{metrics_port}\""),
    )
    .await
    .unwrap();
    e2e::kiosk_on_serial_lines(&rig.config, &scan_dev, &pad_dev).unwrap();
    assert!(
        std::fs::read_to_string(&rig.config)
            .unwrap()
            .contains("driver = \"feig\"")
    );

    // The reader twin on the far end of the pad's line.
    let pad = SimPad::new();
    let port = tokio_serial::new(pad_test.to_string_lossy(), 38400)
        .open_native_async()
        .unwrap();
    tokio::spawn(pad.clone().serve(port));

    // systemd's notification socket, as the unit would give it.
    let notify_path = tmp.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify.set_nonblocking(true).unwrap();
    let log = tmp.path().join("kiosk.log");
    let child = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "run", "--headless"])
        .env("RUST_LOG", "debug")
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "1000000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut kiosk = Kill(child);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    until("the offline list", || read_log().contains("offline list")).await;

    let mut scanner = std::fs::OpenOptions::new()
        .write(true)
        .open(&scan_test)
        .unwrap();
    // A phone library card's QR code, from a 2D scanner that sends AIM identifiers: first a link
    // without the card's parameter (refused, and the log says why without quoting it), then the
    // card's own.
    scanner
        .write_all(b"]Q1https://kirjasto.example.fi/card?id=24680000000011\r\n")
        .unwrap();
    until("the refused link", || {
        read_log().contains("without a `number` parameter")
    })
    .await;
    assert!(!read_log().contains("patron logged in"));
    scanner
        .write_all(b"]Q1https://kirjasto.example.fi/card?lang=fi&number=24680000000011\r\n")
        .unwrap();
    for _ in 0..500 {
        if read_log().contains("patron logged in") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        read_log().contains("patron logged in"),
        "no login:\n{}",
        read_log()
    );

    pad.place(sim::tag("HE0000001", 1, 1));
    let uid = sim::tag("HE0000001", 1, 1).uid;
    until("the tag lent and unsecured", || {
        pad.tag(uid).is_some_and(|t| t.afi == 0xC2)
    })
    .await;
    // A Code 128 item barcode with its AIM identifier: lent as the item it names.
    scanner.write_all(b"]C0HE0000003\r\n").unwrap();
    let running = &rig.running;
    until("the scanned loan", || {
        running
            .received()
            .iter()
            .any(|r| r.item == "HE0000003" && r.ok)
    })
    .await;
    assert!(
        running
            .received()
            .iter()
            .any(|r| r.item == "HE0000001" && r.ok && !r.no_block)
    );

    // Health, as a technician's `kiosk status` and a monitoring agent see it.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let words = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "status"])
        .output()
        .unwrap();
    let words = String::from_utf8_lossy(&words.stdout).into_owned();
    for want in [
        "kiosk            up ",
        "library system   reachable",
        "offline loans    none waiting",
        "offline list     version ",
        "RFID pad         answering",
        "security log     none in the last 24 h",
    ] {
        assert!(
            words.lines().any(|l| l.starts_with(want)),
            "status lacks {want:?}:\n{words}"
        );
    }
    assert!(!words.contains("24680000000011"));
    // Its event log, asked of the running kiosk (which holds it) over its control socket.
    let events = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "events"])
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&events.stdout).into_owned();
    assert!(
        events
            .lines()
            .any(|l| l.contains(" daemon ") && l.contains(" started ")),
        "{events}"
    );
    let status = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "status", "--raw"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    for want in [
        "up ",
        "online ",
        "queue_waiting ",
        "allowlist_version ",
        "rfid_pad_ok ",
    ] {
        assert!(status.contains(want), "status lacks {want:?}:\n{status}");
    }
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("online") && l.ends_with(" 1")),
        "{status}"
    );
    assert!(!status.contains("24680000000011"));

    e2e::signal(kiosk.0.id(), rustix::process::Signal::TERM).unwrap();
    let mut status = None;
    for _ in 0..250 {
        if let Some(s) = kiosk.0.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = status.expect("the kiosk did not stop on SIGTERM");
    assert!(status.success(), "exit {status:?}\n{}", read_log());
    let logs = read_log();
    assert!(logs.contains("stopping"), "{logs}");
    let mut said = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = notify.recv(&mut buf) {
        said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(
        said.first().map(String::as_str),
        Some("READY=1"),
        "{said:?}"
    );
    assert!(said.iter().any(|m| m == "WATCHDOG=1"), "{said:?}");
    assert_eq!(
        said.last().map(String::as_str),
        Some("STOPPING=1"),
        "{said:?}"
    );
    for secret in ["24680000000011", "Virtanen"] {
        assert!(
            !leaks(&logs, secret),
            "{secret} in the kiosk's log:\n{logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_binary_reads_a_keyboard_scanner_set_to_finnish() {
    use drivers::keymap::{Layout, Terminator, events_for};
    let Some(bin) = e2e::workspace_binary("kiosk") else {
        println!("SKIPPED: the kiosk binary is not built (run through `cargo test --workspace`)");
        return;
    };
    // No uinput in this kernel: the scanner's device is a FIFO carrying the `input_event`s its
    // key presses make, which the kiosk opens as it opens a device (a character device it
    // would grab).
    let tmp = tempfile::tempdir().unwrap();
    let device = tmp.path().join("usb-scanner-event-kbd");
    assert!(
        Command::new("mkfifo")
            .arg(&device)
            .status()
            .unwrap()
            .success()
    );
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = sim::rig(
        tmp.path(),
        &fixtures,
        e2e::daemons_now(),
        "pin_required = false",
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&rig.config).unwrap().replace(
        "[rfid]\ndriver = \"simulated\"",
        &format!(
            "[scanner]\nkind = \"keyboard\"\npath = \"{}\"\nlayout = \"fi\"\ncard = {{ query = \"number\" }}\n\n[rfid]\ndriver = \"simulated\"",
            device.display()
        ),
    );
    assert!(text.contains("kind = \"keyboard\""));
    std::fs::write(&rig.config, text).unwrap();
    let log = tmp.path().join("kiosk.log");
    let child = Command::new(&bin)
        .args(["-c", &rig.config.to_string_lossy(), "run", "--headless"])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _kiosk = Kill(child);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    until("the offline list", || read_log().contains("offline list")).await;

    let typed = |scan: &str| -> Vec<u8> {
        events_for(Layout::Fi, scan, Terminator::Enter)
            .unwrap()
            .into_iter()
            .flat_map(|(code, value)| drivers::keypad::encode_key_event(code, value))
            .collect()
    };
    let mut scanner = std::fs::OpenOptions::new()
        .write(true)
        .open(&device)
        .unwrap();
    // A phone card's link: '/', ':', '?', '=' and '&' are Shift chords of other keys on a
    // Finnish layout than on a US one.
    scanner
        .write_all(&typed(
            "https://kirjasto.example.fi/card?lang=fi&number=24680000000011",
        ))
        .unwrap();
    until("the patron logged in", || {
        read_log().contains("patron logged in")
    })
    .await;
    scanner.write_all(&typed("HE0000003")).unwrap();
    let running = &rig.running;
    until("the scanned loan", || {
        running
            .received()
            .iter()
            .any(|r| r.item == "HE0000003" && r.ok)
    })
    .await;
    assert!(
        !leaks(&read_log(), "24680000000011"),
        "the card in the kiosk's log:\n{}",
        read_log()
    );
}
