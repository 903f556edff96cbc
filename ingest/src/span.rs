//! The canonical span: the one row shape every source convention is normalized into.
//!
//! One field per Parquet column (see `schema.rs`). Frequent fields have dedicated
//! columns; the long tail stays in the JSON `attributes` column, so nothing the
//! source sent is lost.

use serde::{Deserialize, Serialize};

/// What a span does in an agent run, independent of the convention that reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpanType {
    Agent,
    Llm,
    Tool,
    Embedding,
    Retrieval,
    Chain,
    #[default]
    Other,
}

impl SpanType {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanType::Agent => "agent",
            SpanType::Llm => "llm",
            SpanType::Tool => "tool",
            SpanType::Embedding => "embedding",
            SpanType::Retrieval => "retrieval",
            SpanType::Chain => "chain",
            SpanType::Other => "other",
        }
    }
}

/// OTLP span status, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "unset",
            StatusCode::Ok => "ok",
            StatusCode::Error => "error",
        }
    }
}

/// One normalized span. Times are nanoseconds since the Unix epoch, UTC.
///
/// `input`, `output` hold canonical JSON text: for LLM spans an array of messages
/// `[{"role", "parts": [{"type", ...}]}]`, for tool spans the arguments / result.
/// `attributes`, `resource_attributes`, `events` and `links` are JSON text too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct CanonicalSpan {
    // identity
    pub project_id: String,
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// unspecified | internal | server | client | producer | consumer
    pub kind: String,
    pub service_name: Option<String>,
    pub scope_name: Option<String>,
    // time
    pub start_time: i64,
    pub end_time: i64,
    pub duration_ns: i64,
    // outcome
    pub status_code: StatusCode,
    pub status_message: Option<String>,
    pub error_type: Option<String>,
    // classification
    pub span_type: SpanType,
    pub operation: Option<String>,
    // GenAI
    pub provider: Option<String>,
    pub request_model: Option<String>,
    pub response_model: Option<String>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub finish_reason: Option<String>,
    pub tool_name: Option<String>,
    pub tool_call_id: Option<String>,
    pub agent_name: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    // content
    pub input: Option<String>,
    pub output: Option<String>,
    pub system_prompt: Option<String>,
    // the rest, as JSON text
    pub attributes: String,
    pub resource_attributes: String,
    pub events: String,
    pub links: String,
}

impl CanonicalSpan {
    /// Approximate in-memory size, used for buffer accounting and backpressure.
    pub fn approx_bytes(&self) -> usize {
        let optional = |value: &Option<String>| value.as_ref().map_or(0, String::len);
        256 + self.name.len()
            + optional(&self.input)
            + optional(&self.output)
            + optional(&self.system_prompt)
            + optional(&self.status_message)
            + self.attributes.len()
            + self.resource_attributes.len()
            + self.events.len()
            + self.links.len()
    }
}
