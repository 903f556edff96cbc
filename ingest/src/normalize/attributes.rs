//! A span's attributes with lookup by key and a record of which ones a dedicated column consumed.
//!
//! Invariant: an attribute is marked consumed only after its value was stored in a dedicated
//! column (or in `input` / `output`); everything else ends up in the `attributes` JSON, so the
//! normalizer never drops data. A repeated key keeps its last value, as JSON decoders do.

use std::cell::Cell;
use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use serde_json::{Map, Value as Json};

use super::values::any_value_to_json;

pub struct AttributeSet<'a> {
    entries: &'a [KeyValue],
    /// Key → position of its last occurrence.
    positions: HashMap<&'a str, usize>,
    consumed: Vec<Cell<bool>>,
}

impl<'a> AttributeSet<'a> {
    pub fn new(entries: &'a [KeyValue]) -> Self {
        let mut positions = HashMap::with_capacity(entries.len());
        for (position, entry) in entries.iter().enumerate() {
            positions.insert(entry.key.as_str(), position);
        }
        Self {
            entries,
            positions,
            consumed: entries.iter().map(|_| Cell::new(false)).collect(),
        }
    }

    /// The value of `key`, if present with a value. Does not consume it.
    pub fn get(&self, key: &str) -> Option<&'a AnyValue> {
        let position = *self.positions.get(key)?;
        self.entries.get(position)?.value.as_ref()
    }

    /// Marks `key` as stored in a dedicated column.
    pub fn consume(&self, key: &str) {
        if let Some(&position) = self.positions.get(key) {
            self.consume_at(position);
        }
    }

    pub fn consume_at(&self, position: usize) {
        if let Some(flag) = self.consumed.get(position) {
            flag.set(true);
        }
    }

    /// `(position, key suffix after prefix, value)` of every effective attribute whose key
    /// starts with `prefix`, in original order.
    pub fn with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (usize, &'a str, &'a AnyValue)> + 's {
        self.entries
            .iter()
            .enumerate()
            .filter(|(position, entry)| self.positions.get(entry.key.as_str()) == Some(position))
            .filter_map(move |(position, entry)| {
                let suffix = entry.key.strip_prefix(prefix)?;
                Some((position, suffix, entry.value.as_ref()?))
            })
    }

    /// The attributes no dedicated column consumed, as a JSON object in original order.
    pub fn remaining_json(&self) -> Map<String, Json> {
        let mut object = Map::new();
        for (position, entry) in self.entries.iter().enumerate() {
            let is_effective = self.positions.get(entry.key.as_str()) == Some(&position);
            let is_consumed = self.consumed.get(position).is_some_and(Cell::get);
            if is_effective && !is_consumed {
                let value = entry.value.as_ref().map_or(Json::Null, any_value_to_json);
                object.insert(entry.key.clone(), value);
            }
        }
        object
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    fn entry(key: &str, text: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(text.to_owned())),
            }),
            key_strindex: 0,
        }
    }

    #[test]
    fn consumed_keys_leave_the_remaining_object_and_duplicates_keep_the_last_value() {
        let entries = vec![
            entry("a", "1"),
            entry("b", "2"),
            entry("a", "3"),
            entry("p.0.x", "4"),
        ];
        let set = AttributeSet::new(&entries);
        set.consume("b");
        let suffixes: Vec<&str> = set.with_prefix("p.").map(|(_, s, _)| s).collect();
        assert_eq!(suffixes, vec!["0.x"]);
        assert_eq!(
            serde_json::to_string(&set.remaining_json()).ok(),
            Some(r#"{"a":"3","p.0.x":"4"}"#.to_owned())
        );
    }
}
