//! Whatever the registry clients do — verify, lend, return, fail, reconnect — no card number or
//! PIN reaches a log line, theirs or their libraries' (reqwest, hyper, rustls), at TRACE level.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use e2e::*;
use registry::{PatronLogin, Registry};

#[tokio::test(flavor = "multi_thread")]
async fn registry_clients_log_no_card_or_pin_at_trace_level() {
    let captured = LogCapture::install();

    let state = tempfile::tempdir().unwrap();
    let sim = start(state.path()).await;
    let patrons = [
        (AINO, AINO_PIN),
        ("24680000000029", "2468"),
        ("24680000000037", "1111"),
        ("24680000000094", "9494"),
    ];
    for setup in [DeviceSetup::sip2(), DeviceSetup::koha()] {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = setup;
        if setup.backend == "koha-rest" {
            setup.extra = "self_service_plugin = true".into();
        }
        let r = setup.start(dir.path(), &sim);
        for (card, pin) in patrons {
            let login = PatronLogin::new(card, pin);
            r.verify(&login).await.unwrap();
            r.verify(&PatronLogin::new(card, "7531")).await.unwrap();
            let _ = r.checkout(&login, "HE0000005").await.unwrap();
            let _ = r.account(&login).await.unwrap();
            let _ = r.renew(&login, "HE0000005").await.unwrap();
            let _ = r.checkin("HE0000005").await.unwrap();
            r.end_session(&login).await.unwrap();
        }
        r.verify(&PatronLogin::new("24689999999999", "8642"))
            .await
            .unwrap();
    }
    // Offline loans and returns through Koha's offline circulation service, and a staff
    // password refused.
    let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
        .unwrap()
        .and_hms_opt(18, 5, 0)
        .unwrap();
    for setup in [DeviceSetup::koha_offline(&sim), {
        let mut s = DeviceSetup::koha_offline(&sim);
        s.credentials = s.credentials.replace("offline-secret-1", "offline-wrong-9");
        s
    }] {
        let dir = tempfile::tempdir().unwrap();
        let r = setup.start(dir.path(), &sim);
        for (card, _) in patrons.iter().chain([&("24689999999999", "")]) {
            let card = redact::CardNumber::new(*card);
            let _ = r.checkout_deferred(&card, "HE0000007", at, None).await;
            let _ = r.checkin_deferred("HE0000007", at).await;
        }
    }
    // Faults: the client's errors and retries are logged too.
    let dir = tempfile::tempdir().unwrap();
    let r = DeviceSetup::sip2().start(dir.path(), &sim);
    for fault in ["garbage 1", "bad-checksum 1", "drop 1"] {
        let mut s = tokio::net::TcpStream::connect(sim.control.unwrap())
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(format!("{fault}\n").as_bytes()).await.unwrap();
        let mut b = [0u8; 64];
        let _ = s.read(&mut b).await.unwrap();
        let _ = r.verify(&PatronLogin::new(AINO, AINO_PIN)).await;
    }

    let logs = captured.text();
    assert!(
        logs.contains("connected to the library system")
            && logs.contains("OAuth2 token")
            && logs.contains("Koha offline circulation")
            && logs.contains("offline circulation: authentication failed"),
        "the capture did not see the clients' logs"
    );
    assert!(
        logs.lines().count() > 100,
        "too few lines to be a real capture"
    );
    let secrets = patrons.iter().flat_map(|(c, p)| [*c, *p]).chain([
        "24689999999999",
        "8642",
        "7531",
        "kiosk-secret-1",
        "offline-secret-1",
        "offline-wrong-9",
    ]);
    for s in secrets {
        let leaked: Vec<&str> = logs.lines().filter(|l| leaks(l, s)).collect();
        assert!(
            leaked.is_empty(),
            "{s} leaked: {:?}",
            &leaked[..leaked.len().min(3)]
        );
    }
}
