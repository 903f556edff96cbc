//! Bad input gets its 4xx with a message, and the server keeps serving the next request.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use reqwest::StatusCode;
use serde_json::Value;

use crate::requests::request_with;
use crate::server::Server;

fn span(trace_id: Vec<u8>, span_id: Vec<u8>, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id,
        span_id,
        name: "chat gpt-4o".into(),
        kind: 3,
        start_time_unix_nano: 1_763_800_000_000_000_000,
        end_time_unix_nano: 1_763_800_001_000_000_000,
        attributes,
        ..Span::default()
    }
}

fn valid_request() -> ExportTraceServiceRequest {
    request_with(vec![span(vec![7; 16], vec![9; 8], Vec::new())])
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn nested_value(depth: usize) -> AnyValue {
    let mut value = AnyValue {
        value: Some(any_value::Value::StringValue("leaf".into())),
    };
    for _ in 0..depth {
        value = AnyValue {
            value: Some(any_value::Value::KvlistValue(
                opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(value),
                        ..KeyValue::default()
                    }],
                },
            )),
        };
    }
    value
}

struct BadCase {
    what: &'static str,
    content_type: &'static str,
    content_encoding: Option<&'static str>,
    body: Vec<u8>,
    expected: StatusCode,
    /// A word the error message must contain, so it says what to fix.
    message_hint: &'static str,
}

fn bad_cases() -> Vec<BadCase> {
    let valid = valid_request().encode_to_vec();
    let mut invalid_utf8 =
        request_with(vec![span(vec![7; 16], vec![9; 8], Vec::new())]).encode_to_vec();
    // Overwrite the span name "chat gpt-4o" with bytes that are not UTF-8.
    let name_at = invalid_utf8
        .windows(4)
        .position(|window| window == b"chat")
        .expect("name bytes");
    invalid_utf8[name_at] = 0xff;
    invalid_utf8[name_at + 1] = 0xfe;
    let million_attributes: Vec<KeyValue> = (0..1_000_000)
        .map(|_| KeyValue {
            key: "a".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::IntValue(1)),
            }),
            ..KeyValue::default()
        })
        .collect();
    vec![
        BadCase {
            what: "truncated protobuf",
            content_type: "application/x-protobuf",
            content_encoding: None,
            body: valid[..valid.len() - 5].to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "protobuf",
        },
        BadCase {
            what: "invalid json",
            content_type: "application/json",
            content_encoding: None,
            body: br#"{"resourceSpans": [ {"scopeSpans": "#.to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "JSON",
        },
        BadCase {
            what: "wrong content type",
            content_type: "text/plain",
            content_encoding: None,
            body: b"hello".to_vec(),
            expected: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message_hint: "application/x-protobuf",
        },
        BadCase {
            what: "oversized body",
            content_type: "application/x-protobuf",
            content_encoding: None,
            body: vec![0; 13 * 1024 * 1024],
            expected: StatusCode::PAYLOAD_TOO_LARGE,
            message_hint: "limit",
        },
        BadCase {
            what: "gzip bomb",
            content_type: "application/x-protobuf",
            content_encoding: Some("gzip"),
            body: gzip(&vec![0; 200 * 1024 * 1024]),
            expected: StatusCode::PAYLOAD_TOO_LARGE,
            message_hint: "decompression",
        },
        BadCase {
            what: "corrupt gzip",
            content_type: "application/x-protobuf",
            content_encoding: Some("gzip"),
            body: b"\x1f\x8b\x08\x00garbage".to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "gzip",
        },
        BadCase {
            what: "invalid utf-8 in a string",
            content_type: "application/x-protobuf",
            content_encoding: None,
            body: invalid_utf8,
            expected: StatusCode::BAD_REQUEST,
            message_hint: "UTF-8",
        },
        BadCase {
            what: "trace id of the wrong length",
            content_type: "application/x-protobuf",
            content_encoding: None,
            body: request_with(vec![span(vec![1; 5], vec![9; 8], Vec::new())]).encode_to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "trace id",
        },
        BadCase {
            what: "span id of the wrong length",
            content_type: "application/json",
            content_encoding: None,
            body: br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"abcd","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#.to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "span id",
        },
        BadCase {
            what: "deeply nested AnyValue",
            content_type: "application/x-protobuf",
            content_encoding: None,
            body: request_with(vec![span(
                vec![7; 16],
                vec![9; 8],
                vec![KeyValue {
                    key: "deep".into(),
                    value: Some(nested_value(500)),
                    ..KeyValue::default()
                }],
            )])
            .encode_to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "",
        },
        BadCase {
            what: "a million tiny attributes",
            content_type: "application/x-protobuf",
            content_encoding: None,
            body: request_with(vec![span(vec![7; 16], vec![9; 8], million_attributes)]).encode_to_vec(),
            expected: StatusCode::BAD_REQUEST,
            message_hint: "attributes",
        },
    ]
}

#[test]
fn bad_input_gets_a_4xx_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A 12 MiB body limit keeps the oversized cases small; the million attributes (~9 MB
    // on the wire) are under it, so the normalizer's own limit is what answers.
    let server = Server::start(&dir.path().join("data"), "[ingest]\nbody_limit_mib = 12\n");
    let mut failures = Vec::new();
    for case in bad_cases() {
        let mut request = server
            .client()
            .post(server.url("/v1/traces"))
            .header("content-type", case.content_type);
        if let Some(encoding) = case.content_encoding {
            request = request.header("content-encoding", encoding);
        }
        let response = request.body(case.body).send().expect("send");
        let status = response.status();
        let bytes = response.bytes().expect("body");
        let message = if case.content_type == "application/x-protobuf" {
            RpcStatusMessage::decode(bytes.as_ref())
                .map(|status| status.message)
                .unwrap_or_default()
        } else {
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|value| value["message"].as_str().map(str::to_string))
                .unwrap_or_default()
        };
        if status != case.expected || !message.contains(case.message_hint) || message.is_empty() {
            failures.push(format!(
                "{}: got {status} {message:?}, want {} mentioning {:?}",
                case.what, case.expected, case.message_hint
            ));
        }
        let next = server
            .client()
            .post(server.url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(valid_request().encode_to_vec())
            .send()
            .map(|response| response.status());
        if !matches!(next, Ok(StatusCode::OK)) {
            failures.push(format!("after {}: a valid export got {next:?}", case.what));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn empty_requests_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    assert_eq!(
        server.export_protobuf(&ExportTraceServiceRequest::default()),
        StatusCode::OK
    );
    let response = server
        .client()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("header"),
        "application/json"
    );
}

/// `google.rpc.Status`, decoded from error responses.
#[derive(Clone, PartialEq, Message)]
struct RpcStatusMessage {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}
