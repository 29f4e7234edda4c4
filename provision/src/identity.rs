//! The device's TLS identity: its key pair (made once, on the box, never leaving it), the
//! enrolment request (a PKCS#10 CSR) a CA signs, the check that a returned certificate belongs to
//! that key, and signing a request for a library that runs its own small CA.

use std::time::{Duration, SystemTime};

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use x509_parser::prelude::{FromDer, X509Certificate};

/// Why an identity step failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file held no usable PEM of the expected kind.
    #[error("{0}")]
    Pem(String),
    /// rcgen refused.
    #[error("{0}")]
    Crypto(#[from] rcgen::Error),
    /// The certificate does not fit this device.
    #[error("{0}")]
    Mismatch(String),
}

/// A new ECDSA P-256 key pair, in PKCS#8 PEM.
pub fn new_key() -> Result<KeyPair, IdentityError> {
    Ok(KeyPair::generate()?)
}

/// The key pair in `pem`.
pub fn key_from_pem(pem: &str) -> Result<KeyPair, IdentityError> {
    KeyPair::from_pem(pem).map_err(|e| IdentityError::Pem(format!("not a private key: {e}")))
}

/// The enrolment request for `key`: CN = the device id, O = the library, OU = the branch, and the
/// device id as a DNS name, asking for client authentication.
pub fn request(
    key: &KeyPair,
    device_id: &str,
    institution: &str,
    branch: &str,
) -> Result<String, IdentityError> {
    let mut params = CertificateParams::new(vec![device_id.to_owned()])?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, device_id);
    dn.push(DnType::OrganizationName, institution);
    dn.push(DnType::OrganizationalUnitName, branch);
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    Ok(params.serialize_request(key)?.pem()?)
}

/// Whether the request in `pem` is for `key` and names `device_id`: a re-run keeps it.
pub fn request_fits(pem: &str, key: &KeyPair, device_id: &str) -> bool {
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(pem.as_bytes()) else {
        return false;
    };
    let Ok((_, csr)) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&block.contents)
    else {
        return false;
    };
    let info = &csr.certification_request_info;
    info.subject_pki.raw == key.public_key_der().as_slice()
        && info
            .subject
            .iter_common_name()
            .any(|cn| cn.as_str() == Ok(device_id))
}

/// What a device certificate says, once it is known to fit the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject.
    pub subject: String,
    /// The issuer.
    pub issuer: String,
    /// Unix seconds.
    pub not_after: i64,
}

fn first_cert_der(pem: &str) -> Result<Vec<u8>, IdentityError> {
    let mut bytes = pem.as_bytes();
    let mut certs = rustls_pemfile::certs(&mut bytes);
    match certs.next() {
        Some(Ok(der)) => Ok(der.to_vec()),
        Some(Err(e)) => Err(IdentityError::Pem(format!("not a PEM certificate: {e}"))),
        None => Err(IdentityError::Pem("no certificate in the file".into())),
    }
}

/// Checks that the first certificate in `pem` is for `key`, names `device_id`, and is valid at
/// `now`.
pub fn check_cert(
    pem: &str,
    key: &KeyPair,
    device_id: &str,
    now: SystemTime,
) -> Result<CertInfo, IdentityError> {
    let der = first_cert_der(pem)?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|e| IdentityError::Pem(format!("not an X.509 certificate: {e}")))?;
    if cert.public_key().raw != key.public_key_der().as_slice() {
        return Err(IdentityError::Mismatch(
            "the certificate is for another key than this device's (was it made from this box's device.csr?)".into(),
        ));
    }
    if !cert
        .subject()
        .iter_common_name()
        .any(|cn| cn.as_str() == Ok(device_id))
    {
        return Err(IdentityError::Mismatch(format!(
            "the certificate is not for {device_id} (its subject is {})",
            cert.subject()
        )));
    }
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs() as i64;
    let validity = cert.validity();
    if validity.not_before.timestamp() > secs {
        return Err(IdentityError::Mismatch(format!(
            "the certificate is not valid before {} (is the clock right?)",
            validity.not_before
        )));
    }
    if validity.not_after.timestamp() <= secs {
        return Err(IdentityError::Mismatch(format!(
            "the certificate expired on {}",
            validity.not_after
        )));
    }
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: validity.not_after.timestamp(),
    })
}

/// Signs the enrolment request `csr_pem` with a library's own CA (`ca_cert_pem`, `ca_key_pem`):
/// a client certificate for `days` days from `now`, keeping the request's subject and names.
pub fn sign(
    csr_pem: &str,
    ca_cert_pem: &str,
    ca_key_pem: &str,
    days: u32,
    now: SystemTime,
) -> Result<String, IdentityError> {
    let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
        .map_err(|e| IdentityError::Pem(format!("not an enrolment request (CSR): {e}")))?;
    let ca_key = KeyPair::from_pem(ca_key_pem)
        .map_err(|e| IdentityError::Pem(format!("the CA key: not a private key: {e}")))?;
    let ca_params = CertificateParams::from_ca_cert_pem(ca_cert_pem)
        .map_err(|e| IdentityError::Pem(format!("the CA certificate: {e}")))?;
    if !matches!(ca_params.is_ca, IsCa::Ca(_)) {
        return Err(IdentityError::Mismatch(
            "the CA certificate is not a CA's (no basicConstraints CA:TRUE)".into(),
        ));
    }
    // The same subject and key as the CA's certificate, so what it signs chains to it.
    let ca = ca_params.self_signed(&ca_key)?;
    let p = &mut csr.params;
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.subject_alt_names
        .retain(|n| matches!(n, SanType::DnsName(_) | SanType::URI(_)));
    p.not_before = now.into();
    p.not_after = (now + Duration::from_secs(u64::from(days) * 86_400)).into();
    p.use_authority_key_identifier_extension = true;
    Ok(csr.signed_by(&ca, &ca_key)?.pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, "Heili devices CA");
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        (p.self_signed(&key).expect("ca").pem(), key.serialize_pem())
    }

    #[test]
    fn a_request_signed_by_the_ca_fits_the_key_and_another_key_does_not() {
        let key = new_key().expect("key");
        let csr = request(&key, "lemi-door-1", "heili", "LEMI").expect("csr");
        assert!(csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        assert!(request_fits(&csr, &key, "lemi-door-1"));
        assert!(!request_fits(&csr, &key, "lemi-door-2"));
        assert!(!request_fits(&csr, &new_key().expect("key"), "lemi-door-1"));
        assert!(!request_fits("junk", &key, "lemi-door-1"));
        let (ca_pem, ca_key) = ca();
        let now = SystemTime::now();
        let cert = sign(&csr, &ca_pem, &ca_key, 825, now).expect("sign");
        let info = check_cert(&cert, &key, "lemi-door-1", now).expect("fits");
        assert!(matches!(
            check_cert(&cert, &key, "lemi-door-2", now),
            Err(IdentityError::Mismatch(_))
        ));
        assert!(info.subject.contains("CN=lemi-door-1"), "{info:?}");
        assert!(info.issuer.contains("Heili devices CA"), "{info:?}");
        let other = new_key().expect("key");
        assert!(matches!(
            check_cert(&cert, &other, "lemi-door-1", now),
            Err(IdentityError::Mismatch(_))
        ));
        // Expired, and not yet valid.
        let later = now + Duration::from_secs(826 * 86_400);
        assert!(
            check_cert(&cert, &key, "lemi-door-1", later)
                .expect_err("expired")
                .to_string()
                .contains("expired")
        );
        let earlier = now - Duration::from_secs(86_400);
        assert!(check_cert(&cert, &key, "lemi-door-1", earlier).is_err());
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let key = new_key().expect("key");
        assert!(key_from_pem("not a key").is_err());
        assert!(check_cert("", &key, "x", SystemTime::now()).is_err());
        assert!(
            check_cert(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                &key,
                "x",
                SystemTime::now()
            )
            .is_err()
        );
        let (ca_pem, ca_key) = ca();
        assert!(sign("junk", &ca_pem, &ca_key, 1, SystemTime::now()).is_err());
        // A leaf is no CA.
        let csr = request(&key, "x", "heili", "LEMI").expect("csr");
        let leaf = sign(&csr, &ca_pem, &ca_key, 1, SystemTime::now()).expect("leaf");
        assert!(sign(&csr, &leaf, &key.serialize_pem(), 1, SystemTime::now()).is_err());
    }
}
