//! OTLP export requests built for tests: tool spans with unique, predictable span ids.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

pub const SPANS_PER_REQUEST: u64 = 20;

/// The span id of span `index` of request `sequence` from client `client`.
pub fn span_id(client: u64, sequence: u64, index: u64) -> [u8; 8] {
    let value = (client << 48) | (sequence << 8) | index;
    value.to_be_bytes()
}

/// `SPANS_PER_REQUEST` `execute_tool bash` spans whose output mentions "tokens".
pub fn export_request(client: u64, sequence: u64) -> ExportTraceServiceRequest {
    export_request_with_output(
        client,
        sequence,
        &"running 42 tests\ntest parser::tokens ... ok\n".repeat(20),
    )
}

pub fn export_request_with_output(
    client: u64,
    sequence: u64,
    output: &str,
) -> ExportTraceServiceRequest {
    let spans = (0..SPANS_PER_REQUEST)
        .map(|index| Span {
            trace_id: [client as u8 + 1; 16].to_vec(),
            span_id: span_id(client, sequence, index).to_vec(),
            name: "execute_tool bash".into(),
            start_time_unix_nano: 1_763_800_000_000_000_000 + sequence * 1_000_000 + index,
            end_time_unix_nano: 1_763_800_000_000_000_000 + sequence * 1_000_000 + index + 500,
            attributes: vec![
                string_attribute("gen_ai.operation.name", "execute_tool"),
                string_attribute("gen_ai.tool.name", "bash"),
                string_attribute("gen_ai.tool.call.result", output),
            ],
            ..Span::default()
        })
        .collect();
    request_with(spans)
}

/// An export request holding `spans` under one resource and scope.
pub fn request_with(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

pub fn string_attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..KeyValue::default()
    }
}
