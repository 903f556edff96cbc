//! OpenAI Responses as the gateway speaks it (Codex speaks only this): `POST …/responses`
//! bodies in (`instructions`, input items), `response` bodies or typed event streams
//! (`response.created` … `response.completed`) out. Custom tools (free-form input, Codex's
//! `apply_patch`) travel as function tools taking `{"input": text}` and come back as
//! `custom_tool_call` items.

use serde_json::{Value, json};

use super::{GatewayRequest, call_id, content_text, required_str, sampling_params, sse_event};
use crate::messages::{Message, Part, Role, Turn};
use crate::providers::{ModelRequest, arguments_text, decode_arguments};
use crate::suite::Provider;

/// Appends a part to the last message when it has `role`, else starts a message.
fn push_part(messages: &mut Vec<Message>, role: Role, part: Part) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.parts.push(part),
        _ => messages.push(Message {
            role,
            parts: vec![part],
        }),
    }
}

fn item_str<'a>(item: &'a Value, field: &str) -> &'a str {
    item.get(field).and_then(Value::as_str).unwrap_or_default()
}

pub fn parse_request(body: &Value) -> Result<GatewayRequest, String> {
    let model = required_str(body, "model")?.to_owned();
    let mut messages = Vec::new();
    let items = match body.get("input") {
        Some(Value::String(text)) => {
            vec![json!({"type": "message", "role": "user", "content": text})]
        }
        Some(Value::Array(items)) => items.clone(),
        _ => return Err("the request has no \"input\" (a string or an array of items)".into()),
    };
    for (index, item) in items.iter().enumerate() {
        let kind = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        match kind {
            "message" => {
                let role = match item.get("role").and_then(Value::as_str) {
                    Some("user") => Role::User,
                    Some("assistant") => Role::Assistant,
                    Some("system" | "developer") => Role::System,
                    other => {
                        return Err(format!(
                            "input[{index}].role {other:?}: expected user, assistant, system or developer"
                        ));
                    }
                };
                let text = content_text(item.get("content").unwrap_or(&Value::Null));
                messages.push(Message {
                    role,
                    parts: vec![Part::Text(text)],
                });
            }
            "function_call" => push_part(
                &mut messages,
                Role::Assistant,
                Part::ToolCall {
                    id: item_str(item, "call_id").to_owned(),
                    name: item_str(item, "name").to_owned(),
                    arguments: decode_arguments(
                        item.get("arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("{}"),
                    ),
                },
            ),
            "custom_tool_call" => push_part(
                &mut messages,
                Role::Assistant,
                Part::ToolCall {
                    id: item_str(item, "call_id").to_owned(),
                    name: item_str(item, "name").to_owned(),
                    arguments: json!({"input": item_str(item, "input")}),
                },
            ),
            "function_call_output" | "custom_tool_call_output" => push_part(
                &mut messages,
                Role::Tool,
                Part::ToolResult {
                    id: item_str(item, "call_id").to_owned(),
                    content: content_text(item.get("output").unwrap_or(&Value::Null)),
                },
            ),
            // Reasoning summaries and encrypted reasoning belong to the recorded model.
            _ => {}
        }
    }
    let mut tools = Vec::new();
    let mut custom_tools = Vec::new();
    for tool in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = item_str(tool, "name").to_owned();
        let description = item_str(tool, "description").to_owned();
        match tool.get("type").and_then(Value::as_str) {
            Some("function") => tools.push((
                name,
                description,
                tool.get("parameters").cloned().unwrap_or_else(|| json!({})),
            )),
            Some("custom") => {
                let schema = json!({
                    "type": "object",
                    "properties": {"input": {"type": "string", "description": "the tool's free-form input"}},
                    "required": ["input"],
                });
                tools.push((name.clone(), description, schema));
                custom_tools.push(name);
            }
            // Hosted tools (web search, …) run at OpenAI, not in the agent.
            _ => {}
        }
    }
    Ok(GatewayRequest {
        shape: Provider::OpenaiResponses,
        model,
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        request: ModelRequest {
            system: body
                .get("instructions")
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_owned),
            messages,
            tools,
            params: sampling_params(body, &["max_output_tokens"]),
        },
        custom_tools,
    })
}

/// The output items of a turn: its text as a message, then its tool calls.
fn output_items(request: &GatewayRequest, turn: &Turn, id: &str) -> Vec<Value> {
    let mut items = Vec::new();
    if !turn.text.is_empty() {
        items.push(json!({
            "type": "message",
            "id": format!("msg_{id}"),
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": turn.text, "annotations": []}],
        }));
    }
    for (index, call) in turn.tool_calls.iter().enumerate() {
        let call_id = call_id(&call.id, index, "call_", id);
        let item_id = format!("fc_{id}_{index}");
        if request.custom_tools.contains(&call.name) {
            let input = match call.arguments.get("input") {
                Some(Value::String(input)) => input.clone(),
                _ => arguments_text(&call.arguments),
            };
            items.push(json!({
                "type": "custom_tool_call", "id": item_id, "status": "completed",
                "call_id": call_id, "name": call.name, "input": input,
            }));
        } else {
            items.push(json!({
                "type": "function_call", "id": item_id, "status": "completed",
                "call_id": call_id, "name": call.name,
                "arguments": arguments_text(&call.arguments),
            }));
        }
    }
    items
}

fn response(
    request: &GatewayRequest,
    id: &str,
    status: &str,
    output: Vec<Value>,
    turn: &Turn,
) -> Value {
    let input = turn.input_tokens.unwrap_or(0);
    let output_tokens = turn.output_tokens.unwrap_or(0);
    json!({
        "id": format!("resp_{id}"),
        "object": "response",
        "created_at": chrono::Utc::now().timestamp(),
        "status": status,
        "model": request.model,
        "output": output,
        "usage": {
            "input_tokens": input,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input + output_tokens,
        },
    })
}

pub fn render_response(request: &GatewayRequest, turn: &Turn, id: &str) -> Value {
    response(
        request,
        id,
        "completed",
        output_items(request, turn, id),
        turn,
    )
}

pub fn render_stream(request: &GatewayRequest, turn: &Turn, id: &str) -> String {
    let mut stream = String::new();
    let mut sequence = 0u64;
    let mut emit = |name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(sequence);
        sequence += 1;
        stream.push_str(&sse_event(Some(name), &data));
    };
    emit(
        "response.created",
        json!({"response": response(request, id, "in_progress", Vec::new(), &Turn::default())}),
    );
    let items = output_items(request, turn, id);
    for (index, item) in items.iter().enumerate() {
        let item_id = item["id"].clone();
        let mut added = item.clone();
        match item["type"].as_str() {
            Some("message") => {
                added["content"] = json!([]);
                added["status"] = json!("in_progress");
                emit(
                    "response.output_item.added",
                    json!({"output_index": index, "item": added}),
                );
                let part = &item["content"][0];
                let empty = json!({"type": "output_text", "text": "", "annotations": []});
                let at = json!({"item_id": item_id, "output_index": index, "content_index": 0});
                let with = |mut base: Value, field: &str, value: Value| {
                    base[field] = value;
                    base
                };
                emit(
                    "response.content_part.added",
                    with(at.clone(), "part", empty),
                );
                emit(
                    "response.output_text.delta",
                    with(at.clone(), "delta", part["text"].clone()),
                );
                emit(
                    "response.output_text.done",
                    with(at.clone(), "text", part["text"].clone()),
                );
                emit("response.content_part.done", with(at, "part", part.clone()));
            }
            kind => {
                // A tool call's input streams as one delta then its done event: free-form
                // `input` for a custom tool, JSON `arguments` for a function.
                let (field, events) = if kind == Some("custom_tool_call") {
                    ("input", "response.custom_tool_call_input")
                } else {
                    ("arguments", "response.function_call_arguments")
                };
                added[field] = json!("");
                emit(
                    "response.output_item.added",
                    json!({"output_index": index, "item": added}),
                );
                let at = json!({"item_id": item_id, "output_index": index});
                let mut delta = at.clone();
                delta["delta"] = item[field].clone();
                emit(&format!("{events}.delta"), delta);
                let mut done = at;
                done[field] = item[field].clone();
                emit(&format!("{events}.done"), done);
            }
        }
        emit(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }
    emit(
        "response.completed",
        json!({"response": response(request, id, "completed", items, turn)}),
    );
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::tests::{sample_turn, tool_loop_messages};
    use crate::providers::{openai_responses, sse};

    fn codex_body() -> Value {
        json!({
            "model": "gpt-5-codex",
            "instructions": "You are Codex.",
            "stream": true,
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the test"}]},
                {"type": "reasoning", "summary": [], "encrypted_content": "x"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running it."}]},
                {"type": "function_call", "call_id": "toolu_1", "name": "Bash", "arguments": "{\"command\":\"cargo test\"}"},
                {"type": "function_call_output", "call_id": "toolu_1", "output": "1 failed"},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]}
            ],
            "tools": [
                {"type": "function", "name": "Bash", "description": "run", "parameters": {"type": "object"}},
                {"type": "custom", "name": "apply_patch", "description": "patch files", "format": {"type": "grammar"}},
                {"type": "web_search"}
            ]
        })
    }

    #[test]
    fn a_codex_request_reads_as_instructions_items_and_tools() {
        let parsed = parse_request(&codex_body()).unwrap();
        assert!(parsed.stream);
        assert_eq!(parsed.request.system.as_deref(), Some("You are Codex."));
        assert_eq!(parsed.request.messages, tool_loop_messages());
        let names: Vec<&str> = parsed
            .request
            .tools
            .iter()
            .map(|tool| tool.0.as_str())
            .collect();
        assert_eq!(names, ["Bash", "apply_patch"]);
        assert_eq!(parsed.custom_tools, ["apply_patch"]);
    }

    #[test]
    fn answers_read_back_as_the_same_turn_json_and_streamed() {
        let request = parse_request(&codex_body()).unwrap();
        let turn = sample_turn();
        let body = render_response(&request, &turn, "g1");
        assert_eq!(openai_responses::parse(&body).unwrap(), turn);
        let stream = render_stream(&request, &turn, "g1");
        assert_eq!(
            openai_responses::parse_stream(&sse::events(&stream)).unwrap(),
            turn
        );
        let events = sse::events(&stream);
        let names: Vec<&str> = events
            .iter()
            .filter_map(|event| event.event.as_deref())
            .collect();
        assert_eq!(names.first(), Some(&"response.created"));
        assert_eq!(names.last(), Some(&"response.completed"));
        assert!(names.contains(&"response.output_text.delta"));
        assert!(names.contains(&"response.function_call_arguments.done"));
    }

    #[test]
    fn a_custom_tool_call_goes_back_as_free_form_input() {
        let request = parse_request(&codex_body()).unwrap();
        let turn = Turn {
            tool_calls: vec![crate::messages::ToolCallRequest {
                id: "c9".into(),
                name: "apply_patch".into(),
                arguments: json!({"input": "*** Begin Patch\n*** End Patch"}),
            }],
            ..Turn::default()
        };
        let body = render_response(&request, &turn, "g2");
        assert_eq!(
            body["output"][0],
            json!({"type": "custom_tool_call", "id": "fc_g2_0", "status": "completed",
                   "call_id": "c9", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch"})
        );
    }
}
