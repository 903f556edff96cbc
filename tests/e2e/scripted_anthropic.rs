//! A scripted Anthropic Messages endpoint on loopback for driving real agent CLIs: it answers
//! a conversation holding n tool results with the script's step n (a tool use), and with a
//! final text once every step has its result. The default script is one `Bash` tool use.
//! Streaming (SSE) and non-streaming; tolerates the CLI's `HEAD /` probe and side calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::loopback::serve_on_loopback;

/// The command the scripted model asks the agent to run.
pub const TOOL_COMMAND: &str = "echo hello-otter-telemetry";
pub const FINAL_TEXT: &str = "All done: the otter test passes.";
pub const MODEL: &str = "claude-sonnet-4-5";

pub struct ScriptedAnthropic {
    pub base_url: String,
    pub model_calls: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

/// One tool use of a script: the tool's name and its input.
pub type ToolStep = (&'static str, Value);

impl ScriptedAnthropic {
    /// One `Bash` tool use running [`TOOL_COMMAND`], then the final text.
    pub fn start() -> ScriptedAnthropic {
        ScriptedAnthropic::with_steps(vec![(
            "Bash",
            json!({"command": TOOL_COMMAND, "description": "Run the otter check"}),
        )])
    }

    /// The steps' tool uses in order, then the final text.
    pub fn with_steps(steps: Vec<ToolStep>) -> ScriptedAnthropic {
        let model_calls = Arc::new(AtomicUsize::new(0));
        let calls = model_calls.clone();
        let steps = Arc::new(steps);
        let router = Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let calls = calls.clone();
            let steps = steps.clone();
            async move { answer(&method, &uri, &body, &calls, &steps) }
        });
        let (address, runtime) = serve_on_loopback(router);
        ScriptedAnthropic {
            base_url: format!("http://{address}"),
            model_calls,
            _runtime: runtime,
        }
    }
}

/// Tool results in the conversation so far: the script's next step.
fn tool_results(request: &Value) -> usize {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|message| message["content"].as_array())
        .flatten()
        .filter(|block| block["type"] == "tool_result")
        .count()
}

fn answer(
    method: &Method,
    uri: &Uri,
    body: &[u8],
    calls: &AtomicUsize,
    steps: &[ToolStep],
) -> Response {
    let path = uri.path();
    if method == Method::HEAD || path == "/" {
        return StatusCode::OK.into_response();
    }
    if path.ends_with("/count_tokens") {
        return axum::Json(json!({"input_tokens": 100})).into_response();
    }
    if method != Method::POST || !path.ends_with("/v1/messages") {
        let error = json!({"type": "error", "error": {"type": "not_found_error", "message": "scripted endpoint"}});
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    }
    calls.fetch_add(1, Ordering::SeqCst);
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let step = tool_results(&request);
    let done = step >= steps.len();
    let block = match steps.get(step) {
        None => json!({"type": "text", "text": FINAL_TEXT}),
        Some((tool, input)) => json!({
            "type": "tool_use",
            "id": format!("toolu_{:02}otter", step + 1),
            "name": tool,
            "input": input
        }),
    };
    let stop_reason = if done { "end_turn" } else { "tool_use" };
    let usage = json!({
        "input_tokens": 1200,
        "output_tokens": 42,
        "cache_read_input_tokens": 300,
        "cache_creation_input_tokens": 50
    });
    if request["stream"] != Value::Bool(true) {
        let message = json!({
            "id": "msg_scripted", "type": "message", "role": "assistant", "model": MODEL,
            "content": [block], "stop_reason": stop_reason, "stop_sequence": null, "usage": usage
        });
        return axum::Json(message).into_response();
    }
    let (start_block, delta) = if done {
        (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": FINAL_TEXT}),
        )
    } else {
        (
            json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
            json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
        )
    };
    let mut start_usage = usage.clone();
    start_usage["output_tokens"] = json!(1);
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_scripted", "type": "message", "role": "assistant", "model": MODEL,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start_block}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": 42}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    let stream: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(Body::from(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
