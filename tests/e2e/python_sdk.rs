//! The official OpenTelemetry Python SDK (`tests/python/`, in the venv `.ci/run` makes)
//! exports spans over gRPC and log events over HTTP; both come back joined by trace id.

use std::path::PathBuf;
use std::process::Command;

use crate::server::{Server, sextant};

/// The venv's Python: `SEXTANT_PYTHON`, else the venv `.ci/run` makes. Under `CI=true` a
/// missing interpreter fails the test instead of skipping it.
fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("SEXTANT_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/sextant/venv/bin/python"))
        })?;
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no python venv at {}: run .ci/run (it creates it) or set SEXTANT_PYTHON",
        candidate.display()
    );
    eprintln!(
        "skipping: no python venv at {} (not CI)",
        candidate.display()
    );
    None
}

#[test]
fn python_sdk_exports_traces_over_grpc_and_logs_over_http() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let trace_id = run_export_script(&python, &server, "pyotter", None);

    let spans = format!("SELECT count(*) AS n FROM spans WHERE trace_id = '{trace_id}'");
    assert_eq!(server.wait_for_count(&spans, 3), 3);
    let events = format!("SELECT count(*) AS n FROM logs WHERE trace_id = '{trace_id}'");
    assert_eq!(server.wait_for_count(&events, 1), 1);
    let event = server.sql(&format!(
        "SELECT event_name, session_id, model, input_tokens, body, service_name FROM logs \
         WHERE trace_id = '{trace_id}'"
    ));
    assert_eq!(event[0]["event_name"], "api_request", "{event:?}");
    assert_eq!(event[0]["session_id"], "py-pyotter");
    assert_eq!(event[0]["input_tokens"], 500);
    assert_eq!(event[0]["body"], "model call finished");
    assert_eq!(event[0]["service_name"], "python-agent");

    let (status, trace) = server.get_json(&format!("/api/traces/{trace_id}"));
    assert!(status.is_success(), "{status} {trace}");
    let tool = trace["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["span_type"] == "tool"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(tool["status_code"], "error", "{trace}");
    let (status, session) = server.get_json("/api/sessions/py-pyotter");
    assert!(status.is_success(), "{status} {session}");
    assert_eq!(session["summary"]["traces"], 1);
    assert_eq!(session["traces"][0]["llm_calls"], 1);
}

/// Runs `export_agent_run.py` against the server, with `OTEL_EXPORTER_OTLP_HEADERS` when
/// given; returns the trace id it printed.
fn run_export_script(
    python: &std::path::Path,
    server: &Server,
    marker: &str,
    otlp_headers: Option<&str>,
) -> String {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/export_agent_run.py"
    );
    let mut command = Command::new(python);
    command
        .arg(script)
        .args(["--grpc-endpoint", &server.grpc_url])
        .args(["--http-endpoint", &server.base_url])
        .args(["--marker", marker])
        .env_remove("OTEL_EXPORTER_OTLP_HEADERS");
    if let Some(headers) = otlp_headers {
        command.env("OTEL_EXPORTER_OTLP_HEADERS", headers);
    }
    let output = command.output().expect("run python");
    assert!(
        output.status.success(),
        "python exporter failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trace_id = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert_eq!(trace_id.len(), 32, "trace id {trace_id:?}");
    trace_id
}

/// The key set the way users set it, `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20…`
/// (percent-encoded, per the SDK spec), authorizes both the gRPC and the HTTP exporter,
/// and their data lands in the key's project.
#[test]
fn python_sdk_sends_the_key_from_otel_exporter_otlp_headers() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    sextant(&["projects", "create", "pyproj"], &data_dir);
    let key = |scope: &str| {
        sextant(
            &["keys", "create", "--project", "pyproj", "--scope", scope],
            &data_dir,
        )
        .trim()
        .to_string()
    };
    let (ingest, read) = (key("ingest"), key("read"));
    let mut server = Server::start(&data_dir, "");
    let headers = format!("Authorization=Bearer%20{ingest}");
    let trace_id = run_export_script(&python, &server, "pykey", Some(&headers));

    server.use_key(&read);
    let spans = format!("SELECT count(*) AS n FROM spans WHERE trace_id = '{trace_id}'");
    assert_eq!(server.wait_for_count(&spans, 3), 3, "gRPC spans arrived");
    let events = format!("SELECT count(*) AS n FROM logs WHERE trace_id = '{trace_id}'");
    assert_eq!(
        server.wait_for_count(&events, 1),
        1,
        "HTTP log events arrived"
    );
    let projects = server.sql("SELECT DISTINCT project_id FROM spans");
    assert_eq!(projects, [serde_json::json!({"project_id": "pyproj"})]);
}
