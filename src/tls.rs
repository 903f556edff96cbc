//! Optional TLS (`--tls-cert`, `--tls-key`, PEM files) for the HTTP and gRPC listeners.
//!
//! gRPC uses tonic's own rustls support. HTTP keeps `axum::serve` (and its graceful
//! shutdown) through `sextant_web::tls_listener::TlsListener`, fed by
//! [`TlsFiles::http_acceptor`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// The PEM certificate chain and private key to serve with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
        std::fs::read(path)
            .with_context(|| format!("cannot read the TLS {what} {}", path.display()))
    }

    /// The rustls server configuration for HTTP (HTTP/1.1).
    pub fn http_acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        let certs = CertificateDer::pem_slice_iter(&Self::read(&self.cert, "certificate")?)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} is not a PEM certificate chain", self.cert.display()))?;
        anyhow::ensure!(
            !certs.is_empty(),
            "{} holds no certificate",
            self.cert.display()
        );
        let key = PrivateKeyDer::from_pem_slice(&Self::read(&self.key, "key")?)
            .with_context(|| format!("{} is not a PEM private key", self.key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("the TLS certificate and key do not match")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// The tonic TLS configuration for gRPC.
    pub fn grpc_config(&self) -> anyhow::Result<tonic::transport::ServerTlsConfig> {
        let identity = tonic::transport::Identity::from_pem(
            Self::read(&self.cert, "certificate")?,
            Self::read(&self.key, "key")?,
        );
        Ok(tonic::transport::ServerTlsConfig::new().identity(identity))
    }
}
