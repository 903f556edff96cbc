//! The eval harness end to end: recorded agent runs → a dataset → `sextant eval run`
//! against scripted model servers on loopback, in each API shape. The exit code is the
//! verdict: reproduce the recording → 0; the wrong tool on most tasks → 1 with the
//! divergence at its step; random answers → 3; 500s → 2 after retries; bad suites → 2.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::scripted_models::{Behaviour, ScriptedJudge, ScriptedModels};
use crate::server::{Server, sextant};

pub const TASKS: u32 = 8;

fn trace_id(task: u32) -> String {
    format!("{:032x}", 0xe7a1_0000_u64 + u64::from(task))
}

fn span_id(task: u32, index: u32) -> String {
    format!(
        "{:016x}",
        0x5a00_0000_u64 + u64::from(task) * 16 + u64::from(index)
    )
}

fn attribute(key: &str, value: Value) -> Value {
    let value = match value {
        Value::String(text) => json!({"stringValue": text}),
        Value::Number(number) => json!({"intValue": number.to_string()}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": value})
}

/// One recorded run: "task N" → bash `run N` → "ok N" → "done N".
fn recorded_run(task: u32) -> Vec<Value> {
    let start: u64 = 1_763_800_000_000_000_000 + u64::from(task) * 10_000_000_000;
    let at = |offset_ms: u64| (start + offset_ms * 1_000_000).to_string();
    let call_id = format!("c{task}");
    let user =
        json!({"role": "user", "parts": [{"type": "text", "content": format!("task {task}")}]});
    let tool_call = json!({"role": "assistant", "parts": [{"type": "tool_call", "id": call_id,
        "name": "bash", "arguments": {"command": format!("run {task}")}}]});
    let tool_result = json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id,
        "response": format!("ok {task}")}]});
    let answer = json!({"role": "assistant", "parts": [{"type": "text", "content": format!("done {task}")}]});
    let tools = json!([{"type": "function", "name": "bash", "description": "run a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}]);
    let llm = |index: u32, input: Value, output: Value, from: u64| {
        json!({"traceId": trace_id(task), "spanId": span_id(task, index), "parentSpanId": span_id(task, 0),
        "name": "chat gpt-5", "kind": 3, "startTimeUnixNano": at(from), "endTimeUnixNano": at(from + 800),
        "attributes": [
            attribute("gen_ai.operation.name", json!("chat")),
            attribute("gen_ai.provider.name", json!("openai")),
            attribute("gen_ai.request.model", json!("gpt-5")),
            attribute("gen_ai.usage.input_tokens", json!(100)),
            attribute("gen_ai.usage.output_tokens", json!(10)),
            attribute("gen_ai.input.messages", json!(input.to_string())),
            attribute("gen_ai.output.messages", json!(output.to_string())),
            attribute("gen_ai.tool.definitions", json!(tools.to_string())),
        ]})
    };
    vec![
        json!({"traceId": trace_id(task), "spanId": span_id(task, 0), "name": "invoke_agent fixer",
            "startTimeUnixNano": at(0), "endTimeUnixNano": at(3000),
            "attributes": [attribute("gen_ai.operation.name", json!("invoke_agent")),
                           attribute("gen_ai.agent.name", json!("fixer"))]}),
        llm(1, json!([user]), json!([tool_call]), 100),
        json!({"traceId": trace_id(task), "spanId": span_id(task, 2), "parentSpanId": span_id(task, 0),
            "name": "execute_tool bash", "startTimeUnixNano": at(1000), "endTimeUnixNano": at(1500),
            "attributes": [attribute("gen_ai.operation.name", json!("execute_tool")),
                           attribute("gen_ai.tool.name", json!("bash")),
                           attribute("gen_ai.tool.call.id", json!(call_id)),
                           attribute("gen_ai.tool.call.arguments", json!(format!("{{\"command\":\"run {task}\"}}"))),
                           attribute("gen_ai.tool.call.result", json!(format!("ok {task}")))]}),
        llm(
            3,
            json!([user, tool_call, tool_result]),
            json!([answer]),
            1600,
        ),
    ]
}

/// A data dir holding the recorded runs and the dataset `nightly` of all of them.
pub fn recorded_dataset(dir: &Path) -> PathBuf {
    let data_dir = dir.join("data");
    let mut server = Server::start(&data_dir, "");
    let spans: Vec<Value> = (0..TASKS).flat_map(recorded_run).collect();
    let body = json!({"resourceSpans": [{"resource": {"attributes": [attribute("service.name", json!("agent"))]},
        "scopeSpans": [{"spans": spans}]}]});
    let response = server
        .client()
        .post(server.url("/v1/traces"))
        .json(&body)
        .send()
        .expect("export");
    assert!(response.status().is_success(), "{:?}", response.text());
    assert!(server.terminate().success());
    let created = sextant(
        &[
            "dataset",
            "create",
            "nightly",
            "--from-sql",
            "SELECT trace_id FROM traces",
        ],
        &data_dir,
    );
    assert!(
        created.contains(&format!("{TASKS} examples added")),
        "{created}"
    );
    data_dir
}

pub fn write_suite(dir: &Path, name: &str, provider: &str, base_url: &str, extra: &str) -> PathBuf {
    let mode = if extra.contains("mode =") {
        ""
    } else {
        "mode = \"step\""
    };
    let path = dir.join(format!("{name}.toml"));
    let suite = format!(
        "name = \"{name}\"\ndataset = \"nightly\"\n{mode}\n{extra}\n\
         [candidate]\nprovider = \"{provider}\"\nbase_url = \"{base_url}\"\nmodel = \"candidate-1\"\n\
         params = {{ temperature = 0.0 }}\n\n\
         [[scorers]]\ntype = \"action_match\"\n[[scorers]]\ntype = \"args_match\"\nmode = \"exact\"\n"
    );
    std::fs::write(&path, suite).expect("write suite");
    path
}

pub struct EvalRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub json: Value,
    pub junit: String,
}

pub fn eval_run(data_dir: &Path, suite: &Path) -> EvalRun {
    eval_run_with(data_dir, suite, &[])
}

/// `sextant eval run` with more arguments.
pub fn eval_run_with(data_dir: &Path, suite: &Path, args: &[&str]) -> EvalRun {
    let json_path = suite.with_extension("json");
    let junit_path = suite.with_extension("xml");
    let _ = std::fs::remove_file(&json_path);
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(["eval", "run"])
        .arg(suite)
        .arg("--json")
        .arg(&json_path)
        .arg("--junit")
        .arg(&junit_path)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("SEXTANT_LOG", "warn")
        .output()
        .expect("run sextant eval");
    EvalRun {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        json: std::fs::read_to_string(&json_path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or(Value::Null),
        junit: std::fs::read_to_string(&junit_path).unwrap_or_default(),
    }
}

/// Adds a line to a suite's candidate table.
fn with_candidate_line(suite: &Path, line: &str) {
    let text = std::fs::read_to_string(suite).expect("read suite");
    let edited = text.replace(
        "model = \"candidate-1\"\n",
        &format!("model = \"candidate-1\"\n{line}\n"),
    );
    assert_ne!(text, edited, "the suite names its candidate model");
    std::fs::write(suite, edited).expect("write suite");
}

/// Makes a suite's candidate ask for streamed answers.
fn with_streaming(suite: &Path) {
    with_candidate_line(suite, "stream = true");
}

#[test]
fn reproducing_the_recording_passes_in_each_api_shape_streamed_or_not_and_reruns_are_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    for provider in ["openai-chat", "openai-responses", "anthropic"] {
        for stream in [false, true] {
            let name = if stream {
                format!("{provider}-streamed")
            } else {
                provider.to_string()
            };
            let models = ScriptedModels::start(Behaviour::Reproduce);
            let suite = write_suite(dir.path(), &name, provider, &models.base_url, "");
            if stream {
                with_streaming(&suite);
            }
            let run = eval_run(&data_dir, &suite);
            assert_eq!(run.code, 0, "{name}: {}\n{}", run.stdout, run.stderr);
            assert_eq!(run.json["gate"]["verdict"], "pass", "{name}");
            let steps = (TASKS * 2) as usize;
            assert_eq!(models.request_count(), steps, "{name}: one call per step");
            assert_eq!(
                models.streamed_count(),
                if stream { steps } else { 0 },
                "{name}: streamed calls"
            );
            assert!(
                run.junit
                    .contains(&format!("tests=\"{TASKS}\" failures=\"0\" errors=\"0\"")),
                "{}",
                run.junit
            );
            // The same suite again: every answer comes from the cache.
            let again = eval_run(&data_dir, &suite);
            assert_eq!(again.code, 0);
            assert_eq!(
                models.request_count(),
                steps,
                "{name}: rerun was not cached"
            );
        }
    }
}

#[test]
fn a_stream_cut_off_with_or_without_an_error_event_is_retried_not_scored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    for provider in ["openai-chat", "openai-responses", "anthropic"] {
        let models = ScriptedModels::start(Behaviour::InterruptFirstStreams(3));
        let name = format!("{provider}-cut-off");
        let suite = write_suite(dir.path(), &name, provider, &models.base_url, "");
        with_streaming(&suite);
        let run = eval_run(&data_dir, &suite);
        assert_eq!(run.code, 0, "{name}: {}\n{}", run.stdout, run.stderr);
        assert_eq!(run.json["gate"]["verdict"], "pass", "{name}");
        assert_eq!(
            models.request_count(),
            (TASKS * 2) as usize + 3,
            "{name}: each cut-off stream asked again once"
        );
    }
}

#[test]
fn a_wrong_tool_is_a_regression_reported_at_its_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let models = ScriptedModels::start(Behaviour::WrongToolFor((0..6).collect()));
    let suite = write_suite(
        dir.path(),
        "wrong-tool",
        "openai-chat",
        &models.base_url,
        "",
    );
    let server = Server::start(&data_dir, "");
    let run = eval_run_with(&data_dir, &suite, &["--trace-to", &server.url("")]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["gate"]["verdict"], "regression");
    assert_eq!(run.json["gate"]["baseline_only"], 6);
    let examples = run.json["examples"].as_array().cloned().unwrap_or_default();
    let wrong = examples
        .iter()
        .find(|example| example["trace_id"] == trace_id(3))
        .expect("task 3");
    assert_eq!(wrong["first_divergence"]["step"], 1, "{wrong}");
    assert_eq!(wrong["first_divergence"]["kind"], "tool");
    let right = examples
        .iter()
        .find(|example| example["trace_id"] == trace_id(7))
        .expect("task 7");
    assert_eq!(right["first_divergence"], Value::Null, "{right}");
    assert!(run.junit.contains("failures=\"6\""), "{}", run.junit);
    assert!(
        run.junit
            .contains("step 1: tool: expected tool bash, got tool grep"),
        "{}",
        run.junit
    );
    assert!(run.stdout.contains("REGRESSION"), "{}", run.stdout);

    // Every replay is a trace of its own in the server, tagged with the run: a root and a
    // chat span per step, failed where the candidate failed.
    let run_id = run.json["run_id"].as_i64().expect("run id");
    let replay_spans = server.wait_for_count(
        "SELECT count(*) AS n FROM spans WHERE service_name = 'sextant-eval'",
        i64::from(TASKS) * 3,
    );
    assert_eq!(replay_spans, i64::from(TASKS) * 3, "{}", run.stdout);
    let roots = server.sql(
        "SELECT trace_id, status_code, attributes FROM spans \
         WHERE service_name = 'sextant-eval' AND name = 'eval wrong-tool'",
    );
    assert_eq!(roots.len(), TASKS as usize);
    let failed = roots
        .iter()
        .filter(|root| root["status_code"] == "error")
        .count();
    assert_eq!(failed, 6, "{roots:?}");
    let attributes: Value =
        serde_json::from_str(roots[0]["attributes"].as_str().unwrap_or("{}")).expect("json");
    assert_eq!(attributes["eval.run_id"], json!(run_id), "{attributes}");
    assert_eq!(attributes["eval.side"], "candidate");
    let searched = server.sql(
        "SELECT count(DISTINCT trace_id) AS n FROM traces WHERE service_name = 'sextant-eval' AND has_error",
    );
    assert_eq!(searched[0]["n"], 6, "replays are runs like any other");

    // The run is stored: the API lists it, its page shows the divergence side by side.
    let (status, runs) = server.get_json("/api/evals/runs");
    assert!(status.is_success(), "{runs}");
    assert_eq!(runs["runs"][0]["verdict"], "regression", "{runs}");
    assert_eq!(runs["runs"][0]["suite"], "wrong-tool");
    let id = runs["runs"][0]["id"].as_i64().expect("run id");
    let (_, stored) = server.get_json(&format!("/api/evals/runs/{id}"));
    assert_eq!(stored["report"]["gate"]["baseline_only"], 6, "{stored}");
    let page = |path: &str| {
        server
            .client()
            .get(server.url(path))
            .send()
            .and_then(|response| response.text())
            .expect("page")
    };
    let list = page("/evals");
    assert!(
        list.contains("verdict-dot regression") && list.contains("wrong-tool"),
        "{list}"
    );
    let detail = page(&format!("/evals/{id}"));
    assert!(detail.contains("class=\"first-divergence\""), "{detail}");
    assert!(
        detail.contains("expected tool bash, got tool grep"),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("/traces/{}", trace_id(0))),
        "{detail}"
    );
}

#[test]
fn random_answers_are_inconclusive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    // Seeded: the same answers every run. Some examples fail, too few to prove a drop.
    let models = ScriptedModels::start(Behaviour::Random {
        seed: 3,
        wrong: 0.25,
    });
    let suite = write_suite(dir.path(), "random", "anthropic", &models.base_url, "");
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["gate"]["verdict"], "inconclusive");
    assert!(
        run.stdout.contains("minimum detectable effect"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_provider_failing_with_500s_makes_the_run_void_after_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let models = ScriptedModels::start(Behaviour::ServerError);
    let suite = write_suite(dir.path(), "outage", "openai-chat", &models.base_url, "");
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["gate"]["verdict"], "void");
    assert!(
        models.request_count() >= (TASKS as usize) * 4,
        "each call retried: {} requests",
        models.request_count()
    );
    assert!(
        run.junit.contains(&format!("errors=\"{TASKS}\"")),
        "{}",
        run.junit
    );
}

#[test]
fn bad_suites_are_errors_that_say_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let unknown_key = write_suite(
        dir.path(),
        "typo",
        "openai-chat",
        "http://127.0.0.1:9/v1",
        "epoch = 3",
    );
    let run = eval_run(&data_dir, &unknown_key);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("epoch"), "{}", run.stderr);

    let missing = dir.path().join("missing.toml");
    std::fs::write(
        &missing,
        std::fs::read_to_string(&unknown_key)
            .expect("suite")
            .replace("epoch = 3", "")
            .replace("\"nightly\"", "\"no-such-dataset\""),
    )
    .expect("write");
    let run = eval_run(&data_dir, &missing);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no-such-dataset"), "{}", run.stderr);

    // Nothing listens on port 9: every example is void, the run exits 2.
    let unreachable = write_suite(
        dir.path(),
        "unreachable",
        "openai-chat",
        "http://127.0.0.1:9/v1",
        "",
    );
    let run = eval_run(&data_dir, &unreachable);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("VOID"), "{}", run.stdout);
}

/// A suite scored by an LLM judge (and the turn ratio) alone.
fn judged_suite(dir: &Path, name: &str, model_url: &str, judge_url: &str) -> PathBuf {
    std::fs::write(
        dir.join("judge.j2"),
        "Task: {{ task }}\nExpected: {{ recorded.summary }}\nGot: {{ candidate.summary }}\n",
    )
    .expect("write template");
    let path = dir.join(format!("{name}.toml"));
    let suite = format!(
        "name = \"{name}\"\ndataset = \"nightly\"\nmode = \"step\"\n\n\
         [candidate]\nprovider = \"openai-chat\"\nbase_url = \"{model_url}\"\nmodel = \"candidate-1\"\n\n\
         [[scorers]]\ntype = \"judge\"\nname = \"quality\"\ntemplate = \"judge.j2\"\n\
         choices = {{ good = 1.0, bad = 0.0 }}\n\
         judge = {{ provider = \"openai-chat\", base_url = \"{judge_url}\", model = \"judge-2025-06-01\" }}\n\
         [[scorers]]\ntype = \"turn_ratio\"\n"
    );
    std::fs::write(&path, suite).expect("write suite");
    path
}

/// The judge reads each step's recorded and replayed turns from its template, reasons,
/// and gives a verdict from its choices: the six wrong first steps are judged bad, so the
/// candidate regresses on the judge's score alone. The judge runs at temperature 0 and its
/// verdicts are cached like the model's answers; a judge that gives no verdict voids.
#[test]
fn an_llm_judge_scores_each_step_and_its_verdicts_are_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let models = ScriptedModels::start(Behaviour::WrongToolFor((0..6).collect()));
    let judge = ScriptedJudge::start(true);
    let suite = judged_suite(dir.path(), "judged", &models.base_url, &judge.base_url);
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["gate"]["verdict"], "regression");
    assert_eq!(run.json["gate"]["baseline_only"], 6);
    assert_eq!(run.json["judges"], json!(["quality (judge-2025-06-01)"]));

    // Every step of both sides is judged, and identical questions are asked once (the
    // cache): each recorded step against itself, plus the six wrong first steps.
    let requests = judge.requests();
    let judged_steps = (TASKS * 2 + 6) as usize;
    assert_eq!(
        requests.len(),
        judged_steps,
        "each distinct judgement asked once"
    );
    for request in &requests {
        assert_eq!(request["temperature"], 0.0, "{request}");
        assert_eq!(request["model"], "judge-2025-06-01");
    }
    let prompt = requests[0]["messages"][0]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(prompt.starts_with("Task: task "), "{prompt}");
    assert!(
        prompt.contains("Then end with one last line") && prompt.ends_with("one of: bad, good."),
        "{prompt}"
    );

    let examples = run.json["examples"].as_array().cloned().unwrap_or_default();
    let wrong = examples
        .iter()
        .find(|example| example["trace_id"] == trace_id(3))
        .expect("task 3");
    assert_eq!(wrong["candidate_scores"]["quality"], 0.5, "{wrong}");
    assert_eq!(wrong["baseline_scores"]["quality"], 1.0, "{wrong}");
    assert_eq!(wrong["candidate_scores"]["turn_ratio"], 1.0, "{wrong}");
    let judgement = &wrong["candidate_steps"][0]["judgements"]["quality"];
    assert_eq!(judgement["choice"], "bad", "{wrong}");
    assert!(
        judgement["reasoning"]
            .as_str()
            .is_some_and(|reasoning| reasoning.starts_with("Expected")),
        "{judgement}"
    );
    assert_eq!(
        wrong["candidate_steps"][1]["judgements"]["quality"]["choice"],
        "good"
    );
    assert!(
        run.stdout.contains("quality 0.625 (baseline 1.000)")
            && run.stdout.contains("judged by quality (judge-2025-06-01)"),
        "{}",
        run.stdout
    );

    let again = eval_run(&data_dir, &suite);
    assert_eq!(again.code, 1);
    assert_eq!(
        judge.requests().len(),
        judged_steps,
        "the rerun's verdicts came from the cache"
    );

    let server = Server::start(&data_dir, "");
    let id = again.json["run_id"].as_i64().expect("run id");
    let detail = server
        .client()
        .get(server.url(&format!("/evals/{id}")))
        .send()
        .and_then(|response| response.text())
        .expect("run page");
    assert!(detail.contains("quality: <b>bad</b>"), "{detail}");
    drop(server);

    let mute = ScriptedJudge::start(false);
    let reproduce = ScriptedModels::start(Behaviour::Reproduce);
    let suite = judged_suite(
        dir.path(),
        "mute-judge",
        &reproduce.base_url,
        &mute.base_url,
    );
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("gave no verdict"), "{}", run.stdout);
}

/// A provider over HTTPS (rustls): reached when the suite's `ca_file` names the CA that
/// signed its certificate; without it the certificate is refused, nothing reaches the
/// server and the run is void.
#[test]
fn an_https_provider_is_reached_trusting_the_suites_ca_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let (models, ca_pem) = ScriptedModels::start_https(Behaviour::Reproduce);
    assert!(
        models.base_url.starts_with("https://localhost:"),
        "{}",
        models.base_url
    );
    std::fs::write(dir.path().join("gateway-ca.pem"), ca_pem).expect("write CA");
    let suite = write_suite(dir.path(), "https", "anthropic", &models.base_url, "");
    with_candidate_line(&suite, "ca_file = \"gateway-ca.pem\"");
    with_streaming(&suite);
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["gate"]["verdict"], "pass");
    let steps = (TASKS * 2) as usize;
    assert_eq!(models.request_count(), steps);

    let untrusted = write_suite(
        dir.path(),
        "https-untrusted",
        "anthropic",
        &models.base_url,
        "",
    );
    let run = eval_run(&data_dir, &untrusted);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("VOID"), "{}", run.stdout);
    assert_eq!(
        models.request_count(),
        steps,
        "no request got through the handshake"
    );

    let missing = write_suite(
        dir.path(),
        "https-missing-ca",
        "anthropic",
        &models.base_url,
        "",
    );
    with_candidate_line(&missing, "ca_file = \"no-such-ca.pem\"");
    let run = eval_run(&data_dir, &missing);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no-such-ca.pem"), "{}", run.stderr);
}

/// Trajectory replay: Sextant's loop starts from "task N", answers the tool call from the
/// recording ("ok N") and the model finishes; a wrong tool stops the run at turn 1.
#[test]
fn trajectory_replay_answers_tools_from_the_recording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let models = ScriptedModels::start(Behaviour::Reproduce);
    let extra = "mode = \"trajectory\"\non_divergence = \"stop\"";
    let suite = write_suite(
        dir.path(),
        "trajectory",
        "openai-chat",
        &models.base_url,
        extra,
    );
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json["mode"], "trajectory");
    assert_eq!(
        models.request_count(),
        (TASKS * 2) as usize,
        "a tool turn and a final turn each"
    );
    let steps = run.json["examples"][0]["candidate_steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[1]["replayed"]["text"], "done 0");

    let wrong = ScriptedModels::start(Behaviour::WrongToolFor((0..6).collect()));
    let suite = write_suite(
        dir.path(),
        "trajectory-wrong",
        "openai-responses",
        &wrong.base_url,
        extra,
    );
    let run = eval_run(&data_dir, &suite);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let first = run.json["examples"]
        .as_array()
        .and_then(|examples| {
            examples
                .iter()
                .find(|e| e["trace_id"] == trace_id(0))
                .cloned()
        })
        .expect("task 0");
    assert_eq!(first["first_divergence"]["step"], 1, "{first}");
    assert_eq!(first["first_divergence"]["kind"], "tool");
    // Stopped at the divergence: one call for each of the six wrong tasks, two for the rest.
    assert_eq!(wrong.request_count(), 6 + 2 * 2);
}

/// A suite with a schedule runs inside `sextant serve`; its regression is POSTed to the
/// suite's webhook.
#[test]
fn a_scheduled_suite_runs_in_the_server_and_its_webhook_gets_the_regression() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let models = ScriptedModels::start(Behaviour::WrongToolFor((0..6).collect()));
    let (hook_address, _hook_runtime, received) = crate::loopback::webhook_on_loopback();
    let extra = format!("schedule = \"* * * * * *\"\nwebhook = \"http://{hook_address}/hook\"");
    let suite = write_suite(
        dir.path(),
        "nightly-gate",
        "openai-chat",
        &models.base_url,
        &extra,
    );
    let config = format!("[evals]\nsuites = [\"{}\"]\n", suite.display());
    let server = Server::start(&data_dir, &config);

    // The schedule fires every second; the bound only keeps a broken build from hanging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while received.lock().expect("inbox").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let summaries = received.lock().expect("inbox").clone();
    let summary = summaries.first().expect("the webhook received a summary");
    assert_eq!(summary["suite"], "nightly-gate");
    assert_eq!(summary["verdict"], "regression", "{summary}");
    assert_eq!(
        summary["regressed"].as_array().map(Vec::len),
        Some(6),
        "{summary}"
    );
    let (_, runs) = server.get_json("/api/evals/runs?suite=nightly-gate");
    assert!(runs["runs"][0]["id"].as_i64().is_some(), "{runs}");
    // The server traced the scheduled run's replays into the suite's project itself.
    let replayed = server.wait_for_count(
        "SELECT count(DISTINCT trace_id) AS n FROM spans WHERE name = 'eval nightly-gate'",
        i64::from(TASKS),
    );
    assert!(replayed >= i64::from(TASKS), "{replayed} replays traced");
}
