//! TLS client settings for both backends (rustls with the ring provider, no OpenSSL): a pinned CA
//! or the system's roots, hostname verification, an optional device certificate; and certificate
//! failures told in words a technician can act on.

use std::path::Path;
use std::sync::Arc;

use config::registry::TlsSettings;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, RootCertStore};

use crate::model::RegistryError;

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let pem = std::fs::read(path)
        .map_err(|e| RegistryError::Setup(format!("cannot read {}: {e}", path.display())))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            RegistryError::Setup(format!("{}: not PEM certificates: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(RegistryError::Setup(format!(
            "{}: no certificate in it (expected PEM \"BEGIN CERTIFICATE\")",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, RegistryError> {
    let pem = std::fs::read(path)
        .map_err(|e| RegistryError::Setup(format!("cannot read {}: {e}", path.display())))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| RegistryError::Setup(format!("{}: not a PEM key: {e}", path.display())))?
        .ok_or_else(|| {
            RegistryError::Setup(format!(
                "{}: no private key in it (expected PEM \"BEGIN PRIVATE KEY\")",
                path.display()
            ))
        })
}

/// A rustls client configuration for `tls`, offering `alpn` protocols.
pub fn client_config(
    tls: &TlsSettings,
    alpn: &[&[u8]],
) -> Result<rustls::ClientConfig, RegistryError> {
    let mut roots = RootCertStore::empty();
    match &tls.ca {
        Some(ca) => {
            for c in read_certs(ca)? {
                roots.add(c).map_err(|e| {
                    RegistryError::Setup(format!("{}: unusable CA certificate: {e}", ca.display()))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(RegistryError::Setup(
                    "no CA configured and no system root certificates found (install ca-certificates, or set `ca`)".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Setup(format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    let mut config = match &tls.client_identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| {
                RegistryError::Setup(format!(
                    "device certificate {} and key {} do not go together: {e}",
                    cert.display(),
                    key.display()
                ))
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Finds a rustls error in an error's chain and says what it means; `None` when there is none.
pub fn explain(err: &(dyn std::error::Error + 'static), server_name: &str) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(t, server_name));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(describe(t, server_name));
            }
        }
        // Some layers (hyper-util's connector) keep only the text of the rustls error.
        let text = e.to_string();
        if let Some(rest) = text.split("invalid peer certificate: ").nth(1) {
            let r = rest.to_ascii_lowercase().replace('_', "");
            let has = |w: &[&str]| w.iter().any(|w| r.contains(w));
            let c = if has(&["notvalidyet", "not valid yet"]) {
                CertificateError::NotValidYet
            } else if has(&["expired"]) {
                CertificateError::Expired
            } else if has(&["notvalidforname", "not valid for name"]) {
                CertificateError::NotValidForName
            } else if has(&[
                "unknownissuer",
                "unknown issuer",
                "badsignature",
                "bad signature",
            ]) {
                CertificateError::UnknownIssuer
            } else {
                return Some(format!(
                    "the certificate of {server_name} was refused: {rest}"
                ));
            };
            return Some(describe(&rustls::Error::InvalidCertificate(c), server_name));
        }
        if text.contains("received fatal alert") {
            return Some(format!(
                "{server_name} refused the TLS connection ({text}); is this device's certificate accepted?"
            ));
        }
        cur = e.source();
    }
    None
}

fn describe(e: &rustls::Error, server_name: &str) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
                "the certificate of {server_name} has expired; the library system must renew it"
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!(
                    "the certificate of {server_name} is not valid yet; check this device's clock"
                )
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate presented is not for {server_name} (hostname mismatch)")
            }
            // BadSignature: a CA of the same name but another key signed it.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => format!(
                "the certificate of {server_name} is not signed by the pinned CA (or a system root)"
            ),
            CertificateError::Revoked => format!("the certificate of {server_name} is revoked"),
            other => format!("the certificate of {server_name} was refused: {other:?}"),
        },
        rustls::Error::AlertReceived(a) => {
            format!(
                "{server_name} refused the TLS connection ({a:?}); is this device's certificate accepted?"
            )
        }
        other => format!("TLS with {server_name} failed: {other}"),
    }
}
