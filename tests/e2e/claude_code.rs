//! The real Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned in `.ci/run`) runs one
//! headless task against a scripted Anthropic endpoint with telemetry pointed at Sextant: its
//! session, prompt, tool call, tokens and the cost it reports itself are found through the API.
//! Once with `http/protobuf`, once with `grpc`, once logs-only (no trace export).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::scripted_anthropic::{ScriptedAnthropic, TOOL_COMMAND};
use crate::server::Server;

const PROMPT: &str = "run the otter check";

/// The Claude Code CLI: `SEXTANT_CLAUDE`, else where `.ci/run` installs it.
pub fn claude() -> Option<PathBuf> {
    npm_cli("Claude Code", "SEXTANT_CLAUDE", "claude-code", "claude")
}

/// An agent CLI `.ci/run` installs with npm under `~/.cache/sextant/<folder>`, or the path
/// in `variable`. Under `CI=true` a missing CLI fails the test instead of skipping it.
pub fn npm_cli(name: &str, variable: &str, folder: &str, binary: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os(variable).map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| {
            PathBuf::from(home)
                .join(".cache/sextant")
                .join(folder)
                .join("node_modules/.bin")
                .join(binary)
        })
    })?;
    if candidate.exists() {
        return Some(candidate);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no {name} CLI at {}: run .ci/run (it installs it) or set {variable}",
        candidate.display()
    );
    eprintln!(
        "skipping: no {name} CLI at {} (not CI)",
        candidate.display()
    );
    None
}

/// Runs `claude -p` once; returns its JSON result.
fn run_claude(claude: &Path, server: &Server, protocol: &str, export_traces: bool) -> Value {
    let model = ScriptedAnthropic::start();
    let home = tempfile::tempdir().expect("home");
    let workdir = tempfile::tempdir().expect("workdir");
    let mut command = claude_command(
        claude,
        server,
        &model,
        protocol,
        home.path(),
        workdir.path(),
    );
    command.args(["-p", PROMPT, "--output-format", "json"]);
    command.args(["--allowedTools", "Bash", "--max-turns", "4"]);
    if export_traces {
        command
            .env("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1")
            .env("OTEL_TRACES_EXPORTER", "otlp");
    }
    let result = run_to_result(command);
    assert!(
        model.model_calls.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "the CLI called the scripted model"
    );
    result
}

/// The `claude` command with its model at `model` and its logs and metrics (and details of
/// prompts and tools) exported to `server` over `protocol`; the caller adds `-p` and flags.
pub fn claude_command(
    claude: &Path,
    server: &Server,
    model: &ScriptedAnthropic,
    protocol: &str,
    home: &Path,
    workdir: &Path,
) -> Command {
    let endpoint = if protocol == "grpc" {
        server.grpc_url.clone()
    } else {
        server.base_url.clone()
    };
    let mut command = Command::new(claude);
    command
        .current_dir(workdir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ANTHROPIC_BASE_URL", &model.base_url)
        .env("ANTHROPIC_API_KEY", "sk-ant-scripted")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("CLAUDE_CODE_ENABLE_TELEMETRY", "1")
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .env("OTEL_METRICS_EXPORTER", "otlp")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_LOG_USER_PROMPTS", "1")
        .env("OTEL_LOG_TOOL_DETAILS", "1")
        .env("OTEL_LOGS_EXPORT_INTERVAL", "500")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs a `claude -p … --output-format json` command to its end; its JSON result.
pub fn run_to_result(mut command: Command) -> Value {
    let child = command.spawn().expect("spawn claude");
    let output = wait_with_deadline(child, Duration::from_secs(180));
    assert!(
        output.status.success(),
        "claude failed: {}\nstdout: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

/// Not a timing assertion: the deadline only stops a hung CLI from hanging CI.
fn wait_with_deadline(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("output")
}

fn check_claude_code(protocol: &str, export_traces: bool) {
    let Some(claude) = claude() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let result = run_claude(&claude, &server, protocol, export_traces);
    let session_id = result["session_id"]
        .as_str()
        .expect("session id")
        .to_owned();
    let reported_cost = result["total_cost_usd"].as_f64().expect("cost");
    assert!(reported_cost > 0.0, "{result}");

    let cost_events = format!(
        "SELECT count(*) AS n FROM logs WHERE session_id = '{session_id}' \
         AND event_name = 'claude_code.api_request'"
    );
    assert!(
        server.wait_for_count(&cost_events, 2) >= 2,
        "cost events arrived"
    );
    let tool_results = format!(
        "SELECT count(*) AS n FROM logs WHERE session_id = '{session_id}' \
         AND event_name = 'claude_code.tool_result' AND tool_name = 'Bash' AND success"
    );
    assert_eq!(server.wait_for_count(&tool_results, 1), 1);
    let spans = format!("SELECT count(*) AS n FROM spans WHERE session_id = '{session_id}'");
    if export_traces {
        assert!(server.wait_for_count(&spans, 4) >= 4, "spans arrived");
    }

    let (status, session) = server.get_json(&format!("/api/sessions/{session_id}"));
    assert!(status.is_success(), "{status} {session}");
    let summary = &session["summary"];
    let cost = summary["cost_usd"].as_f64().unwrap_or_default();
    assert!(
        (cost - reported_cost).abs() < 1e-6,
        "session cost {cost} vs the CLI's own {reported_cost}"
    );
    assert!(
        summary["input_tokens"].as_i64().unwrap_or_default() > 0,
        "{summary}"
    );
    // Start-up events (settings, plugins) form a group before the first prompt.
    let prompted = session["prompts"]
        .as_array()
        .and_then(|prompts| prompts.iter().find(|prompt| !prompt["prompt"].is_null()));
    assert_eq!(
        prompted.map(|prompt| &prompt["prompt"]),
        Some(&Value::from(PROMPT)),
        "{session}"
    );

    // Event text is full-text searchable: the prompt the CLI sent as a `user_prompt` event.
    let search = format!("/api/search?q=otter%20kind:log%20session:%22{session_id}%22");
    let found_prompt_event = || {
        let (status, found) = server.get_json(&search);
        assert!(status.is_success(), "{status} {found}");
        found["hits"].as_array().is_some_and(|hits| {
            hits.iter()
                .any(|hit| hit["event_name"] == "claude_code.user_prompt")
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !found_prompt_event() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        found_prompt_event(),
        "the user_prompt event is not searchable"
    );

    if export_traces {
        assert_eq!(summary["traces"], 1, "{summary}");
        let trace = &session["traces"][0];
        assert_eq!(trace["prompt"], PROMPT);
        assert_eq!(trace["tool_calls"], 1, "{trace}");
        let trace_id = trace["trace_id"].as_str().expect("trace id");
        let (status, tree) = server.get_json(&format!("/api/traces/{trace_id}"));
        assert!(status.is_success(), "{status} {tree}");
        let spans = tree["spans"].as_array().cloned().unwrap_or_default();
        let tool = spans
            .iter()
            .find(|span| span["span_type"] == "tool")
            .expect("a tool span");
        assert_eq!(tool["tool_name"], "Bash");
        assert_eq!(tool["input"], TOOL_COMMAND);
        let llm_cost: f64 = spans
            .iter()
            .filter(|span| span["span_type"] == "llm")
            .inspect(|span| assert_eq!(span["cost_source"], "event", "{span}"))
            .filter_map(|span| span["cost_usd"].as_f64())
            .sum();
        assert!(
            (llm_cost - reported_cost).abs() < 1e-6,
            "llm spans cost {llm_cost}"
        );
    } else {
        assert_eq!(summary["traces"], 0, "logs only: {summary}");
        assert_eq!(server.sql(&spans)[0]["n"], 0);
    }
}

#[test]
fn claude_code_over_http_protobuf() {
    check_claude_code("http/protobuf", true);
}

#[test]
fn claude_code_over_grpc() {
    check_claude_code("grpc", true);
}

#[test]
fn claude_code_logs_only() {
    check_claude_code("http/protobuf", false);
}
