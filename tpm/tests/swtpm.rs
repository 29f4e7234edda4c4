//! Sealing and unsealing against a real software TPM (Debian's swtpm, started by the test): the
//! round trip, another TPM refusing the blob, the blob not holding the secret, and a TPM that is
//! gone. Fails, with what to install, when swtpm or tpm2-tools is missing, unless
//! OMATOIMI_SKIP_SWTPM=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use tpm::testing::Swtpm;
use tpm::{Tpm, TpmError};

fn swtpm(dir: &std::path::Path) -> Option<Swtpm> {
    match Swtpm::start_or_skip(dir) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

const KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn a_secret_sealed_by_one_tpm_opens_there_only() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(a) = swtpm(&tmp.path().join("a")) else {
        return;
    };
    let Some(b) = swtpm(&tmp.path().join("b")) else {
        return;
    };
    let tpm_a = Tpm::new(a.tcti());
    let t = Instant::now();
    let sealed = tpm_a.seal(KEY.as_bytes()).unwrap();
    let seal_time = t.elapsed();
    assert!(tpm::is_sealed(&sealed));

    // The round trip, twice (the tools' transient objects are flushed: a TPM has few slots).
    for _ in 0..4 {
        let t = Instant::now();
        assert_eq!(tpm_a.unseal(&sealed).unwrap(), KEY.as_bytes());
        println!(
            "swtpm: seal {} ms, unseal {} ms",
            seal_time.as_millis(),
            t.elapsed().as_millis()
        );
    }

    // The blob holds neither the key's text nor its bytes.
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&KEY[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    for needle in [KEY.as_bytes(), &raw[..], &raw[..8], &KEY.as_bytes()[..16]] {
        assert!(
            !sealed.windows(needle.len()).any(|w| w == needle),
            "the sealed blob holds the key"
        );
    }

    // Another TPM cannot open it: its primary key differs, the blob's integrity check fails.
    let e = Tpm::new(b.tcti()).unseal(&sealed).unwrap_err();
    assert!(matches!(e, TpmError::OtherTpm { .. }), "{e:?}");
    assert!(e.to_string().contains("sealed by another TPM"), "{e}");

    // Sealing the same secret again makes another blob that opens to the same secret.
    let again = tpm_a.seal(KEY.as_bytes()).unwrap();
    assert_ne!(again, sealed);
    assert_eq!(tpm_a.unseal(&again).unwrap(), KEY.as_bytes());

    // A damaged blob is refused.
    let mut bad = sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(tpm_a.unseal(&bad).is_err());

    // The TPM gone: a clear error naming it.
    let tcti = a.tcti();
    a.stop();
    let e = Tpm::new(&tcti).unseal(&sealed).unwrap_err();
    assert!(matches!(e, TpmError::NoTpm { .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("no TPM at {tcti}")), "{e}");
    let e = Tpm::new("device:/dev/omatoimi-no-tpm")
        .seal(KEY.as_bytes())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("no TPM at device:/dev/omatoimi-no-tpm"),
        "{e}"
    );
}
