//! The Arrow schema of the `spans` table and the conversion of canonical spans into batches.
//!
//! Column order and types here are the on-disk Parquet format: change them only with a
//! migration. Times are `Timestamp(ns, UTC)`; JSON-bearing columns are UTF-8 text.

use std::sync::LazyLock;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

use crate::arrow_columns::{
    Column, batch_of, decimals, float64, int64, integers, schema_of, strings, timestamp_type,
    timestamps, utf8,
};

use crate::span::CanonicalSpan;

static SPANS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(build_spans_schema);

/// The schema of the `spans` table.
pub fn spans_schema() -> SchemaRef {
    SPANS_SCHEMA.clone()
}

/// The `spans` table's columns in their on-disk order, each stated once: name,
/// type, nullability, and how a row gives its value.
pub const SPANS_COLUMNS: &[Column<CanonicalSpan>] = &[
    Column::new("project_id", utf8, false, |rows| {
        strings(rows, |s| Some(&s.project_id))
    }),
    Column::new("trace_id", utf8, false, |rows| {
        strings(rows, |s| Some(&s.trace_id))
    }),
    Column::new("span_id", utf8, false, |rows| {
        strings(rows, |s| Some(&s.span_id))
    }),
    Column::new("parent_span_id", utf8, true, |rows| {
        strings(rows, |s| s.parent_span_id.as_deref())
    }),
    Column::new("name", utf8, false, |rows| strings(rows, |s| Some(&s.name))),
    Column::new("kind", utf8, false, |rows| strings(rows, |s| Some(&s.kind))),
    Column::new("service_name", utf8, true, |rows| {
        strings(rows, |s| s.service_name.as_deref())
    }),
    Column::new("scope_name", utf8, true, |rows| {
        strings(rows, |s| s.scope_name.as_deref())
    }),
    Column::new("start_time", timestamp_type, false, |rows| {
        timestamps(rows, |s| Some(s.start_time))
    }),
    Column::new("end_time", timestamp_type, false, |rows| {
        timestamps(rows, |s| Some(s.end_time))
    }),
    Column::new("duration_ns", int64, false, |rows| {
        integers(rows, |s| Some(s.duration_ns))
    }),
    Column::new("status_code", utf8, false, |rows| {
        strings(rows, |s| Some(s.status_code.as_str()))
    }),
    Column::new("status_message", utf8, true, |rows| {
        strings(rows, |s| s.status_message.as_deref())
    }),
    Column::new("error_type", utf8, true, |rows| {
        strings(rows, |s| s.error_type.as_deref())
    }),
    Column::new("span_type", utf8, false, |rows| {
        strings(rows, |s| Some(s.span_type.as_str()))
    }),
    Column::new("operation", utf8, true, |rows| {
        strings(rows, |s| s.operation.as_deref())
    }),
    Column::new("provider", utf8, true, |rows| {
        strings(rows, |s| s.provider.as_deref())
    }),
    Column::new("request_model", utf8, true, |rows| {
        strings(rows, |s| s.request_model.as_deref())
    }),
    Column::new("response_model", utf8, true, |rows| {
        strings(rows, |s| s.response_model.as_deref())
    }),
    Column::new("input_tokens", int64, true, |rows| {
        integers(rows, |s| s.input_tokens)
    }),
    Column::new("output_tokens", int64, true, |rows| {
        integers(rows, |s| s.output_tokens)
    }),
    Column::new("cache_read_tokens", int64, true, |rows| {
        integers(rows, |s| s.cache_read_tokens)
    }),
    Column::new("cache_write_tokens", int64, true, |rows| {
        integers(rows, |s| s.cache_write_tokens)
    }),
    Column::new("reasoning_tokens", int64, true, |rows| {
        integers(rows, |s| s.reasoning_tokens)
    }),
    Column::new("cost_usd", float64, true, |rows| {
        decimals(rows, |s| s.cost_usd)
    }),
    Column::new("finish_reason", utf8, true, |rows| {
        strings(rows, |s| s.finish_reason.as_deref())
    }),
    Column::new("tool_name", utf8, true, |rows| {
        strings(rows, |s| s.tool_name.as_deref())
    }),
    Column::new("tool_call_id", utf8, true, |rows| {
        strings(rows, |s| s.tool_call_id.as_deref())
    }),
    Column::new("agent_name", utf8, true, |rows| {
        strings(rows, |s| s.agent_name.as_deref())
    }),
    Column::new("session_id", utf8, true, |rows| {
        strings(rows, |s| s.session_id.as_deref())
    }),
    Column::new("user_id", utf8, true, |rows| {
        strings(rows, |s| s.user_id.as_deref())
    }),
    Column::new("input", utf8, true, |rows| {
        strings(rows, |s| s.input.as_deref())
    }),
    Column::new("output", utf8, true, |rows| {
        strings(rows, |s| s.output.as_deref())
    }),
    Column::new("system_prompt", utf8, true, |rows| {
        strings(rows, |s| s.system_prompt.as_deref())
    }),
    Column::new("attributes", utf8, false, |rows| {
        strings(rows, |s| Some(&s.attributes))
    }),
    Column::new("resource_attributes", utf8, false, |rows| {
        strings(rows, |s| Some(&s.resource_attributes))
    }),
    Column::new("events", utf8, false, |rows| {
        strings(rows, |s| Some(&s.events))
    }),
    Column::new("links", utf8, false, |rows| {
        strings(rows, |s| Some(&s.links))
    }),
];

fn build_spans_schema() -> SchemaRef {
    schema_of(SPANS_COLUMNS)
}

/// Builds one record batch from spans, in the order given.
pub fn spans_to_batch(
    spans: &[CanonicalSpan],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    batch_of(&spans_schema(), SPANS_COLUMNS, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_schema_column_for_column() {
        let span = CanonicalSpan {
            project_id: "default".into(),
            trace_id: "0".repeat(32),
            span_id: "1".repeat(16),
            name: "chat gpt-4o".into(),
            kind: "client".into(),
            input_tokens: Some(12),
            cost_usd: Some(0.5),
            attributes: "{}".into(),
            resource_attributes: "{}".into(),
            events: "[]".into(),
            links: "[]".into(),
            ..CanonicalSpan::default()
        };
        let batch = spans_to_batch(&[span]).expect("valid batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.num_columns(), spans_schema().fields().len());
    }
}
