//! The Arrow schema of the `spans` table and the conversion of canonical spans into batches.
//!
//! Column order and types here are the on-disk Parquet format: change them only with a
//! migration. Times are `Timestamp(ns, UTC)`; JSON-bearing columns are UTF-8 text.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::arrow_columns::{decimals, integers, strings, timestamp_type, timestamps};

use crate::span::CanonicalSpan;

static SPANS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(build_spans_schema);

/// The schema of the `spans` table.
pub fn spans_schema() -> SchemaRef {
    SPANS_SCHEMA.clone()
}

fn build_spans_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let count = |name: &str| Field::new(name, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        text("project_id", false),
        text("trace_id", false),
        text("span_id", false),
        text("parent_span_id", true),
        text("name", false),
        text("kind", false),
        text("service_name", true),
        text("scope_name", true),
        Field::new("start_time", timestamp_type(), false),
        Field::new("end_time", timestamp_type(), false),
        Field::new("duration_ns", DataType::Int64, false),
        text("status_code", false),
        text("status_message", true),
        text("error_type", true),
        text("span_type", false),
        text("operation", true),
        text("provider", true),
        text("request_model", true),
        text("response_model", true),
        count("input_tokens"),
        count("output_tokens"),
        count("cache_read_tokens"),
        count("cache_write_tokens"),
        count("reasoning_tokens"),
        Field::new("cost_usd", DataType::Float64, true),
        text("finish_reason", true),
        text("tool_name", true),
        text("tool_call_id", true),
        text("agent_name", true),
        text("session_id", true),
        text("user_id", true),
        text("input", true),
        text("output", true),
        text("system_prompt", true),
        text("attributes", false),
        text("resource_attributes", false),
        text("events", false),
        text("links", false),
    ]))
}

/// Builds one record batch from spans, in the order given.
pub fn spans_to_batch(
    spans: &[CanonicalSpan],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        strings(spans, |s| Some(&s.project_id)),
        strings(spans, |s| Some(&s.trace_id)),
        strings(spans, |s| Some(&s.span_id)),
        strings(spans, |s| s.parent_span_id.as_deref()),
        strings(spans, |s| Some(&s.name)),
        strings(spans, |s| Some(&s.kind)),
        strings(spans, |s| s.service_name.as_deref()),
        strings(spans, |s| s.scope_name.as_deref()),
        timestamps(spans, |s| Some(s.start_time)),
        timestamps(spans, |s| Some(s.end_time)),
        integers(spans, |s| Some(s.duration_ns)),
        strings(spans, |s| Some(s.status_code.as_str())),
        strings(spans, |s| s.status_message.as_deref()),
        strings(spans, |s| s.error_type.as_deref()),
        strings(spans, |s| Some(s.span_type.as_str())),
        strings(spans, |s| s.operation.as_deref()),
        strings(spans, |s| s.provider.as_deref()),
        strings(spans, |s| s.request_model.as_deref()),
        strings(spans, |s| s.response_model.as_deref()),
        integers(spans, |s| s.input_tokens),
        integers(spans, |s| s.output_tokens),
        integers(spans, |s| s.cache_read_tokens),
        integers(spans, |s| s.cache_write_tokens),
        integers(spans, |s| s.reasoning_tokens),
        decimals(spans, |s| s.cost_usd),
        strings(spans, |s| s.finish_reason.as_deref()),
        strings(spans, |s| s.tool_name.as_deref()),
        strings(spans, |s| s.tool_call_id.as_deref()),
        strings(spans, |s| s.agent_name.as_deref()),
        strings(spans, |s| s.session_id.as_deref()),
        strings(spans, |s| s.user_id.as_deref()),
        strings(spans, |s| s.input.as_deref()),
        strings(spans, |s| s.output.as_deref()),
        strings(spans, |s| s.system_prompt.as_deref()),
        strings(spans, |s| Some(&s.attributes)),
        strings(spans, |s| Some(&s.resource_attributes)),
        strings(spans, |s| Some(&s.events)),
        strings(spans, |s| Some(&s.links)),
    ];
    RecordBatch::try_new(spans_schema(), columns)
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
