//! `GET /api/traces/{trace_id}`: one trace, spans in tree order with content.

use axum::Json;
use axum::extract::{Path, State};
use sextant_ingest::layout::DEFAULT_PROJECT;
use sextant_query::session::project_session;
use sextant_query::trace::{TraceTree, load_trace};

use crate::api_error::ApiError;
use crate::state::AppState;

pub async fn get_trace(
    State(state): State<AppState>,
    Path(trace_id): Path<String>,
) -> Result<Json<TraceTree>, ApiError> {
    let context = project_session(state.data_dir(), DEFAULT_PROJECT).await?;
    Ok(Json(load_trace(&context, &trace_id).await?))
}
