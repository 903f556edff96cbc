//! `POST /api/sql`: read-only SQL over the caller's project, as JSON, CSV or Arrow IPC,
//! within the project's and the server's query slots and the `[query]` limits.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sextant_query::batch_output::{batches_to_csv, batches_to_json_rows};
use sextant_query::sql::{SqlOutput, Truncation, run_read_only_sql};
use sextant_query::sql_context::project_context;

use sextant_query::sql::arrow;
use sextant_query::sql::arrow::ipc::writer::StreamWriter;

use crate::auth::ReadAccess;
use crate::respond::api_error::ApiError;
use crate::state::AppState;

/// Rows returned when the caller sets no limit.
const DEFAULT_ROW_LIMIT: usize = 10_000;
const MAX_ROW_LIMIT: usize = 1_000_000;

#[derive(Debug, serde::Deserialize)]
pub struct SqlBody {
    pub sql: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct SqlParams {
    pub format: Option<String>,
    pub limit: Option<usize>,
}

pub async fn post_sql(
    State(state): State<AppState>,
    ReadAccess(principal): ReadAccess,
    Query(params): Query<SqlParams>,
    body: Result<Json<SqlBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|rejection| {
        ApiError::bad_request(format!(
            "send a JSON body like {{\"sql\": \"SELECT 1\"}}: {rejection}"
        ))
    })?;
    let format = params.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "arrow") {
        return Err(ApiError::bad_request(format!(
            "unknown format {format:?}; use json, csv or arrow"
        )));
    }
    let row_limit = params
        .limit
        .unwrap_or(DEFAULT_ROW_LIMIT)
        .clamp(1, MAX_ROW_LIMIT);
    let _slot = match state.query_slots.acquire(&principal.project_id).await {
        Ok(slot) => slot,
        Err(busy) => return Ok(busy.into_response()),
    };
    let limits = state.query_slots.settings().limits(row_limit);
    let context = project_context(state.data_dir(), &principal.project_id).await?;
    let output = run_read_only_sql(&context, &body.sql, limits).await?;
    match format {
        "csv" => {
            let csv = batches_to_csv(&output.batches)?;
            Ok(with_content_type(
                csv,
                "text/csv; charset=utf-8",
                output.truncated,
            ))
        }
        "arrow" => {
            let ipc = arrow_ipc(&output).map_err(ApiError::internal)?;
            Ok(with_content_type(
                ipc,
                "application/vnd.apache.arrow.stream",
                output.truncated,
            ))
        }
        _ => json_answer(&output),
    }
}

fn json_answer(output: &SqlOutput) -> Result<Response, ApiError> {
    let columns: Vec<serde_json::Value> = output
        .schema
        .fields()
        .iter()
        .map(|field| serde_json::json!({"name": field.name(), "type": field.data_type().to_string()}))
        .collect();
    let rows = batches_to_json_rows(&output.batches)?;
    let body = serde_json::json!({
        "columns": columns,
        "rows": rows,
        "row_count": output.row_count,
        "truncated": output.is_truncated(),
        "truncated_by": output.truncated.map(Truncation::as_str),
    });
    Ok(Json(body).into_response())
}

fn arrow_ipc(output: &SqlOutput) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut writer = StreamWriter::try_new(Vec::new(), &output.schema)?;
    for batch in &output.batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}

/// `body` with its content type and `x-sextant-truncated: true|false` (and, when true,
/// `x-sextant-truncated-by: rows|bytes`).
pub(crate) fn with_content_type(
    body: Vec<u8>,
    content_type: &'static str,
    truncated: Option<Truncation>,
) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        "x-sextant-truncated",
        HeaderValue::from_static(if truncated.is_some() { "true" } else { "false" }),
    );
    if let Some(truncation) = truncated {
        headers.insert(
            "x-sextant-truncated-by",
            HeaderValue::from_static(truncation.as_str()),
        );
    }
    response
}
