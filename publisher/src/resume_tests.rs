//! Resuming an interrupted run from the verifier journal, on real files in a tempdir.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};

use allowlist::entry::Entries;
use allowlist::{Argon2Params, CardHash, PinCheck, SignedHeader};

use super::{Options, Publication, Run, publish, publish_with};
use crate::journal::{self, MAGIC, RECORD_LEN};
use crate::secrets::{new_card_key, new_signing_key, read_card_key};

const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};

fn pin_of(i: usize) -> String {
    format!("{:06}", 731_000 + i)
}

fn card_of(i: usize) -> String {
    format!("2468{:010}", 5_000_000 + i)
}

/// Writes an export of `n` patrons (PINs from `pin`) and returns the options for it.
fn setup(dir: &Path, state: &str, n: usize, pin: &dyn Fn(usize) -> String) -> Options {
    let keys = dir.join("keys");
    if !keys.exists() {
        new_signing_key(&keys).unwrap();
        new_card_key(&keys.join("card.key")).unwrap();
    }
    let key = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "key") && !p.ends_with("card.key"))
        .unwrap();
    let export = dir.join("export.jsonl");
    let mut f = std::fs::File::create(&export).unwrap();
    writeln!(f, r#"{{"format":"omatoimi-patron-export","version":1,"library":"HEILI","exported_at":"2026-11-24T18:00:00Z","fine_limit_cents":1000}}"#).unwrap();
    for i in 0..n {
        writeln!(
            f,
            r#"{{"card":"{}","pin":"{}","category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true,"fines_cents":{}}}"#,
            card_of(i),
            pin(i),
            i * 10
        )
        .unwrap();
    }
    Options {
        source: crate::Source::Export(export),
        state: dir.join(state),
        out: dir.join(format!("out-{state}")),
        keys: vec![key],
        card_key: keys.join("card.key"),
        scope: vec!["heili".into()],
        valid_for: 72 * 3600,
        fine_limit_cents: None,
        keep: 2,
        jobs: 2,
        argon2: CHEAP,
        now: 1_790_000_000,
        progress: false,
        max_problem_share: 0.0,
        max_bcrypt_cost: crate::build::MAX_BCRYPT_COST,
        branch_lists: vec![],
    }
}

fn interrupted(o: &Options, k: usize) {
    let e = publish_with(
        o,
        Run {
            journal: true,
            stop_after: Some(k),
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("stopped after"), "{e}");
}

fn journal_path(o: &Options) -> PathBuf {
    o.state.join(journal::FILE_NAME)
}

fn journal_records(o: &Options) -> usize {
    let len = std::fs::metadata(journal_path(o)).unwrap().len() as usize;
    (len - MAGIC.len()) / RECORD_LEN
}

/// The published list: per card hash, (salt, verifier, the entry's other bytes' facts).
fn list(o: &Options) -> Vec<allowlist::Entry> {
    let bytes = std::fs::read(o.out.join("full.oal")).unwrap();
    let s = SignedHeader::parse(&bytes).unwrap();
    Entries::new(&bytes[s.body_offset..], s.header.entry_count)
        .map(|e| e.unwrap().entry)
        .collect()
}

/// Every patron's PIN verifies against the list and a wrong one does not.
fn every_pin_verifies(o: &Options, n: usize, pin: &dyn Fn(usize) -> String) {
    let card_key = read_card_key(&o.card_key).unwrap();
    let entries = list(o);
    assert_eq!(entries.len(), n);
    for i in 0..n {
        let card = card_key.hash(&redact::CardNumber::new(card_of(i)));
        let e = entries.iter().find(|e| e.card == card).unwrap();
        let check = |p: &str| e.pin.check(&redact::Pin::new(p), &o.argon2, 12);
        assert_eq!(
            check(&pin(i)),
            PinCheck::Match,
            "patron {i}: the right PIN verifies"
        );
        assert_eq!(
            check("000000"),
            PinCheck::Mismatch,
            "patron {i}: a wrong PIN does not"
        );
    }
}

fn cards_in_journal(o: &Options) -> Vec<CardHash> {
    journal::load(&o.state)
        .unwrap()
        .records
        .keys()
        .copied()
        .collect()
}

#[test]
fn an_interrupted_run_is_resumed_and_publishes_what_an_uninterrupted_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let n = 60;
    let o = setup(dir.path(), "state", n, &pin_of);
    interrupted(&o, 25);
    assert_eq!(journal_records(&o), 25, "every verifier made is journalled");
    assert!(!o.state.join("verifiers.state").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(journal_path(&o))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let p: Publication = publish(&o).unwrap();
    assert_eq!((p.reused, p.resumed, p.made), (25, 25, n - 25));
    assert!(
        !journal_path(&o).exists(),
        "removed once the state is written"
    );
    every_pin_verifies(&o, n, &pin_of);

    // A run never interrupted publishes the same entries but for salts and verifiers.
    let mut clean = o.clone();
    clean.state = dir.path().join("clean-state");
    clean.out = dir.path().join("clean-out");
    let c = publish(&clean).unwrap();
    assert_eq!((c.reused, c.made), (0, n));
    let strip = |v: Vec<allowlist::Entry>| {
        v.into_iter()
            .map(|e| (e.card, format!("{:?}", e.facts)))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(list(&o)), strip(list(&clean)));

    // The next run takes everything from the state file, nothing from a journal.
    let again = publish(&Options {
        now: o.now + 1,
        ..o.clone()
    })
    .unwrap();
    assert_eq!((again.reused, again.resumed, again.made), (n, 0, 0));
}

#[test]
fn a_run_interrupted_twice_keeps_both_runs_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40;
    let o = setup(dir.path(), "state", n, &pin_of);
    interrupted(&o, 10);
    // The second run resumes 10 and is itself stopped after 15 more.
    interrupted(&o, 15);
    assert_eq!(journal_records(&o), 25);
    let p = publish(&o).unwrap();
    assert_eq!((p.resumed, p.made), (25, n - 25));
    every_pin_verifies(&o, n, &pin_of);
}

#[test]
fn a_torn_tail_and_a_flipped_byte_are_dropped_and_the_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30;
    let o = setup(dir.path(), "state", n, &pin_of);
    interrupted(&o, 10);
    let path = journal_path(&o);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), MAGIC.len() + 10 * RECORD_LEN);
    // A byte of record 3's verifier flipped; the last record torn mid-way.
    bytes[MAGIC.len() + 3 * RECORD_LEN + 80] ^= 0x40;
    bytes.truncate(bytes.len() - 50);
    std::fs::write(&path, &bytes).unwrap();

    let p = publish(&o).unwrap();
    assert_eq!((p.resumed, p.made), (8, n - 8), "two records dropped");
    every_pin_verifies(&o, n, &pin_of);
}

#[test]
fn a_journal_with_a_torn_magic_is_dropped_and_appending_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20;
    let o = setup(dir.path(), "state", n, &pin_of);
    interrupted(&o, 5);
    std::fs::write(journal_path(&o), b"OMPJ").unwrap();
    interrupted(&o, 7);
    // Rewritten with a whole magic, then 7 good records.
    assert_eq!(journal_records(&o), 7);
    let p = publish(&o).unwrap();
    assert_eq!((p.resumed, p.made), (7, n - 7));
    every_pin_verifies(&o, n, &pin_of);
}

#[test]
fn a_journal_record_for_a_pin_changed_meanwhile_is_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30;
    let o = setup(dir.path(), "state", n, &pin_of);
    interrupted(&o, 20);
    let journalled = cards_in_journal(&o);
    assert_eq!(journalled.len(), 20);
    // Two journalled patrons change their PINs before the next run.
    let card_key = read_card_key(&o.card_key).unwrap();
    let changed: Vec<usize> = (0..n)
        .filter(|i| journalled.contains(&card_key.hash(&redact::CardNumber::new(card_of(*i)))))
        .take(2)
        .collect();
    let new_pin = |i: usize| {
        if changed.contains(&i) {
            format!("{:06}", 555_000 + i)
        } else {
            pin_of(i)
        }
    };
    let o = setup(dir.path(), "state", n, &new_pin);
    let p = publish(&o).unwrap();
    assert_eq!((p.resumed, p.made), (18, n - 18));
    every_pin_verifies(&o, n, &new_pin);
    // The old PINs no longer verify.
    let entries = list(&o);
    for i in changed {
        let card = card_key.hash(&redact::CardNumber::new(card_of(i)));
        let e = entries.iter().find(|e| e.card == card).unwrap();
        assert_eq!(
            e.pin.check(&redact::Pin::new(pin_of(i)), &o.argon2, 12),
            PinCheck::Mismatch,
            "patron {i}: the old PIN is refused"
        );
    }
}

#[test]
fn the_journal_holds_no_pin_and_no_card_number() {
    let dir = tempfile::tempdir().unwrap();
    let n = 50;
    let o = setup(dir.path(), "state", n, &pin_of);
    interrupted(&o, 49);
    let raw = std::fs::read(journal_path(&o)).unwrap();
    assert_eq!(journal_records(&o), 49);
    for i in 0..n {
        for secret in [pin_of(i), card_of(i)] {
            assert!(
                !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "patron {i}: {secret} found in the journal"
            );
        }
    }
}

/// The journal's cost: the same export published with and without it. Run with
/// `cargo test -p publisher -- --ignored --nocapture journal_overhead` (argon2 is built
/// optimised even in the test profile).
#[test]
#[ignore = "a measurement, not a check"]
fn journal_overhead() {
    for (label, params, n, rounds) in [
        ("test parameters (64 KiB, 1 pass)", CHEAP, 2000, 5),
        (
            "real parameters (OWASP minimum)",
            Argon2Params::OWASP_MINIMUM,
            200,
            3,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = setup(dir.path(), "state", n, &pin_of);
        o.argon2 = params;
        let mut with = Vec::new();
        let mut without = Vec::new();
        for r in 0..rounds {
            for journal in [r % 2 == 0, r % 2 != 0] {
                // A fresh state each time: every verifier is made.
                let _ = std::fs::remove_dir_all(&o.state);
                let p = publish_with(
                    &o,
                    Run {
                        journal,
                        stop_after: None,
                    },
                )
                .unwrap();
                assert_eq!(p.made, n);
                let t = p.verifier_time.as_secs_f64();
                if journal {
                    with.push(t)
                } else {
                    without.push(t)
                }
            }
        }
        with.sort_by(f64::total_cmp);
        without.sort_by(f64::total_cmp);
        let (w, wo) = (with[with.len() / 2], without[without.len() / 2]);
        // The journal's own work, alone: appending and syncing a batch.
        let loaded = journal::load(&o.state).unwrap();
        let mut j = journal::Journal::open(&o.state, &loaded).unwrap();
        let r = crate::state::Remembered {
            card: CardHash([7; 32]),
            fingerprint: [1; 16],
            salt: [2; 16],
            verifier: [3; 32],
        };
        for batch in [1usize, 120, 256] {
            let recs = vec![r; batch];
            let t = std::time::Instant::now();
            for _ in 0..20 {
                j.append(&recs).unwrap();
            }
            println!(
                "  append and fdatasync of {batch} records: {:.2} ms each (mean of 20)",
                t.elapsed().as_secs_f64() * 1000.0 / 20.0
            );
        }
        println!(
            "{label}, {n} patrons, 2 threads, median of {rounds}: verifiers with journal {w:.3} s, without {wo:.3} s ({:+.1} %); all: with {with:.3?} without {without:.3?}",
            (w / wo - 1.0) * 100.0
        );
    }
}

#[test]
fn the_library_systems_own_hashes_are_carried_and_patrons_without_a_pin_are_listed_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = setup(dir.path(), "state", 0, &pin_of);
    // Koha's own hashes (Perl Crypt::Eksblowfish, as Koha::AuthUtils::hash_password makes them)
    // of 1234 at cost 8 and of 987654 at cost 10; an SHA-512 crypt; nothing; a clear PIN.
    let lines = [
        (
            0,
            r#""pin_hash":"$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP72","#,
        ),
        (
            1,
            r#""pin_hash":"$2a$10$n8oVl5z.IjV.aD/ra3BsnebcFX9wIJUmLjs7Gk2/9ssc9uckg4z8S","#,
        ),
        (2, r#""pin_hash":"$6$rounds=5000$saltsalt$hash","#),
        (3, ""),
        (4, r#""pin":"4321","#),
    ];
    let mut f = std::fs::File::create(o.source.path()).unwrap();
    writeln!(f, r#"{{"format":"omatoimi-patron-export","version":1,"library":"HEILI","exported_at":"2026-11-24T18:00:00Z"}}"#).unwrap();
    for (i, pin) in lines {
        writeln!(
            f,
            r#"{{"card":"{}",{pin}"category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true}}"#,
            card_of(i)
        )
        .unwrap();
    }
    drop(f);
    let o = Options {
        max_bcrypt_cost: 9,
        ..o
    };
    let p = publish(&o).unwrap();
    assert_eq!((p.entries, p.library_hashes, p.made), (5, 1, 1));
    assert_eq!(
        p.without_verifier,
        vec![
            ("bcrypt cost over 9".to_string(), 1),
            ("hash scheme $6$ not checked by doors".to_string(), 1),
            ("no PIN in the export".to_string(), 1),
        ]
    );
    let card_key = read_card_key(&o.card_key).unwrap();
    let entries = list(&o);
    let entry = |i: usize| {
        let card = card_key.hash(&redact::CardNumber::new(card_of(i)));
        entries.iter().find(|e| e.card == card).unwrap().clone()
    };
    let check = |i: usize, pin: &str| entry(i).pin.check(&redact::Pin::new(pin), &o.argon2, 12);
    assert_eq!(entry(0).pin.scheme(), "bcrypt");
    assert_eq!(check(0, "1234"), PinCheck::Match);
    assert_eq!(check(0, "1235"), PinCheck::Mismatch);
    for i in [1, 2, 3] {
        assert_eq!(entry(i).pin.scheme(), "none", "patron {i}");
    }
    assert_eq!(entry(4).pin.scheme(), "argon2id");
    assert_eq!(check(4, "4321"), PinCheck::Match);
    // The state remembers only the verifier it made; a second run makes none.
    let again = publish(&o).unwrap();
    assert_eq!((again.reused, again.made, again.library_hashes), (1, 0, 1));
}

#[test]
fn a_branch_list_is_keyed_with_the_branchs_own_card_key() {
    let dir = tempfile::tempdir().unwrap();
    let n = 40;
    let o = Options {
        branch_lists: vec!["LEMI".into(), "IMA".into()],
        ..setup(dir.path(), "state", n, &pin_of)
    };
    let p = publish(&o).unwrap();
    assert_eq!(p.branch_lists.len(), 2);
    let consortium = read_card_key(&o.card_key).unwrap();
    let read = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let s = SignedHeader::parse(&bytes).unwrap();
        let entries: Vec<allowlist::Entry> =
            Entries::new(&bytes[s.body_offset..], s.header.entry_count)
                .map(|e| e.unwrap().entry)
                .collect();
        (s.header, entries)
    };
    let (main, main_entries) = read(&o.out.join("full.oal"));
    let mut seen = vec![main_entries.iter().map(|e| e.card).collect::<Vec<_>>()];
    for name in ["LEMI", "IMA"] {
        let key = consortium.for_scope(name);
        let (h, entries) = read(&o.out.join(name).join("full.oal"));
        assert_eq!(h.scope, vec![name.to_string()]);
        assert_eq!(h.card_key, key.id());
        assert_ne!(h.card_key, main.card_key);
        assert_eq!((h.version, h.entry_count), (main.version, n as u64));
        // Every patron is found under the branch's key, with the same PIN verifier.
        for i in 0..n {
            let card = redact::CardNumber::new(card_of(i));
            let e = entries.iter().find(|e| e.card == key.hash(&card)).unwrap();
            assert_eq!(
                e.pin.check(&redact::Pin::new(pin_of(i)), &o.argon2, 12),
                PinCheck::Match
            );
            assert!(!entries.iter().any(|e| e.card == consortium.hash(&card)));
        }
        let cards: Vec<_> = entries.iter().map(|e| e.card).collect();
        assert!(cards.windows(2).all(|w| w[0] < w[1]), "sorted");
        assert!(
            seen.iter()
                .all(|other| other.iter().all(|c| !cards.contains(c)))
        );
        seen.push(cards);
    }
    // The next version reaches each branch as a delta from its own previous list.
    let again = publish(&Options {
        now: o.now + 60,
        ..o.clone()
    })
    .unwrap();
    assert!(
        again.branch_lists.iter().all(|b| b.deltas == 1),
        "{:?}",
        again.branch_lists
    );
    assert!(
        o.out
            .join("LEMI")
            .join(format!("delta-from-{}.oal", p.version))
            .exists()
    );
}
