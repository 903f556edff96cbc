//! What an index document stores for the search hit it becomes: the row's summary and the
//! start of its text, so a search answers from the index alone.
//!
//! Reading a hit's row from Parquet means decompressing whole pages (8 MiB of resent
//! conversation in `input`/`output`) for one row each, which made a search with hits spread
//! over days cost ~10 ms per hit. Each document therefore stores (in tantivy's compressed
//! doc store, as JSON) the columns a hit shows ([`SPAN_HIT_COLUMNS`], [`LOG_HIT_COLUMNS`])
//! and the first [`STORED_TEXT_BYTES`] of each text a snippet can come from — the text as
//! indexed (an LLM call's new messages, not its whole resent history). Which texts were cut
//! is recorded: a hit whose match lies past the cut reads its row from Parquet as before,
//! as does a hit from an index written before documents stored anything.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::log_row::CanonicalLog;
use crate::span::CanonicalSpan;

/// Columns a span hit shows.
pub const SPAN_HIT_COLUMNS: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "span_type",
    "status_code",
    "status_message",
    "start_time",
    "duration_ns",
    "service_name",
    "agent_name",
    "session_id",
    "request_model",
    "tool_name",
    "input_tokens",
    "output_tokens",
    "cost_usd",
];

/// Columns a log hit shows.
pub const LOG_HIT_COLUMNS: &[&str] = &[
    "time",
    "trace_id",
    "span_id",
    "event_name",
    "severity_text",
    "service_name",
    "session_id",
    "prompt_id",
    "model",
    "tool_name",
    "tool_call_id",
    "success",
    "cost_usd",
];

/// How much of each snippet text a document stores.
pub const STORED_TEXT_BYTES: usize = 1024;

/// A stored hit: the row (only the hit and snippet columns set) and the text columns cut
/// at [`STORED_TEXT_BYTES`].
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredHit<Row> {
    pub row: Row,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cut: Vec<String>,
}

/// The stored hit of a span whose indexed input text was `indexed_input` and whose system
/// prompt was indexed (first seen in its conversation) when `indexed_system` is set.
pub fn span_hit_bytes(
    span: &CanonicalSpan,
    indexed_input: Option<&str>,
    indexed_system: Option<&str>,
) -> Vec<u8> {
    let mut cut = Vec::new();
    let row = CanonicalSpan {
        trace_id: span.trace_id.clone(),
        span_id: span.span_id.clone(),
        parent_span_id: span.parent_span_id.clone(),
        name: span.name.clone(),
        span_type: span.span_type,
        status_code: span.status_code,
        status_message: span.status_message.clone(),
        start_time: span.start_time,
        duration_ns: span.duration_ns,
        service_name: span.service_name.clone(),
        agent_name: span.agent_name.clone(),
        session_id: span.session_id.clone(),
        request_model: span.request_model.clone(),
        tool_name: span.tool_name.clone(),
        input_tokens: span.input_tokens,
        output_tokens: span.output_tokens,
        cost_usd: span.cost_usd,
        input: indexed_input.map(|text| capped("input", text, &mut cut)),
        output: span
            .output
            .as_deref()
            .map(|text| capped("output", text, &mut cut)),
        system_prompt: indexed_system.map(|text| capped("system_prompt", text, &mut cut)),
        ..CanonicalSpan::default()
    };
    encode(&row, cut)
}

/// The stored hit of a log record; `attributes` only when they were indexed.
pub fn log_hit_bytes(log: &CanonicalLog, attributes_indexed: bool) -> Vec<u8> {
    let mut cut = Vec::new();
    let row = CanonicalLog {
        time: log.time,
        trace_id: log.trace_id.clone(),
        span_id: log.span_id.clone(),
        event_name: log.event_name.clone(),
        severity_text: log.severity_text.clone(),
        service_name: log.service_name.clone(),
        session_id: log.session_id.clone(),
        prompt_id: log.prompt_id.clone(),
        model: log.model.clone(),
        tool_name: log.tool_name.clone(),
        tool_call_id: log.tool_call_id.clone(),
        success: log.success,
        cost_usd: log.cost_usd,
        body: log
            .body
            .as_deref()
            .map(|text| capped("body", text, &mut cut)),
        attributes: if attributes_indexed {
            capped("attributes", &log.attributes, &mut cut)
        } else {
            String::new()
        },
        ..CanonicalLog::default()
    };
    encode(&row, cut)
}

/// Reads a stored hit; `None` for bytes this version cannot read (then Parquet answers).
pub fn read_stored_hit<Row: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<StoredHit<Row>> {
    serde_json::from_slice(bytes).ok()
}

/// The first [`STORED_TEXT_BYTES`] of `text` (on a character boundary); notes the cut.
fn capped(column: &str, text: &str, cut: &mut Vec<String>) -> String {
    if text.len() <= STORED_TEXT_BYTES {
        return text.to_owned();
    }
    cut.push(column.to_owned());
    let mut end = STORED_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The row as JSON without its empty and default-null values (they read back as defaults).
fn encode(row: &impl Serialize, cut: Vec<String>) -> Vec<u8> {
    let mut fields = match serde_json::to_value(row) {
        Ok(Value::Object(fields)) => fields,
        _ => Map::new(),
    };
    fields.retain(|_, value| !(value.is_null() || value.as_str() == Some("")));
    let hit = StoredHit {
        row: Value::Object(fields),
        cut,
    };
    serde_json::to_vec(&hit).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log_row::logs_to_batch;
    use crate::schema::spans_to_batch;
    use crate::span::{SpanType, StatusCode};
    use datafusion::arrow::array::RecordBatch;

    fn column_text(batch: &RecordBatch, column: &str) -> String {
        let array = batch.column_by_name(column).expect(column);
        datafusion::arrow::util::display::array_value_to_string(array, 0).expect("display")
    }

    #[test]
    fn a_stored_span_hit_reads_back_as_its_row_in_every_hit_column() {
        let span = CanonicalSpan {
            project_id: "p".into(),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            span_id: "b7ad6b7169203331".into(),
            parent_span_id: Some("00f067aa0ba902b7".into()),
            name: "execute_tool bash".into(),
            kind: "internal".into(),
            service_name: Some("ci-agent".into()),
            start_time: 1_700_000_000_123_456_789,
            end_time: 1_700_000_600_123_456_789,
            duration_ns: 600_000_000_000,
            status_code: StatusCode::Error,
            status_message: Some("command timed out after 600s".into()),
            span_type: SpanType::Tool,
            request_model: Some("claude-sonnet-4-5".into()),
            input_tokens: Some(12),
            output_tokens: Some(0),
            cost_usd: Some(0.25),
            tool_name: Some("bash".into()),
            agent_name: Some("fixer".into()),
            session_id: Some("s-1".into()),
            output: Some("x".repeat(STORED_TEXT_BYTES + 10)),
            attributes: "{}".into(),
            ..CanonicalSpan::default()
        };
        let stored = span_hit_bytes(&span, Some("cargo test"), None);
        let hit: StoredHit<CanonicalSpan> = read_stored_hit(&stored).expect("readable");
        assert_eq!(hit.cut, vec!["output".to_owned()]);
        assert_eq!(
            hit.row.output.as_deref().map(str::len),
            Some(STORED_TEXT_BYTES)
        );
        assert_eq!(hit.row.input.as_deref(), Some("cargo test"));
        let original = spans_to_batch(std::slice::from_ref(&span)).expect("batch");
        let read_back = spans_to_batch(&[hit.row]).expect("batch");
        for column in SPAN_HIT_COLUMNS {
            assert_eq!(
                column_text(&read_back, column),
                column_text(&original, column),
                "{column}"
            );
        }
    }

    #[test]
    fn a_stored_log_hit_reads_back_as_its_row_in_every_hit_column() {
        let log = CanonicalLog {
            project_id: "p".into(),
            time: 1_700_000_000_000_000_001,
            observed_time: 1_700_000_000_000_000_002,
            trace_id: Some("0af7651916cd43dd8448eb211c80319c".into()),
            event_name: Some("claude_code.tool_result".into()),
            severity_text: Some("INFO".into()),
            body: Some("claude_code.tool_result".into()),
            service_name: Some("claude-code".into()),
            session_id: Some("s-1".into()),
            prompt_id: Some("pr-1".into()),
            model: Some("claude-sonnet-4-5".into()),
            tool_name: Some("Bash".into()),
            tool_call_id: Some("toolu_1".into()),
            success: Some(false),
            cost_usd: Some(0.01),
            attributes: r#"{"tool_name":"Bash"}"#.into(),
            resource_attributes: "{}".into(),
            ..CanonicalLog::default()
        };
        let hit: StoredHit<CanonicalLog> =
            read_stored_hit(&log_hit_bytes(&log, true)).expect("readable");
        assert!(hit.cut.is_empty());
        assert_eq!(hit.row.attributes, log.attributes);
        let original = logs_to_batch(std::slice::from_ref(&log)).expect("batch");
        let read_back = logs_to_batch(&[hit.row]).expect("batch");
        for column in LOG_HIT_COLUMNS {
            assert_eq!(
                column_text(&read_back, column),
                column_text(&original, column),
                "{column}"
            );
        }
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let mut cut = Vec::new();
        let text = "é".repeat(STORED_TEXT_BYTES);
        let kept = capped("output", &text, &mut cut);
        assert!(kept.len() <= STORED_TEXT_BYTES && kept.chars().all(|c| c == 'é'));
        assert_eq!(cut, vec!["output".to_owned()]);
    }
}
