//! The card key kept inside a real software TPM (swtpm, started here): imported as an HMAC key,
//! each card hashed by the TPM to the same hash as `allowlist::CardKey` makes in memory, and the
//! key's file refused by another TPM. Prints the time per hash. Fails, naming what to install,
//! when swtpm or tpm2-tools is missing, unless OMATOIMI_SKIP_SWTPM=1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use allowlist::CardKey;
use redact::CardNumber;
use tpm::testing::Swtpm;
use tpm::{Tpm, TpmError};

fn swtpm(dir: &std::path::Path) -> Option<Swtpm> {
    match Swtpm::start_or_skip(dir) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_tpm_hashes_cards_as_the_card_key_does_and_only_its_own_tpm_loads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(a) = swtpm(&tmp.path().join("a")) else {
        return;
    };
    let Some(b) = swtpm(&tmp.path().join("b")) else {
        return;
    };
    let raw = [0x3c; 32];
    let key = CardKey::new(raw);
    let tpm = Tpm::new(a.tcti());
    let file = tpm.import_hmac_key(&raw).unwrap();
    assert!(file.starts_with(tpm::hmac::MAGIC));
    assert!(
        !file.windows(32).any(|w| w == raw),
        "the key's file holds the key"
    );
    let loaded = tpm.load_hmac_key(&file).unwrap();
    let cards = (0..20)
        .map(|i| format!("246800000{i:05}"))
        .collect::<Vec<_>>();
    let started = Instant::now();
    for card in &cards {
        // Already normalised, so the message is the number itself.
        assert_eq!(
            loaded.hmac(card.as_bytes()).unwrap(),
            key.hash(&CardNumber::new(card)).0,
            "{card}"
        );
    }
    println!(
        "swtpm: {} ms per card hash in the TPM (tpm2_hmac and a flush, {} cards)",
        started.elapsed().as_millis() / cards.len() as u128,
        cards.len()
    );
    assert_ne!(
        loaded.hmac(b"1").unwrap(),
        CardKey::new([0x3d; 32]).hash(&CardNumber::new("1")).0
    );
    let e = Tpm::new(b.tcti()).load_hmac_key(&file).unwrap_err();
    assert!(matches!(e, TpmError::OtherTpm { .. }), "{e:?}");
}
