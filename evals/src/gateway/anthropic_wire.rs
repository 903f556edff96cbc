//! Anthropic Messages as the gateway speaks it: `POST …/v1/messages` bodies in, `message`
//! bodies or `message_start` … `message_stop` event streams out.

use serde_json::{Value, json};

use super::{GatewayRequest, call_id, content_text, required_str, sampling_params, sse_event};
use crate::messages::{Message, Part, Role, Turn};
use crate::providers::ModelRequest;
use crate::suite::Provider;

pub fn parse_request(body: &Value) -> Result<GatewayRequest, String> {
    let model = required_str(body, "model")?.to_owned();
    let system = match body.get("system") {
        None | Some(Value::Null) => None,
        Some(system) => Some(content_text(system)).filter(|text| !text.is_empty()),
    };
    let mut messages = Vec::new();
    for (index, message) in body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("the request has no \"messages\" array")?
        .iter()
        .enumerate()
    {
        // Claude Code also sends `system` messages inside the conversation (reminders).
        let role = match message.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("system") => Role::System,
            other => {
                return Err(format!(
                    "messages[{index}].role {}: expected user, assistant or system",
                    other.unwrap_or("(missing)")
                ));
            }
        };
        let blocks = match message.get("content") {
            Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
            Some(Value::Array(blocks)) => blocks.clone(),
            _ => {
                return Err(format!(
                    "messages[{index}].content must be a string or an array"
                ));
            }
        };
        // Tool results ride in user messages; inside Sextant they are their own message,
        // before the user's text, in the order sent.
        let mut results = Vec::new();
        let mut parts = Vec::new();
        for block in &blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    let text = block
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    parts.push(Part::Text(text.to_owned()));
                }
                Some("tool_use") => parts.push(Part::ToolCall {
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    arguments: block.get("input").cloned().unwrap_or_else(|| json!({})),
                }),
                Some("tool_result") => results.push(Part::ToolResult {
                    id: block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    content: content_text(block.get("content").unwrap_or(&Value::Null)),
                }),
                // Thinking, images, documents: not carried to another model.
                _ => {}
            }
        }
        if !results.is_empty() {
            messages.push(Message {
                role: Role::Tool,
                parts: results,
            });
        }
        if !parts.is_empty() {
            messages.push(Message { role, parts });
        }
    }
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                // Server tools (web search, …) have no input schema and run at Anthropic.
                .filter(|tool| tool.get("input_schema").is_some())
                .map(|tool| {
                    (
                        tool.get("name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        tool.get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        tool.get("input_schema")
                            .cloned()
                            .unwrap_or_else(|| json!({})),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(GatewayRequest {
        shape: Provider::Anthropic,
        model,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        request: ModelRequest {
            system,
            messages,
            tools,
            params: sampling_params(body, &["max_tokens"]),
        },
        custom_tools: Vec::new(),
    })
}

fn stop_reason(turn: &Turn) -> &'static str {
    if turn.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

fn content_blocks(turn: &Turn, id: &str) -> Vec<Value> {
    let mut blocks = Vec::new();
    if !turn.text.is_empty() {
        blocks.push(json!({"type": "text", "text": turn.text}));
    }
    for (index, call) in turn.tool_calls.iter().enumerate() {
        blocks.push(json!({
            "type": "tool_use",
            "id": call_id(&call.id, index, "toolu_", id),
            "name": call.name,
            "input": call.arguments,
        }));
    }
    blocks
}

fn usage(turn: &Turn) -> Value {
    json!({
        "input_tokens": turn.input_tokens.unwrap_or(0),
        "output_tokens": turn.output_tokens.unwrap_or(0),
    })
}

pub fn render_response(model: &str, turn: &Turn, id: &str) -> Value {
    json!({
        "id": format!("msg_{id}"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_blocks(turn, id),
        "stop_reason": stop_reason(turn),
        "stop_sequence": null,
        "usage": usage(turn),
    })
}

pub fn render_stream(model: &str, turn: &Turn, id: &str) -> String {
    let mut stream = String::new();
    let mut start = render_response(model, turn, id);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(0);
    stream.push_str(&sse_event(
        Some("message_start"),
        &json!({"type": "message_start", "message": start}),
    ));
    for (index, block) in content_blocks(turn, id).into_iter().enumerate() {
        let (empty, delta) = match block["type"].as_str() {
            Some("tool_use") => {
                let mut empty = block.clone();
                empty["input"] = json!({});
                let partial = block["input"].to_string();
                (
                    empty,
                    json!({"type": "input_json_delta", "partial_json": partial}),
                )
            }
            _ => (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            ),
        };
        stream.push_str(&sse_event(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": index, "content_block": empty}),
        ));
        stream.push_str(&sse_event(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        stream.push_str(&sse_event(
            Some("content_block_stop"),
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    stream.push_str(&sse_event(
        Some("message_delta"),
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(turn), "stop_sequence": null},
            "usage": {"output_tokens": turn.output_tokens.unwrap_or(0)},
        }),
    ));
    stream.push_str(&sse_event(
        Some("message_stop"),
        &json!({"type": "message_stop"}),
    ));
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::tests::{sample_turn, tool_loop_messages};
    use crate::providers::{anthropic, sse};

    #[test]
    fn a_claude_code_request_reads_as_system_messages_tools_and_results() {
        let body = json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": true,
            "system": [{"type": "text", "text": "You are Claude Code."}, {"type": "text", "text": "Be brief."}],
            "tools": [
                {"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search"}
            ],
            "messages": [
                {"role": "user", "content": "fix the test"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "x"},
                    {"type": "text", "text": "Running it."},
                    {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "cargo test"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "1 failed"}]},
                    {"type": "text", "text": "go on"}
                ]}
            ]
        });
        let mut with_reminder = body.clone();
        with_reminder["messages"].as_array_mut().unwrap().insert(
            1,
            json!({"role": "system", "content": "reminder: tests live in tests/"}),
        );
        let reminded = parse_request(&with_reminder).unwrap();
        assert_eq!(reminded.request.messages[1].role, Role::System);
        assert_eq!(reminded.request.messages.len(), 5);
        let parsed = parse_request(&body).unwrap();
        assert!(parsed.stream);
        assert_eq!(parsed.model, "claude-sonnet-4-5");
        assert_eq!(
            parsed.request.system.as_deref(),
            Some("You are Claude Code.\nBe brief.")
        );
        assert_eq!(
            parsed.request.tools.len(),
            1,
            "server tools are not forwarded"
        );
        assert_eq!(parsed.request.params["max_tokens"], json!(32000));
        assert_eq!(parsed.request.messages, tool_loop_messages());
        assert!(
            parse_request(&json!({"model": "m"}))
                .unwrap_err()
                .contains("messages")
        );
    }

    #[test]
    fn answers_read_back_as_the_same_turn_json_and_streamed() {
        let turn = sample_turn();
        let body = render_response("claude-sonnet-4-5", &turn, "g1");
        assert_eq!(body["stop_reason"], "tool_use");
        assert_eq!(anthropic::parse(&body).unwrap(), turn);
        let stream = render_stream("claude-sonnet-4-5", &turn, "g1");
        assert_eq!(
            anthropic::parse_stream(&sse::events(&stream)).unwrap(),
            turn
        );
    }
}
