//! The one HTTP router: OTLP ingest (`/v1/*`), the JSON API (`/api/*`), the web UI pages
//! (`/`, `/traces/…` and its "add to dataset" form, `/sessions/…`, `/login`, `/assets/…`), the
//! model gateway of agent replays (`/gateway/…`, checked by run token), `/healthz` and `/metrics`.
//!
//! Every route that touches project data takes an access extractor (`auth.rs`): a project's
//! key for its data, the operator key for `/usage` and `/api/usage` (per-project sums); only
//! `/healthz`, `/metrics` (Sextant's own counters), the assets and the sign-in form are open.
//!
//! Three layers wrap everything: each request is served inside a tracing span naming it, and
//! its project and key once known (`request_span.rs`); in open local mode, requests addressed
//! to a host other than loopback or the public URL's get 421 (`host_check.rs`, against DNS
//! rebinding); every response carries the security headers (`security_headers.rs`).

use crate::otlp::http::{OtlpState, otlp_router};
use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::api_error::ApiError;
use crate::state::AppState;
use crate::{
    api_audit, api_datasets, api_evals, api_gateway, api_search, api_sessions, api_sql, api_traces,
    api_usage, assets, host_check, metrics, page_add_to_dataset, page_dashboards, page_evals,
    page_login, page_runs, page_session, page_sql, page_trace, page_usage, request_span,
    security_headers,
};

pub fn router(state: AppState) -> Router {
    let otlp = otlp_router(OtlpState {
        pipeline: state.pipeline.clone(),
        access: state.access.clone(),
        body_limit_bytes: state.body_limit_bytes,
        budget: state.request_budget.clone(),
    });
    let api = Router::new()
        .route("/api/sql", post(api_sql::post_sql))
        .route("/api/search", get(api_search::get_search))
        .route("/api/traces", get(api_traces::get_traces))
        .route("/api/traces/{trace_id}", get(api_traces::get_trace))
        .route("/api/sessions/{session_id}", get(api_sessions::get_session))
        .route("/api/audit", get(api_audit::get_audit))
        .route("/api/usage", get(api_usage::get_usage))
        .route(
            "/api/datasets",
            get(api_datasets::get_datasets).post(api_datasets::post_dataset),
        )
        .route("/api/datasets/{name}", get(api_datasets::get_dataset))
        .route("/api/evals/runs", get(api_evals::get_runs))
        .route("/api/evals/runs/{id}", get(api_evals::get_run))
        .route("/evals", get(page_evals::get_evals_page))
        .route("/evals/{id}", get(page_evals::get_eval_run_page))
        .route(
            "/login",
            get(page_login::get_sign_in).post(page_login::post_sign_in),
        )
        .route("/logout", post(page_login::post_sign_out))
        .route("/", get(page_runs::get_runs))
        .route("/traces/{trace_id}", get(page_trace::get_trace_page))
        .route(
            "/traces/{trace_id}/dataset",
            post(page_add_to_dataset::post_add_to_dataset),
        )
        .route(
            "/traces/{trace_id}/spans/{span_id}",
            get(page_trace::get_span_fragment),
        )
        .route(
            "/sessions/{session_id}",
            get(page_session::get_session_page),
        )
        .route("/dashboards", get(page_dashboards::get_dashboards))
        .route("/usage", get(page_usage::get_usage_page))
        .route("/sql", get(page_sql::get_sql_page))
        .route("/sql.csv", get(page_sql::get_sql_csv))
        .route("/assets/{name}", get(assets::get_asset))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::get_metrics))
        .fallback(not_found)
        .with_state(state.clone());
    let gateway = api_gateway::gateway_router(api_gateway::GatewayState {
        registry: state.gateway.clone(),
        pipeline: Some(state.pipeline.clone()),
        budget: state.request_budget.clone(),
    });
    otlp.merge(gateway)
        .merge(api)
        .layer(middleware::from_fn_with_state(
            state,
            host_check::refuse_foreign_hosts,
        ))
        .layer(middleware::map_response(
            security_headers::add_security_headers,
        ))
        .layer(middleware::from_fn(request_span::in_request_span))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn not_found() -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        code: "not_found",
        message: "no such route; see the README for the API".into(),
    }
}
