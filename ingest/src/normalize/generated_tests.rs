//! Every generated agent run, in each of the generator's conventions (OTel GenAI,
//! OpenInference, Claude Code), normalizes into the canonical spans its plan describes:
//! the model on every model call, the output tokens, the tool names in order, the session,
//! and an error root exactly when the run failed. Claude Code runs' log events read back
//! too: an `api_request` with a cost per answered model call, a `tool_result` per tool.

use sextant_tracegen::agent_traces::AgentTraceGenerator;
use sextant_tracegen::config::{Convention, GeneratorConfig};

use super::{normalize_export, normalize_request};
use crate::span::{SpanType, StatusCode};
use crate::wal_record::ExportRequest;

#[test]
fn generated_runs_read_back_as_planned_in_every_convention() {
    let mut generator = AgentTraceGenerator::with_config(17, GeneratorConfig::small());
    let mut seen = std::collections::BTreeSet::new();
    for index in 0..400u64 {
        let trace = generator.trace(1_700_000_000_000_000_000 + index * 60_000_000_000);
        let expected = &trace.summary;
        seen.insert(expected.convention);
        let spans = normalize_request("p", &trace.request).expect("normalizes");
        let context = format!("{:?} run {}", expected.convention, expected.trace_id);
        assert_eq!(spans.len(), trace.span_count, "{context}");
        assert!(
            spans.iter().all(|span| span.trace_id == expected.trace_id),
            "{context}"
        );

        let root = spans
            .iter()
            .find(|span| span.parent_span_id.is_none())
            .expect("a root");
        assert_eq!(root.span_type, SpanType::Agent, "{context}");
        assert_eq!(
            root.session_id.as_deref(),
            Some(expected.session_id.as_str()),
            "{context}"
        );
        assert_eq!(
            root.status_code == StatusCode::Error,
            expected.failure.is_some(),
            "{context}: {:?}",
            root.status_message
        );

        let llm: Vec<_> = spans
            .iter()
            .filter(|span| span.span_type == SpanType::Llm)
            .collect();
        assert_eq!(llm.len(), expected.llm_calls, "{context}");
        assert!(
            llm.iter()
                .all(|span| span.request_model.as_deref() == Some(expected.model)),
            "{context}"
        );
        let output_tokens: i64 = llm.iter().filter_map(|span| span.output_tokens).sum();
        assert_eq!(output_tokens, expected.output_tokens, "{context}");

        let tools: Vec<&str> = spans
            .iter()
            .filter(|span| span.span_type == SpanType::Tool)
            .filter_map(|span| span.tool_name.as_deref())
            .collect();
        assert_eq!(tools, expected.tools, "{context}");

        let Some(logs) = trace.logs.clone() else {
            assert_ne!(
                expected.convention,
                Convention::ClaudeCode,
                "{context}: no events"
            );
            continue;
        };
        let events = normalize_export("p", &ExportRequest::Logs(logs))
            .expect("events normalize")
            .logs;
        let named = |name: &str| {
            events
                .iter()
                .filter(|event| {
                    event.event_name.as_deref() == Some(&*format!("claude_code.{name}"))
                })
                .collect::<Vec<_>>()
        };
        let answered = llm
            .iter()
            .filter(|span| span.status_code != StatusCode::Error)
            .count();
        let requests = named("api_request");
        assert_eq!(requests.len(), answered, "{context}");
        assert!(
            requests
                .iter()
                .all(|event| event.cost_usd.is_some_and(|cost| cost > 0.0)
                    && event.request_id.is_some()
                    && event.model.as_deref() == Some(expected.model)),
            "{context}"
        );
        assert_eq!(
            named("tool_result").len(),
            expected.tools.len(),
            "{context}"
        );
        assert!(
            events
                .iter()
                .all(|event| event.session_id.as_deref() == Some(expected.session_id.as_str())),
            "{context}"
        );
    }
    assert_eq!(
        seen.len(),
        Convention::ALL.len(),
        "every convention: {seen:?}"
    );
}
