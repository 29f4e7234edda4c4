//! No card number, PIN, name or birth date reaches a log line, at any level, whatever the devices
//! send — including frames so malformed that a card number sits where a date should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use e2e::*;
use sip2::*;
use tokio::io::AsyncWriteExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_at_trace_level_hold_no_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

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

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
        // A 4-digit PIN can turn up inside a hex dump (a TLS signature at TRACE): look for it
        // standing on its own, as a logged value would.
        let standalone = logs.match_indices(secret).any(|(i, _)| {
            let before = logs[..i].chars().next_back();
            let after = logs[i + secret.len()..].chars().next();
            secret.len() > 6
                || (!before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric))
        });
        assert!(!standalone, "{secret:?} is in the logs:\n{logs}");
    }
}
