//! Building blocks of OTLP spans for the emitters: typed attributes, error statuses, and
//! one export request per run.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};

/// Span kinds as OTLP integers.
pub const KIND_INTERNAL: i32 = 1;
pub const KIND_CLIENT: i32 = 3;

fn keyed(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

pub fn text(key: &str, value: impl Into<String>) -> KeyValue {
    keyed(key, any_value::Value::StringValue(value.into()))
}

pub fn int(key: &str, value: i64) -> KeyValue {
    keyed(key, any_value::Value::IntValue(value))
}

pub fn float(key: &str, value: f64) -> KeyValue {
    keyed(key, any_value::Value::DoubleValue(value))
}

pub fn boolean(key: &str, value: bool) -> KeyValue {
    keyed(key, any_value::Value::BoolValue(value))
}

pub fn texts(key: &str, values: &[&str]) -> KeyValue {
    let values = values
        .iter()
        .map(|value| AnyValue {
            value: Some(any_value::Value::StringValue((*value).into())),
        })
        .collect();
    keyed(key, any_value::Value::ArrayValue(ArrayValue { values }))
}

/// An error status with its message.
pub fn error(message: impl Into<String>) -> Option<Status> {
    Some(Status {
        code: status::StatusCode::Error as i32,
        message: message.into(),
    })
}

/// A span of `trace_id` with the fields every emitter sets.
pub struct SpanStart<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent: Option<&'a [u8]>,
    pub name: String,
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
}

impl SpanStart<'_> {
    pub fn with(self, attributes: Vec<KeyValue>, status: Option<Status>) -> Span {
        Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            parent_span_id: self.parent.map(<[u8]>::to_vec).unwrap_or_default(),
            name: self.name,
            kind: self.kind,
            start_time_unix_nano: self.start_ns,
            end_time_unix_nano: self.end_ns,
            attributes,
            status,
            ..Span::default()
        }
    }
}

/// One run's spans as an export request from `resource`, in `scope`.
pub fn export(
    resource: Vec<KeyValue>,
    scope: &str,
    version: &str,
    spans: Vec<Span>,
) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.into(),
                    version: version.into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}
