//! Messages from span events: v1.26 `gen_ai.content.prompt|completion` (a whole OpenAI-form list
//! in `gen_ai.prompt` / `gen_ai.completion`) and v1.27–1.36 `gen_ai.{system,user,assistant,tool}.message`
//! / `gen_ai.choice` (one message per event).
//!
//! Emitters that copy the log-record body onto a span event put it in a body attribute (see
//! `EVENT_BODY_KEYS`); others spread it over the event's attributes, with nested values either
//! structured or as JSON text. Both are read. Events themselves always stay in `events`.

use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use serde_json::{Map, Value as Json};

use super::aliases::{Direction, EVENT_BODY_KEYS, EXCEPTION_EVENT, EventShape, MESSAGE_EVENTS};
use super::messages::{canonical_message, decode_content_text, messages_from_any_value};
use super::values::{any_value_to_json, json_string, key_values_to_json, lenient_string};

/// Canonical messages of `direction` carried by `events`, in event order.
pub fn messages_from_events(events: &[Event], direction: Direction) -> Vec<Json> {
    let mut messages = Vec::new();
    for event in events {
        let Some(spec) = MESSAGE_EVENTS
            .iter()
            .find(|spec| spec.name == event.name && spec.direction == direction)
        else {
            continue;
        };
        match spec.shape {
            EventShape::MessageList { attribute } => {
                if let Some(value) = event_attribute(event, attribute) {
                    messages.extend(messages_from_any_value(value, direction));
                }
            }
            EventShape::Message { role } => {
                let body = event_body(event);
                let form = openai_form(&body, role);
                messages.extend(canonical_message(&Json::Object(form), direction));
            }
            EventShape::Choice => {
                let body = event_body(event);
                let inner = body
                    .get("message")
                    .map(|message| decoded(message, Json::is_object));
                let mut form = match inner {
                    Some(Json::Object(message)) => openai_form(&message, "assistant"),
                    _ => openai_form(&body, "assistant"),
                };
                // Some emitters put tool calls beside the message rather than inside it.
                if !form.contains_key("tool_calls")
                    && let Some(calls) = body.get("tool_calls")
                {
                    form.insert("tool_calls".into(), decoded(calls, Json::is_array));
                }
                if let Some(reason) = body.get("finish_reason").and_then(json_string) {
                    form.insert("finish_reason".into(), Json::String(reason));
                }
                messages.extend(canonical_message(&Json::Object(form), direction));
            }
        }
    }
    messages
}

/// The last value of `key` among the event's attributes.
fn event_attribute<'a>(event: &'a Event, key: &str) -> Option<&'a AnyValue> {
    event
        .attributes
        .iter()
        .rev()
        .find(|entry| entry.key == key)?
        .value
        .as_ref()
}

/// The event body as an object: a body attribute (structured, JSON text, or plain text as
/// `content`), else all event attributes.
fn event_body(event: &Event) -> Map<String, Json> {
    for key in EVENT_BODY_KEYS {
        let Some(value) = event_attribute(event, key) else {
            continue;
        };
        return match decoded(&any_value_to_json(value), Json::is_object) {
            Json::Object(body) => body,
            other => Map::from_iter([("content".to_owned(), other)]),
        };
    }
    key_values_to_json(&event.attributes)
}

/// OpenAI message form from an event body: `role`, `content`, `tool_calls`, `tool_call_id`
/// (the v1.27 tool message calls it `id`), `name`.
fn openai_form(body: &Map<String, Json>, default_role: &str) -> Map<String, Json> {
    let mut form = Map::new();
    let role = body
        .get("role")
        .and_then(json_string)
        .unwrap_or_else(|| default_role.to_owned());
    form.insert("role".into(), Json::String(role.clone()));
    if let Some(content) = body.get("content") {
        let content = match content {
            Json::String(text) => decode_content_text(text),
            other => other.clone(),
        };
        form.insert("content".into(), content);
    }
    if let Some(calls) = body.get("tool_calls") {
        form.insert("tool_calls".into(), decoded(calls, Json::is_array));
    }
    let call_id = body.get("tool_call_id").or_else(|| {
        // `id` names the answered call only on tool messages.
        (role == "tool").then(|| body.get("id")).flatten()
    });
    if let Some(id) = call_id.and_then(json_string) {
        form.insert("tool_call_id".into(), Json::String(id));
    }
    if let Some(name) = body.get("name").and_then(json_string) {
        form.insert("name".into(), Json::String(name));
    }
    form
}

/// `value`, or its decoding when it is JSON text of the wanted shape.
fn decoded(value: &Json, wanted: fn(&Json) -> bool) -> Json {
    if let Json::String(text) = value
        && let Ok(parsed) = serde_json::from_str::<Json>(text)
        && wanted(&parsed)
    {
        return parsed;
    }
    value.clone()
}

/// `exception.type` of the first `exception` event (the fallback for `error_type`).
pub fn exception_type(events: &[Event]) -> Option<String> {
    let (event_name, type_key) = EXCEPTION_EVENT;
    events
        .iter()
        .filter(|event| event.name == event_name)
        .find_map(|event| event_attribute(event, type_key).and_then(lenient_string))
}
