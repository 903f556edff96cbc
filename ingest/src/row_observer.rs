//! A hook for what ingest acknowledged: the server's policies watch tool calls as they
//! arrive (streaming, not a batch scan of stored data) through it.
//!
//! The pipeline hands an observer the rows that name a tool — tool spans and log events
//! with a tool name, a small share of any request — once the request's WAL record is
//! durable, so nothing is watched that could still be lost, and nothing is watched twice
//! (WAL replay after a restart does not call it).

use std::sync::Arc;

use crate::normalized_rows::NormalizedRows;
use crate::redact::MARKER_PREFIX;
use crate::span::{CanonicalSpan, SpanType};

/// Receives the tool rows of each acknowledged request. Called on the request's task: it
/// must not block (queue the rows and return).
pub trait AcknowledgedRows: Send + Sync {
    fn acknowledged(&self, project_id: &str, rows: NormalizedRows);
}

/// The observer a pipeline calls, if any.
#[derive(Clone)]
pub struct RowObserver(pub Arc<dyn AcknowledgedRows>);

impl std::fmt::Debug for RowObserver {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("RowObserver")
    }
}

/// A copy of the rows an observer is shown: tool spans and log events naming a tool. Of a
/// span, only what reading its actions needs (ids, times, scope, tool, status, session,
/// user, arguments, attributes) is copied; its output — often a whole file — only when it
/// holds a redaction marker (a `secret_exposed` action), so watching ingest does not copy
/// every file an agent read.
pub fn tool_rows(rows: &NormalizedRows) -> NormalizedRows {
    NormalizedRows {
        spans: rows
            .spans
            .iter()
            .filter(|span| span.span_type == SpanType::Tool)
            .map(action_fields)
            .collect(),
        logs: rows
            .logs
            .iter()
            .filter(|log| log.tool_name.is_some())
            .cloned()
            .collect(),
        metrics: Vec::new(),
    }
}

/// The fields of a tool span its actions are read from.
fn action_fields(span: &CanonicalSpan) -> CanonicalSpan {
    CanonicalSpan {
        project_id: span.project_id.clone(),
        trace_id: span.trace_id.clone(),
        span_id: span.span_id.clone(),
        parent_span_id: span.parent_span_id.clone(),
        name: span.name.clone(),
        service_name: span.service_name.clone(),
        scope_name: span.scope_name.clone(),
        start_time: span.start_time,
        end_time: span.end_time,
        duration_ns: span.duration_ns,
        status_code: span.status_code,
        span_type: span.span_type,
        tool_name: span.tool_name.clone(),
        tool_call_id: span.tool_call_id.clone(),
        agent_name: span.agent_name.clone(),
        session_id: span.session_id.clone(),
        user_id: span.user_id.clone(),
        input: span.input.clone(),
        output: span
            .output
            .as_deref()
            .filter(|output| output.contains(MARKER_PREFIX))
            .map(str::to_string),
        attributes: span.attributes.clone(),
        resource_attributes: span.resource_attributes.clone(),
        ..CanonicalSpan::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_row::CanonicalLog;

    #[test]
    fn only_tool_rows_are_shown_and_outputs_only_with_a_marker() {
        let tool = |output: &str| CanonicalSpan {
            span_type: SpanType::Tool,
            tool_name: Some("read_file".into()),
            input: Some("{\"path\":\".env\"}".into()),
            output: Some(output.into()),
            attributes: "{}".into(),
            ..CanonicalSpan::default()
        };
        let rows = NormalizedRows {
            spans: vec![
                tool("fn main() {}"),
                tool("TOKEN=[REDACTED:github_token]"),
                CanonicalSpan {
                    span_type: SpanType::Llm,
                    ..CanonicalSpan::default()
                },
            ],
            logs: vec![
                CanonicalLog {
                    tool_name: Some("Bash".into()),
                    ..CanonicalLog::default()
                },
                CanonicalLog::default(),
            ],
            metrics: Vec::new(),
        };
        let shown = tool_rows(&rows);
        assert_eq!(shown.spans.len(), 2);
        assert_eq!(shown.spans[0].output, None);
        assert_eq!(shown.spans[0].input, rows.spans[0].input);
        assert_eq!(
            shown.spans[1].output.as_deref(),
            Some("TOKEN=[REDACTED:github_token]")
        );
        assert_eq!(shown.logs.len(), 1);
    }
}
