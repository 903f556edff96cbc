//! The trace list: one row per trace (the `traces` view), filtered, newest first, paged.
//!
//! Rows come from the trace rollup (`trace_rollup.rs`), whose summaries equal the `traces`
//! view's rows. Without a text query the list is a keyset walk ordered by (`start_time`,
//! `trace_id`) descending, so a page costs the page, not the window. With one (`q`),
//! full-text search finds the newest matching spans and the list is their traces, in order
//! of the newest match, each with the match's highlighted snippet; the page cursor is then
//! the search cursor. Filters are typed values compared in Rust, never SQL text.

use std::collections::HashMap;

use serde_json::Value;
use sextant_ingest::layout::DataDir;

use crate::error::{QueryError, Result};
use crate::search::{SearchCursor, SearchRequest, search_spans};
use crate::trace_rollup;
pub use crate::trace_summary::{TraceFilters, TraceStatus, TraceSummary};

/// Most traces on one page.
pub const MAX_TRACE_PAGE: usize = 500;
/// Search hits read per trace wanted on a page: several matches often fall in one trace.
const SEARCH_HITS_PER_TRACE: usize = 4;

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

#[derive(Debug, serde::Serialize)]
pub struct TracePage {
    pub traces: Vec<TraceSummary>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One page of the trace list.
pub async fn list_traces(
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
        Some(query) => list_matching_traces(data_dir, project_id, request, query, limit).await,
        None => list_all_traces(data_dir, project_id, request, limit).await,
    }
}

/// A plain listing: the rollup's traces newest first, from the cursor on.
async fn list_all_traces(
    data_dir: &DataDir,
    project_id: &str,
    request: &TraceListRequest,
    limit: usize,
) -> Result<TracePage> {
    let before = match &request.cursor {
        None => None,
        Some(TraceCursor::Time { start_ns, trace_id }) => Some((*start_ns, trace_id.clone())),
        Some(TraceCursor::Search(_)) => {
            return Err(QueryError::InvalidQuery(
                "this cursor belongs to a text query; pass the same q".into(),
            ));
        }
    };
    let (data_dir, project_id, filters) = (
        data_dir.clone(),
        project_id.to_owned(),
        request.filters.clone(),
    );
    let mut traces = tokio::task::spawn_blocking(move || {
        let before = before.as_ref().map(|(start, id)| (*start, id.as_str()));
        trace_rollup::list_page(&data_dir, &project_id, &filters, before, limit + 1)
    })
    .await
    .map_err(|error| QueryError::Internal(format!("trace list task: {error}")))??;
    let has_more = traces.len() > limit;
    traces.truncate(limit);
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

async fn list_matching_traces(
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
    let (data_dir, project_id, filters) = (
        data_dir.clone(),
        project_id.to_owned(),
        request.filters.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let search_page = search_spans(&data_dir, &project_id, &search)?;
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
        let mut traces = if order.is_empty() {
            Vec::new()
        } else {
            trace_rollup::summaries_of(&data_dir, &project_id, &order, &filters)?
        };
        for summary in &mut traces {
            summary.snippet = snippets.remove(&summary.trace_id).flatten();
        }
        Ok(TracePage {
            traces,
            next_cursor: search_page
                .next_cursor
                .map(|cursor| TraceCursor::Search(cursor).to_string()),
        })
    })
    .await
    .map_err(|error| QueryError::Internal(format!("trace list task: {error}")))?
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
    fn status_words() {
        assert_eq!(TraceStatus::parse("failed").unwrap(), TraceStatus::Error);
        assert_eq!(TraceStatus::parse("ok").unwrap(), TraceStatus::Ok);
        assert!(TraceStatus::parse("maybe").is_err());
    }
}
