//! `omatoimi-provision --tpm`: the card-hashing secret sealed by the box's TPM (a real software
//! TPM, swtpm, started here) instead of installed in clear, and the config that names the sealed
//! file loading to the same card hashes as the clear key. Fails, naming what to install, when
//! swtpm or tpm2-tools is missing, unless OMATOIMI_SKIP_SWTPM=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use allowlist::CardKey;
use redact::CardNumber;
use tpm::testing::Swtpm;

const BIN: &str = env!("CARGO_BIN_EXE_omatoimi-provision");

fn swtpm(dir: &Path) -> Option<Swtpm> {
    match Swtpm::start_or_skip(dir) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
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

/// The key the library's publisher made.
fn library_key() -> CardKey {
    CardKey::new([7; 32])
}

/// A box's working directory with the CA and the card key the library gives, and the flags of
/// a door provisioned from them.
fn new_box(dir: &Path) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = dir.join("heili-ca.pem");
    std::fs::write(&ca, p.self_signed(&key).unwrap().pem()).unwrap();
    let card_key = dir.join("card-key.secret");
    std::fs::write(&card_key, library_key().to_text()).unwrap();
    let list_key = allowlist::SigningKey::from_seed([9; 32])
        .unwrap()
        .public()
        .to_string();
    [
        "door",
        "--etc",
        &dir.join("etc").to_string_lossy(),
        "--state",
        &dir.join("state").to_string_lossy(),
        "--user",
        &me(),
        "--device-id",
        "lemi-door-1",
        "--institution",
        "heili",
        "--branch",
        "LEMI",
        "--sip2",
        "sip2.heili.example:6443",
        "--ca",
        &ca.to_string_lossy(),
        "--sip2-login",
        "door-lemi",
        "--sip2-password-stdin",
        "--list-url",
        "https://lists.heili.example/allowlist/",
        "--list-key",
        &list_key,
        "--card-key",
        &card_key.to_string_lossy(),
        "--gpio",
        &format!("files:{}", dir.join("gpio").display()),
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

fn with(args: &[String], more: &[&str]) -> Vec<String> {
    let mut a = args.to_vec();
    a.extend(more.iter().map(|s| s.to_string()));
    a
}

fn without_card_key(args: &[String]) -> Vec<String> {
    let i = args.iter().position(|a| a == "--card-key").unwrap();
    [&args[..i], &args[i + 2..]].concat()
}

fn run(args: &[String]) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(b"s3cret\n");
    let o: Output = child.wait_with_output().unwrap();
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn hashes(config: &Path) -> Vec<allowlist::CardHash> {
    let s = config::allowlist::load(config).unwrap();
    ["24680000000011", "2468-0000-0000-29", "x1"]
        .map(|c| s.card_key.hash(&CardNumber::new(c)))
        .to_vec()
}

fn holds(bytes: &[u8], key: &CardKey) -> bool {
    let text = key.to_text();
    let raw = [7u8; 32];
    bytes.windows(64).any(|w| w == text.as_bytes()) || bytes.windows(32).any(|w| w == raw)
}

#[test]
fn provisioned_with_tpm_the_key_is_sealed_and_loads_to_the_same_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(a) = swtpm(&tmp.path().join("tpm-a")) else {
        return;
    };
    let Some(b) = swtpm(&tmp.path().join("tpm-b")) else {
        return;
    };

    // A box provisioned as today: the key in clear.
    let clear_box = tmp.path().join("clear");
    let (ok, out) = run(&new_box(&clear_box));
    assert!(ok, "{out}");
    let clear_config = clear_box.join("etc/door.toml");
    assert!(clear_box.join("etc/card-key.secret").exists());
    assert!(!clear_box.join("etc/card-key.sealed").exists());
    let clear_text = std::fs::read_to_string(&clear_config).unwrap();
    assert!(clear_text.contains("card_key = \"card-key.secret\""));
    assert!(!clear_text.contains("card_key_tpm"), "{clear_text}");
    let expected = hashes(&clear_config);
    assert_eq!(
        expected[0],
        library_key().hash(&CardNumber::new("24680000000011"))
    );

    // With --tpm: only the sealed file, 0600, and a config naming it and its TPM.
    let sealed_box = tmp.path().join("sealed");
    let args = new_box(&sealed_box);
    let (ok, out) = run(&with(&args, &["--tpm", &a.tcti()]));
    assert!(ok, "{out}");
    let etc = sealed_box.join("etc");
    let sealed = etc.join("card-key.sealed");
    assert!(
        out.contains(&format!("created   {}", sealed.display())),
        "{out}"
    );
    assert!(
        out.contains("The card key is sealed to this box's TPM"),
        "{out}"
    );
    assert!(!etc.join("card-key.secret").exists());
    assert_eq!(mode(&sealed), 0o600);
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(tpm::is_sealed(&bytes));
    assert!(
        !holds(&bytes, &library_key()),
        "the sealed file holds the key"
    );
    let config = etc.join("door.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("card_key = \"card-key.sealed\""), "{text}");
    assert!(
        text.contains(&format!("card_key_tpm = \"{}\"", a.tcti())),
        "{text}"
    );
    assert!(!holds(text.as_bytes(), &library_key()));
    assert_eq!(hashes(&config), expected);

    // Again: the sealed file is left alone. Without --tpm (and without --card-key) the box stays
    // sealed: the config names its TPM.
    let (ok, out) = run(&with(&args, &["--tpm", &a.tcti()]));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("unchanged {}", sealed.display())),
        "{out}"
    );
    let (ok, out) = run(&without_card_key(&args));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("unchanged {}", sealed.display())),
        "{out}"
    );
    assert!(!etc.join("card-key.secret").exists());
    assert_eq!(std::fs::read(&sealed).unwrap(), bytes);
    assert_eq!(hashes(&config), expected);

    // Moved to another TPM (a new board) without the key: refused, nothing written. With the
    // key: sealed again for that TPM.
    let (ok, out) = run(&with(&without_card_key(&args), &["--tpm", &b.tcti()]));
    assert!(!ok, "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(out.contains("sealed by another TPM"), "{out}");
    assert!(
        out.contains("give the library's card key with --card-key"),
        "{out}"
    );
    assert_eq!(std::fs::read(&sealed).unwrap(), bytes);
    let (ok, out) = run(&with(&args, &["--tpm", &b.tcti()]));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("replaced  {}", sealed.display())),
        "{out}"
    );
    assert_eq!(hashes(&config), expected);

    // A box already provisioned in clear is moved to the TPM: sealed, and the clear file goes.
    let (ok, out) = run(&with(
        &without_card_key(&new_box(&clear_box)),
        &["--tpm", &a.tcti()],
    ));
    assert!(ok, "{out}");
    let removed = clear_box.join("etc/card-key.secret");
    assert!(
        out.contains(&format!("removed   {}", removed.display())),
        "{out}"
    );
    assert!(!removed.exists());
    assert!(clear_box.join("etc/card-key.sealed").exists());
    assert_eq!(hashes(&clear_config), expected);

    // The TPM gone: a clear error, nothing written.
    let tcti = a.tcti();
    a.stop();
    let (ok, out) = run(&with(&without_card_key(&args), &["--tpm", &tcti]));
    assert!(!ok, "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(out.contains(&format!("no TPM at {tcti}")), "{out}");
}

#[test]
fn without_a_tpm_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let args = new_box(tmp.path());
    let (ok, out) = run(&with(&args, &["--tpm", "device:/dev/omatoimi-no-tpm"]));
    assert!(!ok, "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert!(
        out.contains(
            "--tpm: the card key could not be sealed: no TPM at device:/dev/omatoimi-no-tpm"
        ),
        "{out}"
    );
    assert!(!tmp.path().join("etc").exists());
}
