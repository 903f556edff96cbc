//! `GET /api/usage?since=14d`: every project's model calls, errors, tokens and cost per day,
//! for the instance's operator key (or open local mode). Each project's sums are computed
//! in its own session; no row of any project leaves it.

use axum::Json;
use axum::extract::{Query, State};
use sextant_query::project_usage::{ProjectUsage, load_project_usage};

use crate::api::trace_list_params::{DEFAULT_WINDOW, window_until_now};
use crate::auth::OperatorAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct UsageParams {
    pub since: String,
}

/// The usage of every project over the `since` window, and the window as given.
pub async fn load_usage(state: &AppState, since: &str) -> Result<(ProjectUsage, String), ApiError> {
    let (since, from_ns, to_ns) = window_until_now(since, DEFAULT_WINDOW)?;
    let projects: Vec<String> = state
        .access
        .with_store(|store| store.projects().list())
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|project| project.id)
        .collect();
    let usage = load_project_usage(state.data_dir(), &projects, from_ns, to_ns).await?;
    Ok((usage, since.to_owned()))
}

pub async fn get_usage(
    State(state): State<AppState>,
    _operator: OperatorAccess,
    Query(params): Query<UsageParams>,
) -> Result<Json<ProjectUsage>, ApiError> {
    let (usage, _) = load_usage(&state, &params.since).await?;
    Ok(Json(usage))
}
