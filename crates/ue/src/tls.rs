//! TLS to the P-CSCF (RFC 3261 §26.3.1; TS 33.203 Annex O "TLS during registration" and the
//! reference "TLS prior to registration" flow): the client settings — which certificates are
//! trusted and which name is checked — and the connect step.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Result, UeError};

/// How long the TCP connect plus the TLS handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> UeError {
    UeError::Transport(format!("TLS {what}: {e}"))
}

/// The UE's TLS client settings.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    insecure: bool,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.name)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

fn server_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_string())
        .map_err(|e| UeError::Config(format!("TLS server name {name:?}: {e}")))
}

impl TlsClient {
    /// Verifies the P-CSCF's certificate against the CA certificates in `pem` (one or more PEM
    /// blocks) and `server_name` (a DNS name or an IP address).
    pub fn with_ca_pem(pem: &[u8], server_name_: &str) -> Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(pem) {
            let c = c.map_err(|e| tls_err("CA certificate", e))?;
            roots.add(c).map_err(|e| tls_err("CA certificate", e))?;
        }
        if roots.is_empty() {
            return Err(UeError::Config("no certificate in the TLS CA file".into()));
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("config", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClient {
            config: Arc::new(config),
            name: server_name(server_name_)?,
            insecure: false,
        })
    }

    /// [`with_ca_pem`](Self::with_ca_pem) reading a PEM file.
    pub fn with_ca_file(path: &Path, server_name_: &str) -> Result<Self> {
        let pem = std::fs::read(path)
            .map_err(|e| UeError::Config(format!("TLS CA file {}: {e}", path.display())))?;
        Self::with_ca_pem(&pem, server_name_)
    }

    /// Accepts any server certificate (lab use only: no protection against a man in the
    /// middle). Handshake signatures are still checked.
    pub fn insecure(server_name_: &str) -> Result<Self> {
        let p = provider();
        let config = rustls::ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("config", e))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(p)))
            .with_no_client_auth();
        Ok(TlsClient {
            config: Arc::new(config),
            name: server_name(server_name_)?,
            insecure: true,
        })
    }

    /// True for [`insecure`](Self::insecure).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// Opens TCP to `addr` and runs the TLS handshake (bounded by 10 s).
    pub async fn connect(&self, addr: SocketAddr) -> Result<TlsStream<TcpStream>> {
        let fut = async {
            let tcp = TcpStream::connect(addr)
                .await
                .map_err(|e| UeError::Transport(format!("TCP connect to {addr} for TLS: {e}")))?;
            let _ = tcp.set_nodelay(true);
            TlsConnector::from(self.config.clone())
                .connect(self.name.clone(), tcp)
                .await
                .map_err(|e| tls_err(&format!("handshake with {addr}"), e))
        };
        tokio::time::timeout(CONNECT_TIMEOUT, fut)
            .await
            .map_err(|_| UeError::Transport(format!("TLS connect to {addr}: timed out")))?
    }
}

/// `--tls-insecure`: any certificate is accepted; the handshake signatures are still verified.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
