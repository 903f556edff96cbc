//! The model gateway's translation: what an agent CLI sends, in the wire shape it speaks,
//! becomes one provider-neutral [`ModelRequest`]; the candidate's [`Turn`] goes back in
//! that same shape, as one JSON body or as the server-sent events of a stream.
//!
//! Three shapes, one module each: Anthropic Messages (`anthropic_wire.rs`, Claude Code),
//! OpenAI Chat Completions (`chat_wire.rs`) and OpenAI Responses (`responses_wire.rs`,
//! Codex). Translating between them is parse in one, render in another: the candidate is
//! called through [`crate::providers`] in its own shape.
//!
//! [`registry`] holds the runs being served (upstream, token, project); [`answer`] handles
//! one call end to end; [`cassette`] records and replays answers byte for byte;
//! [`call_span`] records each call as an llm span tagged with the run.
//!
//! A streamed answer is rendered from the finished turn (the gateway waits for the
//! candidate, then sends the events at once): agents get the stream they asked for, and a
//! replay needs the whole turn anyway.

pub mod answer;
pub mod anthropic_wire;
pub mod call_span;
pub mod cassette;
pub mod chat_wire;
pub mod registry;
pub mod responses_wire;

use serde_json::Value;

use crate::messages::Turn;
use crate::providers::ModelRequest;
use crate::suite::Provider;

/// One call an agent made, read from its wire shape.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRequest {
    /// The shape it came in, and the one the answer goes back in.
    pub shape: Provider,
    /// The model the agent asked for (answers name it back).
    pub model: String,
    pub stream: bool,
    pub request: ModelRequest,
    /// Responses "custom" tools (free-form input, like Codex's `apply_patch`): their calls
    /// carry `{"input": text}` inside Sextant and go back as custom tool calls.
    pub custom_tools: Vec<String>,
}

/// Reads an agent's request body in `shape`; the error names what is wrong.
pub fn parse_request(shape: Provider, body: &Value) -> Result<GatewayRequest, String> {
    match shape {
        Provider::Anthropic => anthropic_wire::parse_request(body),
        Provider::OpenaiChat => chat_wire::parse_request(body),
        Provider::OpenaiResponses => responses_wire::parse_request(body),
    }
}

/// The answer to `request` as one JSON body in its shape.
pub fn render_response(request: &GatewayRequest, turn: &Turn, id: &str) -> Value {
    match request.shape {
        Provider::Anthropic => anthropic_wire::render_response(&request.model, turn, id),
        Provider::OpenaiChat => chat_wire::render_response(&request.model, turn, id),
        Provider::OpenaiResponses => responses_wire::render_response(request, turn, id),
    }
}

/// The answer to `request` as a complete server-sent event stream in its shape.
pub fn render_stream(request: &GatewayRequest, turn: &Turn, id: &str) -> String {
    match request.shape {
        Provider::Anthropic => anthropic_wire::render_stream(&request.model, turn, id),
        Provider::OpenaiChat => chat_wire::render_stream(&request.model, turn, id),
        Provider::OpenaiResponses => responses_wire::render_stream(request, turn, id),
    }
}

/// One server-sent event: an optional name and one JSON data line.
pub(crate) fn sse_event(name: Option<&str>, data: &Value) -> String {
    match name {
        Some(name) => format!("event: {name}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// A string field, or an error naming it.
pub(crate) fn required_str<'a>(body: &'a Value, field: &str) -> Result<&'a str, String> {
    body.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the request has no {field:?} string"))
}

/// The parameters a candidate gets from the agent's request: sampling and length only.
pub(crate) fn sampling_params(
    body: &Value,
    max_tokens_fields: &[&str],
) -> std::collections::BTreeMap<String, Value> {
    let mut params = std::collections::BTreeMap::new();
    for field in ["temperature", "top_p"] {
        if let Some(value) = body.get(field).filter(|value| value.is_number()) {
            params.insert(field.to_owned(), value.clone());
        }
    }
    if let Some(value) = max_tokens_fields
        .iter()
        .find_map(|field| body.get(*field).filter(|value| value.is_u64()))
    {
        params.insert("max_tokens".to_owned(), value.clone());
    }
    params
}

/// Text of a content value that may be a string or a list of typed text parts.
pub(crate) fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The tool call ids of a turn, made up where the candidate gave none (some local servers
/// don't): agents need an id to send the result back under.
pub(crate) fn call_id(id: &str, index: usize, prefix: &str, response_id: &str) -> String {
    if id.is_empty() {
        format!("{prefix}{response_id}_{index}")
    } else {
        id.to_owned()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use crate::messages::{Message, Part, Role, ToolCallRequest, Turn};

    /// The conversation every shape's sample request holds: a prompt, a turn with text and a
    /// tool call, its result, a follow-up.
    pub fn tool_loop_messages() -> Vec<Message> {
        vec![
            Message {
                role: Role::User,
                parts: vec![Part::Text("fix the test".into())],
            },
            Message {
                role: Role::Assistant,
                parts: vec![
                    Part::Text("Running it.".into()),
                    Part::ToolCall {
                        id: "toolu_1".into(),
                        name: "Bash".into(),
                        arguments: json!({"command": "cargo test"}),
                    },
                ],
            },
            Message {
                role: Role::Tool,
                parts: vec![Part::ToolResult {
                    id: "toolu_1".into(),
                    content: "1 failed".into(),
                }],
            },
            Message {
                role: Role::User,
                parts: vec![Part::Text("go on".into())],
            },
        ]
    }

    /// A candidate's answer with text and two tool calls.
    pub fn sample_turn() -> Turn {
        Turn {
            text: "Fixing the off-by-one.".into(),
            tool_calls: vec![
                ToolCallRequest {
                    id: "call_a".into(),
                    name: "Edit".into(),
                    arguments: json!({"file_path": "src/lib.rs", "old_string": "<", "new_string": "<="}),
                },
                ToolCallRequest {
                    id: "call_b".into(),
                    name: "Bash".into(),
                    arguments: json!({"command": "cargo test"}),
                },
            ],
            input_tokens: Some(1200),
            output_tokens: Some(85),
        }
    }
}
