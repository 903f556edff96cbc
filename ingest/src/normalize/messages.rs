//! Canonical chat messages from every shape sources send them in.
//!
//! The canonical form is the OTel GenAI one: `[{"role", "parts": [part, …], "name"?,
//! "finish_reason"?}]` with parts `{"type":"text","content"}`, `{"type":"tool_call","id","name",
//! "arguments"}`, `{"type":"tool_call_response","id","response"}`, `{"type":"reasoning","content"}`,
//! `{"type":"uri",…}` and any other `{"type",…}` kept as sent. Accepted inputs: GenAI parts
//! form, OpenAI message form (`content`, `tool_calls[].function`, `tool_call_id`), OpenAI
//! choices (`{message, finish_reason}`), Anthropic content blocks, plain strings. Tool-call
//! arguments sent as JSON text are decoded to JSON when they parse as an object or array.

use serde_json::{Map, Value as Json, json};

use super::aliases::Direction;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};

use super::values::{any_value_to_json, json_string};

/// Canonical messages from message-list JSON text. Text that is not JSON (or not a
/// recognisable message list) is kept whole as one text part: content is never dropped.
pub fn messages_from_text(text: &str, direction: Direction) -> Vec<Json> {
    match serde_json::from_str::<Json>(text) {
        Ok(parsed @ (Json::Array(_) | Json::Object(_))) => messages_from_json(&parsed, direction),
        _ if text.trim().is_empty() => Vec::new(),
        _ => vec![message(direction.default_role(), vec![text_part(text)])],
    }
}

/// Canonical messages from a message-list attribute: JSON text or a structured value.
pub fn messages_from_any_value(value: &AnyValue, direction: Direction) -> Vec<Json> {
    match value.value.as_ref() {
        Some(Value::StringValue(text)) => messages_from_text(text, direction),
        _ => messages_from_json(&any_value_to_json(value), direction),
    }
}

/// Canonical messages from a decoded message list (or a single message).
pub fn messages_from_json(value: &Json, direction: Direction) -> Vec<Json> {
    match value {
        Json::Array(items) => items
            .iter()
            .filter_map(|item| canonical_message(item, direction))
            .collect(),
        Json::Null => Vec::new(),
        Json::String(text) => messages_from_text(text, direction),
        other => canonical_message(other, direction).into_iter().collect(),
    }
}

/// One canonical message from any accepted message shape; `None` when it carries nothing.
pub fn canonical_message(value: &Json, direction: Direction) -> Option<Json> {
    let Json::Object(object) = value else {
        let parts = content_parts(value);
        return (!parts.is_empty()).then(|| message(direction.default_role(), parts));
    };

    // An OpenAI choice (`{index, finish_reason, message}`) wraps the message itself.
    let is_message = ["role", "parts", "content", "tool_calls"]
        .iter()
        .any(|key| object.contains_key(*key));
    if !is_message && let Some(inner @ Json::Object(_)) = object.get("message") {
        let mut canonical = canonical_message(inner, direction)?;
        if let (Json::Object(fields), Some(reason)) = (
            &mut canonical,
            object.get("finish_reason").and_then(json_string),
        ) {
            fields
                .entry("finish_reason")
                .or_insert(Json::String(reason));
        }
        return Some(canonical);
    }

    let role = object
        .get("role")
        .and_then(json_string)
        .unwrap_or_else(|| direction.default_role().to_owned());
    let mut parts = match object.get("parts") {
        Some(Json::Array(parts)) => parts.iter().map(canonical_part).collect(),
        _ => content_parts(object.get("content").unwrap_or(&Json::Null)),
    };
    parts.extend(openai_tool_calls(object));

    let tool_call_id = object.get("tool_call_id").and_then(json_string);
    if let Some(id) = tool_call_id
        && !object.contains_key("parts")
    {
        // OpenAI `role: tool` messages answer one call: the content is that call's response.
        let response = object.get("content").cloned().unwrap_or(Json::Null);
        parts = vec![json!({"type": "tool_call_response", "id": id, "response": response})];
    }

    let name = object.get("name").and_then(json_string);
    let finish_reason = object.get("finish_reason").and_then(json_string);
    if parts.is_empty() && name.is_none() && finish_reason.is_none() && !object.contains_key("role")
    {
        return None;
    }
    let mut canonical = Map::new();
    canonical.insert("role".into(), Json::String(role));
    canonical.insert("parts".into(), Json::Array(parts));
    if let Some(name) = name {
        canonical.insert("name".into(), Json::String(name));
    }
    if let Some(reason) = finish_reason {
        canonical.insert("finish_reason".into(), Json::String(reason));
    }
    Some(Json::Object(canonical))
}

/// `{"role", "parts"}` with nothing else.
pub fn message(role: &str, parts: Vec<Json>) -> Json {
    json!({"role": role, "parts": parts})
}

pub fn text_part(text: &str) -> Json {
    json!({"type": "text", "content": text})
}

/// A canonical tool-call part; `arguments` JSON text is decoded when it is an object or array.
pub fn tool_call_part(id: Option<String>, name: Option<String>, arguments: Option<&Json>) -> Json {
    let mut part = Map::new();
    part.insert("type".into(), Json::String("tool_call".into()));
    if let Some(id) = id {
        part.insert("id".into(), Json::String(id));
    }
    part.insert("name".into(), name.map_or(Json::Null, Json::String));
    if let Some(arguments) = arguments {
        part.insert("arguments".into(), decoded_arguments(arguments));
    }
    Json::Object(part)
}

fn decoded_arguments(arguments: &Json) -> Json {
    if let Json::String(text) = arguments
        && let Ok(parsed @ (Json::Object(_) | Json::Array(_))) = serde_json::from_str::<Json>(text)
    {
        return parsed;
    }
    arguments.clone()
}

/// OpenAI `tool_calls: [{id, type, function: {name, arguments}}]` (also flat `{id, name,
/// arguments}`) and the legacy `function_call: {name, arguments}`.
fn openai_tool_calls(object: &Map<String, Json>) -> Vec<Json> {
    let mut calls: Vec<&Json> = match object.get("tool_calls") {
        Some(Json::Array(calls)) => calls.iter().collect(),
        _ => Vec::new(),
    };
    if let Some(call @ Json::Object(_)) = object.get("function_call") {
        calls.push(call);
    }
    calls
        .into_iter()
        .filter_map(|call| {
            let call = call.as_object()?;
            let function = call
                .get("function")
                .and_then(Json::as_object)
                .unwrap_or(call);
            Some(tool_call_part(
                call.get("id").and_then(json_string),
                function.get("name").and_then(json_string),
                function.get("arguments"),
            ))
        })
        .collect()
}

/// Parts from an OpenAI / Anthropic `content` value: a string, or a list of typed blocks.
pub fn content_parts(content: &Json) -> Vec<Json> {
    match content {
        Json::Null => Vec::new(),
        Json::String(text) if text.is_empty() => Vec::new(),
        Json::String(text) => vec![text_part(text)],
        Json::Array(blocks) => blocks.iter().flat_map(content_parts_of_block).collect(),
        Json::Object(_) => content_parts_of_block(content),
        scalar => vec![text_part(&scalar.to_string())],
    }
}

fn content_parts_of_block(block: &Json) -> Vec<Json> {
    match block {
        Json::Object(_) => vec![canonical_part(block)],
        other => content_parts(other),
    }
}

/// One canonical part from a GenAI part, an OpenAI content part or an Anthropic block.
fn canonical_part(part: &Json) -> Json {
    let Json::Object(fields) = part else {
        return match part {
            Json::String(text) => text_part(text),
            other => text_part(&other.to_string()),
        };
    };
    let text_of = |key: &str| fields.get(key).and_then(Json::as_str);
    let kind = text_of("type").unwrap_or_default();
    match kind {
        "text" | "input_text" | "output_text" | "" => {
            if let Some(text) = text_of("content").or_else(|| text_of("text")) {
                return text_part(text);
            }
        }
        "image_url" => {
            let url = fields.get("image_url").and_then(|image| match image {
                Json::Object(image) => image.get("url").and_then(Json::as_str),
                other => other.as_str(),
            });
            if let Some(url) = url {
                return json!({"type": "uri", "modality": "image", "uri": url});
            }
        }
        "tool_call" | "tool_use" | "function_call" => {
            return tool_call_part(
                fields
                    .get("id")
                    .or_else(|| fields.get("call_id"))
                    .and_then(json_string),
                fields.get("name").and_then(json_string),
                fields.get("arguments").or_else(|| fields.get("input")),
            );
        }
        "tool_call_response" | "tool_result" | "function_call_output" => {
            let id = fields
                .get("id")
                .or_else(|| fields.get("tool_use_id"))
                .or_else(|| fields.get("call_id"))
                .cloned()
                .unwrap_or(Json::Null);
            let response = ["response", "result", "content", "output"]
                .iter()
                .find_map(|key| fields.get(*key))
                .cloned()
                .unwrap_or(Json::Null);
            return json!({"type": "tool_call_response", "id": id, "response": response});
        }
        "thinking" | "reasoning" => {
            if let Some(text) = text_of("content").or_else(|| text_of("thinking")) {
                return json!({"type": "reasoning", "content": text});
            }
        }
        _ => {}
    }
    part.clone()
}

/// Message content sent as text: a JSON list of typed content blocks (how OpenLLMetry and
/// span events record Anthropic / multi-part content) becomes that list; any other text,
/// including text that merely looks like JSON, stays text.
pub fn decode_content_text(text: &str) -> Json {
    if text.trim_start().starts_with('[')
        && let Ok(Json::Array(blocks)) = serde_json::from_str::<Json>(text)
        && !blocks.is_empty()
        && blocks
            .iter()
            .all(|block| block.get("type").and_then(Json::as_str).is_some())
    {
        return Json::Array(blocks);
    }
    Json::String(text.to_owned())
}

/// Text of the `system` (and OpenAI `developer`) messages, parts joined with `"\n"`.
pub fn system_text(messages: &[Json]) -> Option<String> {
    let texts: Vec<&str> = messages
        .iter()
        .filter(|message| {
            matches!(
                message.get("role").and_then(Json::as_str),
                Some("system" | "developer")
            )
        })
        .flat_map(|message| text_contents(message.get("parts")))
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

/// System instructions (`[{type:"text", content}]`, a JSON text of that, or plain text) as text.
pub fn system_instructions_text(value: &Json) -> Option<String> {
    let text = match value {
        Json::String(text) => match serde_json::from_str::<Json>(text) {
            Ok(parsed @ (Json::Array(_) | Json::Object(_))) => {
                return system_instructions_text(&parsed);
            }
            _ => text.clone(),
        },
        Json::Array(_) | Json::Object(_) => {
            let parts = Json::Array(content_parts(value));
            let texts = text_contents(Some(&parts));
            if texts.is_empty() {
                value.to_string()
            } else {
                texts.join("\n")
            }
        }
        Json::Null => return None,
        scalar => scalar.to_string(),
    };
    (!text.trim().is_empty()).then_some(text)
}

fn text_contents(parts: Option<&Json>) -> Vec<&str> {
    let Some(Json::Array(parts)) = parts else {
        return Vec::new();
    };
    parts
        .iter()
        .filter(|part| part.get("type").and_then(Json::as_str) == Some("text"))
        .filter_map(|part| part.get("content").and_then(Json::as_str))
        .collect()
}

/// The first `finish_reason` among canonical messages.
pub fn first_finish_reason(messages: &[Json]) -> Option<String> {
    messages
        .iter()
        .find_map(|message| message.get("finish_reason").and_then(json_string))
}

/// JSON text of a message list, or `None` when empty.
pub fn messages_to_text(messages: &[Json]) -> Option<String> {
    if messages.is_empty() {
        return None;
    }
    serde_json::to_string(messages).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str, direction: Direction) -> String {
        messages_to_text(&messages_from_text(text, direction)).unwrap_or_default()
    }

    #[test]
    fn openai_form_converts_to_parts() {
        let input = r#"[
            {"role":"system","content":"be brief"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"bash","arguments":"{\"command\":\"ls\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"README.md"}
        ]"#;
        assert_eq!(
            canonical(input, Direction::Input),
            concat!(
                r#"[{"role":"system","parts":[{"type":"text","content":"be brief"}]},"#,
                r#"{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"bash","arguments":{"command":"ls"}}]},"#,
                r#"{"role":"tool","parts":[{"type":"tool_call_response","id":"call_1","response":"README.md"}]}]"#
            )
        );
    }

    #[test]
    fn genai_parts_form_is_kept_and_result_becomes_response() {
        let input = r#"[{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","result":"ok"}]},
            {"role":"assistant","parts":[{"type":"text","content":"done"}],"finish_reason":"stop"}]"#;
        let messages = messages_from_text(input, Direction::Output);
        assert_eq!(
            messages_to_text(&messages).unwrap_or_default(),
            concat!(
                r#"[{"role":"tool","parts":[{"type":"tool_call_response","id":"c1","response":"ok"}]},"#,
                r#"{"role":"assistant","parts":[{"type":"text","content":"done"}],"finish_reason":"stop"}]"#
            )
        );
        assert_eq!(first_finish_reason(&messages).as_deref(), Some("stop"));
    }

    #[test]
    fn malformed_json_is_kept_as_one_text_part() {
        assert_eq!(
            canonical(
                r#"[{"role": "user", "content": "unterminated"#,
                Direction::Input
            ),
            r#"[{"role":"user","parts":[{"type":"text","content":"[{\"role\": \"user\", \"content\": \"unterminated"}]}]"#
        );
    }

    #[test]
    fn choices_and_anthropic_blocks_are_understood() {
        let output = r#"[{"index":0,"finish_reason":"tool_use","message":{"role":"assistant","content":[
            {"type":"thinking","thinking":"need to look"},
            {"type":"tool_use","id":"toolu_1","name":"read_file","input":{"path":"a.rs"}}]}}]"#;
        assert_eq!(
            canonical(output, Direction::Output),
            concat!(
                r#"[{"role":"assistant","parts":[{"type":"reasoning","content":"need to look"},"#,
                r#"{"type":"tool_call","id":"toolu_1","name":"read_file","arguments":{"path":"a.rs"}}],"finish_reason":"tool_use"}]"#
            )
        );
    }

    #[test]
    fn system_prompt_comes_from_instructions_or_system_messages() {
        let instructions =
            json!([{"type": "text", "content": "a"}, {"type": "text", "content": "b"}]);
        assert_eq!(
            system_instructions_text(&instructions).as_deref(),
            Some("a\nb")
        );
        assert_eq!(
            system_instructions_text(&json!("plain")).as_deref(),
            Some("plain")
        );
        let messages = messages_from_text(
            r#"[{"role":"system","content":"rules"},{"role":"user","content":"hi"}]"#,
            Direction::Input,
        );
        assert_eq!(system_text(&messages).as_deref(), Some("rules"));
    }
}
