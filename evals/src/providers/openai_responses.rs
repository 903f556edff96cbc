//! OpenAI Responses (`POST {base}/responses`): `instructions`, input items (messages,
//! `function_call`, `function_call_output`), output items.

use serde_json::{Value, json};

use super::sse::SseEvent;
use super::{ModelRequest, StreamFailure, arguments_text, decode_arguments, with_params};
use crate::messages::{Part, Role, ToolCallRequest, Turn};

pub fn body(model: &str, request: &ModelRequest, stream: bool) -> Value {
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
    if stream {
        body["stream"] = Value::Bool(true);
    }
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

/// A streamed answer: typed events. The final `response.completed` (or
/// `response.incomplete`, at a token limit) carries the whole response and is what counts;
/// `error` and `response.failed`, or a stream that ends without either, are failures to
/// retry — a cut-off stream is never scored as the model's answer.
pub fn parse_stream(events: &[SseEvent]) -> Result<Turn, StreamFailure> {
    for event in events {
        let Some(data) = event.json() else { continue };
        match data.get("type").and_then(Value::as_str).unwrap_or_default() {
            "response.completed" | "response.incomplete" => {
                let response = data.get("response").unwrap_or(&Value::Null);
                return parse(response).map_err(StreamFailure::Malformed);
            }
            "error" | "response.failed" => {
                return Err(StreamFailure::Interrupted(data.to_string()));
            }
            _ => {}
        }
    }
    Err(StreamFailure::Interrupted(
        "the stream ended before response.completed".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::tests::sample_request;

    #[test]
    fn requests_and_answers_in_the_responses_shape() {
        let body = body("gpt", &sample_request(), false);
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

    #[test]
    fn a_streamed_answer_is_its_completed_response() {
        assert_eq!(body("gpt", &sample_request(), true)["stream"], true);
        let deltas = concat!(
            "event: response.output_item.added\n",
            "data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"call_id\":\"k\",\"name\":\"grep\",\"arguments\":\"\"}}\n\n",
            "event: response.function_call_arguments.delta\n",
            "data: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":0,\"delta\":\"{\\\"q\\\":\\\"x\\\"}\"}\n\n",
        );
        // Deltas alone are a stream cut off before its end: retried, not scored.
        assert!(matches!(
            parse_stream(&crate::providers::sse::events(deltas)),
            Err(StreamFailure::Interrupted(_))
        ));
        let completed = format!(
            "{deltas}event: response.completed\ndata: {}\n\n",
            json!({"type": "response.completed", "response": {"output": [
                {"type": "function_call", "call_id": "k", "name": "grep", "arguments": "{\"q\":\"x\"}"}],
                "usage": {"input_tokens": 3, "output_tokens": 4}}})
        );
        let turn = parse_stream(&crate::providers::sse::events(&completed)).expect("turn");
        assert_eq!(turn.output_tokens, Some(4));
        assert_eq!(turn.tool_calls[0].arguments, json!({"q": "x"}));
        let failed = "data: {\"type\":\"error\",\"message\":\"overloaded\"}\n\n";
        assert!(matches!(
            parse_stream(&crate::providers::sse::events(failed)),
            Err(StreamFailure::Interrupted(_))
        ));
    }
}
