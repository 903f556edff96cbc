//! Eval datasets over the API: `GET /api/datasets`, `GET /api/datasets/{name}?version=`,
//! and `POST /api/datasets` `{"name", "search" | "sql" | "traces", "limit", "expected",
//! "label"}` (a new version, its examples annotated). Reading needs a `read` key; adding
//! examples changes the project, so it needs an `admin` key.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use sextant_evals::datasets::source::{DatasetSource, add_from_source};
use sextant_evals::datasets::{Annotation, DatasetSummary, list_datasets, load_examples};
use sextant_evals::error::EvalError;

use crate::auth::{AdminAccess, ReadAccess};
use crate::respond::api_error::ApiError;
use crate::state::AppState;

impl From<EvalError> for ApiError {
    fn from(error: EvalError) -> ApiError {
        match error {
            EvalError::Invalid(message) => ApiError::bad_request(message),
            EvalError::NotFound(message) => ApiError {
                status: axum::http::StatusCode::NOT_FOUND,
                code: "not_found",
                message,
            },
            EvalError::Query(error) => error.into(),
            other => ApiError::internal(other),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct DatasetList {
    pub datasets: Vec<DatasetSummary>,
}

pub async fn get_datasets(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
) -> Result<Json<DatasetList>, ApiError> {
    let datasets = state
        .access
        .with_store(|store| list_datasets(store, &principal.project_id))?;
    Ok(Json(DatasetList { datasets }))
}

#[derive(Debug, serde::Deserialize)]
pub struct VersionParams {
    version: Option<i64>,
}

/// One example as listed: what it is, not its whole recording.
#[derive(Debug, serde::Serialize)]
pub struct ExampleSummary {
    pub trace_id: String,
    pub added_in: i64,
    pub root_name: String,
    pub failed: bool,
    pub error: Option<String>,
    pub llm_calls: usize,
    pub tool_calls: usize,
    pub expected: Option<String>,
    pub label: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct DatasetDetail {
    pub name: String,
    pub version: i64,
    pub examples: Vec<ExampleSummary>,
}

pub async fn get_dataset(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Path(name): Path<String>,
    Query(params): Query<VersionParams>,
) -> Result<Json<DatasetDetail>, ApiError> {
    let (version, examples) = state
        .access
        .with_store(|store| load_examples(store, &principal.project_id, &name, params.version))?;
    let examples = examples
        .into_iter()
        .map(|example| ExampleSummary {
            root_name: example.recording.root_name,
            failed: example.recording.outcome.failed,
            error: example.recording.outcome.error,
            llm_calls: example.recording.llm_calls.len(),
            tool_calls: example.recording.tool_calls.len(),
            trace_id: example.trace_id,
            added_in: example.added_in,
            expected: example.expected,
            label: example.label,
        })
        .collect();
    Ok(Json(DatasetDetail {
        name,
        version,
        examples,
    }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDataset {
    name: String,
    search: Option<String>,
    sql: Option<String>,
    traces: Option<Vec<String>>,
    #[serde(default = "default_limit")]
    limit: usize,
    expected: Option<String>,
    label: Option<String>,
}

fn default_limit() -> usize {
    100
}

pub async fn post_dataset(
    State(state): State<AppState>,
    AdminAccess(principal): AdminAccess,
    body: Result<Json<CreateDataset>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|rejection| {
        ApiError::bad_request(format!(
            "expected a JSON body {{\"name\", \"search\" | \"sql\" | \"traces\"}}: {rejection}"
        ))
    })?;
    let source = match (body.search, body.sql, body.traces) {
        (Some(query), None, None) => DatasetSource::Search {
            query,
            limit: body.limit,
        },
        (None, Some(sql), None) => DatasetSource::Sql(sql),
        (None, None, Some(ids)) => DatasetSource::Traces(ids),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of \"search\", \"sql\" or \"traces\"",
            ));
        }
    };
    // A dataset's SQL is a user's statement like `/api/sql`'s: it takes a query slot.
    let _slot = match &source {
        DatasetSource::Sql(_) => match state.query_slots.acquire(&principal.project_id).await {
            Ok(slot) => Some(slot),
            Err(busy) => return Ok(busy.into_response()),
        },
        _ => None,
    };
    let added = add_from_source(
        state.access.metadata(),
        state.data_dir(),
        &principal.project_id,
        &body.name,
        &source,
        &Annotation {
            expected: body.expected,
            label: body.label,
        },
    )
    .await?;
    Ok(Json(added).into_response())
}
