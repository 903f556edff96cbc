//! The canonical log record (a row of the `logs` table) and its Arrow schema.
//!
//! Agents report much of what they do as log events (Claude Code's `api_request` carries the
//! cost, Codex sends nothing but events). Fields that sessions, costs and joins need get
//! dedicated columns, filled from the alias lists in `normalize/log_aliases.rs`; every
//! attribute also stays in the JSON `attributes` column, as sent.

use std::sync::LazyLock;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

use crate::arrow_columns::{
    Column, batch_of, boolean, booleans, decimals, float64, int32, int64, integers, schema_of,
    small_integers, strings, timestamp_type, timestamps, utf8,
};

/// One normalized OTLP log record. Times are nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CanonicalLog {
    pub project_id: String,
    /// The record's time, or its observed time when the emitter left it out.
    pub time: i64,
    pub observed_time: i64,
    /// 32 hex characters, when the record belongs to a span.
    pub trace_id: Option<String>,
    /// 16 hex characters, when the record belongs to a span.
    pub span_id: Option<String>,
    pub severity_number: i32,
    pub severity_text: Option<String>,
    /// The event's full name, e.g. `claude_code.api_request`, `codex.sse_event`.
    pub event_name: Option<String>,
    /// The body as text (JSON text when it is not a string).
    pub body: Option<String>,
    pub service_name: Option<String>,
    pub scope_name: Option<String>,
    // agent event fields
    pub session_id: Option<String>,
    pub prompt_id: Option<String>,
    pub event_sequence: Option<i64>,
    pub request_id: Option<String>,
    pub model: Option<String>,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub duration_ms: Option<f64>,
    pub success: Option<bool>,
    pub user_id: Option<String>,
    // as sent, JSON text
    pub attributes: String,
    pub resource_attributes: String,
}

impl CanonicalLog {
    /// Approximate in-memory size, used for buffer accounting and backpressure.
    pub fn approx_bytes(&self) -> usize {
        256 + self.body.as_ref().map_or(0, String::len)
            + self.attributes.len()
            + self.resource_attributes.len()
    }
}

static LOGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(build_logs_schema);

/// The schema of the `logs` table. Column order and types are the on-disk format.
pub fn logs_schema() -> SchemaRef {
    LOGS_SCHEMA.clone()
}

/// The `logs` table's columns in their on-disk order, each stated once: name,
/// type, nullability, and how a row gives its value.
pub const LOGS_COLUMNS: &[Column<CanonicalLog>] = &[
    Column::new("project_id", utf8, false, |rows| {
        strings(rows, |l| Some(&l.project_id))
    }),
    Column::new("time", timestamp_type, false, |rows| {
        timestamps(rows, |l| Some(l.time))
    }),
    Column::new("observed_time", timestamp_type, false, |rows| {
        timestamps(rows, |l| Some(l.observed_time))
    }),
    Column::new("trace_id", utf8, true, |rows| {
        strings(rows, |l| l.trace_id.as_deref())
    }),
    Column::new("span_id", utf8, true, |rows| {
        strings(rows, |l| l.span_id.as_deref())
    }),
    Column::new("severity_number", int32, false, |rows| {
        small_integers(rows, |l| Some(l.severity_number))
    }),
    Column::new("severity_text", utf8, true, |rows| {
        strings(rows, |l| l.severity_text.as_deref())
    }),
    Column::new("event_name", utf8, true, |rows| {
        strings(rows, |l| l.event_name.as_deref())
    }),
    Column::new("body", utf8, true, |rows| {
        strings(rows, |l| l.body.as_deref())
    }),
    Column::new("service_name", utf8, true, |rows| {
        strings(rows, |l| l.service_name.as_deref())
    }),
    Column::new("scope_name", utf8, true, |rows| {
        strings(rows, |l| l.scope_name.as_deref())
    }),
    Column::new("session_id", utf8, true, |rows| {
        strings(rows, |l| l.session_id.as_deref())
    }),
    Column::new("prompt_id", utf8, true, |rows| {
        strings(rows, |l| l.prompt_id.as_deref())
    }),
    Column::new("event_sequence", int64, true, |rows| {
        integers(rows, |l| l.event_sequence)
    }),
    Column::new("request_id", utf8, true, |rows| {
        strings(rows, |l| l.request_id.as_deref())
    }),
    Column::new("model", utf8, true, |rows| {
        strings(rows, |l| l.model.as_deref())
    }),
    Column::new("tool_name", utf8, true, |rows| {
        strings(rows, |l| l.tool_name.as_deref())
    }),
    Column::new("tool_call_id", utf8, true, |rows| {
        strings(rows, |l| l.tool_call_id.as_deref())
    }),
    Column::new("input_tokens", int64, true, |rows| {
        integers(rows, |l| l.input_tokens)
    }),
    Column::new("output_tokens", int64, true, |rows| {
        integers(rows, |l| l.output_tokens)
    }),
    Column::new("cache_read_tokens", int64, true, |rows| {
        integers(rows, |l| l.cache_read_tokens)
    }),
    Column::new("cache_write_tokens", int64, true, |rows| {
        integers(rows, |l| l.cache_write_tokens)
    }),
    Column::new("reasoning_tokens", int64, true, |rows| {
        integers(rows, |l| l.reasoning_tokens)
    }),
    Column::new("cost_usd", float64, true, |rows| {
        decimals(rows, |l| l.cost_usd)
    }),
    Column::new("duration_ms", float64, true, |rows| {
        decimals(rows, |l| l.duration_ms)
    }),
    Column::new("success", boolean, true, |rows| {
        booleans(rows, |l| l.success)
    }),
    Column::new("user_id", utf8, true, |rows| {
        strings(rows, |l| l.user_id.as_deref())
    }),
    Column::new("attributes", utf8, false, |rows| {
        strings(rows, |l| Some(&l.attributes))
    }),
    Column::new("resource_attributes", utf8, false, |rows| {
        strings(rows, |l| Some(&l.resource_attributes))
    }),
];

fn build_logs_schema() -> SchemaRef {
    schema_of(LOGS_COLUMNS)
}

/// Builds one record batch from log rows, in the order given.
pub fn logs_to_batch(
    logs: &[CanonicalLog],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    batch_of(&logs_schema(), LOGS_COLUMNS, logs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_schema_column_for_column() {
        let log = CanonicalLog {
            project_id: "default".into(),
            event_name: Some("claude_code.api_request".into()),
            cost_usd: Some(0.01),
            success: Some(true),
            attributes: "{}".into(),
            resource_attributes: "{}".into(),
            ..CanonicalLog::default()
        };
        let batch = logs_to_batch(&[log]).expect("valid batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.num_columns(), logs_schema().fields().len());
    }
}
