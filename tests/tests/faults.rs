//! Fault injection, set live through the control port, as a device's client will meet it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use e2e::*;
use library_sim::client::ClientError;
use sip2::*;

#[tokio::test]
async fn each_fault_is_switched_on_and_off_through_the_control_port() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut c = tls_client(&sim).await;
    c.call(&kiosk_login()).await.unwrap();

    // A damaged checksum: our client asks for a resend (97) and gets the good reply.
    assert!(control(&sim, "bad-checksum 1").await.starts_with("ok"));
    let Message::PatronStatusResponse(p) = c.call(&patron_status(AINO, AINO_PIN)).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(p.valid_patron_password, Some(true));

    // Garbage instead of a reply: a clear error, and the connection goes on.
    control(&sim, "garbage 1").await;
    let e = c.call(&patron_status(AINO, AINO_PIN)).await.unwrap_err();
    assert!(matches!(e, ClientError::Decode(_)), "{e}");

    // Latency.
    control(&sim, "latency 300").await;
    let t = Instant::now();
    c.call(&item_information("HE0000001")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    control(&sim, "latency 0").await;

    // Dropped mid-reply.
    control(&sim, "drop 1").await;
    let e = c.call(&item_information("HE0000001")).await.unwrap_err();
    assert!(matches!(e, ClientError::Io(_)), "{e}");

    // Refused login.
    assert!(
        control(&sim, "refuse-login on")
            .await
            .ends_with("refuse-login=on")
    );
    let mut c = tls_client(&sim).await;
    let Message::LoginResponse(r) = c.call(&kiosk_login()).await.unwrap() else {
        panic!()
    };
    assert!(!r.ok);
    assert_eq!(
        control(&sim, "clear").await,
        "ok latency=0ms drop=0 garbage=0 bad-checksum=0 refuse-login=off"
    );
    let Message::LoginResponse(r) = c.call(&kiosk_login()).await.unwrap() else {
        panic!()
    };
    assert!(r.ok);
    assert!(control(&sim, "fly").await.starts_with("error"));
    sim.abort();
}
