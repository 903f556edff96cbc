//! Eval runs over the API: `GET /api/evals/runs?suite=&limit=` (newest first, without the
//! per-example detail) and `GET /api/evals/runs/{id}` (the whole report).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;
use sextant_evals::report::stored_runs::{StoredRun, list_runs, load_run};

use crate::auth::ReadAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

#[derive(Debug, serde::Deserialize)]
pub struct RunListParams {
    pub suite: Option<String>,
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    50
}

/// A run as listed: the report's gate, not its examples.
pub fn run_summary(run: &StoredRun) -> Value {
    serde_json::json!({
        "id": run.id,
        "suite": run.suite,
        "dataset": run.dataset,
        "dataset_version": run.dataset_version,
        "started_at_ms": run.started_at_ms,
        "verdict": run.verdict,
        "mode": run.report["mode"],
        "candidate": run.report["candidate"],
        "baseline": run.report["baseline"],
        "gate": run.report["gate"],
    })
}

pub async fn get_runs(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<RunListParams>,
) -> Result<Json<Value>, ApiError> {
    let limit = params.limit.clamp(1, 500);
    let runs = state.access.with_store(|store| {
        list_runs(store, &principal.project_id, params.suite.as_deref(), limit)
    })?;
    let runs: Vec<Value> = runs.iter().map(run_summary).collect();
    Ok(Json(serde_json::json!({ "runs": runs })))
}

pub async fn get_run(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Path(id): Path<i64>,
) -> Result<Json<StoredRun>, ApiError> {
    let run = state
        .access
        .with_store(|store| load_run(store, &principal.project_id, id))?;
    Ok(Json(run))
}
