//! `GET /api/traces`: the filtered, paged trace list; `GET /api/traces/{trace_id}`: one trace,
//! spans in tree order with content (`?skeleton=true`: without content, for big traces).

use axum::Json;
use axum::extract::{Path, Query, State};
use sextant_query::sql_context::project_context;
use sextant_query::trace::{TraceTree, load_trace, load_trace_skeleton};
use sextant_query::trace_list::{TracePage, list_traces};

use crate::api::trace_list_params::TraceListParams;
use crate::auth::ReadAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

pub async fn get_traces(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<TraceListParams>,
) -> Result<Json<TracePage>, ApiError> {
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let request = params.to_request(now_ns)?;
    Ok(Json(
        list_traces(state.data_dir(), &principal.project_id, &request).await?,
    ))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TraceParams {
    /// Leave out span content (`input`, `output`, `system_prompt`, events).
    pub skeleton: bool,
}

pub async fn get_trace(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Path(trace_id): Path<String>,
    Query(params): Query<TraceParams>,
) -> Result<Json<TraceTree>, ApiError> {
    let context = project_context(state.data_dir(), &principal.project_id).await?;
    let tree = if params.skeleton {
        load_trace_skeleton(&context, &trace_id).await?
    } else {
        load_trace(&context, &trace_id).await?
    };
    Ok(Json(tree))
}
