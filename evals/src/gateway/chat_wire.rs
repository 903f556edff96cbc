//! OpenAI Chat Completions as the gateway speaks it: `POST …/chat/completions` bodies in,
//! `chat.completion` bodies or `chat.completion.chunk` streams (ending in `[DONE]`) out.

use serde_json::{Value, json};

use super::{GatewayRequest, call_id, content_text, required_str, sampling_params, sse_event};
use crate::messages::{Message, Part, Role, Turn};
use crate::providers::{ModelRequest, arguments_text, decode_arguments};
use crate::suite::Provider;

pub fn parse_request(body: &Value) -> Result<GatewayRequest, String> {
    let model = required_str(body, "model")?.to_owned();
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<Message> = Vec::new();
    for (index, message) in body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("the request has no \"messages\" array")?
        .iter()
        .enumerate()
    {
        let text = content_text(message.get("content").unwrap_or(&Value::Null));
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => system.push(text),
            Some("user") => messages.push(Message {
                role: Role::User,
                parts: vec![Part::Text(text)],
            }),
            Some("assistant") => {
                let mut parts = Vec::new();
                if !text.is_empty() {
                    parts.push(Part::Text(text));
                }
                for call in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    parts.push(Part::ToolCall {
                        id: call
                            .get("id")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        name: call
                            .pointer("/function/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        arguments: decode_arguments(
                            call.pointer("/function/arguments")
                                .and_then(Value::as_str)
                                .unwrap_or("{}"),
                        ),
                    });
                }
                messages.push(Message {
                    role: Role::Assistant,
                    parts,
                });
            }
            Some("tool") => {
                let result = Part::ToolResult {
                    id: message
                        .get("tool_call_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    content: text,
                };
                // Consecutive results of one assistant turn form one tool message.
                match messages.last_mut() {
                    Some(last) if last.role == Role::Tool => last.parts.push(result),
                    _ => messages.push(Message {
                        role: Role::Tool,
                        parts: vec![result],
                    }),
                }
            }
            other => {
                return Err(format!(
                    "messages[{index}].role {other:?}: expected system, developer, user, assistant or tool"
                ));
            }
        }
    }
    let tools = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| {
                    let function = tool.get("function")?;
                    Some((
                        function.get("name")?.as_str()?.to_owned(),
                        function
                            .get("description")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        function
                            .get("parameters")
                            .cloned()
                            .unwrap_or_else(|| json!({})),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(GatewayRequest {
        shape: Provider::OpenaiChat,
        model,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        request: ModelRequest {
            system: Some(system.join("\n\n")).filter(|text| !text.is_empty()),
            messages,
            tools,
            params: sampling_params(body, &["max_completion_tokens", "max_tokens"]),
        },
        custom_tools: Vec::new(),
    })
}

fn finish_reason(turn: &Turn) -> &'static str {
    if turn.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

fn tool_calls(turn: &Turn, id: &str) -> Vec<Value> {
    turn.tool_calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            json!({
                "index": index,
                "id": call_id(&call.id, index, "call_", id),
                "type": "function",
                "function": {"name": call.name, "arguments": arguments_text(&call.arguments)},
            })
        })
        .collect()
}

fn usage(turn: &Turn) -> Value {
    let input = turn.input_tokens.unwrap_or(0);
    let output = turn.output_tokens.unwrap_or(0);
    json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output})
}

pub fn render_response(model: &str, turn: &Turn, id: &str) -> Value {
    let mut message = json!({"role": "assistant", "content": turn.text});
    let calls = tool_calls(turn, id);
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": format!("chatcmpl-{id}"),
        "object": "chat.completion",
        "created": chrono::Utc::now().timestamp(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(turn)}],
        "usage": usage(turn),
    })
}

pub fn render_stream(model: &str, turn: &Turn, id: &str) -> String {
    let created = chrono::Utc::now().timestamp();
    let chunk = |delta: Value, finish: Value, usage: Value| {
        json!({
            "id": format!("chatcmpl-{id}"),
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "usage": usage,
        })
    };
    let mut stream = sse_event(
        None,
        &chunk(
            json!({"role": "assistant", "content": turn.text}),
            Value::Null,
            Value::Null,
        ),
    );
    let calls = tool_calls(turn, id);
    if !calls.is_empty() {
        stream.push_str(&sse_event(
            None,
            &chunk(json!({"tool_calls": calls}), Value::Null, Value::Null),
        ));
    }
    stream.push_str(&sse_event(
        None,
        &chunk(json!({}), json!(finish_reason(turn)), Value::Null),
    ));
    let mut last = chunk(json!({}), Value::Null, usage(turn));
    last["choices"] = json!([]);
    stream.push_str(&sse_event(None, &last));
    stream.push_str("data: [DONE]\n\n");
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::tests::{sample_turn, tool_loop_messages};
    use crate::providers::{openai_chat, sse};

    #[test]
    fn a_chat_request_reads_as_system_messages_tools_and_results() {
        let body = json!({
            "model": "gpt-4o",
            "max_completion_tokens": 500,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "You are Claude Code."},
                {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
                {"role": "user", "content": "fix the test"},
                {"role": "assistant", "content": "Running it.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": "{\"command\":\"cargo test\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "1 failed"},
                {"role": "user", "content": "go on"}
            ],
            "tools": [{"type": "function", "function": {"name": "Bash", "description": "run", "parameters": {"type": "object"}}}]
        });
        let parsed = parse_request(&body).unwrap();
        assert_eq!(
            parsed.request.system.as_deref(),
            Some("You are Claude Code.\n\nBe brief.")
        );
        assert_eq!(parsed.request.messages, tool_loop_messages());
        assert_eq!(parsed.request.params["max_tokens"], json!(500));
        assert_eq!(parsed.request.params["temperature"], json!(0.2));
        assert_eq!(parsed.request.tools[0].0, "Bash");
    }

    #[test]
    fn answers_read_back_as_the_same_turn_json_and_streamed() {
        let turn = sample_turn();
        let body = render_response("gpt-4o", &turn, "g1");
        assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(openai_chat::parse(&body).unwrap(), turn);
        let stream = render_stream("gpt-4o", &turn, "g1");
        assert!(stream.ends_with("data: [DONE]\n\n"));
        assert_eq!(
            openai_chat::parse_stream(&sse::events(&stream)).unwrap(),
            turn
        );
    }
}
