//! OpenAI Responses (`POST {base}/responses`): `instructions`, input items (messages,
//! `function_call`, `function_call_output`), output items.

use serde_json::{Value, json};

use super::{ModelRequest, arguments_text, decode_arguments, with_params};
use crate::messages::{Part, Role, ToolCallRequest, Turn};

pub fn body(model: &str, request: &ModelRequest) -> Value {
    let mut input = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            Role::System => "developer",
            Role::User | Role::Tool => "user",
            Role::Assistant => "assistant",
        };
        for part in &message.parts {
            input.push(match part {
                Part::Text(text) => json!({"role": role, "content": text}),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => json!({
                    "type": "function_call", "call_id": id, "name": name,
                    "arguments": arguments_text(arguments)
                }),
                Part::ToolResult { id, content } => {
                    json!({"type": "function_call_output", "call_id": id, "output": content})
                }
            });
        }
    }
    let mut body = json!({"model": model, "input": input});
    if let Some(system) = &request.system {
        body["instructions"] = Value::String(system.clone());
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|(name, description, parameters)| {
                json!({"type": "function", "name": name, "description": description, "parameters": parameters})
            })
            .collect();
    }
    let mut params = request.params.clone();
    if let Some(max_tokens) = params.remove("max_tokens") {
        body["max_output_tokens"] = max_tokens;
    }
    with_params(body, &params)
}

pub fn parse(body: &Value) -> Result<Turn, String> {
    let output = body
        .get("output")
        .and_then(Value::as_array)
        .ok_or("no output array in the response")?;
    let mut turn = Turn {
        input_tokens: body.pointer("/usage/input_tokens").and_then(Value::as_i64),
        output_tokens: body.pointer("/usage/output_tokens").and_then(Value::as_i64),
        ..Turn::default()
    };
    for item in output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for content in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(text) = content.get("text").and_then(Value::as_str) {
                        turn.text.push_str(text);
                    }
                }
            }
            Some("function_call") => turn.tool_calls.push(ToolCallRequest {
                id: item
                    .get("call_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                name: item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                arguments: item
                    .get("arguments")
                    .and_then(Value::as_str)
                    .map(decode_arguments)
                    .unwrap_or(Value::Null),
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
    fn requests_and_answers_in_the_responses_shape() {
        let body = body("gpt", &sample_request());
        assert_eq!(body["instructions"], "be brief");
        assert_eq!(body["input"][1]["type"], "function_call");
        assert_eq!(
            body["input"][2],
            json!({"type": "function_call_output", "call_id": "c1", "output": "a.rs"})
        );
        assert_eq!(body["tools"][0]["name"], "bash");
        let turn = parse(&json!({"output": [
            {"type": "reasoning"},
            {"type": "function_call", "call_id": "k", "name": "grep", "arguments": "{\"q\":\"x\"}"},
            {"type": "message", "content": [{"type": "output_text", "text": "done"}]}],
            "usage": {"input_tokens": 3, "output_tokens": 4}}))
        .expect("turn");
        assert_eq!(turn.tool_calls[0].arguments, json!({"q": "x"}));
        assert_eq!(turn.text, "done");
    }
}
