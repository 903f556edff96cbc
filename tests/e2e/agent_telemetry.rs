//! Logs and metrics end to end: the official OTLP log and metric exporters over gRPC and HTTP,
//! a chunked upload without `Content-Length`, and bad input on gRPC.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{LogExporter, MetricExporter, Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};

use crate::server::Server;

fn resource(service: &str) -> Resource {
    Resource::builder()
        .with_service_name(service.to_string())
        .build()
}

/// Emits two agent events (a prompt and a priced model call) with the official log exporter.
fn emit_events(server: &Server, protocol: Protocol, session: &str) {
    let exporter = match protocol {
        Protocol::Grpc => LogExporter::builder()
            .with_tonic()
            .with_endpoint(server.grpc_url.clone())
            .build(),
        _ => LogExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(server.url("/v1/logs"))
            .build(),
    }
    .expect("log exporter");
    let provider = SdkLoggerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(resource("claude-code"))
        .build();
    let logger = provider.logger("com.anthropic.claude_code.events");
    let events: [(&str, Vec<(&str, AnyValue)>); 2] = [
        (
            "user_prompt",
            vec![("prompt", AnyValue::from("rename the parser module"))],
        ),
        (
            "api_request",
            vec![
                ("model", AnyValue::from("claude-sonnet-4-5")),
                ("input_tokens", AnyValue::from(1000_i64)),
                ("output_tokens", AnyValue::from(200_i64)),
                ("cost_usd", AnyValue::from(0.25_f64)),
            ],
        ),
    ];
    for (sequence, (name, attributes)) in events.into_iter().enumerate() {
        let mut record = logger.create_log_record();
        record.set_severity_number(Severity::Info);
        record.set_body(AnyValue::from(format!("claude_code.{name}")));
        record.add_attribute("event.name", name);
        record.add_attribute("event.sequence", sequence as i64);
        record.add_attribute("session.id", session.to_string());
        record.add_attribute("prompt.id", format!("{session}-prompt"));
        for (key, value) in attributes {
            record.add_attribute(key, value);
        }
        logger.emit(record);
    }
    provider.force_flush().expect("flush logs");
    provider.shutdown().expect("shutdown logs");
}

/// Exports one delta cost counter and one histogram with the official metric exporter.
fn emit_metrics(server: &Server, protocol: Protocol, session: &str) {
    let exporter = match protocol {
        Protocol::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(server.grpc_url.clone())
            .with_temporality(Temporality::Delta)
            .build(),
        _ => MetricExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(server.url("/v1/metrics"))
            .with_temporality(Temporality::Delta)
            .build(),
    }
    .expect("metric exporter");
    let provider = SdkMeterProvider::builder()
        .with_periodic_exporter(exporter)
        .with_resource(resource("claude-code"))
        .build();
    let meter = provider.meter("com.anthropic.claude_code");
    let cost = meter.f64_counter("claude_code.cost.usage").build();
    let attributes = [
        KeyValue::new("session.id", session.to_string()),
        KeyValue::new("model", "claude-sonnet-4-5"),
    ];
    cost.add(0.25, &attributes);
    cost.add(0.5, &attributes);
    let latency = meter.f64_histogram("tool.duration").with_unit("ms").build();
    latency.record(35.0, &attributes);
    provider.force_flush().expect("flush metrics");
    provider.shutdown().expect("shutdown metrics");
}

fn check_logs_and_metrics(protocol: Protocol, session: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    // The gRPC exporters need a tokio reactor; the HTTP ones use a blocking client.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let reactor = runtime.enter();
    emit_events(&server, protocol, session);
    emit_metrics(&server, protocol, session);
    drop(reactor);
    let events = format!("SELECT count(*) AS n FROM logs WHERE session_id = '{session}'");
    assert_eq!(server.wait_for_count(&events, 2), 2);
    let points = format!("SELECT count(*) AS n FROM metrics WHERE session_id = '{session}'");
    assert!(server.wait_for_count(&points, 2) >= 2);

    let rows = server.sql(&format!(
        "SELECT event_name, cost_usd, input_tokens, prompt_id FROM logs \
         WHERE session_id = '{session}' ORDER BY event_sequence"
    ));
    assert_eq!(rows[0]["event_name"], "claude_code.user_prompt", "{rows:?}");
    assert_eq!(rows[1]["event_name"], "claude_code.api_request");
    assert_eq!(rows[1]["cost_usd"], 0.25);
    assert_eq!(rows[1]["input_tokens"], 1000);
    let cost = server.sql(&format!(
        "SELECT sum(value) AS usd, max(temporality) AS temporality FROM metrics \
         WHERE metric_name = 'claude_code.cost.usage' AND session_id = '{session}'"
    ));
    assert_eq!(cost[0]["usd"], 0.75, "{cost:?}");
    assert_eq!(cost[0]["temporality"], "delta");
    let histogram = server.sql(
        "SELECT metric_type, count, sum, unit FROM metrics WHERE metric_name = 'tool.duration'",
    );
    assert_eq!(histogram[0]["metric_type"], "histogram", "{histogram:?}");
    assert_eq!(histogram[0]["count"], 1);
    assert_eq!(histogram[0]["unit"], "ms");

    let (status, detail) = server.get_json(&format!("/api/sessions/{session}"));
    assert!(status.is_success(), "{status} {detail}");
    assert_eq!(detail["summary"]["cost_usd"], 0.25);
    assert_eq!(detail["prompts"][0]["prompt"], "rename the parser module");
}

#[test]
fn official_exporters_send_logs_and_metrics_over_grpc() {
    check_logs_and_metrics(Protocol::Grpc, "grpc-session");
}

#[test]
fn official_exporters_send_logs_and_metrics_over_http_protobuf() {
    check_logs_and_metrics(Protocol::HttpBinary, "http-proto-session");
}

#[test]
fn official_exporters_send_logs_and_metrics_over_http_json() {
    check_logs_and_metrics(Protocol::HttpJson, "http-json-session");
}

/// Some Claude Code builds send bodies chunked, without `Content-Length`.
#[test]
fn chunked_bodies_without_content_length_are_accepted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tracegen/fixtures/captures/claude-code-2.1.328/logs.json"
    ))
    .expect("capture");
    let address = server.base_url.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut request = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in body.chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&request).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let count = server.wait_for_count(
        "SELECT count(*) AS n FROM logs WHERE event_name = 'claude_code.api_request'",
        2,
    );
    assert_eq!(count, 2);
}

/// Bad data over gRPC gets INVALID_ARGUMENT naming the problem, and the server keeps serving.
#[test]
fn bad_input_on_grpc_is_invalid_argument_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let request = |trace_id: Vec<u8>, body: &str| ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_767_225_600_000_000_000,
                    trace_id,
                    body: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
                        value: Some(
                            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                                body.into(),
                            ),
                        ),
                    }),
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    };
    runtime.block_on(async {
        let mut client = LogsServiceClient::connect(server.grpc_url.clone())
            .await
            .expect("connect");
        let status = client
            .export(request(vec![1, 2, 3], "bad"))
            .await
            .expect_err("a 3-byte trace id is refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("trace id"),
            "{}",
            status.message()
        );
        client
            .export(request(vec![7; 16], "good neighbour"))
            .await
            .expect("the next good request is accepted");
    });
    let count = server.wait_for_count(
        "SELECT count(*) AS n FROM logs WHERE body = 'good neighbour'",
        1,
    );
    assert_eq!(count, 1);
}
