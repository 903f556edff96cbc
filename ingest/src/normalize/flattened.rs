//! Messages from flattened per-message attributes (OpenInference `llm.input_messages.{i}.message.*`,
//! OpenLLMetry `gen_ai.prompt.{i}.*`), driven by the layouts in `aliases.rs`.
//!
//! Each message is rebuilt in OpenAI message form and then canonicalized by `messages.rs`.
//! Only the attributes actually read into a message are reported as consumed; any other key
//! under the prefix stays in `attributes`.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value};
use serde_json::{Map, Value as Json};

use super::aliases::{FlattenedContents, FlattenedMessages, FlattenedToolCalls};
use super::attributes::AttributeSet;
use super::messages::{canonical_message, decode_content_text};
use super::values::{any_value_to_json, lenient_string};

/// Messages rebuilt from flattened attributes, and the attribute positions they used.
#[derive(Debug, Default)]
pub struct FlattenedContent {
    pub messages: Vec<Json>,
    pub consumed: Vec<usize>,
}

/// One flattened entry: its attribute position, the key relative to its item, the value.
type Entry<'a> = (usize, &'a str, &'a AnyValue);

pub fn messages_from_flattened(
    attributes: &AttributeSet<'_>,
    layout: &FlattenedMessages,
) -> FlattenedContent {
    let entries: Vec<Entry<'_>> = attributes.with_prefix(layout.prefix).collect();
    let mut content = FlattenedContent::default();
    for (_, message_entries) in group_by_index(&entries) {
        let mut reader = ItemReader::new(&message_entries);
        let openai_form = openai_message(&mut reader, layout);
        if let Some(message) = canonical_message(&Json::Object(openai_form), layout.direction) {
            content.messages.push(message);
            content.consumed.append(&mut reader.used);
        }
    }
    content
}

/// Splits `{i}.{rest}` keys into items by numeric index, in index order. Keys whose first
/// segment is not an index are left out (and so stay in `attributes`).
fn group_by_index<'a>(entries: &[Entry<'a>]) -> BTreeMap<u64, Vec<Entry<'a>>> {
    let mut groups: BTreeMap<u64, Vec<Entry<'a>>> = BTreeMap::new();
    for &(position, key, value) in entries {
        let Some((index, rest)) = key.split_once('.') else {
            continue;
        };
        if let Ok(index) = index.parse::<u64>() {
            groups
                .entry(index)
                .or_default()
                .push((position, rest, value));
        }
    }
    groups
}

/// Reads named keys of one item, remembering which attribute positions were used.
struct ItemReader<'e, 'a> {
    entries: &'e [Entry<'a>],
    used: Vec<usize>,
}

impl<'e, 'a> ItemReader<'e, 'a> {
    fn new(entries: &'e [Entry<'a>]) -> Self {
        Self {
            entries,
            used: Vec::new(),
        }
    }

    fn value(&mut self, key: &str) -> Option<&'a AnyValue> {
        let &(position, _, value) = self.entries.iter().rev().find(|(_, k, _)| *k == key)?;
        self.used.push(position);
        Some(value)
    }

    fn text(&mut self, key: &str) -> Option<String> {
        let &(position, _, value) = self.entries.iter().rev().find(|(_, k, _)| *k == key)?;
        let text = lenient_string(value)?;
        self.used.push(position);
        Some(text)
    }

    fn sub_items(&self, prefix: &str) -> BTreeMap<u64, Vec<Entry<'a>>> {
        let nested: Vec<Entry<'a>> = self
            .entries
            .iter()
            .filter_map(|&(position, key, value)| {
                Some((position, key.strip_prefix(prefix)?, value))
            })
            .collect();
        group_by_index(&nested)
    }
}

fn openai_message(
    reader: &mut ItemReader<'_, '_>,
    layout: &FlattenedMessages,
) -> Map<String, Json> {
    let mut message = Map::new();
    if let Some(role) = reader.text(layout.role) {
        message.insert("role".into(), Json::String(role));
    }
    if let Some(content) = reader.value(layout.content) {
        message.insert("content".into(), content_value(content));
    } else if let Some(contents) = &layout.contents {
        let blocks = content_blocks(reader, contents);
        if !blocks.is_empty() {
            message.insert("content".into(), Json::Array(blocks));
        }
    }
    if let Some(name) = layout.name.and_then(|key| reader.text(key)) {
        message.insert("name".into(), Json::String(name));
    }
    if let Some(id) = reader.text(layout.tool_call_id) {
        message.insert("tool_call_id".into(), Json::String(id));
    }
    if let Some(reason) = layout.finish_reason.and_then(|key| reader.text(key)) {
        message.insert("finish_reason".into(), Json::String(reason));
    }
    let tool_calls = tool_calls(reader, &layout.tool_calls);
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Json::Array(tool_calls));
    }
    message
}

/// A content value: structured values as JSON, text through [`decode_content_text`].
fn content_value(value: &AnyValue) -> Json {
    match value.value.as_ref() {
        Some(Value::StringValue(text)) => decode_content_text(text),
        _ => any_value_to_json(value),
    }
}

fn content_blocks(reader: &mut ItemReader<'_, '_>, layout: &FlattenedContents) -> Vec<Json> {
    let mut blocks = Vec::new();
    for (_, entries) in reader.sub_items(layout.prefix) {
        let mut item = ItemReader::new(&entries);
        // The type is recorded by the block itself; reading it marks the key as stored.
        item.text(layout.kind);
        let block = if let Some(text) = item.text(layout.text) {
            serde_json::json!({"type": "text", "text": text})
        } else if let Some(url) = item.text(layout.image_url) {
            serde_json::json!({"type": "image_url", "image_url": {"url": url}})
        } else {
            continue;
        };
        reader.used.append(&mut item.used);
        blocks.push(block);
    }
    blocks
}

fn tool_calls(reader: &mut ItemReader<'_, '_>, layout: &FlattenedToolCalls) -> Vec<Json> {
    let mut calls = Vec::new();
    for (_, entries) in reader.sub_items(layout.prefix) {
        let mut item = ItemReader::new(&entries);
        let id = item.text(layout.id);
        let name = item.text(layout.name);
        let arguments = item.value(layout.arguments).map(content_value);
        if id.is_none() && name.is_none() && arguments.is_none() {
            continue;
        }
        let mut function = Map::new();
        function.insert("name".into(), name.map_or(Json::Null, Json::String));
        if let Some(arguments) = arguments {
            function.insert("arguments".into(), arguments);
        }
        let mut call = Map::new();
        if let Some(id) = id {
            call.insert("id".into(), Json::String(id));
        }
        call.insert("type".into(), Json::String("function".into()));
        call.insert("function".into(), Json::Object(function));
        reader.used.append(&mut item.used);
        calls.push(Json::Object(call));
    }
    calls
}
