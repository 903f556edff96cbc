//! Secrets never reach disk: credentials an agent read or typed, sent by the official OTLP
//! exporters in span attributes and log events, are stored as `[REDACTED:<kind>]` only —
//! no SQL over spans or logs, no search and no file in the data directory holds them.

use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
use opentelemetry::trace::{Span, Tracer, TracerProvider as _};
use opentelemetry_otlp::{LogExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;

use crate::server::Server;

/// The secret part of the GitHub token (one search term: letters and digits only).
const TOKEN_BODY: &str = "sEcReTotter1234567890abcdefghijklmno";
const AWS_KEY: &str = "AKIAOTTEREXAMPLE1234";
const SERVICE: &str = "redaction-agent";

fn token() -> String {
    format!("ghp_{TOKEN_BODY}")
}

fn dotenv() -> String {
    format!(
        "AWS_ACCESS_KEY_ID={AWS_KEY}\nGITHUB_TOKEN={}\nDB_PASSWORD=otterpass99\n",
        token()
    )
}

fn resource() -> Resource {
    Resource::builder().with_service_name(SERVICE).build()
}

/// A tool span whose result is a `.env` file the agent read.
fn export_tool_span(server: &Server) {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(server.url("/v1/traces"))
        .build()
        .expect("span exporter");
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("sextant-e2e");
    let mut tool = tracer.span_builder("execute_tool read_file").start(&tracer);
    tool.set_attributes([
        KeyValue::new("gen_ai.operation.name", "execute_tool"),
        KeyValue::new("gen_ai.tool.name", "read_file"),
        KeyValue::new("gen_ai.tool.call.arguments", r#"{"path":".env"}"#),
        KeyValue::new(
            "gen_ai.tool.call.result",
            format!("walrusmarker\n{}", dotenv()),
        ),
    ]);
    tool.end();
    provider.force_flush().expect("flush spans");
    provider.shutdown().expect("shutdown spans");
}

/// A Claude Code style `tool_result` event whose command carries the token.
fn export_tool_event(server: &Server) {
    let exporter = LogExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(server.url("/v1/logs"))
        .build()
        .expect("log exporter");
    let provider = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(resource())
        .build();
    let logger = provider.logger("com.anthropic.claude_code.events");
    let command = format!(
        "curl -H 'Authorization: token {}' https://api.github.com/user",
        token()
    );
    let mut record = logger.create_log_record();
    record.set_body(AnyValue::from(format!(
        "claude_code.tool_result walrusmarker {command}"
    )));
    record.add_attribute("event.name", "tool_result");
    record.add_attribute("session.id", "redaction-session");
    record.add_attribute("tool_name", "Bash");
    record.add_attribute(
        "tool_input",
        serde_json::json!({ "command": command }).to_string(),
    );
    logger.emit(record);
    provider.force_flush().expect("flush logs");
    provider.shutdown().expect("shutdown logs");
}

fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walkdir(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if bytes.windows(needle.len()).any(|window| window == needle) {
            found.push(entry.display().to_string());
        }
    }
    found
}

fn walkdir(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walkdir(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn search_hits(server: &Server, query: &str) -> Vec<Value> {
    let (status, found) = server.get_json(&format!("/api/search?q={query}&limit=50"));
    assert!(status.is_success(), "{status} {found}");
    found["hits"].as_array().cloned().unwrap_or_default()
}

#[test]
fn secrets_agents_send_are_stored_only_as_markers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let server = Server::start(&data_dir, "");
    export_tool_span(&server);
    export_tool_event(&server);
    let spans = format!("SELECT count(*) AS n FROM spans WHERE service_name = '{SERVICE}'");
    assert_eq!(server.wait_for_count(&spans, 1), 1);
    let logs = format!("SELECT count(*) AS n FROM logs WHERE service_name = '{SERVICE}'");
    assert_eq!(server.wait_for_count(&logs, 1), 1);

    // Every column of every stored row: markers, never the values.
    let span_rows = server.sql(&format!(
        "SELECT * FROM spans WHERE service_name = '{SERVICE}'"
    ));
    let log_rows = server.sql(&format!(
        "SELECT * FROM logs WHERE service_name = '{SERVICE}'"
    ));
    let stored = serde_json::to_string(&(span_rows, log_rows)).expect("json");
    for secret in [TOKEN_BODY, AWS_KEY, "otterpass99"] {
        assert!(!stored.contains(secret), "{secret} stored: {stored}");
    }
    for marker in [
        "[REDACTED:github_token]",
        "[REDACTED:aws_access_key]",
        "[REDACTED:secret_assignment]",
    ] {
        assert!(stored.contains(marker), "{marker} missing: {stored}");
    }
    // The text around them is kept: the tool's result still says which file it was.
    assert!(
        stored.contains("GITHUB_TOKEN=[REDACTED:github_token]"),
        "{stored}"
    );

    // Search finds the runs by their other words, never by the secret.
    let deadline = Instant::now() + Duration::from_secs(10);
    while search_hits(&server, "walrusmarker").len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(search_hits(&server, "walrusmarker").len(), 2);
    assert!(search_hits(&server, TOKEN_BODY).is_empty());
    // The marker is a word of its own: the runs that handled a secret are one search away.
    assert_eq!(search_hits(&server, "REDACTED").len(), 2);
    assert!(search_hits(&server, AWS_KEY).is_empty());

    // Nor does any file: the WAL, Parquet, the index.
    assert_eq!(
        files_holding(&data_dir, TOKEN_BODY.as_bytes()),
        Vec::<String>::new()
    );
    assert_eq!(
        files_holding(&data_dir, AWS_KEY.as_bytes()),
        Vec::<String>::new()
    );

    let redacted = server
        .metric("sextant_secrets_redacted_total")
        .expect("a redaction counter on /metrics");
    // Span: token, AWS key, password; event: the token in the body and in tool_input.
    assert_eq!(redacted, 5);
}
