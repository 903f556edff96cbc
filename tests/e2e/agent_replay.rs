//! The `agent` replay mode with the real Claude Code CLI: a recorded task ("make test.sh
//! pass") replayed in a fresh copy of `fixtures/agent-repo`, Claude Code's model endpoint at
//! the gateway `sextant eval run` serves, the gateway answering through an OpenAI Chat
//! candidate (a scripted model on loopback), `sh test.sh` deciding the outcome. A candidate
//! that makes the fix passes the gate (exit 0); a degraded one regresses the critical
//! example (exit 1). The gateway's calls and Claude Code's own telemetry land in Sextant,
//! tagged with the run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::claude_code::{claude, npm_cli};
use crate::scripted_fixer::{Fixer, ScriptedFixer};
use crate::server::{Server, sextant};

const TASK: &str = "The add function in calc.sh subtracts. Fix it so that `sh test.sh` passes.";
const TRACE_ID: &str = "a9e0a9e0a9e0a9e0a9e0a9e0a9e0a9e0";

/// One recorded run of the task: a chat span whose user message is the task.
fn recorded_task(resource: &[(&str, &str)]) -> Value {
    let messages = json!([{"role": "user", "parts": [{"type": "text", "content": TASK}]}]);
    let attribute = |key: &str, value: &str| json!({"key": key, "value": {"stringValue": value}});
    let mut resource_attributes = vec![attribute("service.name", "fixer-agent")];
    resource_attributes.extend(resource.iter().map(|(key, value)| attribute(key, value)));
    json!({"resourceSpans": [{"resource": {"attributes": resource_attributes},
        "scopeSpans": [{"spans": [{
            "traceId": TRACE_ID, "spanId": "a9e0a9e0a9e0a9e1", "name": "chat gpt-5", "kind": 3,
            "startTimeUnixNano": "1763800000000000000", "endTimeUnixNano": "1763800001000000000",
            "attributes": [
                attribute("gen_ai.operation.name", "chat"),
                attribute("gen_ai.request.model", "gpt-5"),
                attribute("gen_ai.input.messages", &messages.to_string())]}]}]}]})
}

/// The Claude Code command of a suite.
fn claude_command(claude: &Path) -> String {
    format!(
        r#"'{}' -p "$SEXTANT_PROMPT" --output-format stream-json --verbose --allowedTools Bash --max-turns 6"#,
        claude.display()
    )
}

/// The Codex command of a suite: its provider pointed at the gateway, and its trace
/// exporter at Sextant, by `-c` overrides.
fn codex_command(codex: &Path) -> String {
    format!(
        r#"'{}' exec --json --skip-git-repo-check -s danger-full-access -c approval_policy=never -c model=scripted-fixer -c model_provider=sextant -c 'model_providers.sextant={{ name = "sextant", base_url = "{{{{ base_url }}}}/v1", wire_api = "responses", env_key = "OPENAI_API_KEY" }}' -c 'otel.trace_exporter={{ otlp-http = {{ endpoint = "{{{{ otlp_endpoint }}}}/v1/traces", protocol = "json" }} }}' "$SEXTANT_PROMPT""#,
        codex.display()
    )
}

/// The fixture repository the tasks are about.
fn fixture_repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/fixtures/agent-repo")
}

/// An agent suite over `fixtures/agent-repo` with both sides scripted fixers.
fn write_suite(
    dir: &Path,
    name: &str,
    api: &str,
    command: &str,
    candidate: &str,
    baseline: &str,
) -> std::path::PathBuf {
    let workdir = format!("workdir = \"{}\"", fixture_repo().display());
    write_suite_in(dir, name, api, command, candidate, Some(baseline), &workdir)
}

/// Like [`write_suite`], with an optional baseline model and the `[agent]` table's lines
/// beyond the command (no `workdir`: clone the recorded repository).
fn write_suite_in(
    dir: &Path,
    name: &str,
    api: &str,
    command: &str,
    candidate: &str,
    baseline: Option<&str>,
    agent_lines: &str,
) -> std::path::PathBuf {
    let baseline = baseline.map_or(String::new(), |url| {
        format!("[baseline]\nprovider = \"openai-chat\"\nbase_url = \"{url}\"\nmodel = \"scripted-fixer\"\n")
    });
    let suite = format!(
        r#"name = "{name}"
dataset = "fix-task"
mode = "agent"

[candidate]
provider = "openai-chat"
base_url = "{candidate}"
model = "scripted-fixer"

{baseline}
[agent]
api = "{api}"
command = '''{command}'''
{agent_lines}
outcome = "sh test.sh"
timeout_secs = 120
env = {{ DISABLE_AUTOUPDATER = "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1", CLAUDE_CODE_ENHANCED_TELEMETRY_BETA = "1" }}
"#,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, suite).expect("write suite");
    path
}

fn eval_run(suite: &Path, data_dir: &Path, server: &Server) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["eval", "run"])
        .arg(suite)
        .arg("--json")
        .arg(suite.with_extension("json"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--trace-to", &server.base_url])
        .env("SEXTANT_LOG", "warn")
        .output()
        .expect("run sextant eval");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// A running server whose data dir holds the recorded task and the dataset `fix-task` of
/// it, labelled critical.
fn recorded_task_dataset(dir: &Path, resource: &[(&str, &str)]) -> (Server, std::path::PathBuf) {
    let data_dir = dir.join("data");
    let server = Server::start(&data_dir, "");
    let response = server
        .client()
        .post(server.url("/v1/traces"))
        .json(&recorded_task(resource))
        .send()
        .expect("export");
    assert!(response.status().is_success());
    let recorded = server.wait_for_count(
        &format!("SELECT count(*) AS n FROM traces WHERE trace_id = '{TRACE_ID}'"),
        1,
    );
    assert_eq!(recorded, 1);
    let created = sextant(
        &[
            "dataset", "create", "fix-task", "--traces", TRACE_ID, "--label", "critical",
        ],
        &data_dir,
    );
    assert!(created.contains("1 examples added"), "{created}");

    (server, data_dir)
}

#[test]
fn claude_code_replays_a_task_through_the_gateway_and_the_outcome_gates_the_candidate() {
    let Some(claude) = claude() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, data_dir) = recorded_task_dataset(dir.path(), &[]);
    let baseline = ScriptedFixer::start(Fixer::Fixes);
    let same = ScriptedFixer::start(Fixer::Fixes);
    let degraded = ScriptedFixer::start(Fixer::Degraded);

    let suite = write_suite(
        dir.path(),
        "agent-same",
        "anthropic",
        &claude_command(&claude),
        &same.base_url,
        &baseline.base_url,
    );
    let (code, output) = eval_run(&suite, &data_dir, &server);
    assert_eq!(code, 0, "a candidate that makes the fix passes: {output}");
    // The candidate got Claude Code's conversation translated into its shape, and its fix
    // went back as a Bash tool use that Claude Code ran.
    let requests = same.requests();
    assert!(requests.len() >= 2, "{} model calls", requests.len());
    let (_, first) = &requests[0];
    assert_eq!(first["model"], "scripted-fixer");
    assert!(
        first["messages"].to_string().contains("calc.sh subtracts"),
        "{first}"
    );
    assert!(first["tools"].to_string().contains("\"Bash\""));
    assert!(
        same.saw_tool_result(),
        "the tool result came back to the candidate"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("agent-same.json")).expect("report"),
    )
    .expect("report json");
    assert!(
        report
            .to_string()
            .contains("\"files_changed\":[\"calc.sh\"]"),
        "the fix changed calc.sh: {report}"
    );
    let run_id = report["run_id"].as_i64().expect("run id");
    let page = server
        .client()
        .get(server.url(&format!("/evals/{run_id}")))
        .send()
        .and_then(|response| response.text())
        .expect("eval run page");
    assert!(
        page.contains("files changed: <code>calc.sh</code>"),
        "{page}"
    );

    let suite = write_suite(
        dir.path(),
        "agent-degraded",
        "anthropic",
        &claude_command(&claude),
        &degraded.base_url,
        &baseline.base_url,
    );
    let (code, output) = eval_run(&suite, &data_dir, &server);
    assert_eq!(
        code, 1,
        "a candidate that does not fix it regresses the critical example: {output}"
    );
    assert!(output.contains("critical example"), "{output}");
    assert!(degraded.requests().len() >= 2);

    // Every call through the gateway is an llm span tagged with its run, and Claude Code's
    // own telemetry of the runs arrived too.
    let calls = server.wait_for_count(
        "SELECT count(*) AS n FROM spans WHERE service_name = 'sextant-gateway' \
         AND attributes LIKE '%agent-degraded-%-candidate%'",
        2,
    );
    assert!(
        calls >= 2,
        "{calls} gateway spans of the degraded candidate"
    );
    let events = server.wait_for_count(
        "SELECT count(*) AS n FROM logs WHERE service_name = 'claude-code' \
         AND resource_attributes LIKE '%agent-same-%'",
        1,
    );
    assert!(events >= 1, "Claude Code's own events of the run arrived");
    // One trace per example run (two suites × candidate and baseline): Claude Code's spans
    // (started in it through TRACEPARENT) and the gateway's calls under one root.
    let shared = server.wait_for_count(
        "SELECT count(DISTINCT g.trace_id) AS n FROM spans g JOIN spans c ON g.trace_id = c.trace_id \
         WHERE g.service_name = 'sextant-gateway' AND g.span_type = 'llm' AND c.service_name = 'claude-code'",
        4,
    );
    assert_eq!(
        shared, 4,
        "each run's gateway calls and Claude Code spans share a trace"
    );
    let roots = server.sql(
        "SELECT name, status_code FROM spans WHERE service_name = 'sextant-gateway' \
         AND parent_span_id IS NULL ORDER BY status_code",
    );
    assert_eq!(roots.len(), 4, "{roots:?}");
    assert_eq!(roots[0]["name"], "invoke_agent claude");
    let failed: Vec<_> = roots
        .iter()
        .filter(|root| root["status_code"] == "error")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "only the degraded candidate's run failed: {roots:?}"
    );
}

/// The Codex CLI: `SEXTANT_CODEX`, else where `.ci/run` installs it.
pub fn codex() -> Option<PathBuf> {
    npm_cli("Codex", "SEXTANT_CODEX", "codex", "codex")
}

/// The same task through the real Codex CLI, which speaks only OpenAI Responses: its
/// `exec_command` calls reach the Chat candidate translated, the fix passes, the degraded
/// candidate regresses.
#[test]
fn codex_replays_a_task_through_the_gateway_in_the_responses_shape() {
    let Some(codex) = codex() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, data_dir) = recorded_task_dataset(dir.path(), &[]);
    let baseline = ScriptedFixer::start(Fixer::Fixes);
    let same = ScriptedFixer::start(Fixer::Fixes);
    let degraded = ScriptedFixer::start(Fixer::Degraded);
    let command = codex_command(&codex);

    let suite = write_suite(
        dir.path(),
        "codex-same",
        "openai",
        &command,
        &same.base_url,
        &baseline.base_url,
    );
    let (code, output) = eval_run(&suite, &data_dir, &server);
    assert_eq!(code, 0, "a candidate that makes the fix passes: {output}");
    let requests = same.requests();
    assert!(requests.len() >= 2, "{} model calls", requests.len());
    assert!(
        requests[0].1["tools"]
            .to_string()
            .contains("\"exec_command\"")
    );
    assert!(
        same.saw_tool_result(),
        "the command's output came back to the candidate"
    );

    let suite = write_suite(
        dir.path(),
        "codex-degraded",
        "openai",
        &command,
        &degraded.base_url,
        &baseline.base_url,
    );
    let (code, output) = eval_run(&suite, &data_dir, &server);
    assert_eq!(
        code, 1,
        "a candidate that does not fix it regresses: {output}"
    );

    let calls = server.wait_for_count(
        "SELECT count(*) AS n FROM spans WHERE service_name = 'sextant-gateway' AND span_type = 'llm' \
         AND attributes LIKE '%codex-degraded-%-candidate%'",
        2,
    );
    assert!(
        calls >= 2,
        "{calls} gateway spans of the degraded candidate"
    );
}

/// Runs `git` with a fixed identity, failing the test on error; returns its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=sextant",
            "-c",
            "user.email=sextant@localhost",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Without `agent.workdir`, a run works in a clone of the repository its recording names, at
/// the recorded commit: the bug is still there even though the repository's head fixed it,
/// so a degraded candidate fails where the fixing baseline passes.
#[test]
fn claude_code_works_in_a_clone_of_the_recorded_repository_at_its_commit() {
    let Some(claude) = claude() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let origin = dir.path().join("origin");
    std::fs::create_dir_all(&origin).expect("origin");
    for file in ["calc.sh", "test.sh"] {
        std::fs::copy(fixture_repo().join(file), origin.join(file)).expect("copy");
    }
    git(&origin, &["init", "--quiet"]);
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "--quiet", "-m", "add, with a bug"]);
    let recorded_commit = git(&origin, &["rev-parse", "HEAD"]);
    let fixed = std::fs::read_to_string(origin.join("calc.sh"))
        .expect("calc.sh")
        .replace("\" - \"", "\" + \"");
    std::fs::write(origin.join("calc.sh"), fixed).expect("fix");
    git(&origin, &["commit", "--quiet", "-am", "fixed later"]);

    let url = format!("file://{}", origin.display());
    let (server, data_dir) = recorded_task_dataset(
        dir.path(),
        &[
            ("vcs.repository.url.full", &url),
            ("vcs.ref.head.revision", &recorded_commit),
        ],
    );
    let baseline = ScriptedFixer::start(Fixer::Fixes);
    let degraded = ScriptedFixer::start(Fixer::Degraded);
    let allowed = format!("repositories = [\"file://{}/*\"]", dir.path().display());
    let suite = write_suite_in(
        dir.path(),
        "agent-clone",
        "anthropic",
        &claude_command(&claude),
        &degraded.base_url,
        Some(&baseline.base_url),
        &allowed,
    );
    let (code, output) = eval_run(&suite, &data_dir, &server);
    assert_eq!(
        code, 1,
        "at the recorded commit the degraded candidate fails: {output}"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("agent-clone.json")).expect("report"),
    )
    .expect("report json");
    assert_eq!(
        report["examples"][0]["baseline_agent_runs"][0]["files_changed"],
        json!(["calc.sh"]),
        "{report}"
    );
}

/// A recording names its repository, and anyone with an ingest key writes recordings: a
/// repository the suite does not allow is never cloned, so its code never runs. The example
/// is void (exit 2) and the message names the URL; no agent CLI is needed to see it.
#[test]
fn a_recorded_repository_the_suite_does_not_allow_is_never_cloned_or_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("pwned");
    let origin = dir.path().join("evil");
    std::fs::create_dir_all(&origin).expect("origin");
    let payload = format!("touch '{}'\n", marker.display());
    std::fs::write(origin.join("test.sh"), &payload).expect("test.sh");
    std::fs::write(origin.join("Makefile"), format!("all:\n\t{payload}")).expect("Makefile");
    git(&origin, &["init", "--quiet"]);
    git(&origin, &["add", "."]);
    git(&origin, &["commit", "--quiet", "-m", "payload"]);
    let url = format!("file://{}", origin.display());
    let (server, data_dir) =
        recorded_task_dataset(dir.path(), &[("vcs.repository.url.full", &url)]);
    // The command and the outcome would both run the payload if the clone happened.
    for (name, agent_lines) in [
        ("agent-no-policy", String::new()),
        (
            "agent-other-policy",
            "repositories = [\"https://github.com/acme/*\", \"file:///srv/repos/*\"]".into(),
        ),
    ] {
        let suite = write_suite_in(
            dir.path(),
            name,
            "anthropic",
            "sh test.sh; make",
            "http://127.0.0.1:9/v1",
            None,
            &agent_lines,
        );
        let (code, output) = eval_run(&suite, &data_dir, &server);
        assert_eq!(code, 2, "the example is void: {output}");
        assert!(!marker.exists(), "the recorded repository's code ran");
        let report: Value = serde_json::from_str(
            &std::fs::read_to_string(suite.with_extension("json")).expect("report"),
        )
        .expect("report json");
        assert_eq!(report["gate"]["verdict"], "void", "{report}");
        let void = report["examples"][0]["void"].as_str().unwrap_or_default();
        assert!(
            void.contains(&url) && void.contains("[agent] repositories"),
            "{void}"
        );
    }
}

/// The trace key goes into the agent CLI's environment, and the agent runs what a model
/// says: a key that can read the project's data is refused before anything runs.
#[test]
fn a_trace_key_that_can_read_is_never_handed_to_an_agent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, data_dir) = recorded_task_dataset(dir.path(), &[]);
    let suite = write_suite(
        dir.path(),
        "agent-key",
        "anthropic",
        "true",
        "http://127.0.0.1:9/v1",
        "http://127.0.0.1:9/v1",
    );
    for scope in ["read", "admin"] {
        let key = sextant(
            &["keys", "create", "--project", "default", "--scope", scope],
            &data_dir,
        );
        let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(["eval", "run"])
            .arg(&suite)
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--trace-to", &server.base_url])
            .env("SEXTANT_TRACE_KEY", key.trim())
            .output()
            .expect("run sextant eval");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("is a {scope} key: give an ingest key")),
            "{stderr}"
        );
    }
}

/// A suite whose baseline is a cassette: one run records the fixing model's answers; the
/// next serves them to Claude Code byte for byte (the fixing model is not called again), so
/// the baseline passes deterministically and the degraded candidate regresses.
#[test]
fn claude_code_baseline_replayed_from_a_cassette() {
    let Some(claude) = claude() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, data_dir) = recorded_task_dataset(dir.path(), &[]);
    let fixer = ScriptedFixer::start(Fixer::Fixes);
    let degraded = ScriptedFixer::start(Fixer::Degraded);
    let suite = |name: &str, candidate: &str, cassette_line: &str| {
        let lines = format!(
            "workdir = \"{}\"\n{cassette_line}",
            fixture_repo().display()
        );
        write_suite_in(
            dir.path(),
            name,
            "anthropic",
            &claude_command(&claude),
            candidate,
            None,
            &lines,
        )
    };
    let recording = suite(
        "agent-record",
        &fixer.base_url,
        r#"record_cassette = "fixer.cassette.jsonl""#,
    );
    let (code, output) = eval_run(&recording, &data_dir, &server);
    assert_eq!(code, 0, "{output}");
    let calls_recorded = fixer.requests().len();
    let cassette =
        std::fs::read_to_string(dir.path().join("fixer.cassette.jsonl")).expect("cassette");
    assert_eq!(
        cassette.lines().count(),
        calls_recorded,
        "one entry per call"
    );

    let replay = suite(
        "agent-cassette",
        &degraded.base_url,
        r#"baseline_cassette = "fixer.cassette.jsonl""#,
    );
    let (code, output) = eval_run(&replay, &data_dir, &server);
    assert_eq!(
        code, 1,
        "the cassette's baseline passes, the degraded candidate fails: {output}"
    );
    assert_eq!(
        fixer.requests().len(),
        calls_recorded,
        "the cassette never calls the model"
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("agent-cassette.json")).expect("report"),
    )
    .expect("report json");
    assert_eq!(report["examples"][0]["baseline_passed"], true, "{report}");
}

/// An agent suite with a schedule runs inside `sextant serve`, its Claude Code pointed at
/// the server's own gateway: the run is stored with its verdict, and the gateway's calls and
/// Claude Code's telemetry land in the server directly.
#[test]
fn a_scheduled_agent_suite_runs_in_the_server_against_its_own_gateway() {
    let Some(claude) = claude() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut server, data_dir) = recorded_task_dataset(dir.path(), &[]);
    assert!(server.terminate().success());
    let baseline = ScriptedFixer::start(Fixer::Fixes);
    let degraded = ScriptedFixer::start(Fixer::Degraded);
    let suite = write_suite(
        dir.path(),
        "agent-nightly",
        "anthropic",
        &claude_command(&claude),
        &degraded.base_url,
        &baseline.base_url,
    );
    let text = std::fs::read_to_string(&suite).expect("suite");
    let text = text.replace(
        "mode = \"agent\"",
        "mode = \"agent\"\nschedule = \"* * * * * *\"",
    );
    std::fs::write(&suite, text).expect("suite");
    let config = format!("[evals]\nsuites = [\"{}\"]\n", suite.display());
    let server = Server::start(&data_dir, &config);

    // The schedule fires every second; the bound only keeps a broken build from hanging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let run = loop {
        let (_, runs) = server.get_json("/api/evals/runs?suite=agent-nightly");
        if let Some(run) = runs["runs"]
            .as_array()
            .and_then(|runs| runs.first())
            .cloned()
        {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "no scheduled run");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(run["verdict"], "regression", "{run}");
    let calls = server.wait_for_count(
        "SELECT count(*) AS n FROM spans WHERE service_name = 'sextant-gateway' AND span_type = 'llm' \
         AND attributes LIKE '%agent-nightly-%-candidate%'",
        2,
    );
    assert!(calls >= 2, "{calls} gateway calls recorded by the server");
    let events = server.wait_for_count(
        "SELECT count(*) AS n FROM logs WHERE service_name = 'claude-code' \
         AND resource_attributes LIKE '%agent-nightly-%'",
        1,
    );
    assert!(events >= 1, "Claude Code's telemetry went to the server");
}
