//! No card number, PIN, name or birth date reaches a log line, at any level, whatever the devices
//! send — including frames so malformed that a card number sits where a date should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use e2e::*;
use sip2::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread")]
async fn logs_at_trace_level_hold_no_personal_data() {
    let captured = LogCapture::install();

    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut c = tls_client(&sim).await;
    c.call(&kiosk_login()).await.unwrap();
    c.call(&patron_status(AINO, AINO_PIN)).await.unwrap();
    c.call(&patron_status(AINO, "9876")).await.unwrap();
    c.call(&patron_status("24680000000045", "4321"))
        .await
        .unwrap();
    c.call(&Message::Checkout(checkout(
        AINO,
        Some(AINO_PIN),
        "HE0000001",
    )))
    .await
    .unwrap();
    c.call(&checkin("HE0000001")).await.unwrap();
    c.call(&Message::BlockPatron(BlockPatron {
        card_retained: true,
        transaction_date: now(),
        institution_id: "heili".into(),
        blocked_card_message: "card retained".into(),
        patron_identifier: redact::CardNumber::new("24680000000110"),
        terminal_password: redact::Pin::default(),
        extra: vec![],
    }))
    .await
    .unwrap();

    // Malformed frames with personal data in odd places.
    let mut s = tokio::net::TcpStream::connect(sim.sip2_plain.unwrap())
        .await
        .unwrap();
    s.write_all(b"9300CNkiosk-lpr-1|COkiosk-secret-1|\r")
        .await
        .unwrap();
    s.write_all(b"2300124680000000029     |AA24680000000029|AD2468|\r")
        .await
        .unwrap();
    s.write_all(b"24680000000029 2468\r").await.unwrap();
    s.write_all(b"23001\xFF20261124    210000AO|AA24680000000029|AD2468\xFF|\r")
        .await
        .unwrap();
    s.write_all(b"9300CNkiosk-lpr-1|COwrong-secret-9|\r")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sim.abort();

    let logs = captured.text();
    assert!(
        logs.contains("patron status") && logs.contains("checkout") && logs.contains("card:"),
        "{logs}"
    );
    assert!(logs.contains("malformed message"), "{logs}");
    for secret in [
        AINO,
        AINO_PIN,
        "9876",
        "24680000000045",
        "4321",
        "24680000000110",
        "24680000000029",
        "2468",
        "Virtanen",
        "Äijälä",
        "19850314",
        "1985-03-14",
        "kiosk-secret-1",
        "wrong-secret-9",
    ] {
        assert!(!leaks(&logs, secret), "{secret:?} is in the logs:\n{logs}");
    }
}
