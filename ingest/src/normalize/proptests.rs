//! Property tests: `normalize_span` never panics, whatever the span holds.
//!
//! Keys are drawn mostly from the alias tables (so the interesting paths run), values from
//! arbitrary nested `AnyValue`s and JSON-looking text, ids from arbitrary bytes.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use proptest::prelude::*;

use super::aliases::{MESSAGE_EVENTS, all_documented_keys};
use super::{NormalizeError, SpanSource, normalize_span};

const EXTRA_KEYS: &[&str] = &[
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.content",
    "llm.input_messages.1.message.contents.0.message_content.text",
    "llm.input_messages.1.message.contents.0.message_content.image.image.url",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
    "llm.output_messages.0.message.tool_calls.0.tool_call.id",
    "llm.output_messages.x.message.role",
    "gen_ai.prompt.0.role",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.18446744073709551615.tool_calls.0.arguments",
    "gen_ai.completion.0.finish_reason",
    "gen_ai.completion.0.tool_calls.7.name",
    "content",
    "body",
    "event.body",
    "message",
    "tool_calls",
    "id",
    "role",
    "finish_reason",
    "exception.type",
    "",
];

const TEXTS: &[&str] = &[
    "",
    "123",
    "-1",
    "1e400",
    "NaN",
    "OpenAI",
    "chat",
    "execute_tool",
    "LLM",
    "tool",
    "[",
    "[]",
    "{}",
    "null",
    "\"quoted\"",
    r#"[{"role":"user","content":"hi"}]"#,
    r#"[{"role":"assistant","parts":[{"type":"tool_call","name":"bash","arguments":"{\"a\":1}"}]}]"#,
    r#"[{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"x"}]}]"#,
    r#"[{"index":0,"message":{"message":{"content":7}}}]"#,
    r#"{"content":"x","tool_calls":"[{\"function\":{}}]"}"#,
    r#"[{"type":"text","text":"block"}]"#,
    r#"[{"role":"user","content":"unterminated"#,
];

fn key() -> impl Strategy<Value = String> {
    let documented = all_documented_keys();
    prop_oneof![
        4 => proptest::sample::select(documented).prop_map(str::to_owned),
        3 => proptest::sample::select(EXTRA_KEYS).prop_map(str::to_owned),
        1 => "[a-z_.0-9]{0,24}",
    ]
}

fn leaf() -> impl Strategy<Value = AnyValue> {
    let value = prop_oneof![
        3 => proptest::sample::select(TEXTS).prop_map(|text| Value::StringValue(text.to_owned())),
        1 => any::<String>().prop_map(Value::StringValue),
        1 => any::<i64>().prop_map(Value::IntValue),
        1 => any::<f64>().prop_map(Value::DoubleValue),
        1 => any::<bool>().prop_map(Value::BoolValue),
        1 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::BytesValue),
        1 => any::<i32>().prop_map(Value::StringValueStrindex),
    ];
    prop_oneof![
        10 => value.prop_map(|value| AnyValue { value: Some(value) }),
        1 => Just(AnyValue { value: None }),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let nested = leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(|values| AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values })),
            }),
            proptest::collection::vec((key(), inner), 0..4).prop_map(|entries| AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: entries
                        .into_iter()
                        .map(|(key, value)| entry(key, value))
                        .collect(),
                })),
            }),
        ]
    });
    prop_oneof![
        20 => nested,
        1 => (60usize..70).prop_map(deep_value),
    ]
}

fn deep_value(depth: usize) -> AnyValue {
    let mut value = AnyValue {
        value: Some(Value::StringValue("leaf".to_owned())),
    };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![entry("content".to_owned(), value)],
            })),
        };
    }
    value
}

fn entry(key: String, value: AnyValue) -> KeyValue {
    KeyValue {
        key,
        value: Some(value),
        key_strindex: 0,
    }
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec((key(), any_value()).prop_map(|(k, v)| entry(k, v)), 0..12)
}

fn id() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 16),
        3 => proptest::collection::vec(any::<u8>(), 8),
        1 => proptest::collection::vec(any::<u8>(), 0..20),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    let names: Vec<&'static str> = MESSAGE_EVENTS
        .iter()
        .map(|event| event.name)
        .chain(["exception", "log"])
        .collect();
    (proptest::sample::select(names), any::<u64>(), attributes()).prop_map(
        |(name, time_unix_nano, attributes)| Event {
            time_unix_nano,
            name: name.to_owned(),
            attributes,
            dropped_attributes_count: 0,
        },
    )
}

fn span() -> impl Strategy<Value = Span> {
    (
        (id(), id(), id()),
        (any::<String>(), any::<i32>(), any::<u64>(), any::<u64>()),
        attributes(),
        proptest::collection::vec(event(), 0..4),
        proptest::collection::vec((id(), id(), attributes()), 0..2),
        (any::<i32>(), any::<String>()),
    )
        .prop_map(
            |(
                (trace_id, span_id, parent_span_id),
                (name, kind, start, end),
                attributes,
                events,
                links,
                (code, message),
            )| Span {
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind,
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                attributes,
                events,
                links: links
                    .into_iter()
                    .map(|(trace_id, span_id, attributes)| Link {
                        trace_id,
                        span_id,
                        attributes,
                        ..Link::default()
                    })
                    .collect(),
                status: Some(Status { code, message }),
                ..Span::default()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn normalize_span_never_panics(span in span(), resource_attributes in attributes()) {
        let resource = Resource { attributes: resource_attributes, ..Resource::default() };
        let source = SpanSource { project_id: "default", resource: Some(&resource), scope: None };
        match normalize_span(&source, &span) {
            Ok(row) => {
                prop_assert!(row.duration_ns >= 0);
                for text in [&row.attributes, &row.resource_attributes, &row.events, &row.links] {
                    prop_assert!(serde_json::from_str::<serde_json::Value>(text).is_ok());
                }
                for text in [&row.input, &row.output].into_iter().flatten() {
                    prop_assert!(!text.is_empty());
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.starts_with("span "));
                let over_budget = matches!(error, NormalizeError::TooManyAttributes { .. });
                prop_assert!(!over_budget, "at most 12 + 4 * 12 + 2 * 12 attributes are generated");
            }
        }
    }
}
