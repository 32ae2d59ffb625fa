//! The emulator's TLS identity: a certificate authority of its own, and server certificates
//! issued from it for whatever name a client connects to.
//!
//! ```text
//!  kubeconfig ── certificate-authority-data = CA ──▶ client trusts the emulator's CA
//!  TLS hello ── SNI name? ──▶ yes: a leaf for that name (issued once, cached)
//!                         └─▶ no (an IP address): the leaf for localhost, 127.0.0.1 and ::1
//! ```
//!
//! Why TLS at all: client-go reads a kubeconfig's credentials only for TLS servers, so kubectl
//! never sends its bearer token to an `http://` API server. Serving the clusters' Kubernetes APIs
//! over TLS, as real ACK does, lets the emulator require the token from every client.
//!
//! With a state directory the CA is kept there (`kube-ca.pem`, `kube-ca-key.pem`, mode 0600), so
//! kubeconfigs handed out before a restart stay valid.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};

const CA_FILE: &str = "kube-ca.pem";
const CA_KEY_FILE: &str = "kube-ca-key.pem";

/// The CA and the certificates issued from it.
pub struct Identity {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    provider: Arc<CryptoProvider>,
    /// Served when the client sends no server name (it connected to an IP address).
    default: Arc<CertifiedKey>,
    /// Leaves issued for names clients asked for.
    by_name: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

fn tls_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("cannot set up the emulator's TLS identity: {e}"))
}

impl Identity {
    /// The CA kept in `dir`, or a new one (saved to `dir` when given).
    pub fn load_or_create(dir: Option<&Path>) -> io::Result<Self> {
        let saved = match dir {
            Some(dir) => read_ca(dir)?,
            None => None,
        };
        let (ca_pem, key) = match saved {
            Some(pair) => pair,
            None => {
                let (pem, key) = new_ca()?;
                if let Some(dir) = dir {
                    write_private(&dir.join(CA_KEY_FILE), &key.serialize_pem())?;
                    std::fs::write(dir.join(CA_FILE), &pem)?;
                }
                (pem, key)
            }
        };
        // The CA's parameters are fixed, so the same issuer name is rebuilt from them for a CA
        // loaded from disk; the key identifies it.
        let issuer = Issuer::new(ca_params(), key);
        let ca_der = pem_to_der(&ca_pem)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let default = issue(
            &issuer,
            &ca_der,
            &provider,
            &[
                SanType::DnsName("localhost".try_into().map_err(tls_error)?),
                SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            ],
        )?;
        Ok(Self {
            ca_pem,
            ca_der,
            issuer,
            provider,
            default,
            by_name: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM-encoded, for kubeconfigs' `certificate-authority-data`.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A rustls server configuration presenting this identity's certificates over HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> io::Result<Arc<rustls::ServerConfig>> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    fn for_name(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let mut cache = self.by_name.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = cache.get(name) {
            return Some(key.clone());
        }
        let san = SanType::DnsName(name.to_owned().try_into().ok()?);
        match issue(&self.issuer, &self.ca_der, &self.provider, &[san]) {
            Ok(key) => {
                cache.insert(name.to_owned(), key.clone());
                Some(key)
            }
            Err(e) => {
                tracing::warn!(%name, error = %e, "cannot issue a certificate");
                None
            }
        }
    }
}

impl ResolvesServerCert for Identity {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name() {
            Some(name) => self.for_name(name),
            None => Some(self.default.clone()),
        }
    }
}

fn new_ca() -> io::Result<(String, KeyPair)> {
    let key = KeyPair::generate().map_err(tls_error)?;
    let cert = ca_params().self_signed(&key).map_err(tls_error)?;
    Ok((cert.pem(), key))
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "ackctl emulator CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A leaf for `names`, chained to the CA.
fn issue(
    issuer: &Issuer<'static, KeyPair>,
    ca_der: &CertificateDer<'static>,
    provider: &CryptoProvider,
    names: &[SanType],
) -> io::Result<Arc<CertifiedKey>> {
    let key = KeyPair::generate().map_err(tls_error)?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "ackctl emulator");
    params.subject_alt_names = names.to_vec();
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, issuer).map_err(tls_error)?;
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let certified =
        CertifiedKey::from_der(vec![cert.der().clone(), ca_der.clone()], private, provider)
            .map_err(tls_error)?;
    Ok(Arc::new(certified))
}

fn read_ca(dir: &Path) -> io::Result<Option<(String, KeyPair)>> {
    let (cert, key) = (dir.join(CA_FILE), dir.join(CA_KEY_FILE));
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    let pem = std::fs::read_to_string(&cert)?;
    let key = KeyPair::from_pem(&std::fs::read_to_string(&key)?)
        .map_err(|e| tls_error(format!("{}: {e}", dir.join(CA_KEY_FILE).display())))?;
    Ok(Some((pem, key)))
}

fn pem_to_der(pem: &str) -> io::Result<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(tls_error)
}

fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_ca_is_reused_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(Some(dir.path())).unwrap();
        let second = Identity::load_or_create(Some(dir.path())).unwrap();
        assert_eq!(first.ca_pem(), second.ca_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn every_emulator_without_state_has_its_own_ca() {
        let a = Identity::load_or_create(None).unwrap();
        let b = Identity::load_or_create(None).unwrap();
        assert_ne!(a.ca_pem(), b.ca_pem());
        assert!(a.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[test]
    fn a_named_leaf_is_issued_once_and_cached() {
        let id = Identity::load_or_create(None).unwrap();
        let first = id.for_name("emulator.example").unwrap();
        let again = id.for_name("emulator.example").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(first.cert.len(), 2, "leaf plus CA");
    }
}
