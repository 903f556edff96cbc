//! Anthropic Messages (`POST {base}/messages`): system prompt at the top, content blocks,
//! tool results in user messages, alternating roles, `max_tokens` required.

use serde_json::{Value, json};

use super::{ModelRequest, with_params};
use crate::messages::{Part, Role, ToolCallRequest, Turn};

const DEFAULT_MAX_TOKENS: u64 = 1024;

pub fn body(model: &str, request: &ModelRequest) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::sample_request;

    #[test]
    fn requests_and_answers_in_the_messages_shape() {
        let body = body("claude", &sample_request());
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
}
