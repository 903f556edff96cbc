//! The canonical log record (a row of the `logs` table) and its Arrow schema.
//!
//! Agents report much of what they do as log events (Claude Code's `api_request` carries the
//! cost, Codex sends nothing but events). Fields that sessions, costs and joins need get
//! dedicated columns, filled from the alias lists in `normalize/log_aliases.rs`; every
//! attribute also stays in the JSON `attributes` column, as sent.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::arrow_columns::{
    booleans, decimals, integers, small_integers, strings, timestamp_type, timestamps,
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

fn build_logs_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let count = |name: &str| Field::new(name, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        text("project_id", false),
        Field::new("time", timestamp_type(), false),
        Field::new("observed_time", timestamp_type(), false),
        text("trace_id", true),
        text("span_id", true),
        Field::new("severity_number", DataType::Int32, false),
        text("severity_text", true),
        text("event_name", true),
        text("body", true),
        text("service_name", true),
        text("scope_name", true),
        text("session_id", true),
        text("prompt_id", true),
        count("event_sequence"),
        text("request_id", true),
        text("model", true),
        text("tool_name", true),
        text("tool_call_id", true),
        count("input_tokens"),
        count("output_tokens"),
        count("cache_read_tokens"),
        count("cache_write_tokens"),
        count("reasoning_tokens"),
        Field::new("cost_usd", DataType::Float64, true),
        Field::new("duration_ms", DataType::Float64, true),
        Field::new("success", DataType::Boolean, true),
        text("user_id", true),
        text("attributes", false),
        text("resource_attributes", false),
    ]))
}

/// Builds one record batch from log rows, in the order given.
pub fn logs_to_batch(
    logs: &[CanonicalLog],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        strings(logs, |l| Some(&l.project_id)),
        timestamps(logs, |l| Some(l.time)),
        timestamps(logs, |l| Some(l.observed_time)),
        strings(logs, |l| l.trace_id.as_deref()),
        strings(logs, |l| l.span_id.as_deref()),
        small_integers(logs, |l| Some(l.severity_number)),
        strings(logs, |l| l.severity_text.as_deref()),
        strings(logs, |l| l.event_name.as_deref()),
        strings(logs, |l| l.body.as_deref()),
        strings(logs, |l| l.service_name.as_deref()),
        strings(logs, |l| l.scope_name.as_deref()),
        strings(logs, |l| l.session_id.as_deref()),
        strings(logs, |l| l.prompt_id.as_deref()),
        integers(logs, |l| l.event_sequence),
        strings(logs, |l| l.request_id.as_deref()),
        strings(logs, |l| l.model.as_deref()),
        strings(logs, |l| l.tool_name.as_deref()),
        strings(logs, |l| l.tool_call_id.as_deref()),
        integers(logs, |l| l.input_tokens),
        integers(logs, |l| l.output_tokens),
        integers(logs, |l| l.cache_read_tokens),
        integers(logs, |l| l.cache_write_tokens),
        integers(logs, |l| l.reasoning_tokens),
        decimals(logs, |l| l.cost_usd),
        decimals(logs, |l| l.duration_ms),
        booleans(logs, |l| l.success),
        strings(logs, |l| l.user_id.as_deref()),
        strings(logs, |l| Some(&l.attributes)),
        strings(logs, |l| Some(&l.resource_attributes)),
    ];
    RecordBatch::try_new(logs_schema(), columns)
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
