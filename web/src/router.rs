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

use crate::auth::{host_check, sign_in};
use crate::respond::api_error::ApiError;
use crate::state::AppState;
use crate::{api, metrics, pages, request_span, security_headers};

pub fn router(state: AppState) -> Router {
    let otlp = otlp_router(OtlpState {
        pipeline: state.pipeline.clone(),
        access: state.access.clone(),
        body_limit_bytes: state.body_limit_bytes,
        budget: state.request_budget.clone(),
    });
    let api = Router::new()
        .route("/api/sql", post(api::sql::post_sql))
        .route("/api/search", get(api::search::get_search))
        .route("/api/traces", get(api::traces::get_traces))
        .route("/api/traces/{trace_id}", get(api::traces::get_trace))
        .route(
            "/api/sessions/{session_id}",
            get(api::sessions::get_session),
        )
        .route("/api/audit", get(api::audit::get_audit))
        .route("/api/actions", get(api::actions::get_actions))
        .route("/api/alerts", get(api::alerts::get_alerts))
        .route("/api/alerts/{id}", post(api::alerts::post_alert))
        .route("/api/usage", get(api::usage::get_usage))
        .route(
            "/api/datasets",
            get(api::datasets::get_datasets).post(api::datasets::post_dataset),
        )
        .route("/api/datasets/{name}", get(api::datasets::get_dataset))
        .route("/api/evals/runs", get(api::evals::get_runs))
        .route("/api/evals/runs/{id}", get(api::evals::get_run))
        .route("/evals", get(pages::evals::get_evals_page))
        .route("/evals/{id}", get(pages::evals::get_eval_run_page))
        .route(
            "/login",
            get(sign_in::get_sign_in).post(sign_in::post_sign_in),
        )
        .route("/logout", post(sign_in::post_sign_out))
        .route("/", get(pages::runs::get_runs))
        .route("/traces/{trace_id}", get(pages::trace::get_trace_page))
        .route(
            "/traces/{trace_id}/dataset",
            post(pages::add_to_dataset::post_add_to_dataset),
        )
        .route(
            "/traces/{trace_id}/spans/{span_id}",
            get(pages::trace::get_span_fragment),
        )
        .route(
            "/sessions/{session_id}",
            get(pages::session::get_session_page),
        )
        .route("/dashboards", get(pages::dashboards::get_dashboards))
        .route("/governance", get(pages::governance::get_governance))
        .route(
            "/governance/alerts/{id}",
            post(pages::governance::post_alert_state),
        )
        .route("/usage", get(pages::usage::get_usage_page))
        .route("/sql", get(pages::sql::get_sql_page))
        .route("/sql.csv", get(pages::sql::get_sql_csv))
        .route("/assets/{name}", get(pages::assets::get_asset))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::get_metrics))
        .fallback(not_found)
        .with_state(state.clone());
    let gateway = api::gateway::gateway_router(api::gateway::GatewayState {
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
