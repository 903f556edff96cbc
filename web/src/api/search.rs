//! `GET /api/search`: full-text search over the caller's project, newest first.

use axum::Json;
use axum::extract::{Query, State};
use sextant_query::search::{SearchCursor, SearchRequest, search_spans};

use crate::auth::ReadAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 20;

#[derive(Debug, serde::Deserialize)]
pub struct SearchParams {
    pub q: Option<String>,
    /// RFC 3339 time or nanoseconds since the epoch.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub async fn get_search(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<SearchParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let query = params.q.unwrap_or_default();
    let from_ns = params
        .from
        .as_deref()
        .map(|value| parse_time("from", value))
        .transpose()?;
    let to_ns = params
        .to
        .as_deref()
        .map(|value| parse_time("to", value))
        .transpose()?;
    let cursor = params
        .cursor
        .as_deref()
        .map(|text| {
            SearchCursor::parse(text).ok_or_else(|| {
                ApiError::bad_request("invalid cursor; pass the next_cursor of the previous page")
            })
        })
        .transpose()?;
    let request = SearchRequest {
        query,
        from_ns,
        to_ns,
        limit: params.limit.unwrap_or(DEFAULT_LIMIT),
        cursor,
    };
    let data_dir = state.data_dir().clone();
    let page = tokio::task::spawn_blocking(move || {
        search_spans(&data_dir, &principal.project_id, &request)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(serde_json::json!({
        "hits": page.hits,
        "next_cursor": page.next_cursor.map(|cursor| cursor.to_string()),
    })))
}

/// Parses an RFC 3339 time or an integer of nanoseconds since the epoch.
pub fn parse_time(name: &str, value: &str) -> Result<i64, ApiError> {
    if let Ok(nanos) = value.parse::<i64>() {
        return Ok(nanos);
    }
    chrono::DateTime::parse_from_rfc3339(value)
        .ok()
        .and_then(|time| time.timestamp_nanos_opt())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid {name} {value:?}: use RFC 3339 (2026-11-22T10:00:00Z) or nanoseconds since the epoch"
            ))
        })
}
