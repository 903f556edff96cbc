//! `input`, `output` and `system_prompt`: the first content source (`INPUT_SOURCES`,
//! `OUTPUT_SOURCES` in `aliases.rs`) that yields something wins; the others stay in `attributes`.

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use opentelemetry_proto::tonic::trace::v1::span::Event;
use serde_json::Value as Json;

use crate::span::CanonicalSpan;

use super::aliases::{
    ContentSource, Direction, INPUT_SOURCES, OUTPUT_SOURCES, SYSTEM_INSTRUCTION_KEYS,
};
use super::attributes::AttributeSet;
use super::events::messages_from_events;
use super::flattened::messages_from_flattened;
use super::messages::{
    first_finish_reason, messages_from_any_value, messages_to_text, system_instructions_text,
    system_text,
};
use super::values::any_value_to_json;

/// What one side of a span holds.
enum Content {
    Messages(Vec<Json>),
    Raw(String),
}

/// Fills `input`, `output` and `system_prompt`, and `finish_reason` from the output messages
/// when no attribute gave one.
pub fn apply_content(attributes: &AttributeSet<'_>, events: &[Event], row: &mut CanonicalSpan) {
    let input = first_content(INPUT_SOURCES, Direction::Input, attributes, events);
    let output = first_content(OUTPUT_SOURCES, Direction::Output, attributes, events);

    row.system_prompt = system_instructions(attributes);
    if let Some(Content::Messages(messages)) = &input {
        row.system_prompt = row.system_prompt.take().or_else(|| system_text(messages));
    }
    if let Some(Content::Messages(messages)) = &output {
        row.finish_reason = row
            .finish_reason
            .take()
            .or_else(|| first_finish_reason(messages));
    }
    row.input = input.and_then(into_text);
    row.output = output.and_then(into_text);
}

fn into_text(content: Content) -> Option<String> {
    match content {
        Content::Messages(messages) => messages_to_text(&messages),
        Content::Raw(text) => Some(text),
    }
}

fn first_content(
    sources: &[ContentSource],
    direction: Direction,
    attributes: &AttributeSet<'_>,
    events: &[Event],
) -> Option<Content> {
    sources.iter().find_map(|source| match *source {
        ContentSource::MessagesAttribute(key) => {
            let messages = messages_from_any_value(attributes.get(key)?, direction);
            if messages.is_empty() {
                return None;
            }
            attributes.consume(key);
            Some(Content::Messages(messages))
        }
        ContentSource::FlattenedMessages(layout) => {
            let flattened = messages_from_flattened(attributes, layout);
            if flattened.messages.is_empty() {
                return None;
            }
            for position in flattened.consumed {
                attributes.consume_at(position);
            }
            Some(Content::Messages(flattened.messages))
        }
        ContentSource::MessageEvents => {
            let messages = messages_from_events(events, direction);
            (!messages.is_empty()).then_some(Content::Messages(messages))
        }
        ContentSource::Raw(key) => {
            let text = raw_text(attributes.get(key)?)?;
            attributes.consume(key);
            Some(Content::Raw(text))
        }
    })
}

/// Strings verbatim (tool arguments are usually JSON text already), other values as JSON text.
fn raw_text(value: &AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        Value::StringValue(text) if text.is_empty() => None,
        Value::StringValue(text) => Some(text.clone()),
        _ => serde_json::to_string(&any_value_to_json(value)).ok(),
    }
}

fn system_instructions(attributes: &AttributeSet<'_>) -> Option<String> {
    SYSTEM_INSTRUCTION_KEYS.iter().find_map(|key| {
        let text = system_instructions_text(&any_value_to_json(attributes.get(key)?))?;
        attributes.consume(key);
        Some(text)
    })
}
