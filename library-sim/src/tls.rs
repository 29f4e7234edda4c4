//! The simulator's own certificate authority and server certificate, made on first start with
//! rcgen and kept in the state directory; `ca.pem` is what clients pin.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::store::PrivateMode;

/// The PEM files of the simulator's TLS identity.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate, for clients to pin.
    pub ca_cert: PathBuf,
    /// The server certificate chain.
    pub server_cert: PathBuf,
    /// The server's private key (mode 0600).
    pub server_key: PathBuf,
    /// A device certificate for mutual TLS, signed by the CA.
    pub device_cert: PathBuf,
    /// Its private key (mode 0600).
    pub device_key: PathBuf,
}

impl TlsFiles {
    /// The files in `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            device_cert: dir.join("device.pem"),
            device_key: dir.join("device-key.pem"),
        }
    }
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        "library-sim test CA (not for production)",
    );
    dn.push(DnType::OrganizationName, "omatoimi library-sim");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(ca)
}

/// Makes the CA and server certificate if any file is missing; returns the files. The server
/// certificate names `localhost`, 127.0.0.1, ::1 and every name in `hostnames`.
pub fn ensure_identity(dir: &Path, hostnames: &[String]) -> anyhow::Result<TlsFiles> {
    let files = TlsFiles::in_dir(dir);
    if [
        &files.ca_cert,
        &files.server_cert,
        &files.server_key,
        &files.device_cert,
        &files.device_key,
    ]
    .iter()
    .all(|f| f.exists())
    {
        return Ok(files);
    }
    let ca_key = KeyPair::generate()?;
    let ca = ca_params()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(hostnames.iter().cloned());
    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "library-sim");
    server.distinguished_name = dn;
    let server_cert = server.signed_by(&server_key, &ca_cert, &ca_key)?;

    write_file(
        &files.server_key,
        server_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(
        &dir.join("ca-key.pem"),
        ca_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(&files.server_cert, server_cert.pem().as_bytes(), false)?;
    write_file(&files.ca_cert, ca_cert.pem().as_bytes(), false)?;

    // A device identity for mutual TLS, signed by the same CA.
    let device_key = KeyPair::generate()?;
    let mut device = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "library-sim device");
    device.distinguished_name = dn;
    device.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let device_cert = device.signed_by(&device_key, &ca_cert, &ca_key)?;
    write_file(
        &files.device_key,
        device_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(&files.device_cert, device_cert.pem().as_bytes(), false)?;
    Ok(files)
}

/// Replaces the server certificate with one for `names`, valid from `not_before` to `not_after`
/// (year, month, day), signed by the CA already in `dir`: for testing how clients take an
/// expired certificate or one for another host.
pub fn reissue_server_cert(
    dir: &Path,
    names: &[String],
    not_before: (i32, u8, u8),
    not_after: (i32, u8, u8),
) -> anyhow::Result<()> {
    let files = TlsFiles::in_dir(dir);
    let ca_key = KeyPair::from_pem(&fs::read_to_string(dir.join("ca-key.pem"))?)?;
    // The same subject and key as the CA in ca.pem, so what it signs verifies against ca.pem.
    let ca_cert = ca_params()?.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(names.to_vec())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "library-sim");
    server.distinguished_name = dn;
    server.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2);
    server.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    let cert = server.signed_by(&key, &ca_cert, &ca_key)?;
    write_file(&files.server_key, key.serialize_pem().as_bytes(), true)?;
    write_file(&files.server_cert, cert.pem().as_bytes(), false)?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    if private {
        opts.mode_private();
    }
    let mut f = opts
        .open(path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

/// Reads PEM certificates.
pub fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in the file", path.display());
    }
    Ok(certs)
}

/// Whether a server asks its clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCerts {
    /// Not asked for.
    NotAsked,
    /// Asked for; a client may go without one, but one it presents must be signed by the
    /// simulator's CA and valid, or the handshake fails. What a connection may do without one is
    /// decided above TLS (the offline list is refused to it).
    Optional,
    /// Required: a client without a valid certificate from the simulator's CA is refused at the
    /// handshake (mutual TLS).
    Required,
}

/// The server's rustls configuration; with `require_client_cert`, only clients with a
/// certificate signed by the simulator's CA get in (mutual TLS); without it, one is accepted but
/// not asked for. `alpn` is offered as is.
pub fn server_config(
    files: &TlsFiles,
    require_client_cert: bool,
    alpn: &[&[u8]],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let asked = if require_client_cert {
        ClientCerts::Required
    } else {
        ClientCerts::NotAsked
    };
    server_config_asking(files, asked, alpn)
}

/// The server's rustls configuration, asking clients for a certificate signed by the
/// simulator's CA as `asked` says. `alpn` is offered as is.
pub fn server_config_asking(
    files: &TlsFiles,
    asked: ClientCerts,
    alpn: &[&[u8]],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = read_certs(&files.server_cert)?;
    let pem = fs::read(&files.server_key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", files.server_key.display()))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| anyhow::anyhow!("{}: {e}", files.server_key.display()))?
        .ok_or_else(|| {
            anyhow::anyhow!("{}: no private key in the file", files.server_key.display())
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = if asked == ClientCerts::NotAsked {
        builder.with_no_client_auth().with_single_cert(certs, key)?
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for cert in read_certs(&files.ca_cert)? {
            roots.add(cert)?;
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let verifier = if asked == ClientCerts::Optional {
            verifier.allow_unauthenticated().build()?
        } else {
            verifier.build()?
        };
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)?
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration that trusts only the CA in `ca_pem` (used by the demo and tests).
pub fn client_config(ca_pem: &Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(ca_pem)? {
        roots.add(cert)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
