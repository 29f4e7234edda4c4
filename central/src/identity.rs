//! A device as its certificate names it.

use sha2::{Digest, Sha256};

use crate::hex;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What the console knows of a device from the certificate it presented (already verified
/// against the library's device CA in the handshake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCert {
    /// CN: the device's id (`lemi-door-1`).
    pub device_id: String,
    /// O: the institution.
    pub institution: String,
    /// OU: the branch.
    pub branch: String,
    /// SHA-256 of the certificate (DER), lowercase hex: what a revocation names.
    pub sha256: String,
    /// The end of its validity (Unix ms).
    pub not_after_ms: i64,
}

/// Reads a device certificate (DER): its subject must name the device (CN); institution and
/// branch may be empty.
pub fn from_der(der: &[u8]) -> Result<DeviceCert, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
        it.next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let subject = cert.subject();
    let device_id = first(&mut subject.iter_common_name());
    if device_id.is_empty() {
        return Err(format!(
            "the certificate names no device (subject {subject})"
        ));
    }
    Ok(DeviceCert {
        device_id,
        institution: first(&mut subject.iter_organization()),
        branch: first(&mut subject.iter_organizational_unit()),
        sha256: hex(&Sha256::digest(der)),
        not_after_ms: cert.validity().not_after.timestamp().saturating_mul(1000),
    })
}

/// SHA-256 of a PEM certificate's first certificate, lowercase hex: for revoking it.
pub fn pem_sha256(pem: &[u8]) -> Result<String, String> {
    let mut r = pem;
    match rustls_pemfile::certs(&mut r).next() {
        Some(Ok(der)) => Ok(hex(&Sha256::digest(der.as_ref()))),
        Some(Err(e)) => Err(format!("not a PEM certificate: {e}")),
        None => Err("no certificate in the file".into()),
    }
}
