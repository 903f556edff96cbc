//! One row of the trace list ([`TraceSummary`]) and what narrows the list
//! ([`TraceFilters`], [`TraceStatus`]): the types the trace rollup produces and filters by,
//! and the trace list pages.

use crate::error::{QueryError, Result};

/// Which traces to list. Every field narrows; `None` does not filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFilters {
    pub status: Option<TraceStatus>,
    /// A model any LLM call of the trace used (request or response model).
    pub model: Option<String>,
    pub service: Option<String>,
    pub agent: Option<String>,
    pub session: Option<String>,
    pub user: Option<String>,
    /// Inclusive lower bound on the trace's start, ns since the epoch.
    pub from_ns: Option<i64>,
    /// Exclusive upper bound on the trace's start, ns since the epoch.
    pub to_ns: Option<i64>,
    pub min_duration_ns: Option<i64>,
    pub max_duration_ns: Option<i64>,
    pub min_cost_usd: Option<f64>,
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceStatus {
    /// The run failed (its root span ended in error).
    Error,
    /// The run succeeded (its root span did not end in error), failed steps or not.
    Ok,
}

impl TraceStatus {
    pub fn parse(text: &str) -> Result<TraceStatus> {
        match text {
            "error" | "failed" => Ok(TraceStatus::Error),
            "ok" | "success" => Ok(TraceStatus::Ok),
            other => Err(QueryError::InvalidQuery(format!(
                "invalid status {other:?}: expected error or ok"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Error => "error",
            TraceStatus::Ok => "ok",
        }
    }
}

/// One trace of the list.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_name: Option<String>,
    pub service_name: Option<String>,
    pub session_id: Option<String>,
    pub agent_name: Option<String>,
    pub user_id: Option<String>,
    pub start_ns: i64,
    pub duration_ns: Option<i64>,
    pub span_count: i64,
    pub llm_calls: i64,
    pub tool_calls: i64,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub error_count: i64,
    /// Some span failed (a failed step), whatever the run's outcome.
    pub has_error: bool,
    /// `success`, `failed` or `unknown`: the run's verdict from its root span.
    pub outcome: String,
    pub models: Option<Vec<String>>,
    /// The search match that put the trace on the page, HTML with `<b>` around matched
    /// terms (text escaped); only with a text query.
    #[serde(default)]
    pub snippet: Option<String>,
}
