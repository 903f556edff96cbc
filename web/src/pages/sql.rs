//! The SQL console (`/sql?q=…`): read-only SQL over the project, results as a table, and
//! `/sql.csv?q=…` to download them. The query is in the URL, so a result can be shared.
//! Both take a query slot and run within the `[query]` limits, like `/api/sql`.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use sextant_query::batch_output::{batches_to_csv, batches_to_json_rows};
use sextant_query::sql::{Truncation, run_read_only_sql};
use sextant_query::sql_context::project_context;

use crate::api::sql::with_content_type;
use crate::auth::PageAccess;
use crate::respond::api_error::ApiError;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

/// Rows shown in the page; the CSV download has up to [`CSV_ROW_LIMIT`].
const PAGE_ROW_LIMIT: usize = 1_000;
const CSV_ROW_LIMIT: usize = 1_000_000;

/// Queries offered on an empty console.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "cost per model and day",
        "SELECT day, COALESCE(response_model, request_model) AS model, sum(cost_usd) AS cost_usd,\n       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens\nFROM spans WHERE span_type = 'llm'\nGROUP BY 1, 2 ORDER BY 1 DESC, 3 DESC",
    ),
    (
        "failed runs, newest first",
        "SELECT trace_id, root_name, service_name, start_time, error_count, cost_usd\nFROM traces WHERE outcome = 'failed'\nORDER BY start_time DESC LIMIT 50",
    ),
    (
        "slowest tools",
        "SELECT tool_name, count(*) AS calls, avg(duration_ns) / 1e6 AS avg_ms,\n       count(*) FILTER (WHERE status_code = 'error') AS failed\nFROM spans WHERE span_type = 'tool'\nGROUP BY 1 ORDER BY avg_ms DESC",
    ),
    (
        "most expensive sessions",
        "SELECT session_id, cost_usd, traces, prompts, models FROM sessions\nORDER BY cost_usd DESC NULLS LAST LIMIT 20",
    ),
];

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct SqlPageParams {
    pub q: String,
}

pub async fn get_sql_page(
    State(state): State<AppState>,
    access: PageAccess,
    Query(params): Query<SqlPageParams>,
) -> Result<Response, PageError> {
    let sql = params.q.trim();
    let page = |status: StatusCode, answer: minijinja::Value| -> Result<Response, PageError> {
        let html = render(
            "sql.html",
            context! { viewer => access.viewer.clone(), page_title => "SQL", nav => "sql", sql, examples => EXAMPLES, ..answer },
        )?;
        Ok((status, Html(html)).into_response())
    };
    if sql.is_empty() {
        return page(StatusCode::OK, context! {});
    }
    let _slot = match state
        .query_slots
        .acquire(&access.principal.project_id)
        .await
    {
        Ok(slot) => slot,
        Err(busy) => {
            let error = busy.error();
            return Ok(busy.retry_after(page(error.status, context! { error => error.message })?));
        }
    };
    let limits = state.query_slots.settings().limits(PAGE_ROW_LIMIT);
    let context = project_context(state.data_dir(), &access.principal.project_id).await?;
    let output = match run_read_only_sql(&context, sql, limits).await {
        Ok(output) => output,
        Err(error) => {
            // A refused or mistyped query stays in the console with the reason beside it.
            let error = ApiError::from(error);
            return page(error.status, context! { error => error.message });
        }
    };
    let columns: Vec<String> = output
        .schema
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect();
    let rows = batches_to_json_rows(&output.batches)?;
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|column| match row.get(column) {
                    None | Some(serde_json::Value::Null) => String::new(),
                    Some(serde_json::Value::String(text)) => text.clone(),
                    Some(other) => other.to_string(),
                })
                .collect()
        })
        .collect();
    page(
        StatusCode::OK,
        context! {
            columns,
            cells,
            row_count => output.row_count,
            truncated => output.truncated.map(Truncation::as_str),
            csv_url => format!("/sql.csv?{}", serde_urlencoded::to_string([("q", sql)]).unwrap_or_default()),
        },
    )
}

pub async fn get_sql_csv(
    State(state): State<AppState>,
    access: PageAccess,
    Query(params): Query<SqlPageParams>,
) -> Result<Response, ApiError> {
    let _slot = match state
        .query_slots
        .acquire(&access.principal.project_id)
        .await
    {
        Ok(slot) => slot,
        Err(busy) => return Ok(busy.into_response()),
    };
    let limits = state.query_slots.settings().limits(CSV_ROW_LIMIT);
    let context = project_context(state.data_dir(), &access.principal.project_id).await?;
    let output = run_read_only_sql(&context, params.q.trim(), limits).await?;
    let csv = batches_to_csv(&output.batches)?;
    let mut response = with_content_type(csv, "text/csv; charset=utf-8", output.truncated);
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"sextant.csv\""),
    );
    Ok(response)
}
