//! HTTP tests of the router driven with `oneshot`, no socket: the JSON API ([`api`]) and the
//! web UI's pages ([`pages`]), compaction and retention ([`maintenance`]), the model gateway
//! ([`gateway`]), access ([`access`]), datasets ([`datasets`]) and the browser-facing
//! defences ([`browser_defences`]), over a fresh data dir per test.

mod access;
mod api;
mod browser_defences;
mod datasets;
mod gateway;
mod maintenance;
mod pages;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use sextant_ingest::layout::DataDir;
use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
use sextant_ingest::request_budget::{DEFAULT_REQUEST_BUDGET_BYTES, RequestBudget};
use sextant_meta::AccessControl;
use sextant_meta::limits::{LimitRates, LimitsConfig};
use sextant_web::query_slots::{QuerySlots, SqlSettings};
use sextant_web::router::router;
use sextant_web::state::AppState;
use tower::ServiceExt;

pub struct TestApp {
    pub _dir: tempfile::TempDir,
    pub state: AppState,
}

pub fn app() -> TestApp {
    app_with_limits(LimitsConfig::default())
}

/// A fresh app whose projects have the given rate limits.
pub fn app_with_limits(limits: LimitsConfig) -> TestApp {
    app_with(limits, SqlSettings::default())
}

/// A fresh app whose users' SQL runs within `sql`.
pub fn app_with_sql(sql: SqlSettings) -> TestApp {
    app_with(LimitsConfig::default(), sql)
}

fn app_with(limits: LimitsConfig, sql: SqlSettings) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = DataDir::open(dir.path()).expect("data dir");
    let pipeline = IngestPipeline::open(data_dir, PipelineConfig::default()).expect("pipeline");
    let access = AccessControl::open(dir.path())
        .expect("metadata store")
        .with_limits(limits);
    TestApp {
        _dir: dir,
        state: AppState {
            pipeline: Arc::new(pipeline),
            access: Arc::new(access),
            body_limit_bytes: 1024 * 1024,
            secure_cookies: false,
            gateway: Default::default(),
            request_budget: RequestBudget::new(DEFAULT_REQUEST_BUDGET_BYTES),
            query_slots: Arc::new(QuerySlots::new(sql)),
            public_url: None,
            alerts: None,
        },
    }
}

/// The router's response to `request`, headers and all.
pub async fn respond(app: &TestApp, request: Request<Body>) -> axum::response::Response {
    router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response")
}

pub async fn call_text(app: &TestApp, request: Request<Body>) -> (StatusCode, String) {
    let response = respond(app, request).await;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    )
}

/// Status, `Content-Disposition` and body of a GET.
pub async fn router_response(app: &TestApp, path: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let disposition = response
        .headers()
        .get("content-disposition")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        disposition,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

pub async fn call(app: &TestApp, request: Request<Body>) -> (StatusCode, Value) {
    let (status, text) = call_text(app, request).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn sql(app: &TestApp, sql: &str) -> (StatusCode, Value) {
    let request = Request::post("/api/sql")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::json!({ "sql": sql }).to_string()))
        .expect("request");
    call(app, request).await
}

pub fn capture(path: &str) -> String {
    let path = format!(
        "{}/../tracegen/fixtures/captures/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("read {path}: {error}"))
}

pub async fn export_json(app: &TestApp, signal: &str, body: String) {
    let request = Request::post(format!("/v1/{signal}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let (status, text) = call_text(app, request).await;
    assert_eq!(status, StatusCode::OK, "/v1/{signal}: {text}");
}

pub async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    call(
        app,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

/// A fresh app holding `fixtures/ui-traces.json`: a failed fixer run with a diff and a
/// failing test, and a passing review run, in one session.
pub async fn app_with_ui_fixture() -> TestApp {
    app_with_fixture("ui-traces.json").await
}

/// A fresh app holding the OTLP/JSON traces of `web/tests/fixtures/<name>`, flushed.
pub async fn app_with_fixture(name: &str) -> TestApp {
    let app = app();
    export_json(&app, "traces", fixture(name)).await;
    flush(&app);
    app
}

/// `web/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// `fixtures/ui-traces.json` (see [`app_with_ui_fixture`]).
pub fn ui_fixture() -> String {
    fixture("ui-traces.json")
}

pub fn flush(app: &TestApp) {
    app.state.pipeline.flush_and_wait().expect("flush");
}
