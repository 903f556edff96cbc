//! A scripted Anthropic Messages endpoint on loopback for driving real agent CLIs: the first
//! model call answers with one `Bash` tool use, the call that carries its result with a final
//! text. Streaming (SSE) and non-streaming; tolerates the CLI's `HEAD /` probe and side calls.

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

impl ScriptedAnthropic {
    pub fn start() -> ScriptedAnthropic {
        let model_calls = Arc::new(AtomicUsize::new(0));
        let calls = model_calls.clone();
        let router = Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let calls = calls.clone();
            async move { answer(&method, &uri, &body, &calls) }
        });
        let (address, runtime) = serve_on_loopback(router);
        ScriptedAnthropic {
            base_url: format!("http://{address}"),
            model_calls,
            _runtime: runtime,
        }
    }
}

fn answer(method: &Method, uri: &Uri, body: &[u8], calls: &AtomicUsize) -> Response {
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
    let has_tool_result = String::from_utf8_lossy(body).contains("tool_result");
    let block = if has_tool_result {
        json!({"type": "text", "text": FINAL_TEXT})
    } else {
        json!({
            "type": "tool_use",
            "id": "toolu_01otter",
            "name": "Bash",
            "input": {"command": TOOL_COMMAND, "description": "Run the otter check"}
        })
    };
    let stop_reason = if has_tool_result {
        "end_turn"
    } else {
        "tool_use"
    };
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
    let (start_block, delta) = if has_tool_result {
        (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": FINAL_TEXT}),
        )
    } else {
        (
            json!({"type": "tool_use", "id": "toolu_01otter", "name": "Bash", "input": {}}),
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
