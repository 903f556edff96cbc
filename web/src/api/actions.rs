//! `GET /api/actions?since=&kind=&session=&trace=&user=&agent=&limit=&cursor=`: the project's
//! governance ledger (`agent_actions`), newest first, paged by time: `next_cursor` is the
//! time (ns) the next page starts below.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use sextant_query::agent_actions::listing::{ActionFilters, actions_sql};
use sextant_query::batch_output::batches_to_json_rows;
use sextant_query::sql::run_read_only_sql;
use sextant_query::sql_context::project_context;

use crate::api::trace_list_params::window_until_now;
use crate::auth::ReadAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ActionParams {
    #[serde(default)]
    since: String,
    kind: Option<String>,
    session: Option<String>,
    trace: Option<String>,
    user: Option<String>,
    agent: Option<String>,
    limit: Option<usize>,
    cursor: Option<i64>,
}

#[derive(Debug, serde::Serialize)]
pub struct ActionPage {
    pub since: String,
    pub actions: Vec<Map<String, Value>>,
    pub next_cursor: Option<i64>,
}

pub async fn get_actions(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<ActionParams>,
) -> Result<Response, ApiError> {
    let (since, from_ns, _) = window_until_now(&params.since, "7d")?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let filters = ActionFilters {
        from_ns: Some(from_ns),
        before_ns: params.cursor,
        kind: params.kind,
        session_id: params.session,
        trace_id: params.trace,
        user: params.user,
        agent: params.agent,
    };
    let _slot = match state.query_slots.acquire(&principal.project_id).await {
        Ok(slot) => slot,
        Err(busy) => return Ok(busy.into_response()),
    };
    let context = project_context(state.data_dir(), &principal.project_id).await?;
    // One more than a page: whether there is a next one.
    let sql = actions_sql(&filters, limit + 1);
    let limits = state.query_slots.settings().limits(limit + 1);
    let output = run_read_only_sql(&context, &sql, limits).await?;
    let mut actions = batches_to_json_rows(&output.batches)?;
    let next_cursor = next_page(&mut actions, limit);
    Ok(Json(ActionPage {
        since: since.to_string(),
        actions,
        next_cursor,
    })
    .into_response())
}

/// Cuts `rows` (newest first, one more than `limit` when there is more) to a page that ends
/// between two times, so the next page (`time < cursor`) misses and repeats nothing; the
/// cursor, when there is a next page.
fn next_page(rows: &mut Vec<Map<String, Value>>, limit: usize) -> Option<i64> {
    if rows.len() <= limit {
        return None;
    }
    let time_ns = |row: &Map<String, Value>| -> Option<i64> {
        let text = row.get("time")?.as_str()?;
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()?
            .timestamp_nanos_opt()
    };
    let boundary = time_ns(&rows[limit])?;
    rows.truncate(limit);
    // Rows sharing the first left-out row's time go to the next page with it.
    let kept = rows
        .iter()
        .rposition(|row| time_ns(row) != Some(boundary))
        .map_or(0, |last| last + 1);
    if kept == 0 {
        // A whole page at one instant: keep it, and start the next page below it.
        return Some(boundary);
    }
    rows.truncate(kept);
    Some(boundary + 1)
}
