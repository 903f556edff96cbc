//! The JSON API driven through the router with `oneshot`, no socket: status codes, error
//! bodies, and the read-only SQL guard.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use sextant_ingest::layout::DataDir;
use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
use sextant_web::router::router;
use sextant_web::state::AppState;
use tower::ServiceExt;

struct TestApp {
    _dir: tempfile::TempDir,
    state: AppState,
}

fn app() -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = DataDir::open(dir.path()).expect("data dir");
    let pipeline = IngestPipeline::open(data_dir, PipelineConfig::default()).expect("pipeline");
    TestApp {
        _dir: dir,
        state: AppState {
            pipeline: Arc::new(pipeline),
            body_limit_bytes: 1024 * 1024,
        },
    }
}

async fn call_text(app: &TestApp, request: Request<Body>) -> (StatusCode, String) {
    let response = router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (
        status,
        String::from_utf8(bytes.to_vec()).expect("utf-8 body"),
    )
}

async fn call(app: &TestApp, request: Request<Body>) -> (StatusCode, Value) {
    let (status, text) = call_text(app, request).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn sql(app: &TestApp, sql: &str) -> (StatusCode, Value) {
    let request = Request::post("/api/sql")
        .header("content-type", "application/json")
        .body(Body::from(serde_json::json!({ "sql": sql }).to_string()))
        .expect("request");
    call(app, request).await
}

#[tokio::test]
async fn select_works_on_an_empty_store() {
    let app = app();
    let (status, body) = sql(&app, "SELECT count(*) AS n FROM spans").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"][0]["n"], 0);
    assert_eq!(body["truncated"], false);
}

#[tokio::test]
async fn row_limit_sets_the_truncated_flag() {
    let app = app();
    let request = Request::post("/api/sql?limit=3")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"sql": "SELECT * FROM generate_series(1, 10)"}"#,
        ))
        .expect("request");
    let (status, body) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["row_count"], 3);
    assert_eq!(body["truncated"], true);
}

#[tokio::test]
async fn writes_and_file_access_are_refused() {
    let app = app();
    let refused = [
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc/'",
        "CREATE TABLE t AS SELECT 1",
        "COPY (SELECT 1) TO '/tmp/sextant-copy-test.csv'",
        "INSERT INTO spans SELECT * FROM spans",
        "DROP TABLE spans",
        "SET datafusion.execution.batch_size = 1",
    ];
    for statement in refused {
        let (status, body) = sql(&app, statement).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{statement}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{statement}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("read-only"),
            "{statement}: {body}"
        );
    }
    assert!(!std::path::Path::new("/tmp/sextant-copy-test.csv").exists());
}

#[tokio::test]
async fn bad_requests_say_what_to_fix() {
    let app = app();
    let (status, body) = sql(&app, "SELEC nonsense").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_argument");

    let (status, body) = sql(&app, "SELECT no_such_column FROM spans").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let request = Request::post("/api/sql")
        .body(Body::from("not json"))
        .expect("request");
    let (status, body) = call(&app, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("sql")
    );

    let get = |uri: &str| Request::get(uri).body(Body::empty()).expect("request");
    let (status, body) = call(&app, get("/api/search?q=")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(&app, get("/api/search?q=a&from=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("RFC 3339")
    );
    let (status, body) = call(&app, get("/api/traces/not-hex")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(&app, get(&format!("/api/traces/{}", "ab".repeat(16)))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = call(&app, get("/api/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let app = app();
    let request = Request::get("/metrics")
        .body(Body::empty())
        .expect("request");
    let (status, text) = call_text(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            "# TYPE sextant_spans_acknowledged_total counter\nsextant_spans_acknowledged_total 0"
        ),
        "{text}"
    );
    assert!(text.contains("sextant_pending_bytes 0"), "{text}");
}

#[tokio::test]
async fn healthz_answers() {
    let app = app();
    let request = Request::get("/healthz")
        .body(Body::empty())
        .expect("request");
    let (status, _) = call_text(&app, request).await;
    assert_eq!(status, StatusCode::OK);
}
