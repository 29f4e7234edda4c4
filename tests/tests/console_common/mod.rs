//! What the console's tests share: its PKI (the console's CA and certificate, the library's
//! device CA), device certificates as provisioning makes them, and HTTPS clients.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use std::sync::atomic::{AtomicI64, Ordering};

use central::settings::{Alarms, DeviceListener, StaffListener};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use report::{Batch, Body, Event, Record, Role};

pub fn ca(name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

/// Certificates are checked by rustls against the real clock: issued at the instant the
/// daemons read.
pub fn issued_at() -> SystemTime {
    SystemTime::from(e2e::daemons_now())
}

/// A device's certificate and key (PEM) as omatoimi-provision makes them.
pub fn device_identity(ca: &(String, String), id: &str, branch: &str) -> (String, String) {
    let key = provision::identity::new_key().unwrap();
    let csr = provision::identity::request(&key, id, "heili", branch).unwrap();
    let cert = provision::identity::sign(&csr, &ca.0, &ca.1, 365, issued_at()).unwrap();
    (cert, key.serialize_pem())
}

/// A device's TLS settings for the console: its certificate and key (0600) and the console's CA
/// written as files in the PKI's directory.
pub fn device_tls(pki: &Pki, identity: &(String, String)) -> config::registry::TlsSettings {
    let (cert, key) = (pki.dir.join("device.pem"), pki.dir.join("device-key.pem"));
    std::fs::write(&cert, &identity.0).unwrap();
    std::fs::write(&key, &identity.1).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ca = pki.dir.join("console-ca.pem");
    std::fs::write(&ca, &pki.console_ca_pem).unwrap();
    config::registry::TlsSettings {
        ca: Some(ca),
        client_identity: Some((cert, key)),
    }
}

pub struct Pki {
    pub dir: PathBuf,
    pub device_ca: (String, String),
    pub console_ca_pem: String,
}

/// The console's CA and certificate (for 127.0.0.1), and the library's device CA, in `dir`.
pub fn pki(dir: &Path) -> Pki {
    let console_ca = ca("Heili console CA");
    let ca_key = KeyPair::from_pem(&console_ca.1).unwrap();
    let ca_cert = CertificateParams::from_ca_cert_pem(&console_ca.0)
        .unwrap()
        .self_signed(&ca_key)
        .unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    std::fs::write(dir.join("console.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("console-key.pem"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        dir.join("console-key.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let device_ca = ca("Heili devices CA");
    std::fs::write(dir.join("device-ca.pem"), &device_ca.0).unwrap();
    Pki {
        dir: dir.to_owned(),
        device_ca,
        console_ca_pem: console_ca.0,
    }
}

/// An HTTPS client that pins the console's CA and presents `identity` if given.
pub fn client(pki: &Pki, identity: Option<&(String, String)>) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&pki.console_ca_pem) {
        roots.add(c).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let key = rustls::pki_types::PrivateKeyDer::try_from(
                KeyPair::from_pem(key).unwrap().serialize_der(),
            )
            .unwrap();
            builder
                .with_client_auth_cert(rustls_pemfile_certs(cert), key)
                .unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

/// 2026-01-01T00:00:00Z: 02:00 in Helsinki.
pub const T0: i64 = 1_767_225_600_000;

pub struct Running {
    pub console: central::Console,
    pub clock: Arc<AtomicI64>,
    pub pki: Pki,
    pub _tmp: tempfile::TempDir,
}

pub async fn console(alarms: Alarms, deliver: bool) -> Running {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let clock = Arc::new(AtomicI64::new(T0));
    let c2 = clock.clone();
    let clock_fn: central::Clock = Arc::new(move || c2.load(Ordering::SeqCst));
    let db = central::Db::open(&format!(
        "sqlite:{}",
        tmp.path().join("central.db").display()
    ))
    .await
    .unwrap();
    let mut console = central::ingest::start(
        &DeviceListener {
            listen: "127.0.0.1:0".parse().unwrap(),
            certificate: pki.dir.join("console.pem"),
            key: pki.dir.join("console-key.pem"),
            device_ca: pki.dir.join("device-ca.pem"),
        },
        db,
        clock_fn.clone(),
        Arc::new(alarms),
    )
    .await
    .unwrap();
    console
        .serve_staff(
            &StaffListener {
                listen: "127.0.0.1:0".parse().unwrap(),
                certificate: pki.dir.join("console.pem"),
                key: pki.dir.join("console-key.pem"),
                idle_ms: 30 * 60_000,
                max_ms: 12 * 3_600_000,
            },
            clock_fn.clone(),
        )
        .await
        .unwrap();
    if deliver {
        console.deliver_alarms(clock_fn);
    }
    Running {
        console,
        clock,
        pki,
        _tmp: tmp,
    }
}

pub fn ev(seq: u64, at: i64, kind: &str, code: Option<&str>, card: Option<&str>) -> Record {
    Record {
        id: format!("{:016x}{seq:016x}", at),
        seq,
        at,
        body: Body::Event {
            event: Event {
                kind: kind.into(),
                code: code.map(str::to_owned),
                card: card.map(str::to_owned),
                source: Some("front".into()),
                detail: None,
            },
        },
    }
}

pub fn gauges(seq: u64, at: i64, g: &[(&str, f64)]) -> Record {
    Record {
        id: format!("{:016x}{seq:016x}", at + 1),
        seq,
        at,
        body: Body::Status {
            gauges: g.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        },
    }
}

pub async fn report(
    r: &Running,
    device: &str,
    branch: &str,
    role: Role,
    name: &str,
    records: Vec<Record>,
) {
    let id = device_identity(&r.pki.device_ca, device, branch);
    let c = client(&r.pki, Some(&id));
    let b = Batch {
        v: report::VERSION,
        role,
        name: Some(name.into()),
        software: "0.1.0".into(),
        sent_at: r.clock.load(Ordering::SeqCst),
        records,
    };
    let resp = c
        .post(format!(
            "https://127.0.0.1:{}/v1/report",
            r.console.devices_addr.port()
        ))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&b).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
