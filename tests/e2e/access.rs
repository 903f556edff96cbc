//! Projects and keys end to end: keys made with the CLI scope OTLP over gRPC and HTTP
//! (the official exporters, the key where users put it) and reads; every gRPC auth
//! failure has its code and message; an operator key (no project) sees only usage; open
//! mode refuses a non-loopback bind.

use std::process::Command;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::metadata::MetadataValue;

use crate::requests::export_request;
use crate::server::{Server, sextant};

/// Creates `project` with the CLI and returns a key of each scope (printed once, on stdout).
fn cli_keys(data_dir: &std::path::Path, project: &str) -> [String; 3] {
    let created = sextant(&["projects", "create", project], data_dir);
    assert!(created.contains(project), "{created}");
    ["ingest", "read", "admin"].map(|scope| {
        sextant(
            &["keys", "create", "--project", project, "--scope", scope],
            data_dir,
        )
        .trim()
        .to_string()
    })
}

fn key_id(key: &str) -> &str {
    key.split('_').nth(1).expect("a key id")
}

#[test]
fn open_mode_refuses_a_non_loopback_bind() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Refused before binding anything.
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "serve",
            "--http-addr",
            "0.0.0.0:0",
            "--grpc-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("run sextant");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no API key exists") && stderr.contains("sextant keys create"),
        "{stderr}"
    );
}

#[test]
fn grpc_auth_failures_have_their_codes_and_an_ingest_key_writes_its_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let [ingest, read, _admin] = cli_keys(&data_dir, "alpha");
    let revoked = sextant(
        &["keys", "create", "--project", "alpha", "--scope", "ingest"],
        &data_dir,
    )
    .trim()
    .to_string();
    let revoke = sextant(&["keys", "revoke", key_id(&revoked)], &data_dir);
    assert!(revoke.contains("revoked"), "{revoke}");
    let operator = sextant(&["keys", "create", "--scope", "operator"], &data_dir)
        .trim()
        .to_string();
    let listed = sextant(&["keys", "list"], &data_dir);
    assert_eq!(listed.lines().count(), 6, "header and five keys: {listed}");
    assert!(
        listed
            .lines()
            .any(|line| line.contains(key_id(&operator)) && line.contains("*")),
        "the operator key is of no project: {listed}"
    );
    assert!(!listed.contains(&ingest), "keys list never shows a secret");

    let mut server = Server::start_logging(&data_dir, "", "warn,sextant_web::otlp=debug");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let unknown = format!("Bearer sxt_{}_{}", "0".repeat(12), "1".repeat(64));
    let cases: [(Option<String>, tonic::Code, &str); 7] = [
        (None, tonic::Code::Unauthenticated, "requires an API key"),
        (
            Some("Basic abc".into()),
            tonic::Code::Unauthenticated,
            "malformed",
        ),
        (Some(unknown), tonic::Code::Unauthenticated, "not valid"),
        (
            Some(format!("Bearer {revoked}")),
            tonic::Code::Unauthenticated,
            "revoked",
        ),
        (
            Some(format!("Bearer {read}")),
            tonic::Code::PermissionDenied,
            "read scope",
        ),
        (
            Some(format!("Bearer {operator}")),
            tonic::Code::PermissionDenied,
            "operator scope",
        ),
        (Some(format!("Bearer {ingest}")), tonic::Code::Ok, ""),
    ];
    runtime.block_on(async {
        let mut client = TraceServiceClient::connect(server.grpc_url.clone())
            .await
            .expect("connect");
        for (sequence, (authorization, code, words)) in cases.into_iter().enumerate() {
            let mut request = tonic::Request::new(export_request(9, sequence as u64));
            if let Some(value) = &authorization {
                let value: MetadataValue<_> = value.parse().expect("metadata");
                request.metadata_mut().insert("authorization", value);
            }
            match client.export(request).await {
                Ok(_) => assert_eq!(code, tonic::Code::Ok, "{authorization:?} was accepted"),
                Err(status) => {
                    assert_eq!(status.code(), code, "{authorization:?}: {status:?}");
                    assert!(status.message().contains(words), "{status:?}");
                }
            }
        }
    });

    // Each call was logged inside its request span: refusals as refused, the accepted
    // export as served, named by its project and key; no key's secret in the log.
    let log = server.log();
    let served: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("request served"))
        .collect();
    assert_eq!(served.len(), 1, "{log}");
    for expected in [
        "path=/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        "project=alpha",
        &format!("key_id={}", key_id(&ingest)),
        "status=Ok",
    ] {
        assert!(
            served[0].contains(expected),
            "{expected} not in {}",
            served[0]
        );
    }
    let refused = log
        .lines()
        .filter(|line| line.contains("request refused") && line.contains("TraceService/Export"))
        .count();
    assert_eq!(refused, 6, "{log}");
    for secret in [&ingest, &read, &operator, &revoked] {
        assert!(!log.contains(secret.as_str()), "a key was logged: {log}");
    }

    // Only the ingest key's export landed, in alpha; an unauthenticated read is refused.
    let (status, _) = server.get_json("/api/traces");
    assert_eq!(status.as_u16(), 401);
    server.use_key(&read);
    let count = server.wait_for_count("SELECT count(*) AS n FROM spans", 1);
    let stored = server.sql("SELECT DISTINCT project_id FROM spans");
    assert!(count >= 1, "the accepted export is stored");
    assert_eq!(stored, [serde_json::json!({"project_id": "alpha"})]);
    server.use_key(&operator);
    let (status, usage) = server.get_json("/api/usage");
    assert_eq!(status.as_u16(), 200, "{usage}");
    let projects: Vec<&str> = usage["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["project"].as_str())
        .collect();
    assert!(
        projects.contains(&"alpha") && projects.contains(&"default"),
        "{usage}"
    );
    let (status, _) = server.get_json("/api/traces");
    assert_eq!(status.as_u16(), 403, "the operator reads no project");

    let audit = sextant(&["audit", "--project", "alpha"], &data_dir);
    assert!(
        audit.contains("key.create")
            && audit.contains("key.revoke")
            && audit.contains("auth.failed"),
        "{audit}"
    );
}

/// `[limits.projects.<id>]` in the config file reaches the server: past the rate, 429
/// with `Retry-After` (open mode: the project is `default`).
#[test]
fn limits_from_the_config_file_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[limits.projects.default]\ningest_spans_per_second = 0.001\n";
    let server = Server::start(&dir.path().join("data"), config);
    assert!(server.export_protobuf(&export_request(1, 0)).is_success());
    let response = server
        .client()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(prost::Message::encode_to_vec(&export_request(1, 1)))
        .send()
        .expect("export");
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().contains_key("retry-after"));
}
