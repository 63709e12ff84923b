//! TLS configuration (RFC 3261 §26.3.1; TS 33.203 Annex H for the Gm TLS option): certificate and
//! key from PEM files, or a self-signed pair generated for local use.

use crate::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Server and client TLS settings for an [`crate::Endpoint`].
#[derive(Clone)]
pub struct TlsConfig {
    /// Used to accept TLS connections.
    pub server: Arc<rustls::ServerConfig>,
    /// Used to open TLS connections.
    pub client: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::fmt::Display) -> Error {
    Error::Tls(e.to_string())
}

impl TlsConfig {
    /// Builds both configs from PEM text: our certificate chain and private key, and the
    /// certificates we trust as servers (`trust_pem`; our own certificate when `None`).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8], trust_pem: Option<&[u8]>) -> Result<Self> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<std::result::Result<_, _>>()
            .map_err(tls_err)?;
        if certs.is_empty() {
            return Err(Error::Tls("no certificate in PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(tls_err)?;
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(tls_err)?;
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(trust_pem.unwrap_or(cert_pem)) {
            roots.add(c.map_err(tls_err)?).map_err(tls_err)?;
        }
        let client = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }

    /// Reads the certificate chain, key and optional trust anchors from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path, trust: Option<&Path>) -> Result<Self> {
        let c = std::fs::read(cert)?;
        let k = std::fs::read(key)?;
        let t = trust.map(std::fs::read).transpose()?;
        Self::from_pem(&c, &k, t.as_deref())
    }

    /// A self-signed certificate for `names` (DNS names or IP addresses), trusted by the client
    /// side of the same config: for tests and local runs.
    pub fn self_signed(names: &[&str]) -> Result<Self> {
        let (cert, key) = generate_self_signed(names)?;
        Self::from_pem(cert.as_bytes(), key.as_bytes(), None)
    }
}

/// Generates a self-signed certificate and key for `names` (strings that parse as IP addresses
/// become IP subjectAltNames); returns `(certificate PEM, private key PEM)`.
pub fn generate_self_signed(names: &[&str]) -> Result<(String, String)> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let ck = rcgen::generate_simple_self_signed(names).map_err(tls_err)?;
    Ok((ck.cert.pem(), ck.key_pair.serialize_pem()))
}
