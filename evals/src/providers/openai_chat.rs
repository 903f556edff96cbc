//! OpenAI Chat Completions (`POST {base}/chat/completions`), the shape vLLM, llama.cpp,
//! Ollama and most gateways speak too.

use serde_json::{Value, json};

use super::{ModelRequest, arguments_text, decode_arguments, with_params};
use crate::messages::{Part, Role, ToolCallRequest, Turn};

pub fn body(model: &str, request: &ModelRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        let text: String = message
            .parts
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        match message.role {
            Role::System => messages.push(json!({"role": "system", "content": text})),
            Role::User => messages.push(json!({"role": "user", "content": text})),
            Role::Assistant => {
                let calls: Vec<Value> = message
                    .parts
                    .iter()
                    .filter_map(|part| match part {
                        Part::ToolCall {
                            id,
                            name,
                            arguments,
                        } => Some(json!({
                            "id": id, "type": "function",
                            "function": {"name": name, "arguments": arguments_text(arguments)}
                        })),
                        _ => None,
                    })
                    .collect();
                // Some servers (llama.cpp) refuse `content: null`: send "".
                let mut assistant = json!({"role": "assistant", "content": text});
                if !calls.is_empty() {
                    assistant["tool_calls"] = Value::Array(calls);
                }
                messages.push(assistant);
            }
            Role::Tool => {
                for part in &message.parts {
                    if let Part::ToolResult { id, content } = part {
                        messages
                            .push(json!({"role": "tool", "tool_call_id": id, "content": content}));
                    }
                }
            }
        }
    }
    let mut body = json!({"model": model, "messages": messages});
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|(name, description, parameters)| {
                json!({"type": "function", "function": {"name": name, "description": description, "parameters": parameters}})
            })
            .collect();
    }
    with_params(body, &request.params)
}

pub fn parse(body: &Value) -> Result<Turn, String> {
    let message = body
        .pointer("/choices/0/message")
        .ok_or("no choices[0].message in the response")?;
    let tool_calls = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .map(|call| ToolCallRequest {
                    id: call
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    name: call
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    arguments: call
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .map(decode_arguments)
                        .unwrap_or(Value::Null),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Turn {
        text: message
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        tool_calls,
        input_tokens: body.pointer("/usage/prompt_tokens").and_then(Value::as_i64),
        output_tokens: body
            .pointer("/usage/completion_tokens")
            .and_then(Value::as_i64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::sample_request;

    #[test]
    fn requests_and_answers_in_the_chat_shape() {
        let body = body("m", &sample_request());
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(
            body["messages"][2]["tool_calls"][0]["function"]["arguments"],
            "{\"command\":\"ls\"}"
        );
        assert_eq!(body["messages"][2]["content"], "");
        assert_eq!(
            body["messages"][3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "a.rs"})
        );
        assert_eq!(body["tools"][0]["function"]["name"], "bash");
        assert_eq!(body["temperature"], 0.0);
        let turn = parse(&json!({"choices": [{"message": {"content": null, "tool_calls": [
            {"id": "x", "type": "function", "function": {"name": "edit", "arguments": "{\"path\":\"a\"}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2}}))
        .expect("turn");
        assert_eq!(turn.tool_calls[0].arguments, json!({"path": "a"}));
        assert_eq!(turn.input_tokens, Some(10));
    }
}
