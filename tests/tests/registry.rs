//! The registry clients (SIP2 over TLS, Koha REST over HTTPS) against the simulator, over real
//! sockets and real TLS: both backends tell the same library the same way, and every fault the
//! network or the server can throw is reported, recovered from, and never hangs a caller.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use e2e::*;
use library_sim::server;
use registry::*;

const LENDING_BAN: &str = "24680000000037";
const FINES: &str = "24680000000045";
const LOST: &str = "24680000000052";
const REVOKED: &str = "24680000000094";
const BLOCKED_AT_LEMI: &str = "24680000000102";

fn login(card: &str, pin: &str) -> PatronLogin {
    PatronLogin::new(card, pin)
}

/// Both backends, each with its own device directory.
fn both(sim: &server::Running) -> Vec<(tempfile::TempDir, AnyRegistry)> {
    [DeviceSetup::sip2(), DeviceSetup::koha()]
        .into_iter()
        .map(|setup| {
            let dir = tempfile::tempdir().unwrap();
            let r = setup.start(dir.path(), sim);
            (dir, r)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn right_pin_verifies_and_wrong_pin_or_unknown_card_is_a_no_on_both_backends() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    for (_dir, r) in both(&sim) {
        let v = r.verify(&login(AINO, AINO_PIN)).await.unwrap();
        let f = v.facts().unwrap_or_else(|| panic!("{}: {v:?}", r.kind()));
        assert!(f.card_valid, "{}", r.kind());
        assert_eq!(f.category.as_deref(), Some("ADULT"), "{}", r.kind());
        assert_eq!(f.home_branch.as_deref(), Some("LPR"), "{}", r.kind());
        assert_eq!(
            f.birth_date.as_ref().map(|d| *d.expose()),
            chrono::NaiveDate::from_ymd_opt(1985, 3, 14),
            "{}",
            r.kind()
        );
        assert_eq!(f.fines, Some(Cents(0)), "{}", r.kind());
        assert!(
            !f.denies_entry() && !f.denies_loans(),
            "{}: {:?}",
            r.kind(),
            f.blocks
        );
        assert!(
            matches!(
                r.verify(&login(AINO, "9999")).await.unwrap(),
                Verification::WrongPin { .. }
            ),
            "{}",
            r.kind()
        );
        assert!(
            matches!(
                r.verify(&login("24689999999999", "1234")).await.unwrap(),
                Verification::UnknownCard { .. }
            ),
            "{}",
            r.kind()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_are_reported_with_what_they_stop_on_both_backends() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    for (_dir, r) in both(&sim) {
        let facts = async |card: &str, pin: &str| {
            let v = r.verify(&login(card, pin)).await.unwrap();
            v.facts().cloned().unwrap_or_else(|| panic!("{v:?}"))
        };
        let kinds = |f: &PatronFacts| f.blocks.iter().map(|b| b.kind).collect::<Vec<_>>();
        let ban = facts(LENDING_BAN, "1111").await;
        assert!(ban.denies_entry(), "{}: {:?}", r.kind(), ban.blocks);
        assert!(kinds(&ban).contains(&BlockKind::LendingBan), "{}", r.kind());
        let lost = facts(LOST, "5555").await;
        assert!(kinds(&lost).contains(&BlockKind::CardLost), "{}", r.kind());
        let fines = facts(FINES, "4321").await;
        assert_eq!(fines.fines, Some(Cents(1250)), "{}", r.kind());
        let expired = facts("24680000000086", "8686").await;
        assert!(!expired.card_valid, "{}", r.kind());
        assert!(
            kinds(&expired).contains(&BlockKind::CardExpired),
            "{}",
            r.kind()
        );
        let minor = facts("24680000000060", "2014").await;
        assert_eq!(minor.category.as_deref(), Some("CHILD"), "{}", r.kind());
        assert!(minor.age_on(sim.clock().today()).unwrap() < 15);
    }
    // Self-service facts come as SIP2 extension fields here.
    let dir = tempfile::tempdir().unwrap();
    let r = DeviceSetup::sip2().start(dir.path(), &sim);
    let revoked = r.verify(&login(REVOKED, "9494")).await.unwrap();
    assert_eq!(revoked.facts().unwrap().self_service, Some(false));
    let lemi = r.verify(&login(BLOCKED_AT_LEMI, "1020")).await.unwrap();
    let b = &lemi.facts().unwrap().blocks;
    assert!(
        b.iter().any(|b| b.kind == BlockKind::SelfServiceBlock
            && b.branch.as_deref() == Some("LEMI")
            && b.reason.as_deref() == Some("Ovi jätetty auki")),
        "{b:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn koha_suomi_self_service_verdicts_are_read_from_the_plugin() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut setup = DeviceSetup::koha();
    setup.extra = "self_service_plugin = true".into();
    let r = setup.start(dir.path(), &sim);
    let ok = r.verify(&login(AINO, AINO_PIN)).await.unwrap();
    assert_eq!(ok.facts().unwrap().self_service, Some(true));
    let revoked = r.verify(&login(REVOKED, "9494")).await.unwrap();
    let f = revoked.facts().unwrap();
    assert_eq!(f.self_service, Some(false));
    assert!(f.denies_entry());
    let underage = r.verify(&login("24680000000078", "2013")).await.unwrap();
    assert!(
        underage
            .facts()
            .unwrap()
            .blocks
            .iter()
            .any(|b| b.kind == BlockKind::Underage)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_waiting_on_the_shelf_is_ready_on_both_backends_and_koha_names_where() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    // Erik's hold on Sinuhe, which is on the shelf: it waits for him.
    let erik = login("24680000000029", "2468");
    for (_dir, r) in both(&sim) {
        let account = r.account(&erik).await.unwrap();
        let hold = account
            .holds
            .iter()
            .find(|h| h.item == "HE0000004")
            .unwrap_or_else(|| panic!("{}: {:?}", r.kind(), account.holds));
        assert!(hold.ready, "{}: {hold:?}", r.kind());
        if r.kind() == "koha-rest" {
            // Picked up at his home library, by its name.
            assert_eq!(hold.pickup.as_deref(), Some("Imatran kaupunginkirjasto"));
            assert_eq!(hold.title.as_deref(), Some("Sinuhe egyptiläinen"));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn loans_run_end_to_end_on_both_backends() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    for ((_dir, r), item) in both(&sim).into_iter().zip(["HE0000001", "HE0000002"]) {
        let aino = login(AINO, AINO_PIN);
        let lent = r.checkout(&aino, item).await.unwrap();
        assert!(lent.ok, "{}: {lent:?}", r.kind());
        assert!(lent.due.is_some(), "{}: {lent:?}", r.kind());
        assert!(lent.title.is_some(), "{}: {lent:?}", r.kind());
        let account = r.account(&aino).await.unwrap();
        let loan = account.loans.iter().find(|l| l.item == item).unwrap();
        assert_eq!(loan.due, lent.due, "{}", r.kind());
        let facts = r.item(item).await.unwrap();
        assert_eq!(facts.status, ItemStatus::OnLoan, "{}", r.kind());
        // A reference copy or someone else's hold is a "no" with words for the patron.
        let held = r.checkout(&aino, "HE0000004").await.unwrap();
        assert!(!held.ok, "{}", r.kind());
        assert!(
            held.message.as_deref().unwrap_or("").contains("varattu"),
            "{}: {held:?}",
            r.kind()
        );
        let renewed = r.renew(&aino, item).await.unwrap();
        assert!(renewed.ok, "{}: {renewed:?}", r.kind());
        let back = r.checkin(item).await.unwrap();
        assert!(back.ok, "{}: {back:?}", r.kind());
        assert_eq!(back.route, ReturnRoute::Shelf, "{}", r.kind());
        assert!(
            r.account(&aino)
                .await
                .unwrap()
                .loans
                .iter()
                .all(|l| l.item != item),
            "{}",
            r.kind()
        );
        let unknown = r.item("XX0000000").await.unwrap();
        assert!(!unknown.known, "{}: {unknown:?}", r.kind());
        r.end_session(&aino).await.unwrap();
    }
    // Returned at Lappeenranta, an Imatra book goes home.
    let dir = tempfile::tempdir().unwrap();
    let r = DeviceSetup::sip2().start(dir.path(), &sim);
    let erik = login("24680000000029", "2468");
    assert!(r.checkout(&erik, "HE0000003").await.unwrap().ok);
    assert_eq!(
        r.checkin("HE0000003").await.unwrap().route,
        ReturnRoute::Transfer {
            to: Some("IMA".into())
        }
    );
}

fn assert_tls_error(e: &RegistryError, words: &str) {
    match e {
        RegistryError::Tls(m) => assert!(m.contains(words), "{m}"),
        other => panic!("expected a TLS error about {words:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_ca_expired_certificate_and_hostname_mismatch_are_refused_clearly() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let other_state = tempfile::tempdir().unwrap();
    let other = start(other_state.path()).await;
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        // Pinned to another library's CA.
        let dir = tempfile::tempdir().unwrap();
        let mut s = setup.clone();
        s.address = Some(match setup.backend {
            "sip2" => sim.sip2_tls.unwrap().to_string(),
            _ => format!("localhost:{}", sim.https.unwrap().port()),
        });
        let r = AnyRegistry::start(&s.settings(dir.path(), &other).unwrap()).unwrap();
        let e = r.verify(&login(AINO, AINO_PIN)).await.unwrap_err();
        assert_tls_error(&e, "not signed by the pinned CA");
        assert!(!e.to_string().contains(AINO));
    }

    // A certificate from the right CA, for another host.
    let state = tempfile::tempdir().unwrap();
    library_sim::tls::ensure_identity(state.path(), &[]).unwrap();
    library_sim::tls::reissue_server_cert(
        state.path(),
        &["kirjasto.example.fi".into()],
        (2020, 1, 1),
        (2060, 1, 1),
    )
    .unwrap();
    let elsewhere = start(state.path()).await;
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        let dir = tempfile::tempdir().unwrap();
        let r = setup.start(dir.path(), &elsewhere);
        let e = r.verify(&login(AINO, AINO_PIN)).await.unwrap_err();
        assert_tls_error(&e, "hostname mismatch");
    }

    // An expired certificate from the right CA.
    let state = tempfile::tempdir().unwrap();
    library_sim::tls::ensure_identity(state.path(), &[]).unwrap();
    library_sim::tls::reissue_server_cert(
        state.path(),
        &["localhost".into(), "127.0.0.1".into()],
        (2020, 1, 1),
        (2021, 1, 1),
    )
    .unwrap();
    let expired = start(state.path()).await;
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        let dir = tempfile::tempdir().unwrap();
        let r = setup.start(dir.path(), &expired);
        let e = r.verify(&login(AINO, AINO_PIN)).await.unwrap_err();
        assert_tls_error(&e, "has expired");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_lets_in_only_a_device_with_a_certificate() {
    let state = tempfile::tempdir().unwrap();
    let mut settings = settings(state.path());
    settings.require_client_cert = true;
    let sim = server::start(settings).await.unwrap();
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        let dir = tempfile::tempdir().unwrap();
        let without = setup.start(dir.path(), &sim);
        let e = without.verify(&login(AINO, AINO_PIN)).await.unwrap_err();
        assert!(
            matches!(e, RegistryError::Tls(_) | RegistryError::Unreachable(_)),
            "{}: {e:?}",
            setup.backend
        );
        let dir = tempfile::tempdir().unwrap();
        let mut with = setup.clone();
        with.extra = format!(
            "client_cert = \"{}\"\nclient_key = \"{}\"",
            sim.device_cert.display(),
            sim.device_key.display()
        );
        let r = with.start(dir.path(), &sim);
        assert!(
            r.verify(&login(AINO, AINO_PIN))
                .await
                .unwrap()
                .facts()
                .is_some(),
            "{}",
            setup.backend
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_is_reported_within_the_timeout() {
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = setup.clone();
        s.address = Some(match setup.backend {
            "sip2" => addr.to_string(),
            _ => format!("localhost:{}", addr.port()),
        });
        let r = s.start(dir.path(), &sim);
        let started = Instant::now();
        let e = r.verify(&login(AINO, AINO_PIN)).await.unwrap_err();
        assert!(e.is_offline(), "{}: {e:?}", setup.backend);
        assert!(matches!(e, RegistryError::Unreachable(_)), "{e:?}");
        assert!(started.elapsed() < Duration::from_millis(2500));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_server_times_out_and_requests_succeed_once_it_is_fast_again() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    // The timeout covers a new connection (TCP, TLS, login) for the request after it, which a
    // loaded 2-core machine running a debug build can take a few hundred ms over; the latency is
    // far beyond it, so that a caller cut off by the timeout is told from one that waited.
    const TIMEOUT_MS: u64 = 1500;
    const LATENCY_MS: u64 = 6000;
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = setup.clone();
        s.timeout_ms = TIMEOUT_MS;
        let r = s.start(dir.path(), &sim);
        assert!(r.verify(&login(AINO, AINO_PIN)).await.is_ok());
        control(&sim, &format!("latency {LATENCY_MS}")).await;
        let started = Instant::now();
        let e = r.verify(&login(AINO, AINO_PIN)).await.unwrap_err();
        let waited = started.elapsed();
        assert!(
            matches!(e, RegistryError::Timeout(_)),
            "{}: {e:?}",
            setup.backend
        );
        assert!(
            waited >= Duration::from_millis(TIMEOUT_MS)
                && waited < Duration::from_millis(LATENCY_MS - 2000),
            "{}: the caller waited {waited:?} on a {TIMEOUT_MS} ms timeout",
            setup.backend
        );
        control(&sim, "clear").await;
        // The SIP2 client reconnects at once after the timeout, in the background, and that
        // login may have reached the server while it was still slow: a request queued behind it
        // can time out too. Once that attempt has run out its own timeout, requests succeed.
        let cleared = Instant::now();
        let recovered_by = Duration::from_millis(2 * TIMEOUT_MS + 3000);
        loop {
            match r.verify(&login(AINO, AINO_PIN)).await {
                Ok(v) => {
                    assert!(v.facts().is_some(), "{}: {v:?}", setup.backend);
                    break;
                }
                Err(e) => {
                    assert!(
                        matches!(e, RegistryError::Timeout(_)),
                        "{}: {e:?}",
                        setup.backend
                    );
                    assert!(
                        cleared.elapsed() < recovered_by,
                        "{}: still {e:?} {recovered_by:?} after the server was fast again",
                        setup.backend
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_garbled_and_badly_checksummed_replies_are_recovered_from() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let r = DeviceSetup::sip2().start(dir.path(), &sim);
    let aino = login(AINO, AINO_PIN);
    assert!(r.verify(&aino).await.unwrap().facts().is_some());

    // Garbage and bad checksums: the client asks again (97) and the caller sees an answer.
    control(&sim, "garbage 1").await;
    assert!(r.verify(&aino).await.unwrap().facts().is_some());
    control(&sim, "bad-checksum 1").await;
    assert!(r.verify(&aino).await.unwrap().facts().is_some());

    // A connection dropped mid-reply is reported; the client reconnects for the next caller.
    control(&sim, "drop 1").await;
    let e = r.verify(&aino).await.unwrap_err();
    assert!(matches!(e, RegistryError::Unreachable(_)), "{e:?}");
    let mut recovered = false;
    for _ in 0..20 {
        if let Ok(v) = r.verify(&aino).await {
            assert!(v.facts().is_some());
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_reconnects_after_the_server_restarts() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let r = DeviceSetup::sip2().start(dir.path(), &sim);
    let aino = login(AINO, AINO_PIN);
    assert!(r.verify(&aino).await.unwrap().facts().is_some());

    let addr = sim.sip2_tls.unwrap();
    sim.stop();
    let e = r.verify(&aino).await.unwrap_err();
    assert!(e.is_offline(), "{e:?}");

    let mut settings = settings(state.path());
    settings.sip2_tls = Some(addr);
    let _again = server::start(settings).await.unwrap();
    let started = Instant::now();
    loop {
        match r.verify(&aino).await {
            Ok(v) => {
                assert!(v.facts().is_some());
                break;
            }
            Err(e) => {
                assert!(e.is_offline(), "{e:?}");
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "never reconnected"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The race behind a flaky restart test: a request sent the moment the simulator stops must not
/// be answered by a connection task that has not yet seen the stop. Many stops, one right after
/// the other, on both backends (each with a connection open and idle at the stop).
#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_answered_after_the_simulator_stops() {
    let state = tempfile::tempdir().unwrap();
    for round in 0..10 {
        for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
            let sim = start(state.path()).await;
            let dir = tempfile::tempdir().unwrap();
            let r = setup.start(dir.path(), &sim);
            assert!(r.verify(&login(AINO, AINO_PIN)).await.is_ok(), "{round}");
            sim.stop();
            let e = r.verify(&login(AINO, AINO_PIN)).await;
            assert!(
                e.as_ref().is_err_and(|e| e.is_offline()),
                "{}, round {round}: answered after the stop: {e:?}",
                r.kind()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_device_credentials_are_not_taken_for_a_patron_no() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = DeviceSetup::sip2();
    s.credentials = "login = \"kiosk-lpr-1\"\npassword = \"wrong\"\n".into();
    let e = s
        .start(dir.path(), &sim)
        .verify(&login(AINO, AINO_PIN))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DeviceRefused(_)), "{e:?}");
    let mut s = DeviceSetup::koha();
    s.credentials = "client_id = \"kiosk-lpr-1\"\nclient_secret = \"wrong\"\n".into();
    let e = s
        .start(dir.path(), &sim)
        .verify(&login(AINO, AINO_PIN))
        .await
        .unwrap_err();
    assert!(matches!(e, RegistryError::DeviceRefused(_)), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth2_tokens_are_refreshed_before_they_expire() {
    let state = tempfile::tempdir().unwrap();
    let mut settings = settings(state.path());
    settings.token_lifetime = Duration::from_secs(2);
    let sim = server::start(settings).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = DeviceSetup::koha().start(dir.path(), &sim);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        assert!(
            r.verify(&login(AINO, AINO_PIN))
                .await
                .unwrap()
                .facts()
                .is_some()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (issued, refused) = sim.token_counts();
    assert!(issued >= 2, "only {issued} token(s) in 3.5 s of 2 s tokens");
    assert_eq!(refused, 0, "a request went out with an expired token");
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_mistakes_name_the_file_and_key() {
    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let dir = tempfile::tempdir().unwrap();
    DeviceSetup::sip2().settings(dir.path(), &sim).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("registry.secret"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let e = config::registry::load(&dir.path().join("registry.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("registry.toml") && e.contains("registry.credentials") && e.contains("0644"),
        "{e}"
    );

    let mut s = DeviceSetup::sip2();
    s.extra = "[registry.sip2.flags]\nhold_privileges_denied = \"block\"".into();
    let e = s.settings(dir.path(), &sim).unwrap_err().to_string();
    assert!(
        e.contains("registry.sip2.flags.hold_privileges_denied") && e.contains("deny-loans"),
        "{e}"
    );

    let mut s = DeviceSetup::koha();
    s.address = Some("localhost:1".into());
    s.extra = "client_cert = \"device.pem\"".into();
    let e = s.settings(dir.path(), &sim).unwrap_err().to_string();
    assert!(e.contains("registry.koha.client_key"), "{e}");
}
