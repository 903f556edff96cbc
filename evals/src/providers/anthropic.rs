//! Anthropic Messages (`POST {base}/messages`): system prompt at the top, content blocks,
//! tool results in user messages, alternating roles, `max_tokens` required.

use serde_json::{Value, json};

use super::sse::SseEvent;
use super::{ModelRequest, PartialCall, StreamFailure, with_params};
use crate::messages::{Part, Role, ToolCallRequest, Turn};

const DEFAULT_MAX_TOKENS: u64 = 1024;

pub fn body(model: &str, request: &ModelRequest, stream: bool) -> Value {
    let mut system: Vec<String> = request.system.iter().cloned().collect();
    let mut messages: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::System => {
                for part in &message.parts {
                    if let Part::Text(text) = part {
                        system.push(text.clone());
                    }
                }
                continue;
            }
            Role::Assistant => "assistant",
            Role::User | Role::Tool => "user",
        };
        let blocks: Vec<Value> = message
            .parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => json!({"type": "text", "text": text}),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => {
                    json!({"type": "tool_use", "id": id, "name": name, "input": arguments})
                }
                Part::ToolResult { id, content } => {
                    json!({"type": "tool_result", "tool_use_id": id, "content": content})
                }
            })
            .collect();
        // Roles must alternate: consecutive messages of one role are merged.
        match messages.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let mut body = json!({
        "model": model,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": messages
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect::<Vec<_>>(),
    });
    if stream {
        body["stream"] = Value::Bool(true);
    }
    if !system.is_empty() {
        body["system"] = Value::String(system.join("\n\n"));
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|(name, description, parameters)| {
                json!({"name": name, "description": description, "input_schema": parameters})
            })
            .collect();
    }
    let mut params = request.params.clone();
    if let Some(max_tokens) = params.remove("max_tokens") {
        body["max_tokens"] = max_tokens;
    }
    with_params(body, &params)
}

pub fn parse(body: &Value) -> Result<Turn, String> {
    let content = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or("no content array in the response")?;
    let mut turn = Turn {
        input_tokens: body.pointer("/usage/input_tokens").and_then(Value::as_i64),
        output_tokens: body.pointer("/usage/output_tokens").and_then(Value::as_i64),
        ..Turn::default()
    };
    for block in content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => turn.text.push_str(
                block
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
            Some("tool_use") => turn.tool_calls.push(ToolCallRequest {
                id: block
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                name: block
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                arguments: block.get("input").cloned().unwrap_or(Value::Null),
            }),
            _ => {}
        }
    }
    Ok(turn)
}

/// One content block of a streamed message, as it grows.
enum Block {
    Text(String),
    ToolUse(PartialCall),
    Other,
}

/// A streamed message: `message_start` (input usage), `content_block_start` / `_delta`
/// (`text_delta`, `input_json_delta`) by index, `message_delta` (output usage), then
/// `message_stop`. An `error` event (e.g. `overloaded_error`) or a stream that ends before
/// `message_stop` is a failure to retry, never a half answer scored.
pub fn parse_stream(events: &[SseEvent]) -> Result<Turn, StreamFailure> {
    let mut turn = Turn::default();
    let mut blocks: Vec<Block> = Vec::new();
    let mut stopped = false;
    for event in events {
        let Some(data) = event.json() else { continue };
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
        match data.get("type").and_then(Value::as_str).unwrap_or_default() {
            "error" => return Err(StreamFailure::Interrupted(data.to_string())),
            "message_stop" => stopped = true,
            "message_start" => {
                turn.input_tokens = data
                    .pointer("/message/usage/input_tokens")
                    .and_then(Value::as_i64);
            }
            "message_delta" => {
                if let Some(output) = data.pointer("/usage/output_tokens").and_then(Value::as_i64) {
                    turn.output_tokens = Some(output);
                }
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                let started = match block.get("type").and_then(Value::as_str) {
                    Some("text") => Block::Text(
                        block
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    Some("tool_use") => {
                        let mut call = PartialCall::default();
                        call.add(
                            block.get("id").and_then(Value::as_str),
                            block.get("name").and_then(Value::as_str),
                            None,
                        );
                        Block::ToolUse(call)
                    }
                    _ => Block::Other,
                };
                if blocks.len() <= index {
                    blocks.resize_with(index + 1, || Block::Other);
                }
                blocks[index] = started;
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match (
                    blocks.get_mut(index),
                    delta.get("type").and_then(Value::as_str),
                ) {
                    (Some(Block::Text(text)), Some("text_delta")) => text.push_str(
                        delta
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default(),
                    ),
                    (Some(Block::ToolUse(call)), Some("input_json_delta")) => {
                        call.add(
                            None,
                            None,
                            delta.get("partial_json").and_then(Value::as_str),
                        );
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if !stopped {
        return Err(StreamFailure::Interrupted(
            "the stream ended before message_stop".into(),
        ));
    }
    for block in blocks {
        match block {
            Block::Text(text) => turn.text.push_str(&text),
            Block::ToolUse(call) => turn.tool_calls.push(call.finish()),
            Block::Other => {}
        }
    }
    Ok(turn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::sample_request;

    #[test]
    fn requests_and_answers_in_the_messages_shape() {
        let body = body("claude", &sample_request(), false);
        assert_eq!(body["system"], "be brief");
        assert_eq!(body["max_tokens"], 1024);
        assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
        assert_eq!(body["messages"][2]["role"], "user");
        assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "c1");
        assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
        let turn = parse(&json!({"content": [{"type": "text", "text": "ok"},
            {"type": "tool_use", "id": "t", "name": "bash", "input": {"command": "ls"}}],
            "usage": {"input_tokens": 5, "output_tokens": 1}}))
        .expect("turn");
        assert_eq!(turn.describe(), "tool bash");
        assert_eq!(turn.text, "ok");
    }

    #[test]
    fn a_streamed_message_is_assembled_from_its_blocks() {
        assert_eq!(body("claude", &sample_request(), true)["stream"], true);
        let frames = [
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 12, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Running "}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "it."}}),
            json!({"type": "content_block_stop", "index": 0}),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"command\": "}}),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"ls\"}"}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
            json!({"type": "message_stop"}),
        ];
        let body: String = frames
            .iter()
            .map(|frame| {
                format!(
                    "event: {}\ndata: {frame}\n\n",
                    frame["type"].as_str().unwrap_or_default()
                )
            })
            .collect();
        let turn = parse_stream(&crate::providers::sse::events(&body)).expect("turn");
        assert_eq!(turn.text, "Running it.");
        assert_eq!(turn.tool_calls[0].arguments, json!({"command": "ls"}));
        assert_eq!((turn.input_tokens, turn.output_tokens), (Some(12), Some(9)));
        let cut_off = body
            .split("event: message_delta")
            .next()
            .unwrap_or_default();
        assert!(matches!(
            parse_stream(&crate::providers::sse::events(cut_off)),
            Err(StreamFailure::Interrupted(_))
        ));
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n";
        assert!(matches!(
            parse_stream(&crate::providers::sse::events(overloaded)),
            Err(StreamFailure::Interrupted(_))
        ));
    }
}
