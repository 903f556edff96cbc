//! OpenAI Chat Completions (`POST {base}/chat/completions`), the shape vLLM, llama.cpp,
//! Ollama and most gateways speak too.

use serde_json::{Value, json};

use super::sse::SseEvent;
use super::{
    ModelRequest, PartialCall, StreamFailure, arguments_text, decode_arguments, with_params,
};
use crate::messages::{Part, Role, ToolCallRequest, Turn};

pub fn body(model: &str, request: &ModelRequest, stream: bool) -> Value {
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
    if stream {
        body["stream"] = Value::Bool(true);
        body["stream_options"] = json!({"include_usage": true});
    }
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

/// A streamed answer: `choices[0].delta` chunks (text, tool calls by `index` with their
/// arguments in pieces), a `finish_reason`, usage in the last chunk, then `[DONE]`. A
/// stream with neither `[DONE]` nor a `finish_reason` was cut off: retried, not scored.
pub fn parse_stream(events: &[SseEvent]) -> Result<Turn, StreamFailure> {
    let mut turn = Turn::default();
    let mut calls: Vec<PartialCall> = Vec::new();
    let mut finished = false;
    for event in events {
        if event.data.trim() == "[DONE]" {
            finished = true;
            continue;
        }
        let Some(chunk) = event.json() else { continue };
        if chunk
            .pointer("/choices/0/finish_reason")
            .is_some_and(|reason| !reason.is_null())
        {
            finished = true;
        }
        if let Some(error) = chunk.get("error") {
            return Err(StreamFailure::Interrupted(error.to_string()));
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| !usage.is_null()) {
            turn.input_tokens = usage.get("prompt_tokens").and_then(Value::as_i64);
            turn.output_tokens = usage.get("completion_tokens").and_then(Value::as_i64);
        }
        let Some(delta) = chunk.pointer("/choices/0/delta") else {
            continue;
        };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            turn.text.push_str(text);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            if calls.len() <= index {
                calls.resize_with(index + 1, PartialCall::default);
            }
            calls[index].add(
                call.get("id").and_then(Value::as_str),
                call.pointer("/function/name").and_then(Value::as_str),
                call.pointer("/function/arguments").and_then(Value::as_str),
            );
        }
    }
    if !finished {
        return Err(StreamFailure::Interrupted(
            "the stream ended before [DONE] or a finish_reason".into(),
        ));
    }
    turn.tool_calls = calls.into_iter().map(PartialCall::finish).collect();
    Ok(turn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::sample_request;

    #[test]
    fn requests_and_answers_in_the_chat_shape() {
        let body = body("m", &sample_request(), false);
        assert_eq!(body.get("stream"), None);
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

    #[test]
    fn a_streamed_answer_is_assembled_from_its_deltas() {
        assert_eq!(body("m", &sample_request(), true)["stream"], true);
        let events = crate::providers::sse::events(concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Let me \"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"look.\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c9\",\"type\":\"function\",\"function\":{\"name\":\"bash\",\"arguments\":\"\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"command\\\":\"}}]}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"ls\\\"}\"}}]}}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\n\n",
            "data: [DONE]\n\n",
        ));
        let turn = parse_stream(&events).expect("turn");
        assert_eq!(turn.text, "Let me look.");
        assert_eq!(turn.tool_calls[0].id, "c9");
        assert_eq!(turn.tool_calls[0].arguments, json!({"command": "ls"}));
        assert_eq!((turn.input_tokens, turn.output_tokens), (Some(7), Some(3)));
        let cut_off = crate::providers::sse::events(
            "data: {\"choices\":[{\"delta\":{\"content\":\"Let me \"}}]}\n\n",
        );
        assert!(matches!(
            parse_stream(&cut_off),
            Err(StreamFailure::Interrupted(_))
        ));
    }
}
