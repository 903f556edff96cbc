//! `--tls-cert`/`--tls-key`: HTTP and gRPC are served over TLS (rustls), and plain text is
//! not answered. Clients trust a self-signed certificate made for the test (rcgen).

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::requests::export_request;
use crate::server::Server;

/// Sends one HTTP/1.1 GET over TLS, trusting `cert_pem`; returns the raw response.
async fn https_get(address: &str, path: &str, cert_pem: &str) -> String {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots
            .add(cert.expect("pem"))
            .expect("trust the test certificate");
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the server's certificate");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tls.read_to_string(&mut response).await.expect("read");
    response
}

#[test]
fn http_and_grpc_are_served_over_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .expect("self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, &cert_pem).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    let cert_arg = cert_path.to_string_lossy().into_owned();
    let key_arg = key_path.to_string_lossy().into_owned();
    let server = Server::start_command(
        &["serve", "--tls-cert", &cert_arg, "--tls-key", &key_arg],
        &dir.path().join("data"),
        "",
    );
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );
    let http_address = server.base_url.trim_start_matches("https://").to_string();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let response = https_get(&http_address, "/healthz", &cert_pem).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("ok"), "{response}");

        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&cert_pem))
            .domain_name("localhost");
        let channel = tonic::transport::Channel::from_shared(server.grpc_url.clone())
            .expect("grpc url")
            .tls_config(tls)
            .expect("tls config")
            .connect()
            .await
            .expect("gRPC over TLS connects");
        TraceServiceClient::new(channel)
            .export(export_request(4, 0))
            .await
            .expect("an export over TLS is accepted");
    });

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::blocking::Client::new()
        .get(format!("http://{http_address}/healthz"))
        .timeout(std::time::Duration::from_secs(15))
        .send();
    assert!(
        plain.is_err() || !plain.expect("response").status().is_success(),
        "plain HTTP was served on the TLS port"
    );
}
