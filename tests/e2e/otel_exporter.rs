//! The official Rust OpenTelemetry OTLP exporter sends agent spans over HTTP protobuf,
//! HTTP JSON and gRPC (gzip); they come back normalized through SQL, search and the trace API.

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::Value;

use crate::server::Server;

/// Emits one agent run the way an OTel GenAI instrumented agent does: agent → chat → tool.
/// Returns the trace id.
fn emit_agent_run(server: &Server, protocol: Protocol, service: &str, marker: &str) -> String {
    let exporter = match protocol {
        Protocol::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_compression(opentelemetry_otlp::Compression::Gzip)
            .with_endpoint(server.grpc_url.clone())
            .build(),
        _ => SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(server.url("/v1/traces"))
            .build(),
    }
    .expect("exporter");
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_string())
                .build(),
        )
        .build();
    let tracer = provider.tracer("sextant-e2e");
    let input_messages = serde_json::json!([
        {"role": "user", "parts": [{"type": "text", "content": format!("fix the {marker} bug in parser.rs")}]}
    ]);
    let output_messages = serde_json::json!([
        {"role": "assistant", "parts": [
            {"type": "text", "content": "I will run the tests first."},
            {"type": "tool_call", "id": "call_1", "name": "bash", "arguments": {"command": "cargo test"}}
        ], "finish_reason": "tool_calls"}
    ]);
    let trace_id = tracer.in_span("invoke_agent coder", |agent_cx| {
        agent_cx.span().set_attributes([
            KeyValue::new("gen_ai.operation.name", "invoke_agent"),
            KeyValue::new("gen_ai.agent.name", "coder"),
            KeyValue::new("gen_ai.conversation.id", format!("session-{marker}")),
        ]);
        let mut chat = tracer
            .span_builder("chat claude-sonnet-4-5")
            .with_kind(SpanKind::Client)
            .start(&tracer);
        chat.set_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.provider.name", "anthropic"),
            KeyValue::new("gen_ai.request.model", "claude-sonnet-4-5"),
            KeyValue::new("gen_ai.response.model", "claude-sonnet-4-5-20250929"),
            KeyValue::new("gen_ai.usage.input_tokens", 1200_i64),
            KeyValue::new("gen_ai.usage.output_tokens", 300_i64),
            KeyValue::new("gen_ai.usage.cache_read.input_tokens", 800_i64),
            KeyValue::new("gen_ai.input.messages", input_messages.to_string()),
            KeyValue::new("gen_ai.output.messages", output_messages.to_string()),
        ]);
        chat.end();
        let mut tool = tracer.span_builder("execute_tool bash").start(&tracer);
        tool.set_attributes([
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", "bash"),
            KeyValue::new("gen_ai.tool.call.id", "call_1"),
            KeyValue::new("gen_ai.tool.call.arguments", r#"{"command":"cargo test"}"#),
            KeyValue::new(
                "gen_ai.tool.call.result",
                format!("test parser::{marker} ... FAILED"),
            ),
        ]);
        tool.set_status(Status::error("exit code 101"));
        tool.end();
        agent_cx.span().span_context().trace_id().to_string()
    });
    provider.force_flush().expect("flush");
    provider.shutdown().expect("shutdown");
    trace_id
}

fn check_round_trip(protocol: Protocol, service: &str, marker: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    // The gRPC exporter needs a tokio reactor; the HTTP ones use a blocking client.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _reactor = runtime.enter();
    let trace_id = emit_agent_run(&server, protocol, service, marker);

    let count_sql = format!("SELECT count(*) AS n FROM spans WHERE service_name = '{service}'");
    assert_eq!(server.wait_for_count(&count_sql, 3), 3);

    let rows = server.sql(&format!(
        "SELECT name, span_type, provider, request_model, response_model, input_tokens, output_tokens, \
         cache_read_tokens, tool_name, tool_call_id, agent_name, session_id, status_code, input, output \
         FROM spans WHERE service_name = '{service}' ORDER BY start_time, name"
    ));
    let by_name = |name: &str| -> &Value {
        rows.iter()
            .find(|row| row["name"] == name)
            .unwrap_or_else(|| panic!("no span {name} in {rows:?}"))
    };
    let chat = by_name("chat claude-sonnet-4-5");
    assert_eq!(chat["span_type"], "llm");
    assert_eq!(chat["provider"], "anthropic");
    assert_eq!(chat["request_model"], "claude-sonnet-4-5");
    assert_eq!(chat["response_model"], "claude-sonnet-4-5-20250929");
    assert_eq!(chat["input_tokens"], 1200);
    assert_eq!(chat["output_tokens"], 300);
    assert_eq!(chat["cache_read_tokens"], 800);
    let input: Value =
        serde_json::from_str(chat["input"].as_str().expect("input text")).expect("input json");
    assert_eq!(input[0]["role"], "user");
    assert_eq!(
        input[0]["parts"][0]["content"],
        format!("fix the {marker} bug in parser.rs")
    );
    let output: Value =
        serde_json::from_str(chat["output"].as_str().expect("output text")).expect("output json");
    assert_eq!(output[0]["parts"][1]["type"], "tool_call");
    assert_eq!(output[0]["parts"][1]["name"], "bash");

    let tool = by_name("execute_tool bash");
    assert_eq!(tool["span_type"], "tool");
    assert_eq!(tool["tool_name"], "bash");
    assert_eq!(tool["tool_call_id"], "call_1");
    assert_eq!(tool["status_code"], "error");

    let agent = by_name("invoke_agent coder");
    assert_eq!(agent["span_type"], "agent");
    assert_eq!(agent["agent_name"], "coder");
    assert_eq!(agent["session_id"], format!("session-{marker}"));

    // Search finds the tool output by a word in it, and the prompt by its marker.
    let (status, found) = server.get_json(&format!("/api/search?q=FAILED%20{marker}&limit=5"));
    assert!(status.is_success(), "{found}");
    let hits = found["hits"].as_array().expect("hits");
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["name"], "execute_tool bash");
    assert_eq!(hits[0]["trace_id"], trace_id);
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap_or_default()
            .contains("<b>"),
        "{found}"
    );
    let (_, by_tool) = server.get_json(&format!("/api/search?q=tool:bash%20AND%20{marker}"));
    assert_eq!(
        by_tool["hits"].as_array().map(Vec::len),
        Some(1),
        "{by_tool}"
    );

    // The trace API returns the tree: agent at depth 0, its children at depth 1.
    let (status, trace) = server.get_json(&format!("/api/traces/{trace_id}"));
    assert!(status.is_success(), "{trace}");
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 3);
    assert_eq!(spans[0]["name"], "invoke_agent coder");
    assert_eq!(spans[0]["depth"], 0);
    assert!(spans[1..].iter().all(|span| span["depth"] == 1), "{trace}");
}

#[test]
fn http_protobuf_exporter_round_trip() {
    check_round_trip(Protocol::HttpBinary, "e2e-agent-proto", "quokka");
}

#[test]
fn grpc_exporter_round_trip() {
    check_round_trip(Protocol::Grpc, "e2e-agent-grpc", "pangolin");
}

#[test]
fn http_json_exporter_round_trip() {
    check_round_trip(Protocol::HttpJson, "e2e-agent-json", "wombat");
}
