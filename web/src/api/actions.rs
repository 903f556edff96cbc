//! `GET /api/actions?since=&kind=&session=&trace=&user=&agent=&limit=&cursor=`: the project's
//! governance ledger (`agent_actions`), newest first. `next_cursor` is `<time ns>:<skip>`: the
//! next page starts at that time, after the `skip` actions of that instant already listed
//! (one tool call's actions share their time), so pages neither skip nor repeat rows while
//! newer actions arrive.

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
    cursor: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct ActionPage {
    pub since: String,
    pub actions: Vec<Map<String, Value>>,
    pub next_cursor: Option<String>,
}

pub async fn get_actions(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<ActionParams>,
) -> Result<Response, ApiError> {
    let (since, from_ns, _) = window_until_now(&params.since, "7d")?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let cursor = params.cursor.as_deref().map(Cursor::parse).transpose()?;
    let filters = ActionFilters {
        from_ns: Some(from_ns),
        until_ns: cursor.map(|cursor| cursor.time_ns),
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
    let skip = cursor.map_or(0, |cursor| cursor.skip);
    let sql = actions_sql(&filters, limit + 1, skip);
    let limits = state.query_slots.settings().limits(limit + 1);
    let output = run_read_only_sql(&context, &sql, limits).await?;
    let mut actions = batches_to_json_rows(&output.batches)?;
    let next_cursor = next_page(&mut actions, limit, cursor).map(|next| next.to_string());
    Ok(Json(ActionPage {
        since: since.to_string(),
        actions,
        next_cursor,
    })
    .into_response())
}

/// Where a page starts: at `time_ns`, after `skip` actions of that instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    time_ns: i64,
    skip: usize,
}

impl Cursor {
    fn parse(text: &str) -> Result<Cursor, ApiError> {
        let invalid =
            || ApiError::bad_request(format!("invalid cursor {text:?}: pass a next_cursor back"));
        let (time, skip) = text.split_once(':').ok_or_else(invalid)?;
        Ok(Cursor {
            time_ns: time.parse().map_err(|_| invalid())?,
            skip: skip.parse().map_err(|_| invalid())?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.time_ns, self.skip)
    }
}

fn time_ns(row: &Map<String, Value>) -> Option<i64> {
    let text = row.get("time")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()?
        .timestamp_nanos_opt()
}

/// Cuts `rows` (newest first, one more than `limit` when there is more) to `limit`; the
/// cursor of the next page, when there is one: the last row's time, after the rows of that
/// time this page and the ones before it listed.
fn next_page(
    rows: &mut Vec<Map<String, Value>>,
    limit: usize,
    cursor: Option<Cursor>,
) -> Option<Cursor> {
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    let last = time_ns(rows.last()?)?;
    let at_last = rows.iter().filter(|row| time_ns(row) == Some(last)).count();
    let earlier = match cursor {
        Some(cursor) if cursor.time_ns == last => cursor.skip,
        _ => 0,
    };
    Some(Cursor {
        time_ns: last,
        skip: earlier + at_last,
    })
}
