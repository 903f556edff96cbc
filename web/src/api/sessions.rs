//! `GET /api/sessions/{session_id}`: one session's summary, traces in order with their
//! prompts, and the agent's events grouped per prompt.

use axum::Json;
use axum::extract::{Path, State};
use sextant_query::session_detail::{SessionDetail, load_session};
use sextant_query::sql_context::project_context;

use crate::auth::ReadAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

pub async fn get_session(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Path(session_id): Path<String>,
) -> Result<Json<SessionDetail>, ApiError> {
    let context = project_context(state.data_dir(), &principal.project_id).await?;
    Ok(Json(load_session(&context, &session_id).await?))
}
