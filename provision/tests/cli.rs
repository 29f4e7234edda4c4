//! `omatoimi-provision` as a technician meets it: missing answers are named all at once, bad
//! inputs are refused before anything is written, a run stopped half-way (or killed at any
//! moment) is finished by running it again, and the device key survives every re-run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_omatoimi-provision");

struct Box_ {
    dir: tempfile::TempDir,
    ca: PathBuf,
    card_key: PathBuf,
    list_key: String,
    user: String,
}

fn me() -> String {
    let uid = std::fs::metadata("/proc/self").unwrap().uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[2] == uid.to_string()).then(|| f[0].to_owned())
        })
        .expect("this user is in /etc/passwd")
}

fn new_box() -> Box_ {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = dir.path().join("heili-ca.pem");
    std::fs::write(&ca, p.self_signed(&key).unwrap().pem()).unwrap();
    let card_key = dir.path().join("card-key.secret");
    std::fs::write(&card_key, allowlist::CardKey::new([7; 32]).to_text()).unwrap();
    let list_key = allowlist::SigningKey::from_seed([9; 32])
        .unwrap()
        .public()
        .to_string();
    Box_ {
        dir,
        ca,
        card_key,
        list_key,
        user: me(),
    }
}

impl Box_ {
    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }
    fn args(&self) -> Vec<String> {
        let d = self.dir.path();
        [
            "door",
            "--etc",
            &self.etc().to_string_lossy(),
            "--state",
            &d.join("state").to_string_lossy(),
            "--user",
            &self.user,
            "--device-id",
            "lemi-door-1",
            "--institution",
            "heili",
            "--branch",
            "LEMI",
            "--sip2",
            "sip2.heili.example:6443",
            "--ca",
            &self.ca.to_string_lossy(),
            "--sip2-login",
            "door-lemi",
            "--sip2-password-stdin",
            "--list-url",
            "https://lists.heili.example/allowlist/",
            "--list-key",
            &self.list_key,
            "--card-key",
            &self.card_key.to_string_lossy(),
            "--gpio",
            &format!("files:{}", d.join("gpio").display()),
            "--reader",
            "pcsc",
            "--keypad",
            "serial:/dev/ttyUSB0",
            "--metrics",
            "127.0.0.1:19465",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
    /// A re-run naming only where the box keeps its files: every answer comes from before.
    fn rerun_args(&self) -> Vec<String> {
        vec![
            "door".into(),
            "--etc".into(),
            self.etc().to_string_lossy().into(),
            "--state".into(),
            self.dir.path().join("state").to_string_lossy().into(),
            "--user".into(),
            self.user.clone(),
        ]
    }

    fn run(&self, args: &[String], stdin: &str) -> Output {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn missing_answers_are_named_together_and_nothing_is_written() {
    let b = new_box();
    let o = b.run(
        &[
            "door".into(),
            "--etc".into(),
            b.etc().to_string_lossy().into(),
            "--user".into(),
            b.user.clone(),
        ],
        "",
    );
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for flag in [
        "--device-id",
        "--institution",
        "--branch",
        "--sip2",
        "--ca",
        "--list-url",
        "--list-key",
        "--card-key",
        "--keypad",
    ] {
        assert!(t.contains(flag), "{flag} not named:\n{t}");
    }
    assert!(!b.etc().exists(), "nothing may be written");
}

#[test]
fn bad_inputs_are_all_refused_before_anything_is_written() {
    let b = new_box();
    std::fs::write(&b.card_key, "not a key").unwrap();
    let mut args = b.args();
    let at = |args: &[String], flag: &str| args.iter().position(|a| a == flag).unwrap() + 1;
    let i = at(&args, "--list-key");
    args[i] = "ed25519:00".into();
    let i = at(&args, "--sip2");
    args[i] = "sip2.heili.example".into();
    let i = at(&args, "--device-id");
    args[i] = "Lemi Door".into();
    let i = at(&args, "--ca");
    args[i] = "/nonexistent/ca.pem".into();
    let o = b.run(&args, "door-secret-2\n");
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    for problem in [
        "--card-key",
        "not a card-hashing key",
        "--list-key `ed25519:00`",
        "--sip2 `sip2.heili.example`: expected HOST:PORT",
        "--device-id `Lemi Door`",
        "/nonexistent/ca.pem",
    ] {
        assert!(t.contains(problem), "{problem:?} not said:\n{t}");
    }
    assert!(!b.etc().exists(), "nothing may be written:\n{t}");
    // An empty password is no password.
    std::fs::write(&b.card_key, allowlist::CardKey::new([7; 32]).to_text()).unwrap();
    let o = b.run(&b.args(), "\n");
    assert!(!o.status.success());
    assert!(
        text(&o).contains("the SIP2 password is empty"),
        "{}",
        text(&o)
    );
    assert!(!b.etc().exists());
}

#[test]
fn a_run_stopped_half_way_is_finished_by_running_it_again() {
    let b = new_box();
    // The config's place is taken (as by a stray directory): the run stops at its last step.
    std::fs::create_dir_all(b.etc().join("door.toml")).unwrap();
    let o = b.run(&b.args(), "door-secret-2\n");
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("door.toml"), "{t}");
    let key = std::fs::read(b.etc().join("device-key.pem")).unwrap();
    assert_eq!(mode(&b.etc().join("device-key.pem")), 0o600);
    std::fs::remove_dir(b.etc().join("door.toml")).unwrap();

    let o = b.run(&b.args(), "door-secret-2\n");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("kept") && t.contains("device-key.pem"), "{t}");
    assert_eq!(
        std::fs::read(b.etc().join("device-key.pem")).unwrap(),
        key,
        "the device key survives a re-run"
    );
    assert!(t.contains("Next:") && t.contains("check-config"), "{t}");
    assert!(t.contains("device.csr"), "{t}");
    for (f, m) in [
        ("device-key.pem", 0o600),
        ("card-key.secret", 0o600),
        ("door-sip2.secret", 0o600),
        ("door.toml", 0o640),
        ("ca.pem", 0o644),
        ("device.csr", 0o644),
    ] {
        assert_eq!(mode(&b.etc().join(f)), m, "{f}");
    }
    // The config directory was there before the run (made for the stray `door.toml`): it is
    // left as it was; the state directory is the run's own.
    assert_eq!(mode(&b.dir.path().join("state")), 0o700);
    let config = std::fs::read_to_string(b.etc().join("door.toml")).unwrap();
    assert!(config.contains("branch = \"LEMI\""), "{config}");
    assert!(
        !config.contains("door-secret-2"),
        "the password stays in its 0600 file"
    );
    assert!(!config.contains("client_cert"), "no certificate yet");
    // No temporary file is left behind.
    for e in std::fs::read_dir(b.etc()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".provisioning"), "{name}");
    }

    // Once more, with nothing but the places: everything is already right.
    let o = b.run(&b.rerun_args(), "");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        !t.contains("created") && !t.contains("replaced"),
        "a re-run changes nothing:\n{t}"
    );
    assert_eq!(
        std::fs::read_to_string(b.etc().join("door.toml")).unwrap(),
        config,
        "answers left out are taken from the config written before"
    );

    // Hand edits (hours, rules) survive a re-run that changes what provisioning owns.
    let edited = config.replace("min_age = 15", "min_age = 13")
        + "\n[hours.staffed]\nmon = [\"10:00-18:00\"]\n";
    std::fs::write(b.etc().join("door.toml"), &edited).unwrap();
    let mut args = b.rerun_args();
    args.extend(["--name".into(), "Lemi side door".into()]);
    let o = b.run(&args, "");
    assert!(o.status.success(), "{}", text(&o));
    let after = std::fs::read_to_string(b.etc().join("door.toml")).unwrap();
    assert!(after.contains("min_age = 13"), "{after}");
    assert!(after.contains("mon = [\"10:00-18:00\"]"), "{after}");
    assert!(after.contains("name = \"Lemi side door\""), "{after}");
    // A new login without its password is refused, not ignored.
    args.extend(["--sip2-login".into(), "door-lemi-2".into()]);
    let o = b.run(&args, "");
    assert!(!o.status.success());
    assert!(text(&o).contains("needs its password"), "{}", text(&o));
}

#[test]
fn a_re_run_that_names_new_hardware_puts_it_in_the_config_and_keeps_the_rest() {
    let b = new_box();
    let o = b.run(&b.args(), "door-secret-2\n");
    assert!(o.status.success(), "{}", text(&o));
    let config = b.etc().join("door.toml");
    // A hand edit outside the hardware: kept.
    let first = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, first.replace("min_age = 15", "min_age = 13")).unwrap();
    let again = |extra: &[&str]| {
        let mut args = b.rerun_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = b.run(&args, "");
        assert!(o.status.success(), "{}", text(&o));
        (text(&o), std::fs::read_to_string(&config).unwrap())
    };
    // A serial reader instead of PC/SC, a USB keypad, the lock on another pin.
    let (said, after) = again(&[
        "--reader",
        "serial:/dev/ttyACM0",
        "--keypad",
        "evdev:/dev/input/by-id/usb-keypad-event-kbd",
        "--lock-pin",
        "23",
    ]);
    let config_line = said
        .lines()
        .find(|l| l.ends_with("door.toml") && !l.contains("door-agent"))
        .unwrap_or_default();
    assert!(config_line.contains("replaced"), "{said}");
    let s = door_agent::settings::load(&config).unwrap();
    assert_eq!(s.pins.lock.number, 23, "{after}");
    assert_eq!(s.readers.len(), 1, "{after}");
    assert!(
        after.contains("/dev/ttyACM0") && !after.contains("kind = \"pcsc\""),
        "{after}"
    );
    assert!(after.contains("usb-keypad-event-kbd"), "{after}");
    assert!(after.contains("min_age = 13"), "a hand edit lost:\n{after}");
    // The same again: nothing changes.
    let (_, same) = again(&[]);
    assert_eq!(same, after);
    // A card-only door from now on: the keypad goes.
    let (_, after) = again(&["--no-keypad"]);
    assert!(!after.contains("[keypad]"), "{after}");
    assert!(after.contains("/dev/ttyACM0"), "{after}");
}

#[test]
fn a_card_only_door_needs_no_keypad() {
    let b = new_box();
    let mut args = b.args();
    let i = args.iter().position(|a| a == "--keypad").unwrap();
    args.drain(i..=i + 1);
    args.push("--no-keypad".into());
    let o = b.run(&args, "door-secret-2\n");
    assert!(o.status.success(), "{}", text(&o));
    let config = std::fs::read_to_string(b.etc().join("door.toml")).unwrap();
    assert!(!config.contains("[keypad]"), "{config}");
}

#[test]
fn a_run_killed_at_any_moment_is_finished_by_the_next() {
    for delay_ms in [0u64, 1, 2, 4, 8, 15, 30, 60] {
        let b = new_box();
        let mut child = Command::new(BIN)
            .args(b.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let _ = child.stdin.take().unwrap().write_all(b"door-secret-2\n");
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let key_before = std::fs::read(b.etc().join("device-key.pem")).ok();
        eprintln!(
            "killed after {delay_ms} ms: key {}, config {}",
            key_before.is_some(),
            b.etc().join("door.toml").exists()
        );
        let o = b.run(&b.args(), "door-secret-2\n");
        assert!(o.status.success(), "after {delay_ms} ms: {}", text(&o));
        let key_after = std::fs::read(b.etc().join("device-key.pem")).unwrap();
        if let Some(k) = key_before {
            assert_eq!(k, key_after, "after {delay_ms} ms the key was replaced");
        }
        let config = std::fs::read_to_string(b.etc().join("door.toml")).unwrap();
        assert!(config.contains("[allowlist]"), "after {delay_ms} ms");
    }
}

#[test]
fn a_kiosk_is_provisioned_with_its_pad_scanner_and_printer() {
    let b = new_box();
    let d = b.dir.path();
    let mut args: Vec<String> = b.args().into_iter().take_while(|a| a != "--gpio").collect();
    args[0] = "kiosk".into();
    let i = args.iter().position(|a| a == "--device-id").unwrap() + 1;
    args[i] = "lpr-kiosk-1".into();
    args.extend(
        [
            "--library",
            "Lappeenrannan kaupunginkirjasto",
            "--pad",
            "feig:/dev/ttyUSB0",
            "--scanner",
            "keyboard:/dev/input/by-id/usb-scanner-event-kbd",
            "--printer",
            "tcp:10.0.0.20:9100",
        ]
        .map(str::to_owned),
    );
    let o = b.run(&args, "kiosk-secret-1\n");
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("kiosk -c") && t.contains("systemctl enable --now kiosk"),
        "{t}"
    );
    // The kiosk's own loader passed it with no warning that every offline loan gets one period.
    assert!(!t.contains("loan_days_by_media"), "{t}");
    let config = std::fs::read_to_string(b.etc().join("kiosk.toml")).unwrap();
    for line in [
        "[offline.loan_days_by_media]",
        "V = 14",
        "library = \"Lappeenrannan kaupunginkirjasto\"",
        "driver = \"feig\"",
        "path = \"/dev/ttyUSB0\"",
        "link = \"tcp:10.0.0.20:9100\"",
        "credentials = \"kiosk-sip2.secret\"",
        "kind = \"keyboard\"",
        "path = \"/dev/input/by-id/usb-scanner-event-kbd\"",
    ] {
        assert!(config.contains(line), "{line:?} missing:\n{config}");
    }
    assert_eq!(mode(&b.etc().join("kiosk-sip2.secret")), 0o600);
    assert!(d.join("state").is_dir());
}
