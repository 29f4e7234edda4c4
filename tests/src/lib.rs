//! Helpers shared by the end-to-end tests: start a simulator on loopback ports in a temporary
//! state directory, and connect to it over TLS or TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use library_sim::client::ScriptClient;
use library_sim::server::{self, Running, Settings};
use redact::{CardNumber, Pin};
use sip2::*;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../library-sim/fixtures/heili.toml"
);
pub const AINO: &str = "24680000000011";
pub const AINO_PIN: &str = "1234";

pub fn settings(state: &Path) -> Settings {
    let lo = SocketAddr::from(([127, 0, 0, 1], 0));
    Settings {
        fixtures: PathBuf::from(FIXTURES),
        state_dir: state.to_owned(),
        sip2_tls: Some(lo),
        sip2_plain: Some(lo),
        control: Some(lo),
        dialect: dialect(),
        hostnames: vec![],
        faults: Default::default(),
        idle_timeout: Duration::from_secs(30),
    }
}

pub fn dialect() -> Dialect {
    Dialect {
        charset: Charset::Utf8,
        ..Dialect::standard()
    }
}

pub async fn start(state: &Path) -> Running {
    server::start(settings(state)).await.unwrap()
}

pub async fn tls_client(sim: &Running) -> ScriptClient<TlsStream<TcpStream>> {
    let config = library_sim::tls::client_config(&sim.ca_cert).unwrap();
    let tcp = TcpStream::connect(sim.sip2_tls.unwrap()).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    ScriptClient::new(tls, dialect())
}

pub async fn plain_client(sim: &Running) -> ScriptClient<TcpStream> {
    ScriptClient::new(
        TcpStream::connect(sim.sip2_plain.unwrap()).await.unwrap(),
        dialect(),
    )
}

pub fn now() -> SipDate {
    library_sim::replies::sip_date(library_sim::replies::local_now())
}

pub fn login(user: &str, password: &str) -> Message {
    Message::Login(LoginRequest {
        uid_algorithm: b'0',
        pwd_algorithm: b'0',
        login_user_id: user.into(),
        login_password: Pin::new(password),
        location_code: None,
        extra: vec![],
    })
}

pub fn kiosk_login() -> Message {
    login("kiosk-lpr-1", "kiosk-secret-1")
}

pub fn patron_status(card: &str, pin: &str) -> Message {
    Message::PatronStatus(PatronStatusRequest {
        language: Language::FINNISH,
        transaction_date: now(),
        institution_id: "heili".into(),
        patron_identifier: CardNumber::new(card),
        terminal_password: Pin::default(),
        patron_password: Pin::new(pin),
        extra: vec![],
    })
}

pub fn checkout(card: &str, pin: Option<&str>, item: &str) -> CheckoutRequest {
    CheckoutRequest {
        sc_renewal_policy: false,
        no_block: false,
        transaction_date: now(),
        nb_due_date: None,
        institution_id: "heili".into(),
        patron_identifier: CardNumber::new(card),
        item_identifier: item.into(),
        terminal_password: Pin::default(),
        item_properties: None,
        patron_password: pin.map(Pin::new),
        fee_acknowledged: None,
        cancel: None,
        extra: vec![],
    }
}

pub fn checkin(item: &str) -> Message {
    Message::Checkin(CheckinRequest {
        no_block: false,
        transaction_date: now(),
        return_date: None,
        current_location: "LPR".into(),
        institution_id: "heili".into(),
        item_identifier: item.into(),
        terminal_password: Pin::default(),
        item_properties: None,
        cancel: None,
        extra: vec![],
    })
}

pub fn item_information(item: &str) -> Message {
    Message::ItemInformation(ItemInformationRequest {
        transaction_date: now(),
        institution_id: "heili".into(),
        item_identifier: item.into(),
        terminal_password: None,
        extra: vec![],
    })
}
