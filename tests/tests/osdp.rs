//! The door's OSDP control panel against a third-party reader: LibOSDP's peripheral device (the
//! `libosdp` package from PyPI, its C core; `interop/osdp_pd.py`) at the other end of a
//! socat pseudo-terminal pair. Each test asserts on what the door side saw, and on what the reader
//! recorded of the commands it was sent.
//!
//! Needs socat and `target/interop-venv` with libosdp 3.2.9 (scripts/test installs both).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use access::door::Feedback;
use access::pin::Key;
use access::wiegand::NumberFormat;
use drivers::card::{CardEvent, CardReader, UidFormat};
use drivers::display::TextDisplay;
use drivers::keypad::PinPad;
use drivers::osdp::convert::CardFormat;
use drivers::osdp::{self, Osdp, OsdpSettings, key};
use drivers::serial::PortSettings;
use osdp_cp::{Scbk, Security};
use serde_json::Value;

const KEY: [u8; 16] = [
    0x5c, 0x21, 0x9e, 0x04, 0x7b, 0xd3, 0x18, 0x66, 0xa0, 0x3f, 0xc2, 0x91, 0x0d, 0x77, 0xe4, 0x2b,
];
const OTHER: [u8; 16] = [
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
];

/// The tests take turns: each runs a reader process and a pty pair, and a two-core machine
/// running them all at once could make a reader's reply later than the 200 ms it has.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn hex(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

/// A socat pty pair: the door's end and the reader's end.
struct Line {
    _dir: tempfile::TempDir,
    socat: Child,
    door: PathBuf,
    reader: PathBuf,
}

impl Line {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let door = dir.path().join("door");
        let reader = dir.path().join("reader");
        let socat = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", door.display()))
            .arg(format!("pty,raw,echo=0,link={}", reader.display()))
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (scripts/test installs it)");
        let t = Instant::now();
        while !(door.exists() && reader.exists()) {
            assert!(t.elapsed() < Duration::from_secs(5), "socat made no ptys");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            _dir: dir,
            socat,
            door,
            reader,
        }
    }

    fn settings(&self) -> OsdpSettings {
        OsdpSettings {
            port: self.port(),
            address: 1,
            key_file: None,
            format: CardFormat {
                wiegand: NumberFormat::FacilityCard,
                uid: UidFormat::Hex,
            },
            text: (16, 2),
        }
    }

    fn port(&self) -> PortSettings {
        PortSettings {
            path: self.door.display().to_string(),
            baud: 9600,
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}

/// LibOSDP's reader, as a child process.
struct Reader {
    child: Child,
    stdin: ChildStdin,
    seen: std_mpsc::Receiver<Value>,
}

impl Reader {
    /// A reader on `line` at address 1: `install`, `plain`, or a key in hex.
    async fn start(line: &Line, key: &str) -> Self {
        let python = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/interop-venv/bin/python"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/osdp_pd.py");
        let mut child = Command::new(python)
            .args([script, &line.reader.display().to_string(), "1", key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{python}: {e}: scripts/test installs libosdp==3.2.9 into target/interop-venv"
                )
            });
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, seen) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        let mut r = Self { child, stdin, seen };
        r.expect(|v| v["ready"] == true, "the reader to start")
            .await;
        r
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The first record matching `pred` within 5 s (the runtime runs on meanwhile).
    async fn expect(&mut self, pred: impl Fn(&Value) -> bool, what: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            match self.seen.try_recv() {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(std_mpsc::TryRecvError::Empty) if Instant::now() < until => {
                    tokio::time::sleep(Duration::from_millis(10)).await
                }
                Err(_) => panic!("the reader did not see {what} in 5 s"),
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next card event within `secs`.
async fn event(o: &mut Osdp, secs: u64) -> Option<CardEvent> {
    tokio::time::timeout(Duration::from_secs(secs), o.reader.next())
        .await
        .ok()
        .flatten()
}

/// Waits for the reader to be found (events before it, e.g. a first "lost", are passed over).
async fn found(o: &mut Osdp) {
    let until = Instant::now() + Duration::from_secs(8);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, o.reader.next()).await {
            Ok(Some(CardEvent::ReaderFound { .. })) => return,
            Ok(Some(_)) => {}
            _ => panic!("the reader was not found in 8 s"),
        }
    }
}

/// Waits for the reader to be lost for a reason that says `because`; gives why and how long it
/// took. (A loss for another reason, a reply late on a loaded machine, is passed over.)
async fn lost(o: &mut Osdp, secs: u64, because: &str) -> (String, Duration) {
    let t = Instant::now();
    loop {
        match event(o, secs).await {
            Some(CardEvent::ReaderLost { why, .. }) if why.contains(because) => {
                return (why, t.elapsed());
            }
            Some(CardEvent::Card { .. }) => panic!("a card from a reader that must be lost"),
            Some(_) => {}
            None => panic!("the reader was not lost in {secs} s"),
        }
    }
}

/// A 26-bit Wiegand frame of facility 1, card 12345, as LibOSDP takes it: bits first-received
/// highest, padded at the end.
fn wiegand_26() -> String {
    let frame = access::wiegand::encode((1 << 16) | 12345, 26).unwrap();
    hex(&((frame << 6) as u32).to_be_bytes())
}

/// Asserts that no card comes within `secs`.
async fn no_card(o: &mut Osdp, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    while let Ok(ev) = tokio::time::timeout(
        until.saturating_duration_since(Instant::now()),
        o.reader.next(),
    )
    .await
    {
        assert!(
            !matches!(ev, Some(CardEvent::Card { .. })),
            "a card came from a reader that is not trusted"
        );
        if ev.is_none() {
            return;
        }
    }
}

async fn card_arrives(o: &mut Osdp, pd: &mut Reader) {
    pd.say(&format!("card 26 {}", wiegand_26()));
    loop {
        match event(o, 5).await {
            Some(CardEvent::Card { number, .. }) => {
                assert_eq!(number.expose(), "112345");
                return;
            }
            Some(CardEvent::Unreadable { why, .. }) => panic!("unreadable: {why}"),
            Some(_) => {}
            None => panic!("no card in 5 s"),
        }
    }
}

fn key_file(dir: &Path, key: [u8; 16]) -> PathBuf {
    let path = dir.join("reader.key");
    key::write_key(&path, &Scbk(key)).unwrap();
    path
}

#[tokio::test]
async fn a_plain_reader_is_polled_its_card_and_keys_arrive_and_its_outputs_and_status_work() {
    let _turn = TURN.lock().await;
    let line = Line::new();
    let mut pd = Reader::start(&line, "plain").await;
    let mut o = osdp::start(&line.settings(), Security::Plain);
    found(&mut o).await;
    let id = o.line.identity().expect("PDID");
    assert_eq!(
        (id.vendor, id.model, id.version, id.serial),
        ([0xB2, 0xA1, 0x00], 7, 2, 0x5EED_1234),
        "{id}"
    );
    card_arrives(&mut o, &mut pd).await;

    pd.say("keys 12*3#");
    let mut keys = vec![];
    while keys.len() < 5 {
        let k = tokio::time::timeout(Duration::from_secs(5), o.keypad.next_key())
            .await
            .expect("keys in 5 s")
            .unwrap()
            .unwrap();
        keys.push(k);
    }
    assert_eq!(
        keys,
        [
            Key::Digit(1),
            Key::Digit(2),
            Key::Clear,
            Key::Digit(3),
            Key::Submit
        ]
    );

    // The door's feedback and words reach the reader.
    let feedback = o.outputs.feedback();
    feedback
        .send(Feedback::Welcome {
            source: "online".into(),
            language: "fi".into(),
        })
        .await
        .unwrap();
    let led = pd.expect(|v| v["command"] == "led", "an LED command").await;
    assert_eq!(led["on_color"], 2, "green: {led}");
    assert_eq!(led["temporary"], true, "{led}");
    assert_eq!(led["timer_count"], 30, "three seconds: {led}");
    let buz = pd
        .expect(|v| v["command"] == "buzzer", "a buzzer command")
        .await;
    assert_eq!(
        (buz["rep_count"].as_u64(), buz["on_count"].as_u64()),
        (Some(1), Some(2)),
        "{buz}"
    );
    o.outputs
        .show(&["Tervetuloa! Ovi".into(), "on auki.".into()])
        .unwrap();
    let text = pd
        .expect(|v| v["command"] == "text", "a text command")
        .await;
    assert_eq!(text["data"], "Tervetuloa! Ovi ", "{text}");
    assert_eq!(text["offset_row"], 1, "{text}");
    let text = pd
        .expect(|v| v["command"] == "text", "the second line")
        .await;
    assert_eq!(text["data"], "on auki.        ", "{text}");

    // LibOSDP's reader with its tamper switch tripped: tampering told once (the door makes it
    // an alarm), and the reader still reads.
    pd.say("status 1 0");
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match event(&mut o, 5).await {
            Some(CardEvent::Tampered { .. }) => break,
            Some(CardEvent::ReaderLost { why, .. }) if why.contains("tamper") => {
                panic!("a tampered reader taken out of service: {why}")
            }
            other => assert!(Instant::now() < until, "no tampering told: {other:?}"),
        }
    }
    card_arrives(&mut o, &mut pd).await;
    // Its power failing is a reader out of service until it is back.
    pd.say("status 0 1");
    let (why, _) = lost(&mut o, 5, "power").await;
    assert!(why.contains("power failure"), "{why}");
    pd.say("status 0 0");
    found(&mut o).await;
}

#[tokio::test]
async fn a_reader_with_its_key_talks_only_through_the_secure_channel() {
    let _turn = TURN.lock().await;
    let line = Line::new();
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Reader::start(&line, &hex(&KEY)).await;
    let mut settings = line.settings();
    settings.key_file = Some(key_file(dir.path(), KEY));
    let mut o = osdp::open(&settings).unwrap();
    found(&mut o).await;
    pd.expect(|v| v["sc"] == true, "its secure channel open")
        .await;
    assert!(o.line.identity().is_some());
    card_arrives(&mut o, &mut pd).await;
    let feedback = o.outputs.feedback();
    feedback
        .send(Feedback::Denied {
            reason: access::policy::Reason::Closed,
            message: "x".into(),
            language: "fi".into(),
        })
        .await
        .unwrap();
    let led = pd
        .expect(
            |v| v["command"] == "led",
            "an LED command through the channel",
        )
        .await;
    assert_eq!(led["on_color"], 1, "red: {led}");
    assert_eq!(o.line.garbled(), 0);
}

#[tokio::test]
async fn pairing_gives_the_reader_a_new_key_and_the_door_never_falls_back_to_scbk_d() {
    let _turn = TURN.lock().await;
    let line = Line::new();
    let dir = tempfile::tempdir().unwrap();
    // A reader fresh from its box: install mode, SCBK-D.
    let mut pd = Reader::start(&line, "install").await;
    let id = osdp::pair(&line.port(), 1, &Scbk(KEY)).await.unwrap();
    assert_eq!(id.serial, 0x5EED_1234);
    let keyset = pd.expect(|v| v["command"] == "keyset", "KEYSET").await;
    assert_eq!(keyset["data"], hex(&KEY), "{keyset}");
    assert_eq!(keyset["type"], 1, "{keyset}");

    // The same reader process now holds the new key: a door with it opens the channel.
    let mut settings = line.settings();
    settings.key_file = Some(key_file(dir.path(), KEY));
    let mut o = osdp::open(&settings).unwrap();
    found(&mut o).await;
    card_arrives(&mut o, &mut pd).await;
    drop(o);

    // A new key for the paired reader, given under the one it holds.
    let rotated = tempfile::tempdir().unwrap();
    let id = osdp::rekey(&line.port(), 1, &Scbk(KEY), &Scbk(OTHER))
        .await
        .unwrap();
    assert_eq!(id.serial, 0x5EED_1234);
    let keyset = pd
        .expect(|v| v["command"] == "keyset", "the second KEYSET")
        .await;
    assert_eq!(keyset["data"], hex(&OTHER), "{keyset}");
    let mut with_new = settings.clone();
    with_new.key_file = Some(key_file(rotated.path(), OTHER));
    let mut o = osdp::open(&with_new).unwrap();
    found(&mut o).await;
    card_arrives(&mut o, &mut pd).await;
    drop(o);
    // The old key opens no channel any more.
    let mut o = osdp::open(&settings).unwrap();
    lost(&mut o, 5, "no secure channel").await;
    drop(o);
    pd.kill();

    // The reader reset to its install key: the door holding the key does not use SCBK-D.
    let mut pd = Reader::start(&line, "install").await;
    let mut o = osdp::open(&settings).unwrap();
    let (why, _) = lost(&mut o, 5, "no secure channel").await;
    assert!(why.contains("this door's key"), "{why}");
    pd.say(&format!("card 26 {}", wiegand_26()));
    no_card(&mut o, 2).await;
    drop(o);

    // A door's key file cannot hold SCBK-D, and pairing a reader that has a key fails.
    std::fs::write(settings.key_file.as_ref().unwrap(), hex(&Scbk::DEFAULT.0)).unwrap();
    let e = osdp::open(&settings).unwrap_err().to_string();
    assert!(e.contains("SCBK-D"), "{e}");
    pd.kill();
    let _pd = Reader::start(&line, &hex(&OTHER)).await;
    let e = osdp::pair(&line.port(), 1, &Scbk(KEY))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("secure channel") || e.contains("install"), "{e}");
}

#[tokio::test]
async fn a_swapped_reader_with_another_key_is_reported_and_none_of_its_cards_are_read() {
    let _turn = TURN.lock().await;
    let line = Line::new();
    let dir = tempfile::tempdir().unwrap();
    let mut pd = Reader::start(&line, &hex(&OTHER)).await;
    let mut settings = line.settings();
    settings.key_file = Some(key_file(dir.path(), KEY));
    let mut o = osdp::open(&settings).unwrap();
    let (why, _) = lost(&mut o, 5, "no secure channel").await;
    assert!(why.contains("does not match this door's key"), "{why}");
    pd.say(&format!("card 26 {}", wiegand_26()));
    no_card(&mut o, 3).await;
    assert!(o.line.identity().is_none());
}

#[tokio::test]
async fn a_reader_that_stops_answering_is_lost_and_found_again() {
    let _turn = TURN.lock().await;
    let line = Line::new();
    let dir = tempfile::tempdir().unwrap();
    let pd = Reader::start(&line, &hex(&KEY)).await;
    let mut settings = line.settings();
    settings.key_file = Some(key_file(dir.path(), KEY));
    let mut o = osdp::open(&settings).unwrap();
    found(&mut o).await;
    pd.kill();
    let (why, took) = lost(&mut o, 5, "does not answer").await;
    assert!(why.contains("in 3 tries of 200 ms"), "{why}");
    // Three tries of 200 ms, and the poll that was under way.
    assert!(took < Duration::from_millis(1500), "lost after {took:?}");
    let mut pd = Reader::start(&line, &hex(&KEY)).await;
    found(&mut o).await;
    card_arrives(&mut o, &mut pd).await;
}

#[tokio::test]
async fn garbage_on_the_line_is_said_and_the_door_recovers_when_good_replies_return() {
    let _turn = TURN.lock().await;
    let line = Line::new();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = line.settings();
    settings.key_file = Some(key_file(dir.path(), KEY));
    let mut o = osdp::open(&settings).unwrap();
    // No reader: only noise and broken frames answer the door for a second and a half.
    let mut noise = std::fs::OpenOptions::new()
        .write(true)
        .open(&line.reader)
        .unwrap();
    let mut seed = 0x2545_f491_u32;
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(1500) {
        let mut junk: Vec<u8> = (0..40)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                seed as u8
            })
            .collect();
        // A frame from address 1 with a bad CRC, and one with an impossible length.
        junk.extend([0x53, 0x81, 0x08, 0x00, 0x04, 0x40, 0xde, 0xad]);
        junk.extend([0x53, 0x81, 0xff, 0x7f, 0x04]);
        noise.write_all(&junk).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (why, _) = lost(&mut o, 5, "does not answer").await;
    assert!(why.contains("CHLNG"), "{why}");
    assert!(o.line.garbled() > 5, "{} garbled", o.line.garbled());
    // Good replies again.
    let mut pd = Reader::start(&line, &hex(&KEY)).await;
    found(&mut o).await;
    card_arrives(&mut o, &mut pd).await;

    // Noise over a reader that is up: replies may be lost or broken (a MAC that fails is a
    // reader not trusted, its channel opened again), never taken as a card; then it goes on.
    let before = o.line.garbled();
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(500) {
        noise
            .write_all(&[0x53, 0x81, 0x0c, 0x00, 0x0d, 0x50, 0x00, 0x01])
            .unwrap();
        noise.write_all(&[0xff; 7]).unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(noise);
    assert!(o.line.garbled() > before);
    card_arrives(&mut o, &mut pd).await;
}

/// The door-agent whole, on an OSDP reader: the simulator answers as the library system, the
/// reader's key comes from its file as configured, the card and the PIN are presented and typed
/// on LibOSDP's reader, and the door's feedback comes back to the reader's LED and display.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_lets_a_patron_in_by_card_and_pin_on_its_osdp_reader_and_logs_the_reader_lost() {
    let _turn = TURN.lock().await;
    use drivers::gpio::FileBackend;
    let tmp = tempfile::tempdir().unwrap();
    let line = Line::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let nine_pm = rig::door::nine_pm_on(e2e::daemons_now());
    let rig = rig::door::rig(tmp.path(), &fixtures, "", nine_pm, 72)
        .await
        .unwrap();
    let key = key_file(tmp.path(), KEY);
    let config = std::fs::read_to_string(&rig.config).unwrap().replace(
        "[gpio]",
        &format!(
            "[[readers]]\nkind = \"osdp\"\npath = \"{}\"\naddress = 1\nkey = \"{}\"\nuid = \"decimal\"\n\n[gpio]",
            line.door.display(),
            key.display()
        ),
    );
    std::fs::write(&rig.config, config).unwrap();
    let settings = door_agent::settings::load(&rig.config).unwrap();
    let state_dir = settings.state_dir.clone();
    let door_agent::settings::GpioBackend::Files(gpio) = settings.gpio.clone() else {
        panic!("the rig's pins are files")
    };
    let mut pd = Reader::start(&line, &hex(&KEY)).await;

    let registry = settings
        .registry
        .as_ref()
        .map(registry::AnyRegistry::start)
        .transpose()
        .unwrap();
    let door = door_agent::devices::open_door(&settings).unwrap();
    let inputs = door_agent::devices::open_inputs(&settings).unwrap();
    assert!(inputs.feedback.is_some() && inputs.display.is_some());
    let devices = door_agent::Devices {
        cards: inputs.cards,
        keys: inputs.keys,
        door,
        feedback: inputs.feedback,
        display: inputs.display,
        clock: rig.clock.clock(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(door_agent::run(settings, registry, devices, async move {
        let _ = stopped.await;
    }));
    let unlocked = || FileBackend::level(&gpio, rig::door::LOCK) == Some(true);
    pd.expect(|v| v["sc"] == true, "the door's secure channel")
        .await;
    // The resting words on the reader's display.
    pd.expect(|v| v["command"] == "text", "the door's words")
        .await;

    // 24680000000011 as 48 bits of card data.
    pd.say("card 48 167242a2100b");
    let led = pd
        .expect(|v| v["command"] == "led", "the PIN asked for")
        .await;
    assert_eq!(led["on_color"], 3, "amber: {led}");
    assert!(!unlocked());
    pd.say("keys 1234#");
    let led = pd
        .expect(
            |v| v["command"] == "led" && v["on_color"] == 2,
            "green for a welcome",
        )
        .await;
    assert_eq!(led["temporary"], true, "{led}");
    let t = Instant::now();
    while !unlocked() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the relay was not released"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The reader cut off: the door records it lost.
    pd.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let log = door_agent::events::EventLog::open(&state_dir.join("events")).unwrap();
    let events = log.between(0, i64::MAX).unwrap();
    let lost = events
        .iter()
        .find(|e| e.code.as_deref() == Some("reader-lost"))
        .expect("a reader-lost event");
    let detail = lost.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("does not answer"), "{detail}");
    assert!(events.iter().any(|e| e.kind == access::door::Kind::Entry));
    assert!(
        !events
            .iter()
            .any(|e| format!("{e:?}").contains("24680000000011")),
        "a card number in the log"
    );
}

/// The user running the tests (provisioning gives the service's files to it).
fn me() -> String {
    use std::os::unix::fs::MetadataExt;
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

/// `omatoimi-provision door --reader osdp:PORT,1` with a reader fresh from its box: the reader
/// is paired, its key file written private beside the config, and the door reads cards with it;
/// provisioning again keeps the key (the reader, no longer in install mode, is not paired twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_pairs_an_osdp_reader_and_the_door_uses_the_key_it_wrote() {
    let _turn = TURN.lock().await;
    use std::os::unix::fs::PermissionsExt;
    let Some(provision) = e2e::workspace_binary("omatoimi-provision") else {
        println!("SKIPPED: the binaries are not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let line = Line::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let (running, publisher, _) = rig::door::start_library(
        &tmp.path().join("library"),
        &fixtures,
        e2e::daemons_now(),
        72,
        true,
    )
    .await
    .unwrap();
    let etc = tmp.path().join("etc");
    let args: Vec<String> = [
        "door",
        "--etc",
        &etc.to_string_lossy(),
        "--state",
        &tmp.path().join("state").to_string_lossy(),
        "--user",
        &me(),
        "--device-id",
        "lemi-door-1",
        "--name",
        "Lemi main door",
        "--institution",
        "heili",
        "--branch",
        "LEMI",
        "--sip2",
        &running.sip2_tls.unwrap().to_string(),
        "--server-name",
        "localhost",
        "--ca",
        &running.ca_cert.to_string_lossy(),
        "--sip2-login",
        "door-lemi",
        "--sip2-password-stdin",
        "--list-url",
        &format!(
            "https://localhost:{}/allowlist/",
            running.https.unwrap().port()
        ),
        "--list-key",
        &publisher.public_key,
        "--card-key",
        &publisher.card_key.to_string_lossy(),
        "--gpio",
        &format!("files:{}", tmp.path().join("gpio").display()),
        "--reader",
        &format!("osdp:{},1", line.door.display()),
        "--no-keypad",
        "--self-service",
        "07:00-22:00",
    ]
    .map(str::to_owned)
    .to_vec();
    let run = move |args: &[String]| {
        let mut child = Command::new(&provision)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"door-secret-2\n");
        let o = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        (o.status.success(), text)
    };

    let mut pd = Reader::start(&line, "install").await;
    let (ok, text) = tokio::task::spawn_blocking({
        let (run_args, run) = (args.clone(), run.clone());
        move || run(&run_args)
    })
    .await
    .unwrap();
    assert!(ok, "{text}");
    assert!(
        text.contains("paired    OSDP reader") && text.contains("serial 5EED1234"),
        "{text}"
    );
    let keyset = pd.expect(|v| v["command"] == "keyset", "KEYSET").await;
    let key_file = etc.join("osdp-door-1.key");
    let written = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(written.trim(), keyset["data"].as_str().unwrap());
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(!text.contains(written.trim()), "the key in the output");

    // The door, as configured, opens the channel with the key written.
    let settings = door_agent::settings::load(&etc.join("door.toml")).unwrap();
    let [
        door_agent::settings::ReaderSettings::Osdp {
            path,
            address: 1,
            key: Some(key),
            ..
        },
    ] = settings.readers.as_slice()
    else {
        panic!("{:?}", settings.readers)
    };
    assert_eq!(key, &key_file);
    let mut o = osdp::open(&OsdpSettings {
        port: PortSettings {
            path: path.clone(),
            baud: 9600,
        },
        address: 1,
        key_file: Some(key.clone()),
        ..line.settings()
    })
    .unwrap();
    found(&mut o).await;
    pd.expect(|v| v["sc"] == true, "the channel under the new key")
        .await;
    card_arrives(&mut o, &mut pd).await;
    drop(o);

    // The technician's selftest says who the reader is, and reads a card through it.
    if let Some(door) = e2e::workspace_binary("door-agent") {
        let mut child = Command::new(door)
            .args([
                "-c",
                &etc.join("door.toml").to_string_lossy(),
                "selftest",
                "--wait",
                "4",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (asked_tx, asked) = std_mpsc::channel();
        let (key_tx, key_asked) = std_mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if line.contains("Present a library card") {
                    let _ = asked_tx.send(());
                }
                if line.contains("Press any key") {
                    let _ = key_tx.send(());
                }
            }
        });
        let out = tokio::task::spawn_blocking(move || child.wait_with_output());
        let until = Instant::now() + Duration::from_secs(25);
        while asked.try_recv().is_err() {
            assert!(Instant::now() < until, "the selftest asked for no card");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        pd.say(&format!("card 26 {}", wiegand_26()));
        // The reader's keypad is the door's: a key is asked for on it too.
        let until = Instant::now() + Duration::from_secs(25);
        while key_asked.try_recv().is_err() {
            assert!(Instant::now() < until, "the selftest asked for no key");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        pd.say("keys 5");
        let table = String::from_utf8_lossy(&out.await.unwrap().unwrap().stdout).into_owned();
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("ok    OSDP reader") && l.contains("key readable")),
            "{table}"
        );
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("ok    OSDP reader") && l.contains("serial 5EED1234")),
            "{table}"
        );
        assert!(table.contains("ok    card read"), "{table}");
        assert!(table.contains("ok    keypad"), "{table}");
    }

    // Again: the key is kept, the reader left alone.
    let (ok, text) = tokio::task::spawn_blocking(move || run(&args))
        .await
        .unwrap();
    assert!(ok, "{text}");
    assert!(!text.contains("paired    OSDP"), "{text}");
    assert!(
        text.contains("kept") && text.contains("osdp-door-1.key"),
        "{text}"
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), written);
}
