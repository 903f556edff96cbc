//! `GET /api/alerts?state=&limit=&cursor=`: the project's alerts, newest first (read);
//! `POST /api/alerts/{id}` `{"state": "acknowledged" | "resolved" | "open"}` (admin).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use sextant_meta::alerts::{Alert, STATES};

use crate::auth::{AdminAccess, ReadAccess};
use crate::respond::api_error::ApiError;
use crate::state::AppState;

#[derive(Debug, serde::Deserialize)]
pub struct AlertParams {
    state: Option<String>,
    #[serde(default = "default_limit")]
    limit: usize,
    /// The `next_cursor` of the previous page.
    cursor: Option<i64>,
}

fn default_limit() -> usize {
    100
}

#[derive(Debug, serde::Serialize)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<i64>,
}

fn checked_state(state: &str) -> Result<&str, ApiError> {
    STATES
        .iter()
        .find(|known| **known == state)
        .copied()
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "state {state:?} is not one of {}",
                STATES.join(", ")
            ))
        })
}

pub async fn get_alerts(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<AlertParams>,
) -> Result<Json<AlertPage>, ApiError> {
    let wanted = params.state.as_deref().map(checked_state).transpose()?;
    let limit = params.limit.clamp(1, 1000);
    let alerts = state
        .access
        .with_store(|store| {
            store
                .alerts()
                .list(&principal.project_id, wanted, params.cursor, limit + 1)
        })
        .map_err(ApiError::internal)?;
    let mut alerts = alerts;
    let next_cursor = if alerts.len() > limit {
        alerts.truncate(limit);
        alerts.last().map(|alert| alert.id)
    } else {
        None
    };
    Ok(Json(AlertPage {
        alerts,
        next_cursor,
    }))
}

#[derive(Debug, serde::Deserialize)]
pub struct AlertChange {
    state: String,
}

pub async fn post_alert(
    State(state): State<AppState>,
    AdminAccess(principal): AdminAccess,
    Path(id): Path<i64>,
    Json(change): Json<AlertChange>,
) -> Result<Json<Alert>, ApiError> {
    let wanted = checked_state(&change.state)?;
    let alert = state
        .access
        .with_store(|store| store.alerts().set_state(&principal.project_id, id, wanted))
        .map_err(ApiError::internal)?;
    alert.map(Json).ok_or(ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no alert {id} in this project"),
    })
}
