//! Building blocks of the OTLP spans the harness sends to Sextant (the replays' traces,
//! the gateway's call spans): attributes, stable ids, status, and the export request of
//! one of Sextant's own services.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use serde_json::{Value, json};

use crate::messages::Turn;
use crate::suite::Provider;

fn value(value: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

pub fn text(key: &str, text: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(any_value::Value::StringValue(text.into())),
        ..KeyValue::default()
    }
}

pub fn int(key: &str, number: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(any_value::Value::IntValue(number)),
        ..KeyValue::default()
    }
}

pub fn float(key: &str, number: f64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(any_value::Value::DoubleValue(number)),
        ..KeyValue::default()
    }
}

pub fn boolean(key: &str, flag: bool) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value(any_value::Value::BoolValue(flag)),
        ..KeyValue::default()
    }
}

/// `bytes` bytes of a hash of `parts`: stable ids for the same run, example, side, epoch.
pub fn id(parts: &[&str], bytes: usize) -> Vec<u8> {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\0");
    }
    hasher.finalize().as_bytes()[..bytes].to_vec()
}

pub fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenaiChat | Provider::OpenaiResponses => "openai",
        Provider::Anthropic => "anthropic",
    }
}

/// A turn as canonical output messages (`[{role: assistant, parts}]`).
pub fn output_messages(turn: &Turn) -> String {
    let mut parts: Vec<Value> = Vec::new();
    if !turn.text.is_empty() {
        parts.push(json!({"type": "text", "content": turn.text}));
    }
    for call in &turn.tool_calls {
        parts.push(
            json!({"type": "tool_call", "id": call.id, "name": call.name,
            "arguments": call.arguments}),
        );
    }
    json!([{"role": "assistant", "parts": parts}]).to_string()
}

pub fn error_status(message: String) -> Option<Status> {
    Some(Status {
        code: status::StatusCode::Error as i32,
        message,
    })
}

/// Spans of one of Sextant's own services as one export request.
pub fn export_request(service: &str, scope: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", service)],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}
