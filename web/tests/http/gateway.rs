//! The model gateway: an Anthropic-speaking agent's calls answered by an OpenAI Chat
//! candidate (a scripted server on loopback), recorded as spans in the agent's trace,
//! refused without the run's token, recorded into a cassette and replayed from it byte
//! for byte.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use sextant_evals::gateway::cassette::{Cassette, CassetteRecorder};
use sextant_evals::gateway::registry::{GatewayRun, Upstream};
use sextant_evals::providers::ProviderClient;
use sextant_evals::suite::{ModelConfig, Provider};

use crate::{TestApp, app, call_text, flush, sql};

const TRACEPARENT: &str = "00-5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e-1111111111111111-01";

/// An OpenAI Chat endpoint that always asks for `cargo test`, keeping what it was sent.
async fn scripted_candidate() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let captured = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let captured = captured.clone();
            async move {
                captured.lock().expect("lock").push(body);
                Json(json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "model": "scripted-model",
                    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                        "role": "assistant", "content": "Running the tests.",
                        "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "Bash", "arguments": "{\"command\":\"cargo test\"}"}}]}}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 7}
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{address}/v1"), seen)
}

fn claude_request(stream: bool, result: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1000,
        "stream": stream,
        "system": [{"type": "text", "text": "You are Claude Code."}],
        "tools": [{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "fix the failing test"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result}]}
        ]
    })
}

async fn post_messages(
    app: &TestApp,
    run: &str,
    token: &str,
    body: &Value,
) -> (StatusCode, String) {
    let request = Request::post(format!("/gateway/{run}/ex-1/0/anthropic/v1/messages"))
        .header("content-type", "application/json")
        .header("x-api-key", token)
        .header("traceparent", TRACEPARENT)
        .body(Body::from(body.to_string()))
        .expect("request");
    call_text(app, request).await
}

#[tokio::test]
async fn an_anthropic_agent_is_answered_by_an_openai_candidate_and_recorded() {
    sextant_evals::providers::http::install_crypto_provider();
    let app = app();
    let (base_url, seen) = scripted_candidate().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cassette_path = dir.path().join("run-1.cassette.jsonl");
    let client = ProviderClient::new(&ModelConfig::new(
        Provider::OpenaiChat,
        &base_url,
        "scripted-model",
    ))
    .expect("client");
    app.state.gateway.register(GatewayRun::new(
        "run-1",
        "default",
        "run-1-token",
        Upstream::Candidate {
            client,
            recorder: Some(CassetteRecorder::create(&cassette_path).expect("cassette")),
        },
    ));

    let (status, body) =
        post_messages(&app, "run-1", "run-1-token", &claude_request(false, "a.rs")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["stop_reason"], "tool_use");
    assert_eq!(
        answer["content"][0],
        json!({"type": "text", "text": "Running the tests."})
    );
    assert_eq!(
        answer["content"][1],
        json!({"type": "tool_use", "id": "call_1", "name": "Bash", "input": {"command": "cargo test"}})
    );
    assert_eq!(
        answer["usage"],
        json!({"input_tokens": 50, "output_tokens": 7})
    );
    // The candidate got the conversation in its own shape.
    let sent = seen.lock().expect("lock")[0].clone();
    assert_eq!(sent["model"], "scripted-model");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "You are Claude Code."})
    );
    assert_eq!(
        sent["messages"][3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "a.rs"})
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "Bash");

    let (status, streamed) =
        post_messages(&app, "run-1", "run-1-token", &claude_request(true, "a.rs")).await;
    assert_eq!(status, StatusCode::OK, "{streamed}");
    assert!(streamed.starts_with("event: message_start\n"), "{streamed}");
    assert!(
        streamed.contains("\"partial_json\":\"{\\\"command\\\":\\\"cargo test\\\"}\""),
        "{streamed}"
    );
    assert!(
        streamed
            .trim_end()
            .ends_with("data: {\"type\":\"message_stop\"}"),
        "{streamed}"
    );

    for (run, token) in [
        ("run-1", "wrong"),
        ("run-1", ""),
        ("no-such-run", "run-1-token"),
    ] {
        let (status, body) = post_messages(&app, run, token, &claude_request(false, "a.rs")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{run} {token}: {body}");
        assert!(body.contains("authentication_error"), "{body}");
    }
    let bad = Request::post("/gateway/run-1/ex-1/0/anthropic/v1/messages")
        .header("x-api-key", "run-1-token")
        .body(Body::from("{\"model\": \"m\"}"))
        .expect("request");
    let (status, body) = call_text(&app, bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("messages"), "{body}");
    let probe = Request::head("/gateway/run-1/ex-1/0/anthropic")
        .body(Body::empty())
        .expect("request");
    assert_eq!(call_text(&app, probe).await.0, StatusCode::OK);

    // Each model call is an llm span in the agent's trace, tagged with the run.
    flush(&app);
    let (status, rows) = sql(
        &app,
        "SELECT trace_id, span_type, request_model, response_model, output_tokens, \
         attributes LIKE '%eval.run_id%run-1%' AS tagged FROM spans \
         WHERE service_name = 'sextant-gateway' ORDER BY start_time",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let rows = rows["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["trace_id"], "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e");
    assert_eq!(rows[0]["span_type"], "llm");
    assert_eq!(rows[0]["request_model"], "claude-sonnet-4-5");
    assert_eq!(rows[0]["response_model"], "scripted-model");
    assert_eq!(rows[0]["output_tokens"], 7);
    assert_eq!(rows[0]["tagged"], true, "{rows:?}");

    // The cassette answers the same request byte for byte, and names what differs otherwise.
    app.state.gateway.register(GatewayRun::new(
        "run-2",
        "default",
        "run-2-token",
        Upstream::Cassette(Cassette::load(&cassette_path).expect("load cassette")),
    ));
    let (status, replayed) =
        post_messages(&app, "run-2", "run-2-token", &claude_request(false, "a.rs")).await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed, body_of_first_call(&cassette_path));
    let (status, miss) =
        post_messages(&app, "run-2", "run-2-token", &claude_request(false, "b.rs")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{miss}");
    assert!(miss.contains("/messages/2/parts/0"), "{miss}");
    assert!(miss.contains("a.rs") && miss.contains("b.rs"), "{miss}");
    assert_eq!(
        seen.lock().expect("lock").len(),
        2,
        "the cassette never calls the candidate"
    );
}

/// The body the first recorded call answered with.
fn body_of_first_call(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).expect("cassette");
    let first: Value = serde_json::from_str(text.lines().next().expect("a line")).expect("entry");
    first["body"].as_str().expect("body").to_owned()
}
