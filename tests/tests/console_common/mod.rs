//! What the console's tests share: its PKI (the console's CA and certificate, the library's
//! device CA), device certificates as provisioning makes them, and HTTPS clients.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

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
