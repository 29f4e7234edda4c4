//! Offline PINs without a clear PIN anywhere: the simulator's register exports its own bcrypt
//! hashes (as Koha keeps them), the publisher carries them into the list, and a door checks them
//! with the library system stopped; a patron whose PIN the register cannot export comes in
//! offline only after the door has seen their PIN accepted online, through the verifier it
//! learned then. A PIN changed online replaces the learned one; erasure leaves no byte of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use allowlist::Argon2Params;
use e2e::{DeviceSetup, settings};
use library_sim::fixtures::Fixtures;
use library_sim::publishing;
use offline::lookup::CheckedBy;
use offline::{OfflineAnswer, OfflineList, Refusal, Verifier};
use redact::{CardNumber, Pin};

const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};
const AINO: (&str, &str) = ("24680000000011", "1234");
/// Erik's PIN predates the register's bcrypt hashes: the export carries none for him.
const ERIK: (&str, &str) = ("24680000000029", "2468");
const JOHN: (&str, &str) = ("24680000000110", "0000");

fn fixtures() -> Fixtures {
    Fixtures::parse(
        Path::new("heili.toml"),
        library_sim::DEFAULT_FIXTURES,
        library_sim::clock::Clock::from_fn(e2e::daemons_now).today(),
    )
    .unwrap()
}

fn now() -> i64 {
    e2e::daemons_now().timestamp()
}

fn check(list: &OfflineList, (card, pin): (&str, &str), at: i64) -> OfflineAnswer {
    list.check(&CardNumber::new(card), &Pin::new(pin), at)
        .unwrap()
}

fn by(answer: &OfflineAnswer) -> Option<CheckedBy> {
    match answer {
        OfflineAnswer::Verified { by, .. } => Some(*by),
        _ => None,
    }
}

#[test]
fn the_registers_export_carries_bcrypt_hashes_and_never_a_clear_pin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    let f = fixtures();
    publishing::export(&f, None, &path, "2026-12-02T18:00:00Z").unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), f.patrons.len());
    for (line, p) in lines.iter().zip(&f.patrons) {
        assert!(line.get("pin").is_none(), "a clear PIN field: {line}");
        match line["pin_hash"].as_str() {
            Some(h) => {
                let h = allowlist::BcryptHash::parse(h).unwrap();
                assert_eq!(h.cost(), publishing::REGISTER_BCRYPT_COST);
                assert!(h.verify(&Pin::new(&p.pin)), "{}", p.card);
                assert!(p.export_pin);
            }
            None => assert!(!p.export_pin, "{} has no hash", p.card),
        }
    }
    assert!(!lines.iter().any(|l| l.to_string().contains("\"2468\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_door_checks_the_registers_hashes_offline_and_learns_a_pin_it_cannot_export() {
    let dir = tempfile::tempdir().unwrap();
    let files = publishing::ensure_publisher(dir.path()).unwrap();
    let publication = publishing::publish(&fixtures(), None, &files, now(), 72, CHEAP).unwrap();
    // Every listed patron by the register's own hash, but Erik, whose PIN it cannot export.
    assert_eq!(publication.made, 0, "no argon2id verifier: no clear PIN");
    assert_eq!(publication.library_hashes, publication.entries - 1);
    assert_eq!(
        publication.without_verifier,
        vec![("no PIN in the export".to_string(), 1)]
    );

    let mut s = settings(dir.path());
    s.allowlist = Some(files.out.clone());
    let sim = library_sim::server::start(s).await.unwrap();
    let door = dir.path().join("door");
    std::fs::create_dir_all(&door).unwrap();
    let key = door.join("card-key.secret");
    std::fs::copy(&files.card_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        door.join("door.toml"),
        format!(
            "[allowlist]\nurl = \"https://localhost:{}/allowlist/\"\nca = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\nstore = \"store\"\ncard_key = \"card-key.secret\"\nscopes = [\"heili\", \"LEMI\"]\nkeys = [\"{}\"]\n",
            sim.https.unwrap().port(),
            sim.ca_cert.display(),
            sim.device_cert.display(),
            sim.device_key.display(),
            files.public_key
        ),
    )
    .unwrap();
    let list =
        OfflineList::open(config::allowlist::load(&door.join("door.toml")).unwrap()).unwrap();
    offline::Fetcher::new(&list)
        .unwrap()
        .sync(&list, now())
        .await
        .unwrap();

    // Offline, before Erik has been seen: the list knows him but cannot check his PIN.
    assert_eq!(
        check(&list, ERIK, now()),
        OfflineAnswer::NoVerifier { bcrypt_cost: None }
    );
    assert_eq!(by(&check(&list, AINO, now())), Some(CheckedBy::LibraryHash));

    // At the door, online: the library system accepts Erik's PIN and the door learns it.
    let registry = DeviceSetup::sip2().start(dir.path(), &sim);
    let guard = list.settings().guard;
    let verifier = Verifier::new(
        Some(registry),
        Some(list.clone()),
        guard,
        Duration::from_secs(2),
    );
    let online = verifier
        .verify(
            &CardNumber::new(ERIK.0),
            Pin::new(ERIK.1),
            e2e::daemons_now(),
        )
        .await;
    assert!(online.outcome.is_ok(), "{:?}", online.outcome);
    verifier.learning_settled().await;
    assert_eq!(list.learned().len(), 1);
    // The learned file holds neither the card number nor the PIN.
    let learned_dir = list.learned().dir().to_owned();
    for secret in [ERIK.0, ERIK.1] {
        assert!(!daemon::fs::holds_bytes(&learned_dir, secret.as_bytes()).unwrap());
    }

    // The library system stops. The door answers from the list and what it learned.
    sim.stop();
    sim.abort();
    let later = now() + 60;
    let offline = verifier
        .verify(
            &CardNumber::new(ERIK.0),
            Pin::new(ERIK.1),
            chrono::DateTime::from_timestamp(later, 0).unwrap(),
        )
        .await;
    assert!(offline.outcome.is_ok(), "{:?}", offline.outcome);
    assert!(matches!(
        offline.source,
        access::door::Source::Offline { .. }
    ));
    assert_eq!(by(&check(&list, ERIK, later)), Some(CheckedBy::Learned));
    assert!(matches!(
        check(&list, (ERIK.0, "2469"), later),
        OfflineAnswer::WrongPin { .. }
    ));
    assert_eq!(by(&check(&list, AINO, later)), Some(CheckedBy::LibraryHash));
    assert_eq!(by(&check(&list, JOHN, later)), Some(CheckedBy::LibraryHash));
    assert!(matches!(
        check(&list, (AINO.0, "4321"), later),
        OfflineAnswer::WrongPin { .. }
    ));

    // Aino changes her PIN online to 8642; the door sees it accepted and learns it. Until the
    // list is published again, its hash still says 1234: the fresher learned verifier wins.
    let changed = list
        .learn(&CardNumber::new(AINO.0), &Pin::new("8642"), None, later)
        .unwrap();
    assert!(changed);
    assert_eq!(
        by(&check(&list, (AINO.0, "8642"), later)),
        Some(CheckedBy::Learned)
    );
    assert!(matches!(
        check(&list, AINO, later),
        OfflineAnswer::WrongPin { .. }
    ));
    // Seen again with the same PIN the same day: nothing is rewritten.
    assert!(
        !list
            .learn(&CardNumber::new(AINO.0), &Pin::new("8642"), None, later + 5)
            .unwrap()
    );

    // Erik asks to be forgotten: no byte of his learned verifier stays, and offline his PIN
    // cannot be checked again.
    let erik_hash = list.settings().card_key.hash(&CardNumber::new(ERIK.0));
    assert!(daemon::fs::holds_bytes(&learned_dir, &erik_hash.0).unwrap());
    assert!(verifier.erase_card(&CardNumber::new(ERIK.0)).unwrap());
    assert!(!daemon::fs::holds_bytes(&learned_dir, &erik_hash.0).unwrap());
    assert_eq!(
        check(&list, ERIK, later),
        OfflineAnswer::NoVerifier { bcrypt_cost: None }
    );
    assert_eq!(
        verifier
            .verify(
                &CardNumber::new(ERIK.0),
                Pin::new(ERIK.1),
                chrono::DateTime::from_timestamp(later, 0).unwrap(),
            )
            .await
            .outcome
            .unwrap_err(),
        Refusal::NoOfflineVerifier
    );
}

#[test]
fn a_card_the_list_does_not_know_is_learned_only_when_the_library_says_any() {
    let dir = tempfile::tempdir().unwrap();
    let files = publishing::ensure_publisher(dir.path()).unwrap();
    // Valid for 100 days, so that the list still answers when the learned verifier has expired.
    publishing::publish(&fixtures(), None, &files, now(), 24 * 100, CHEAP).unwrap();
    let device = |name: &str, learn: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let key = d.join("card-key.secret");
        std::fs::copy(&files.card_key, &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(
            d.join("door.toml"),
            format!(
                "[allowlist]\nstore = \"store\"\ncard_key = \"card-key.secret\"\nscopes = [\"heili\"]\nkeys = [\"{}\"]\nlearn_pins = \"{learn}\"\n",
                files.public_key
            ),
        )
        .unwrap();
        let list =
            OfflineList::open(config::allowlist::load(&d.join("door.toml")).unwrap()).unwrap();
        let s = list.settings();
        offline::apply_file(
            list.store(),
            &s.anchors,
            &files.out.join("full.oal"),
            now(),
            s.max_list_bytes,
        )
        .unwrap();
        list
    };
    // A patron registered after the list was made: the library system's facts for them.
    let newcomer = CardNumber::new("24680000009999");
    let facts = allowlist::Facts {
        card_expires: chrono::NaiveDate::from_ymd_opt(2030, 1, 31).unwrap(),
        turns_15: None,
        self_service: true,
        guardian_consent: false,
        fines_over_limit: false,
        card_lost: false,
        category: "ADULT".into(),
        home_branch: "LEMI".into(),
        blocks: vec![],
    };
    let listed_only = device("listed", "listed");
    assert!(
        !listed_only
            .learn(&newcomer, &Pin::new("7777"), Some(&facts), now())
            .unwrap()
    );
    assert_eq!(
        listed_only
            .check(&newcomer, &Pin::new("7777"), now())
            .unwrap(),
        OfflineAnswer::UnknownCard
    );
    let any = device("any", "any");
    assert!(
        any.learn(&newcomer, &Pin::new("7777"), Some(&facts), now())
            .unwrap()
    );
    match any.check(&newcomer, &Pin::new("7777"), now() + 60).unwrap() {
        OfflineAnswer::Verified { facts: f, by, .. } => {
            assert_eq!(by, CheckedBy::Learned);
            assert_eq!(*f, facts);
        }
        other => panic!("{other:?}"),
    }
    // Without the online facts (a refused or unknown answer) nothing is learned.
    let other = CardNumber::new("24680000008888");
    assert!(!any.learn(&other, &Pin::new("1234"), None, now()).unwrap());
    // Learned verifiers expire after learned_pin_days (90) without an online confirmation.
    assert_eq!(
        any.check(&newcomer, &Pin::new("7777"), now() + 90 * 86_400)
            .unwrap(),
        OfflineAnswer::UnknownCard
    );
}
