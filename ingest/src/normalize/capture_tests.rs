//! Normalization of real agent captures (`tracegen/fixtures/captures/`): what the Claude Code
//! 2.1.328 and Codex 0.169.0 CLIs exported for one short run each.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde::de::DeserializeOwned;
use serde_json::{Value as Json, json};

use crate::log_row::CanonicalLog;
use crate::span::{CanonicalSpan, SpanType};

use super::{normalize_logs_request, normalize_metrics_request, normalize_request};

const CLAUDE_CODE: &str = "claude-code-2.1.328";
const CODEX: &str = "codex-0.169.0";

fn load<T: DeserializeOwned>(capture: &str, file: &str) -> T {
    let path = format!(
        "{}/../tracegen/fixtures/captures/{capture}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("read {path}: {error}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("decode {path}: {error}"))
}

fn spans(capture: &str, file: &str) -> Vec<CanonicalSpan> {
    let request: ExportTraceServiceRequest = load(capture, file);
    normalize_request("default", &request).expect("capture normalizes")
}

fn logs(capture: &str) -> Vec<CanonicalLog> {
    let request: ExportLogsServiceRequest = load(capture, "logs.json");
    normalize_logs_request("default", &request).expect("capture normalizes")
}

/// The columns a session timeline and cost join read, one compact object per span.
fn span_summary(span: &CanonicalSpan) -> Json {
    json!({
        "name": span.name,
        "span_type": span.span_type.as_str(),
        "model": span.request_model,
        "tokens": [span.input_tokens, span.output_tokens, span.cache_read_tokens, span.cache_write_tokens],
        "finish_reason": span.finish_reason,
        "tool": [span.tool_name, span.tool_call_id],
        "session_id": span.session_id,
        "input": span.input,
    })
}

fn log_summary(log: &CanonicalLog) -> Json {
    json!({
        "event": log.event_name,
        "sequence": log.event_sequence,
        "session_id": log.session_id,
        "prompt_id": log.prompt_id,
        "span": [log.trace_id, log.span_id],
        "model": log.model,
        "tokens": [log.input_tokens, log.output_tokens, log.cache_read_tokens, log.cache_write_tokens, log.reasoning_tokens],
        "cost_usd": log.cost_usd,
        "tool": [log.tool_name, log.tool_call_id],
        "success": log.success,
        "duration_ms": log.duration_ms,
    })
}

#[test]
fn claude_code_spans_become_agent_llm_and_tool_spans() {
    let spans = spans(CLAUDE_CODE, "traces.json");
    let summaries: Vec<Json> = spans.iter().map(span_summary).collect();
    insta::assert_json_snapshot!("claude_code_spans", summaries);

    let of_type = |span_type| spans.iter().filter(move |span| span.span_type == span_type);
    let interaction = of_type(SpanType::Agent).next().expect("an agent span");
    assert_eq!(interaction.input.as_deref(), Some("run the otter check"));
    let llm: Vec<&CanonicalSpan> = of_type(SpanType::Llm).collect();
    assert_eq!(llm.len(), 2);
    for call in &llm {
        assert_eq!(call.request_model.as_deref(), Some("claude-opus-5-5"));
        assert_eq!(call.input_tokens, Some(1200));
        assert_eq!(call.output_tokens, Some(42));
        assert_eq!(call.cache_read_tokens, Some(300));
        assert_eq!(call.cache_write_tokens, Some(50));
    }
    let tools: Vec<&CanonicalSpan> = of_type(SpanType::Tool).collect();
    assert_eq!(tools.len(), 1, "tool phases are not extra tool calls");
    assert_eq!(tools[0].tool_name.as_deref(), Some("Bash"));
    assert_eq!(tools[0].tool_call_id.as_deref(), Some("toolu_01otter"));
    assert_eq!(
        tools[0].input.as_deref(),
        Some("echo hello-otter-telemetry")
    );
    assert!(
        spans
            .iter()
            .all(|span| span.session_id.as_deref() == Some("e82a73ec-2177-4b26-bf99-652bb7c18c86"))
    );
}

#[test]
fn claude_code_events_carry_cost_tokens_and_join_keys() {
    let logs = logs(CLAUDE_CODE);
    let summaries: Vec<Json> = logs.iter().map(log_summary).collect();
    insta::assert_json_snapshot!("claude_code_logs", summaries);

    let api_requests: Vec<&CanonicalLog> = logs
        .iter()
        .filter(|log| log.event_name.as_deref() == Some("claude_code.api_request"))
        .collect();
    assert_eq!(api_requests.len(), 2);
    let total_cost: f64 = api_requests.iter().filter_map(|log| log.cost_usd).sum();
    assert!(
        (total_cost - 0.0119).abs() < 1e-9,
        "total cost {total_cost}"
    );
    assert!(api_requests.iter().all(|log| log.prompt_id.is_some()
        && log.trace_id.is_some()
        && log.input_tokens == Some(1200)));
    let tool_result = logs
        .iter()
        .find(|log| log.event_name.as_deref() == Some("claude_code.tool_result"))
        .expect("a tool_result event");
    assert_eq!(tool_result.success, Some(true));
    assert_eq!(tool_result.duration_ms, Some(35.0));
    assert_eq!(tool_result.tool_call_id.as_deref(), Some("toolu_01otter"));
}

#[test]
fn claude_code_metrics_keep_delta_sums() {
    let request: ExportMetricsServiceRequest = load(CLAUDE_CODE, "metrics.json");
    let points = normalize_metrics_request("default", &request).expect("capture normalizes");
    let cost: Vec<_> = points
        .iter()
        .filter(|point| point.metric_name == "claude_code.cost.usage")
        .collect();
    assert!(!cost.is_empty(), "cost metric present");
    assert!(cost.iter().all(|point| point.metric_type == "sum"
        && point.temporality.as_deref() == Some("delta")
        && point.value.is_some()
        && point.session_id.is_some()));
    let summed: f64 = cost.iter().filter_map(|point| point.value).sum();
    assert!(
        (summed - 0.0119).abs() < 1e-9,
        "cost metric sums to {summed}"
    );
}

#[test]
fn codex_events_form_a_conversation_with_token_counts() {
    let logs = logs(CODEX);
    let conversation = "01a20119-8bbc-7090-af2c-41c854c72264";
    let named = |name: &str| {
        logs.iter()
            .filter(|log| log.event_name.as_deref() == Some(name))
            .count()
    };
    assert_eq!(named("codex.user_prompt"), 1);
    assert_eq!(named("codex.api_request"), 2);
    assert_eq!(named("codex.tool_result"), 1);
    let completed: Vec<&CanonicalLog> = logs
        .iter()
        .filter(|log| log.input_tokens.is_some())
        .collect();
    assert_eq!(
        completed.len(),
        2,
        "two response.completed events with usage"
    );
    assert!(
        completed
            .iter()
            .all(|log| log.event_name.as_deref() == Some("codex.sse_event")
                && log.model.as_deref() == Some("fake-model"))
    );
    let tool_result = logs
        .iter()
        .find(|log| log.event_name.as_deref() == Some("codex.tool_result"))
        .expect("tool result");
    assert_eq!(tool_result.tool_name.as_deref(), Some("exec_command"));
    assert_eq!(
        tool_result.tool_call_id.as_deref(),
        Some("call_71e70f0d168147b2")
    );
    assert!(
        logs.iter()
            .filter(|log| log
                .event_name
                .as_deref()
                .is_some_and(|name| name.starts_with("codex.")))
            .all(|log| log.session_id.as_deref() == Some(conversation))
    );
}

#[test]
fn codex_traces_and_metrics_normalize_whole() {
    let mut all = spans(CODEX, "traces-1.json");
    all.extend(spans(CODEX, "traces-2.json"));
    assert!(all.len() > 100, "hundreds of spans, {} here", all.len());
    assert!(
        all.iter().any(|span| span.input_tokens.is_some()),
        "handle_responses carries gen_ai.usage"
    );
    let request: ExportMetricsServiceRequest = load(CODEX, "metrics.json");
    let points = normalize_metrics_request("default", &request).expect("capture normalizes");
    assert!(!points.is_empty());
    assert!(points.iter().all(|point| !point.metric_name.is_empty()));
}
