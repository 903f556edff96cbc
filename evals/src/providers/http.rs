//! The HTTP client of model providers and webhooks: plain HTTP for local servers, HTTPS
//! (rustls with the ring crypto provider, the one the server's TLS uses) for hosted APIs
//! and gateways. Certificates are checked against the system's roots, or — with a model's
//! `ca_file` — against that PEM bundle only (a private gateway's CA).
//!
//! reqwest is built without a crypto provider of its own, so every process that builds a
//! reqwest client installs ring first: [`install_crypto_provider`] (the binary does at
//! start, this module before each client it builds).

use std::path::Path;
use std::time::Duration;

use crate::error::{EvalError, Result};

/// Makes ring the process's rustls crypto provider (once; later calls do nothing).
pub fn install_crypto_provider() {
    // Err means a provider is already installed: the one the process chose stays.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
}

/// A client with an overall request timeout, trusting only `ca_file`'s certificates when
/// it is given. Redirects are not followed: a provider's request carries its key
/// (`x-api-key`, `Authorization`), which a redirect must not carry to another origin, and no
/// provider API answers with one.
pub fn client(timeout: Duration, ca_file: Option<&Path>) -> Result<reqwest::Client> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|error| EvalError::Invalid(format!("ca_file {}: {error}", path.display())))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            EvalError::Invalid(format!(
                "ca_file {} is not a PEM certificate bundle: {error}",
                path.display()
            ))
        })?;
        if certificates.is_empty() {
            return Err(EvalError::Invalid(format!(
                "ca_file {} holds no certificate",
                path.display()
            )));
        }
        builder = builder.tls_certs_only(certificates);
    }
    builder.build().map_err(|error| {
        let cause = std::error::Error::source(&error)
            .map(|source| format!(": {source}"))
            .unwrap_or_default();
        EvalError::Invalid(format!(
            "http client: {error}{cause} (without a ca_file, HTTPS trusts the system's roots: install the ca-certificates package)"
        ))
    })
}

/// A URL as it may be logged: scheme, host and port only (a webhook's path is its secret).
pub fn loggable_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(url) => format!("{}/…", url.origin().ascii_serialization()),
        Err(_) => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_exist_and_hold_pem_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let timeout = Duration::from_secs(1);
        let missing = dir.path().join("missing.pem");
        let error = client(timeout, Some(&missing)).expect_err("missing file");
        assert!(error.to_string().contains("missing.pem"), "{error}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").expect("write");
        let error = client(timeout, Some(&empty)).expect_err("no certificate");
        assert!(error.to_string().contains("no certificate"), "{error}");

        assert!(client(timeout, None).is_ok(), "the system's roots");
    }

    #[test]
    fn logged_urls_keep_only_their_origin() {
        assert_eq!(
            loggable_origin("https://hooks.slack.com/services/T000/B000/secret?x=1"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            loggable_origin("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9/…"
        );
        assert_eq!(loggable_origin("not a url"), "(not a URL)");
    }
}
