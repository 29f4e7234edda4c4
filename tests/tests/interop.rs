//! Third-party SIP2 clients, as libraries run them, against the simulator: Evergreen's Rust client
//! (the `sip2` crate of King County Library System) over TCP, and the Python `Sip2` client over TLS
//! with Python's own (OpenSSL) TLS stack.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use e2e::*;

#[tokio::test(flavor = "multi_thread")]
async fn evergreen_rust_client_logs_in_checks_a_patron_and_borrows() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let addr = sim.sip2_plain.unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        use evergreen_sip2::{Client, ParamSet};
        let mut client = Client::new(&addr).unwrap();
        let mut params = ParamSet::new();
        params
            .set_sip_user("kiosk-lpr-1")
            .set_sip_pass("kiosk-secret-1")
            .set_institution("heili")
            .set_patron_id(AINO)
            .set_patron_pwd(AINO_PIN);
        assert!(client.login(&params).unwrap().ok());
        assert!(client.sc_status().unwrap().ok(), "online after login");
        let status = client.patron_status(&params).unwrap();
        assert!(status.ok(), "valid patron");
        assert_eq!(status.value("AE"), Some("Virtanen, Aino"));
        assert_eq!(status.value("CQ"), Some("Y"));
        let info = client.patron_info(&params).unwrap();
        assert_eq!(info.value("BL"), Some("Y"));
        params.set_item_id("HE0000006");
        let out = client.checkout(&params).unwrap();
        assert!(out.ok(), "{:?}", out.value("AF"));
        assert_eq!(out.value("AJ"), Some("Pappan och havet"));
        let item = client.item_info(&params).unwrap();
        assert_eq!(item.msg().fixed_fields()[0].value(), "04", "charged");
        let back = client.checkin(&params).unwrap();
        assert!(back.ok());
    })
    .await
    .unwrap();
    sim.abort();
}

fn python() -> PathBuf {
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/interop-venv/bin/python"
    ));
    assert!(
        venv.exists(),
        "{} is missing: run `bash scripts/test`, which installs the Python SIP2 client (PyPI package Sip2) there",
        venv.display()
    );
    venv
}

#[tokio::test(flavor = "multi_thread")]
async fn python_sip2_client_talks_to_the_simulator_over_tls() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let port = sim.sip2_tls.unwrap().port();
    let ca = sim.ca_cert.clone();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/python_sip2_client.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .env("SSL_CERT_FILE", &ca)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line from the client");
    let result: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        result["tls"], "tls",
        "verified TLS, not the client's plain or self-signed fallback"
    );
    assert_eq!(result["login_ok"], "1");
    assert_eq!(result["valid_patron"], "Y");
    assert_eq!(result["valid_pin"], "Y");
    assert_eq!(result["wrong_pin_valid"], "N");
    assert_eq!(result["checkout_ok"], "1");
    assert_eq!(result["title"], "Seitsemän veljestä");
    assert_eq!(result["checkin_ok"], "1");
    sim.abort();
}
