//! The trace list: one row per trace (the `traces` view), filtered, newest first, paged.
//!
//! Without a text query the list is a keyset scan ordered by (`start_time`, `trace_id`)
//! descending, in two steps: the page's trace ids come from an aggregate of the start time
//! and the filtered columns only, then only those traces are summed in full (`traces`). With one (`q`), full-text search finds the newest
//! matching spans and the list is their traces, in order of the newest match, each with the
//! match's highlighted snippet; the page cursor is then the search cursor.
//!
//! Filters are DataFusion expressions built from typed values, never SQL text, so a filter
//! value cannot change the query.

use std::collections::HashMap;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use datafusion::functions_nested::expr_fn::array_has;
use datafusion::prelude::{DataFrame, Expr, cast, col, lit};
use serde_json::Value;
use sextant_ingest::layout::DataDir;

use crate::error::{QueryError, Result};
use crate::rows::batches_to_json_rows;
use crate::search::{SearchCursor, SearchRequest, search_spans};
use crate::views::traces_aggregate_sql;

/// Most traces on one page.
pub const MAX_TRACE_PAGE: usize = 500;
/// Search hits read per trace wanted on a page: several matches often fall in one trace.
const SEARCH_HITS_PER_TRACE: usize = 4;

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

#[derive(Debug, Clone, Default)]
pub struct TraceListRequest {
    pub filters: TraceFilters,
    /// Full-text query (the search syntax); empty lists every trace.
    pub query: Option<String>,
    pub cursor: Option<TraceCursor>,
    pub limit: usize,
}

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceCursor {
    /// Last trace of a plain listing: its start and id.
    Time { start_ns: i64, trace_id: String },
    /// Last search page of a text query.
    Search(SearchCursor),
}

impl TraceCursor {
    /// Parses the `next_cursor` text of a page.
    pub fn parse(text: &str) -> Result<TraceCursor> {
        let invalid = || QueryError::InvalidQuery(format!("invalid cursor {text:?}"));
        if let Some(rest) = text.strip_prefix('t') {
            let (start, trace_id) = rest.split_once(':').ok_or_else(invalid)?;
            let valid_id = trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit());
            if !valid_id {
                return Err(invalid());
            }
            return Ok(TraceCursor::Time {
                start_ns: start.parse().map_err(|_| invalid())?,
                trace_id: trace_id.to_owned(),
            });
        }
        if let Some(rest) = text.strip_prefix('s') {
            return SearchCursor::parse(rest)
                .map(TraceCursor::Search)
                .ok_or_else(invalid);
        }
        Err(invalid())
    }
}

impl std::fmt::Display for TraceCursor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceCursor::Time { start_ns, trace_id } => write!(formatter, "t{start_ns}:{trace_id}"),
            TraceCursor::Search(cursor) => write!(formatter, "s{cursor}"),
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

#[derive(Debug, serde::Serialize)]
pub struct TracePage {
    pub traces: Vec<TraceSummary>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

const SUMMARY_COLUMNS: &[&str] = &[
    "trace_id",
    "root_name",
    "service_name",
    "session_id",
    "agent_name",
    "user_id",
    "duration_ns",
    "span_count",
    "llm_calls",
    "tool_calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cost_usd",
    "error_count",
    "has_error",
    "outcome",
    "models",
];

fn timestamp(ns: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(ns),
        Some("UTC".into()),
    ))
}

/// The filters as one predicate over the `traces` view, `None` when nothing filters.
fn filter_predicate(filters: &TraceFilters) -> Option<Expr> {
    let mut predicates: Vec<Expr> = Vec::new();
    if let Some(status) = filters.status {
        let outcome = match status {
            TraceStatus::Error => "failed",
            TraceStatus::Ok => "success",
        };
        predicates.push(col("outcome").eq(lit(outcome)));
    }
    if let Some(model) = &filters.model {
        predicates.push(array_has(col("models"), lit(model.as_str())));
    }
    let equalities = [
        ("service_name", &filters.service),
        ("agent_name", &filters.agent),
        ("session_id", &filters.session),
        ("user_id", &filters.user),
    ];
    for (column, value) in equalities {
        if let Some(value) = value {
            predicates.push(col(column).eq(lit(value.as_str())));
        }
    }
    if let Some(from) = filters.from_ns {
        predicates.push(col("start_time").gt_eq(timestamp(from)));
    }
    if let Some(to) = filters.to_ns {
        predicates.push(col("start_time").lt(timestamp(to)));
    }
    if let Some(min) = filters.min_duration_ns {
        predicates.push(col("duration_ns").gt_eq(lit(min)));
    }
    if let Some(max) = filters.max_duration_ns {
        predicates.push(col("duration_ns").lt_eq(lit(max)));
    }
    if let Some(min) = filters.min_cost_usd {
        predicates.push(col("cost_usd").gt_eq(lit(min)));
    }
    if let Some(max) = filters.max_cost_usd {
        predicates.push(col("cost_usd").lt_eq(lit(max)));
    }
    predicates.into_iter().reduce(Expr::and)
}

async fn summaries(frame: DataFrame) -> Result<Vec<TraceSummary>> {
    let mut columns: Vec<Expr> = SUMMARY_COLUMNS.iter().map(|name| col(*name)).collect();
    columns.push(cast(col("start_time"), DataType::Int64).alias("start_ns"));
    let batches: Vec<RecordBatch> = frame.select(columns)?.collect().await?;
    batches_to_json_rows(&batches)?
        .into_iter()
        .map(|row| {
            serde_json::from_value(Value::Object(row))
                .map_err(|error| QueryError::Internal(format!("trace summary row: {error}")))
        })
        .collect()
}

/// One page of the trace list.
pub async fn list_traces(
    context: &SessionContext,
    data_dir: &DataDir,
    project_id: &str,
    request: &TraceListRequest,
) -> Result<TracePage> {
    let limit = request.limit.clamp(1, MAX_TRACE_PAGE);
    let query = request
        .query
        .as_deref()
        .map(str::trim)
        .filter(|query| !query.is_empty());
    match query {
        Some(query) => {
            list_matching_traces(context, data_dir, project_id, request, query, limit).await
        }
        None => list_all_traces(context, request, limit).await,
    }
}

/// The `traces` columns the filters read.
fn filter_columns(filters: &TraceFilters) -> Vec<&'static str> {
    let wanted = [
        ("outcome", filters.status.is_some()),
        ("models", filters.model.is_some()),
        ("service_name", filters.service.is_some()),
        ("agent_name", filters.agent.is_some()),
        ("session_id", filters.session.is_some()),
        ("user_id", filters.user.is_some()),
        (
            "duration_ns",
            filters.min_duration_ns.is_some() || filters.max_duration_ns.is_some(),
        ),
        (
            "cost_usd",
            filters.min_cost_usd.is_some() || filters.max_cost_usd.is_some(),
        ),
    ];
    wanted
        .into_iter()
        .filter(|(_, needed)| *needed)
        .map(|(column, _)| column)
        .collect()
}

/// A plain listing in two steps: the page's trace ids from an aggregate of only the start
/// time and the filtered columns (cheap: few columns, no ordered or distinct aggregates),
/// then the full summaries of just those traces.
async fn list_all_traces(
    context: &SessionContext,
    request: &TraceListRequest,
    limit: usize,
) -> Result<TracePage> {
    let mut columns = filter_columns(&request.filters);
    columns.push("start_time");
    let mut frame = context.sql(&traces_aggregate_sql(&columns)).await?;
    if let Some(predicate) = filter_predicate(&request.filters) {
        frame = frame.filter(predicate)?;
    }
    match &request.cursor {
        None => {}
        Some(TraceCursor::Time { start_ns, trace_id }) => {
            let before = col("start_time")
                .lt(timestamp(*start_ns))
                .or(col("start_time")
                    .eq(timestamp(*start_ns))
                    .and(col("trace_id").lt(lit(trace_id.as_str()))));
            frame = frame.filter(before)?;
        }
        Some(TraceCursor::Search(_)) => {
            return Err(QueryError::InvalidQuery(
                "this cursor belongs to a text query; pass the same q".into(),
            ));
        }
    }
    let page_keys = frame
        .sort(vec![
            col("start_time").sort(false, false),
            col("trace_id").sort(false, false),
        ])?
        .limit(0, Some(limit + 1))?
        .select(vec![col("trace_id")])?
        .collect()
        .await?;
    let mut order: Vec<String> = batches_to_json_rows(&page_keys)?
        .into_iter()
        .filter_map(|row| {
            row.get("trace_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let has_more = order.len() > limit;
    order.truncate(limit);
    let traces = summaries_in_order(context, order, None).await?;
    let next_cursor = match traces.last() {
        Some(last) if has_more => Some(
            TraceCursor::Time {
                start_ns: last.start_ns,
                trace_id: last.trace_id.clone(),
            }
            .to_string(),
        ),
        _ => None,
    };
    Ok(TracePage {
        traces,
        next_cursor,
    })
}

/// The summaries of the given traces, in the given order. Filtering on the group key is
/// pushed below the aggregation: only these traces are summed.
async fn summaries_in_order(
    context: &SessionContext,
    order: Vec<String>,
    predicate: Option<Expr>,
) -> Result<Vec<TraceSummary>> {
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Expr> = order.iter().map(|id| lit(id.as_str())).collect();
    let mut frame = context
        .table("traces")
        .await?
        .filter(col("trace_id").in_list(ids, false))?;
    if let Some(predicate) = predicate {
        frame = frame.filter(predicate)?;
    }
    let mut by_id: HashMap<String, TraceSummary> = summaries(frame)
        .await?
        .into_iter()
        .map(|summary| (summary.trace_id.clone(), summary))
        .collect();
    Ok(order
        .into_iter()
        .filter_map(|trace_id| by_id.remove(&trace_id))
        .collect())
}

async fn list_matching_traces(
    context: &SessionContext,
    data_dir: &DataDir,
    project_id: &str,
    request: &TraceListRequest,
    query: &str,
    limit: usize,
) -> Result<TracePage> {
    let search_cursor = match &request.cursor {
        None => None,
        Some(TraceCursor::Search(cursor)) => Some(*cursor),
        Some(TraceCursor::Time { .. }) => {
            return Err(QueryError::InvalidQuery(
                "this cursor belongs to a listing without q; drop the cursor".into(),
            ));
        }
    };
    let search = SearchRequest {
        query: query.to_owned(),
        from_ns: request.filters.from_ns,
        to_ns: request.filters.to_ns,
        limit: limit * SEARCH_HITS_PER_TRACE,
        cursor: search_cursor,
    };
    let data_dir = data_dir.clone();
    let project_id = project_id.to_owned();
    let search_page =
        tokio::task::spawn_blocking(move || search_spans(&data_dir, &project_id, &search))
            .await
            .map_err(|error| QueryError::Internal(format!("search task: {error}")))??;

    // Newest match first; one row per trace, with the snippet of its newest match.
    let mut order: Vec<String> = Vec::new();
    let mut snippets: HashMap<String, Option<String>> = HashMap::new();
    for hit in search_page.hits {
        let Some(trace_id) = hit.row.get("trace_id").and_then(Value::as_str) else {
            continue;
        };
        if !snippets.contains_key(trace_id) {
            order.push(trace_id.to_owned());
            snippets.insert(trace_id.to_owned(), hit.snippet);
        }
    }
    if order.is_empty() {
        return Ok(TracePage {
            traces: Vec::new(),
            next_cursor: None,
        });
    }
    let predicate = filter_predicate(&request.filters);
    let mut traces = summaries_in_order(context, order, predicate).await?;
    for summary in &mut traces {
        summary.snippet = snippets.remove(&summary.trace_id).flatten();
    }
    Ok(TracePage {
        traces,
        next_cursor: search_page
            .next_cursor
            .map(|cursor| TraceCursor::Search(cursor).to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let time = TraceCursor::Time {
            start_ns: 1_700_000_000_000_000_000,
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        };
        assert_eq!(TraceCursor::parse(&time.to_string()).unwrap(), time);
        let search = TraceCursor::Search(SearchCursor {
            start_time: 42,
            ties_seen: 3,
        });
        assert_eq!(TraceCursor::parse(&search.to_string()).unwrap(), search);
        for garbage in [
            "",
            "x1:2",
            "t12:nothex",
            "t:0af7651916cd43dd8448eb211c80319c",
            "s1",
        ] {
            assert!(TraceCursor::parse(garbage).is_err(), "{garbage:?} parsed");
        }
    }

    #[test]
    fn no_filters_means_no_predicate_and_each_filter_adds_one() {
        assert!(filter_predicate(&TraceFilters::default()).is_none());
        let filters = TraceFilters {
            status: Some(TraceStatus::Error),
            model: Some("claude-sonnet-4-5".into()),
            min_cost_usd: Some(0.5),
            ..TraceFilters::default()
        };
        let predicate = filter_predicate(&filters).unwrap().to_string();
        assert!(predicate.contains("outcome"), "{predicate}");
        assert!(predicate.contains("claude-sonnet-4-5"), "{predicate}");
        assert!(predicate.contains("cost_usd"), "{predicate}");
    }

    #[test]
    fn status_words() {
        assert_eq!(TraceStatus::parse("failed").unwrap(), TraceStatus::Error);
        assert_eq!(TraceStatus::parse("ok").unwrap(), TraceStatus::Ok);
        assert!(TraceStatus::parse("maybe").is_err());
    }
}
