//! The simulator over real TLS and TCP sockets: sessions, login, circulation, persistence,
//! concurrency, and frames that are garbage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use e2e::*;
use library_sim::client::ClientError;
use sip2::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_kiosk_session_over_tls_borrows_renews_and_returns() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut c = tls_client(&sim).await;
    let Message::LoginResponse(r) = c.call(&kiosk_login()).await.unwrap() else {
        panic!()
    };
    assert!(r.ok);

    let Message::PatronStatusResponse(p) = c.call(&patron_status(AINO, AINO_PIN)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(p.valid_patron, Some(true));
    assert_eq!(p.valid_patron_password, Some(true));
    assert_eq!(p.personal_name.expose(), "Virtanen, Aino");
    assert!(p.patron_status.set_names().next().is_none());
    let birth = p
        .extra
        .iter()
        .find(|f| f.code == FieldCode::PATRON_BIRTH_DATE)
        .unwrap();
    assert_eq!(birth.value, "19850314");

    let Message::CheckoutResponse(l) = c
        .call(&Message::Checkout(checkout(
            AINO,
            Some(AINO_PIN),
            "HE0000001",
        )))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(l.ok, "{:?}", l.screen_messages);
    assert_eq!(l.title_identifier, "Tuntematon sotilas");
    assert_eq!(l.desensitize, Some(true));
    let due = SipDate::parse(l.due_date.as_bytes()).unwrap();
    assert_eq!((due.hour, due.minute), (23, 59));

    let Message::ItemInformationResponse(i) = c.call(&item_information("HE0000001")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(i.circulation_status, CirculationStatus::CHARGED);

    let renew = library_sim::requests::renew(INST, AINO, AINO_PIN, "HE0000001");
    let Message::RenewResponse(rn) = c.call(&renew).await.unwrap() else {
        panic!()
    };
    assert!(rn.ok && rn.renewal_ok);

    let info =
        library_sim::requests::patron_information(INST, AINO, AINO_PIN, Summary::CHARGED_ITEMS);
    let Message::PatronInformationResponse(pi) = c.call(&info).await.unwrap() else {
        panic!()
    };
    assert_eq!(pi.charged_items, ["HE0000001"]);
    assert_eq!(pi.charged_items_count, 1);

    let Message::CheckinResponse(ci) = c.call(&checkin("HE0000001")).await.unwrap() else {
        panic!()
    };
    assert!(ci.ok && ci.resensitize);
    assert_eq!(ci.sort_bin.as_deref(), Some("SHELF"));
    sim.abort();
}

#[tokio::test]
async fn wrong_pin_blocked_patron_and_items_that_stay_are_refused_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut c = tls_client(&sim).await;
    c.call(&kiosk_login()).await.unwrap();

    let Message::PatronStatusResponse(p) = c.call(&patron_status(AINO, "0000")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(p.valid_patron_password, Some(false));
    assert_eq!(
        p.personal_name.expose(),
        "",
        "no personal data without the right PIN"
    );
    assert!(p.extra.is_empty());
    assert_eq!(p.screen_messages, ["Väärä PIN-koodi."]);

    let Message::CheckoutResponse(l) = c
        .call(&Message::Checkout(checkout(
            AINO,
            Some("0000"),
            "HE0000001",
        )))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(!l.ok);

    let Message::CheckoutResponse(l) = c
        .call(&Message::Checkout(checkout(
            "24680000000037",
            None,
            "HE0000001",
        )))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(!l.ok);
    assert_eq!(
        l.screen_messages,
        ["Lainauskielto: Palauttamattomia lainoja"]
    );

    let Message::CheckoutResponse(l) = c
        .call(&Message::Checkout(checkout(AINO, None, "HE0000004")))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(!l.ok && l.screen_messages[0].contains("varattu"));
    let Message::CheckoutResponse(l) = c
        .call(&Message::Checkout(checkout(AINO, None, "HE0000005")))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(!l.ok && l.screen_messages[0].contains("ei ole lainattavissa"));

    let Message::PatronStatusResponse(p) = c
        .call(&patron_status("24680000000052", "5555"))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(p.patron_status.get(PatronStatusFlags::CARD_REPORTED_LOST));
    let Message::PatronStatusResponse(p) = c
        .call(&patron_status("24680000000045", "4321"))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(
        p.patron_status
            .get(PatronStatusFlags::EXCESSIVE_OUTSTANDING_FINES)
    );
    assert_eq!(p.fee_amount.as_deref(), Some("12.50"));
    let Message::PatronStatusResponse(p) =
        c.call(&patron_status("99999999", "1234")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(p.valid_patron, Some(false));
    sim.abort();
}

#[tokio::test]
async fn a_no_block_checkout_keeps_its_original_date_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut c = tls_client(&sim).await;
    c.call(&kiosk_login()).await.unwrap();
    let mut req = checkout("24680000000037", None, "HE0000003");
    req.no_block = true;
    req.transaction_date = SipDate::local(2026, 11, 20, 20, 15, 0).unwrap();
    for _ in 0..2 {
        let Message::CheckoutResponse(l) = c.call(&Message::Checkout(req.clone())).await.unwrap()
        else {
            panic!()
        };
        assert!(
            l.ok,
            "a no-block loan is accepted even for a blocked patron"
        );
        assert_eq!(l.due_date, "20261218    235959");
    }
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(state["loans"].as_object().unwrap().len(), 1);
    assert_eq!(
        state["loans"]["HE0000003"]["lent_at"],
        "2026-11-20T20:15:00"
    );
    sim.abort();
}

#[tokio::test]
async fn loans_and_fines_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let sim = start(dir.path()).await;
        let mut c = tls_client(&sim).await;
        c.call(&kiosk_login()).await.unwrap();
        let Message::CheckoutResponse(l) = c
            .call(&Message::Checkout(checkout(
                AINO,
                Some(AINO_PIN),
                "HE0000002",
            )))
            .await
            .unwrap()
        else {
            panic!()
        };
        assert!(l.ok);
        sim.abort();
    }
    let ca_before = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let sim = start(dir.path()).await;
    assert_eq!(
        std::fs::read(dir.path().join("ca.pem")).unwrap(),
        ca_before,
        "the pinned CA stays"
    );
    let mut c = tls_client(&sim).await;
    c.call(&kiosk_login()).await.unwrap();
    let Message::ItemInformationResponse(i) = c.call(&item_information("HE0000002")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(i.circulation_status, CirculationStatus::CHARGED);
    sim.abort();
}

#[tokio::test]
async fn nothing_but_status_is_answered_before_login() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut c = tls_client(&sim).await;
    let status = library_sim::requests::sc_status();
    let Message::AcsStatus(s) = c.call(&status).await.unwrap() else {
        panic!()
    };
    assert!(!s.online && !s.checkout_ok);
    let e = c.call(&patron_status(AINO, AINO_PIN)).await.unwrap_err();
    assert!(matches!(e, ClientError::Io(_)), "connection closed: {e}");

    let mut c = tls_client(&sim).await;
    let Message::LoginResponse(r) = c.call(&login("kiosk-lpr-1", "guess", None)).await.unwrap()
    else {
        panic!()
    };
    assert!(!r.ok);
    let Message::LoginResponse(r) = c.call(&kiosk_login()).await.unwrap() else {
        panic!()
    };
    assert!(r.ok);
    let Message::AcsStatus(s) = c.call(&status).await.unwrap() else {
        panic!()
    };
    assert!(s.online && s.checkout_ok);
    assert_eq!(s.supported_messages.len(), 16);
    sim.abort();
}

#[tokio::test]
async fn a_client_without_the_pinned_ca_cannot_connect() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let other = tempfile::tempdir().unwrap();
    let other_ca = library_sim::tls::ensure_identity(other.path(), &[])
        .unwrap()
        .ca_cert;
    let config = library_sim::tls::client_config(&other_ca).unwrap();
    let tcp = TcpStream::connect(sim.sip2_tls.unwrap()).await.unwrap();
    let result = tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await;
    assert!(result.is_err());
    // And the server is still there for the right one.
    let mut c = tls_client(&sim).await;
    assert!(matches!(
        c.call(&kiosk_login()).await.unwrap(),
        Message::LoginResponse(LoginResponse { ok: true, .. })
    ));
    sim.abort();
}

async fn raw(sim: &library_sim::server::Running) -> TcpStream {
    TcpStream::connect(sim.sip2_plain.unwrap()).await.unwrap()
}

async fn read_reply(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut b)).await {
            Ok(Ok(1)) if b[0] == b'\r' => return out,
            Ok(Ok(1)) => out.push(b[0]),
            _ => return out,
        }
    }
}

#[tokio::test]
async fn garbage_truncated_misencoded_and_damaged_frames_leave_the_connection_working() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut s = raw(&sim).await;
    s.write_all(b"9300CNkiosk-lpr-1|COkiosk-secret-1|\r")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut s).await, b"941");
    // Garbage, a truncated frame, a frame with bytes that are not UTF-8, an unknown message:
    // each is answered with 96 (send it again), never with silence.
    s.write_all(b"\x00\x01\xFFhello there\r2300120261124    21\r1720261124    210000AOheili|ABM\xE4ki|\r25xx\r").await.unwrap();
    for frame in ["garbage", "truncated", "not UTF-8", "unknown"] {
        assert_eq!(read_reply(&mut s).await, b"96AZFEF6", "{frame}");
    }
    // A damaged checksum gets 96, the request to send it again.
    s.write_all(b"9900302.00AY1AZ0000\r").await.unwrap();
    assert_eq!(read_reply(&mut s).await, b"96AZFEF6");
    // And a good message is answered as ever.
    s.write_all(b"9900302.00AY2AZ").await.unwrap();
    let sum = checksum(b"9900302.00AY2AZ");
    s.write_all(format!("{sum:04X}\r").as_bytes())
        .await
        .unwrap();
    let reply = read_reply(&mut s).await;
    assert!(
        reply.starts_with(b"98YYYY"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert!(Message::decode(&reply, &dialect()).unwrap().sequence == Some(2));
    sim.abort();
}

#[tokio::test]
async fn an_oversized_frame_closes_that_connection_only() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut s = raw(&sim).await;
    let huge = vec![b'A'; 100_000];
    let _ = s.write_all(&huge).await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap();
    assert!(matches!(n, Ok(0) | Err(_)), "closed");
    let mut c = plain_client(&sim).await;
    assert!(matches!(
        c.call(&kiosk_login()).await.unwrap(),
        Message::LoginResponse(LoginResponse { ok: true, .. })
    ));
    sim.abort();
}

#[tokio::test]
async fn fifty_devices_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = std::sync::Arc::new(start(dir.path()).await);
    let mut tasks = vec![];
    for i in 0..50 {
        let sim = sim.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = if i % 2 == 0 {
                Box::new(tls_client(&sim).await) as Box<dyn Caller>
            } else {
                Box::new(plain_client(&sim).await)
            };
            c.call_boxed(kiosk_login()).await;
            for _ in 0..5 {
                let Message::PatronStatusResponse(p) =
                    c.call_boxed(patron_status(AINO, AINO_PIN)).await
                else {
                    panic!()
                };
                assert_eq!(p.valid_patron_password, Some(true));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    sim.abort();
}

/// One interface over TLS and plain clients, for the concurrency test.
trait Caller: Send {
    fn call_boxed(&mut self, m: Message) -> Pin<Box<dyn Future<Output = Message> + Send + '_>>;
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Caller
    for library_sim::client::ScriptClient<S>
{
    fn call_boxed(&mut self, m: Message) -> Pin<Box<dyn Future<Output = Message> + Send + '_>> {
        Box::pin(async move { self.call(&m).await.unwrap() })
    }
}

#[tokio::test]
async fn finnish_letters_cross_the_wire_in_cp850() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path());
    settings.dialect = Dialect::standard(); // CP850
    let sim = library_sim::server::start(settings).await.unwrap();
    let mut c = library_sim::client::ScriptClient::new(
        TcpStream::connect(sim.sip2_plain.unwrap()).await.unwrap(),
        Dialect::standard(),
    );
    c.call(&kiosk_login()).await.unwrap();
    let Message::ItemInformationResponse(i) = c.call(&item_information("HE0000009")).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(i.title_identifier, "Åbo och havet / Södergran, Edith");
    sim.abort();
}
