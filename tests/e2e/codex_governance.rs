//! What did Codex touch? The real Codex CLI (`codex exec`), driven by a scripted OpenAI
//! Responses endpoint, runs a command and then reaches a loopback host with `curl`; its log
//! events, exported to Sextant, become `agent_actions` rows of its thread
//! (`conversation.id`): each program of the command, the host and its program.
//!
//! Not here: `apply_patch`. Codex offers that tool only to models whose metadata it knows,
//! and with a custom provider it falls back to metadata without it ("unsupported call");
//! the patch reading is covered by unit tests and the `gamma` SQL fixture.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sextant_evals::gateway::{parse_request, render_stream};
use sextant_evals::messages::{ToolCallRequest, Turn};
use sextant_evals::suite::Provider;

use crate::agent_replay::codex;
use crate::loopback::serve_on_loopback;
use crate::server::Server;

const COMMAND: &str = "echo governed > proof.txt && ls";
const FETCH: &str = "curl -s --max-time 2 http://127.0.0.1:9/health || true";

/// Tool outputs in a Responses request's input: the script's next step.
fn tool_outputs(body: &Value) -> usize {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| {
            matches!(
                item["type"].as_str(),
                Some("function_call_output" | "custom_tool_call_output")
            )
        })
        .count()
}

/// The step's answer: `exec_command` twice, then a final text.
fn turn_for(step: usize) -> Turn {
    let call = |name: &str, arguments: Value| ToolCallRequest {
        id: format!("call_gov_{step}"),
        name: name.to_string(),
        arguments,
    };
    let (text, tool_calls) = match step {
        0 => (
            String::new(),
            vec![call("exec_command", json!({"cmd": COMMAND}))],
        ),
        1 => (
            String::new(),
            vec![call("exec_command", json!({"cmd": FETCH}))],
        ),
        _ => (
            "Done: proof written, health checked.".to_string(),
            Vec::new(),
        ),
    };
    Turn {
        text,
        tool_calls,
        input_tokens: Some(100),
        output_tokens: Some(10),
    }
}

fn answer(body: &[u8], calls: &AtomicUsize) -> Response {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Ok(request) = parse_request(Provider::OpenaiResponses, &body) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            "not a Responses request",
        )
            .into_response();
    };
    let step = tool_outputs(&body);
    calls.fetch_add(1, Ordering::SeqCst);
    let stream = render_stream(&request, &turn_for(step), &format!("resp_gov_{step}"));
    ([(header::CONTENT_TYPE, "text/event-stream")], stream).into_response()
}

#[test]
fn codex_commands_and_hosts_are_in_the_ledger() {
    let Some(codex) = codex() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = Router::new().fallback(move |uri: axum::http::Uri, body: Bytes| {
        let counted = counted.clone();
        async move {
            if uri.path().ends_with("/responses") {
                answer(&body, &counted)
            } else {
                axum::Json(json!({})).into_response()
            }
        }
    });
    let (address, _model_runtime) = serve_on_loopback(router);
    let codex_home = tempfile::tempdir().expect("codex home");
    let workdir = tempfile::tempdir().expect("workdir");
    let config = format!(
        r#"model = "scripted-governance"
model_provider = "scripted"
approval_policy = "never"
sandbox_mode = "danger-full-access"
[model_providers.scripted]
name = "scripted"
base_url = "http://{address}/v1"
wire_api = "responses"
env_key = "SCRIPTED_OPENAI_API_KEY"
[otel]
log_user_prompt = true
exporter = {{ otlp-http = {{ endpoint = "{}/v1/logs", protocol = "json" }} }}
"#,
        server.base_url
    );
    std::fs::write(codex_home.path().join("config.toml"), config).expect("codex config");
    let mut child = Command::new(&codex)
        .args([
            "exec",
            "--json",
            "--skip-git-repo-check",
            "write the proof and the notes",
        ])
        .current_dir(workdir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", codex_home.path())
        .env("CODEX_HOME", codex_home.path())
        .env("SCRIPTED_OPENAI_API_KEY", "sk-scripted")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn codex");
    // Not a timing assertion: the deadline only stops a hung CLI from hanging CI.
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("codex output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "codex failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        calls.load(Ordering::SeqCst) >= 3,
        "the script ran: {stdout}"
    );
    assert!(
        workdir.path().join("proof.txt").exists(),
        "the command ran: {stdout}"
    );
    let thread_id = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|event| event["thread_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no thread id in {stdout}"));

    let rows_sql = format!(
        "SELECT kind, target, program, success, decision FROM agent_actions WHERE session_id = '{thread_id}' \
         ORDER BY time, kind, program"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut rows = server.sql(&rows_sql);
    let complete = |rows: &[Value]| {
        rows.iter().any(|row| row["kind"] == "network")
            && rows.iter().any(|row| row["kind"] == "command")
    };
    while !complete(&rows) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        rows = server.sql(&rows_sql);
    }
    let all = serde_json::to_string_pretty(&rows).expect("json");
    for program in ["echo", "ls"] {
        assert!(
            rows.iter().any(|row| row["kind"] == "command"
                && row["program"] == program
                && row["target"] == COMMAND),
            "no {program} command in {all}"
        );
    }
    assert!(
        rows.iter().any(|row| row["kind"] == "network"
            && row["target"] == "127.0.0.1"
            && row["program"] == "curl"),
        "no network row for the curl in {all}"
    );
    assert!(
        rows.iter()
            .filter(|row| row["kind"] != "decision")
            .all(|row| row["success"] == true),
        "both commands succeeded: {all}"
    );
    let decisions: Vec<&Value> = rows
        .iter()
        .filter(|row| row["kind"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 2, "one approval per command: {all}");
}
