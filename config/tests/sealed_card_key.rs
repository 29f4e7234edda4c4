//! `[allowlist] card_key` naming a file sealed by a TPM (a real software TPM, swtpm, started
//! here): unsealed at load to the same key as the clear file, refused with an error naming the
//! key when another TPM or no TPM answers. Fails, naming what to install, when swtpm or
//! tpm2-tools is missing, unless OMATOIMI_SKIP_SWTPM=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use allowlist::CardKey;
use config::allowlist::{CardKeySource, load};
use redact::CardNumber;
use tpm::testing::Swtpm;

fn swtpm(dir: &Path) -> Option<Swtpm> {
    match Swtpm::start_or_skip(dir) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

fn secret(path: &Path, bytes: &[u8], mode: u32) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn config(dir: &Path, card_key: &str, tpm: Option<&str>) -> std::path::PathBuf {
    let key = allowlist::SigningKey::from_seed([9; 32])
        .unwrap()
        .public()
        .to_string();
    let tpm = tpm
        .map(|t| format!("card_key_tpm = \"{t}\"\n"))
        .unwrap_or_default();
    let path = dir.join("door.toml");
    std::fs::write(
        &path,
        format!(
            "[allowlist]\nstore = \"store\"\ncard_key = \"{card_key}\"\n{tpm}scopes = [\"heili\"]\nkeys = [\"{key}\"]\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn a_sealed_card_key_loads_as_the_clear_one_on_its_own_tpm_only() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(a) = swtpm(&tmp.path().join("tpm-a")) else {
        return;
    };
    let Some(b) = swtpm(&tmp.path().join("tpm-b")) else {
        return;
    };
    let dir = tmp.path();
    let key = CardKey::new([0x5a; 32]);
    let cards = ["24680000000011", "2468 0000-000029", "A1"].map(CardNumber::new);

    // In clear, as today.
    secret(
        &dir.join("card-key.secret"),
        key.to_text().as_bytes(),
        0o600,
    );
    let clear = load(&config(dir, "card-key.secret", None)).unwrap();
    let line = config::allowlist::card_key_line(&dir.join("door.toml")).unwrap();
    assert!(line.starts_with("card key: in clear in"), "{line}");

    // Sealed by TPM a: the same key, so the same card hashes and list card-key id.
    let sealed = tpm::Tpm::new(a.tcti())
        .seal(key.to_text().as_bytes())
        .unwrap();
    secret(&dir.join("card-key.sealed"), &sealed, 0o600);
    let path = config(dir, "card-key.sealed", Some(&a.tcti()));
    let s = load(&path).unwrap();
    assert_eq!(s.card_key.id(), clear.card_key.id());
    assert_eq!(s.anchors.card_key, clear.anchors.card_key);
    for c in &cards {
        assert_eq!(s.card_key.hash(c), clear.card_key.hash(c));
        assert_eq!(s.card_key.hash(c), key.hash(c));
    }
    let raw: config::allowlist::RawAllowlistFile = config::load(&path).unwrap();
    match raw.allowlist.card_key(&path).unwrap().1 {
        CardKeySource::Sealed { tcti, .. } => assert_eq!(tcti, a.tcti()),
        other => panic!("{other:?}"),
    }
    let line = config::allowlist::card_key_line(&path).unwrap();
    assert!(
        line.starts_with(&format!("card key: sealed by the TPM at {}", a.tcti())),
        "{line}"
    );
    assert!(!line.contains(&key.to_text()), "{line}");

    // A sealed file others may read is refused like a clear one.
    std::fs::set_permissions(
        dir.join("card-key.sealed"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(
        e.contains("key `allowlist.card_key`") && e.contains("0640"),
        "{e}"
    );
    std::fs::set_permissions(
        dir.join("card-key.sealed"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();

    // Another TPM: refused, naming the key and why.
    let e = load(&config(dir, "card-key.sealed", Some(&b.tcti())))
        .unwrap_err()
        .to_string();
    assert!(e.contains("key `allowlist.card_key`"), "{e}");
    assert!(e.contains("sealed by another TPM"), "{e}");
    assert!(e.contains("allowlist.card_key_tpm"), "{e}");

    // No TPM at all: refused, naming the key and the TPM it looked for.
    let tcti = a.tcti();
    a.stop();
    let e = load(&config(dir, "card-key.sealed", Some(&tcti)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("key `allowlist.card_key`"), "{e}");
    assert!(e.contains(&format!("no TPM at {tcti}")), "{e}");
    let e = load(&config(
        dir,
        "card-key.sealed",
        Some("device:/dev/omatoimi-no-tpm"),
    ))
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no TPM at device:/dev/omatoimi-no-tpm: /dev/omatoimi-no-tpm does not exist"),
        "{e}"
    );
    assert!(!e.contains(&key.to_text()), "{e}");
}
