//! The outside judge of resuming: the real `allowlist-publish` binary is SIGKILLed mid-build,
//! once its verifier journal has grown, and the next run makes only the verifiers it had not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use allowlist::PinCheck;
use allowlist::entry::Entries;
use allowlist::{Argon2Params, SignedHeader};
use publisher::journal::{FILE_NAME, MAGIC, RECORD_LEN};
use publisher::secrets::{new_card_key, new_signing_key, read_card_key};

const N: usize = 2000;
const PARAMS: Argon2Params = Argon2Params {
    memory_kib: 1024,
    iterations: 1,
    lanes: 1,
};

fn pin_of(i: usize) -> String {
    format!("{:06}", 482_000 + i)
}

fn card_of(i: usize) -> String {
    format!("2468{:010}", 7_000_000 + i)
}

fn records(journal: &Path) -> usize {
    std::fs::metadata(journal).map_or(0, |m| {
        (m.len() as usize).saturating_sub(MAGIC.len()) / RECORD_LEN
    })
}

#[test]
fn a_sigkilled_build_is_resumed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, key, _) = new_signing_key(&d.join("keys")).unwrap();
    let card_key_path = d.join("keys/card.key");
    new_card_key(&card_key_path).unwrap();
    let export = d.join("export.jsonl");
    let mut f = std::fs::File::create(&export).unwrap();
    writeln!(f, r#"{{"format":"omatoimi-patron-export","version":1,"library":"HEILI","exported_at":"2026-11-24T18:00:00Z"}}"#).unwrap();
    for i in 0..N {
        writeln!(
            f,
            r#"{{"card":"{}","pin":"{}","category":"ADULT","home_branch":"LEMI","card_expires":"2030-01-31","self_service":true}}"#,
            card_of(i),
            pin_of(i)
        )
        .unwrap();
    }
    drop(f);
    let state = d.join("state");
    let out = d.join("out");
    let journal = state.join(FILE_NAME);

    let mut child = Command::new(env!("CARGO_BIN_EXE_allowlist-publish"))
        .args(["build", "--quiet", "--jobs", "1", "--scope", "heili"])
        .arg("--export")
        .arg(&export)
        .arg("--state")
        .arg(&state)
        .arg("--out")
        .arg(&out)
        .arg("--key")
        .arg(&key)
        .arg("--card-key")
        .arg(&card_key_path)
        .args(["--argon2-memory-kib", &PARAMS.memory_kib.to_string()])
        .args(["--argon2-iterations", &PARAMS.iterations.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for two batches in the journal, then kill -9.
    let deadline = Instant::now() + Duration::from_secs(120);
    while records(&journal) < 300 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before it could be killed; make N larger"
        );
        assert!(Instant::now() < deadline, "the journal did not grow");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    assert!(!status.success());
    let k = records(&journal);
    assert!((300..N).contains(&k), "{k} records journalled");
    assert!(
        !state.join("verifiers.state").exists(),
        "killed before the end"
    );
    assert!(!out.join("head.oal").exists());

    let p = publisher::publish(&publisher::Options {
        source: publisher::Source::Export(export),
        state: state.clone(),
        out: out.clone(),
        keys: vec![key],
        card_key: card_key_path.clone(),
        scope: vec!["heili".into()],
        valid_for: 3600,
        fine_limit_cents: None,
        keep: 1,
        jobs: 2,
        argon2: PARAMS,
        now: 1_790_000_000,
        progress: false,
        max_problem_share: 0.0,
        max_bcrypt_cost: publisher::build::MAX_BCRYPT_COST,
        branch_lists: vec![],
    })
    .unwrap();
    assert!(p.reused >= k, "{} reused, {k} journalled", p.reused);
    assert_eq!(p.reused, p.resumed);
    assert_eq!(p.reused + p.made, N);
    assert!(p.made < N - 299);
    assert!(!journal.exists());
    println!(
        "killed with {k} verifiers journalled; the next run reused {} and made {}",
        p.reused, p.made
    );

    // Every PIN verifies against what was published, a wrong one never.
    let card_key = read_card_key(&card_key_path).unwrap();
    let bytes = std::fs::read(out.join("full.oal")).unwrap();
    let s = SignedHeader::parse(&bytes).unwrap();
    let entries: Vec<_> = Entries::new(&bytes[s.body_offset..], s.header.entry_count)
        .map(|e| e.unwrap().entry)
        .collect();
    assert_eq!(entries.len(), N);
    for i in 0..N {
        let card = card_key.hash(&redact::CardNumber::new(card_of(i)));
        let e = &entries[entries.binary_search_by(|e| e.card.cmp(&card)).unwrap()];
        let check = |pin: &str| e.pin.check(&redact::Pin::new(pin), &PARAMS, 12);
        assert_eq!(check(&pin_of(i)), PinCheck::Match, "patron {i}");
        if i % 50 == 0 {
            assert_eq!(
                check("999999"),
                PinCheck::Mismatch,
                "patron {i}: a wrong PIN"
            );
        }
    }
}
