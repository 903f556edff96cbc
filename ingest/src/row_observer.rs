//! A hook for what ingest acknowledged: the server's policies watch tool calls as they
//! arrive (streaming, not a batch scan of stored data) through it.
//!
//! The pipeline hands an observer the rows that name a tool — tool spans and log events
//! with a tool name, a small share of any request — once the request's WAL record is
//! durable, so nothing is watched that could still be lost, and nothing is watched twice
//! (WAL replay after a restart does not call it).

use std::sync::Arc;

use crate::normalized_rows::NormalizedRows;
use crate::span::SpanType;

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

/// A copy of the rows an observer is shown: tool spans and log events naming a tool.
pub fn tool_rows(rows: &NormalizedRows) -> NormalizedRows {
    NormalizedRows {
        spans: rows
            .spans
            .iter()
            .filter(|span| span.span_type == SpanType::Tool)
            .cloned()
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
