//! Eval datasets through the API: made from SQL, a search or trace ids, versioned, each
//! example keeping its recording, per project.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use sextant_meta::keys::Scope;

use crate::access::{csrf_token_of, sign_in};
use crate::{app_with_ui_fixture, call, call_text, get_json};

const FAILED_TRACE: &str = "7e1f0c0ffee0000000000000000000a1";
const PASSING_TRACE: &str = "7e1f0c0ffee0000000000000000000b2";

async fn post(app: &crate::TestApp, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/api/datasets")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("request");
    call(app, request).await
}

#[tokio::test]
async fn datasets_are_versioned_sets_of_recorded_traces() {
    let app = app_with_ui_fixture().await;
    let (status, added) = post(
        &app,
        json!({"name": "failed-runs", "sql": "SELECT trace_id FROM traces WHERE has_error"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(
        (added["version"].as_i64(), added["added"].as_i64()),
        (Some(1), Some(1))
    );

    let (_, added) = post(
        &app,
        json!({"name": "failed-runs", "traces": [FAILED_TRACE, PASSING_TRACE]}),
    )
    .await;
    assert_eq!(added["version"], 2, "{added}");
    assert_eq!(
        (added["added"].as_i64(), added["already_present"].as_i64()),
        (Some(1), Some(1))
    );

    let (status, first) = get_json(&app, "/api/datasets/failed-runs?version=1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let examples = first["examples"].as_array().cloned().unwrap_or_default();
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0]["trace_id"], FAILED_TRACE);
    assert_eq!(examples[0]["failed"], true);
    assert_eq!(examples[0]["llm_calls"], 1);
    assert_eq!(examples[0]["tool_calls"], 2);
    assert_eq!(examples[0]["root_name"], "invoke_agent fixer");
    let (_, newest) = get_json(&app, "/api/datasets/failed-runs").await;
    assert_eq!(newest["version"], 2);
    assert_eq!(newest["examples"].as_array().map(Vec::len), Some(2));

    let (_, searched) = post(&app, json!({"name": "bash-runs", "search": "tool:bash"})).await;
    assert_eq!(searched["added"], 1, "{searched}");
    let (_, list) = get_json(&app, "/api/datasets").await;
    let names: Vec<&str> = list["datasets"]
        .as_array()
        .map(|all| all.iter().filter_map(|d| d["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["bash-runs", "failed-runs"]);

    for (body, expected) in [
        (
            json!({"name": "x", "sql": "SELECT 1 AS n"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "traces": ["nothex"]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "traces": ["00000000000000000000000000000000"]}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"name": "x", "search": "q", "sql": "SELECT 1"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "search": "zzzznothing"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "bad name", "traces": [FAILED_TRACE]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"name": "x", "sql": "DROP TABLE spans"}),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (status, answer) = post(&app, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
    }
    let (status, _) = get_json(&app, "/api/datasets/no-such-dataset").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Datasets belong to their project: another project's reader sees none.
    let access = &app.state.access;
    access.with_store(|store| store.projects().create("alpha").expect("project"));
    let key = access
        .create_key("alpha", Scope::Read, None, "test")
        .expect("key");
    let request = Request::get("/api/datasets/failed-runs")
        .header(header::AUTHORIZATION, format!("Bearer {}", key.key))
        .body(Body::empty())
        .expect("request");
    let (status, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn post_form(
    app: &crate::TestApp,
    trace: &str,
    form: &str,
    origin: Option<&str>,
) -> (StatusCode, Option<String>) {
    let mut request = Request::post(format!("/traces/{trace}/dataset"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "127.0.0.1:4318");
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin);
    }
    let request = request.body(Body::from(form.to_string())).expect("request");
    let response =
        tower::ServiceExt::oneshot(sextant_web::router::router(app.state.clone()), request)
            .await
            .expect("response");
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (response.status(), location)
}

#[tokio::test]
async fn the_trace_page_form_adds_its_run_annotated_and_refuses_other_sites() {
    let app = app_with_ui_fixture().await;
    let (status, location) = post_form(
        &app,
        FAILED_TRACE,
        "dataset=from-ui&label=critical&expected=fail",
        Some("http://127.0.0.1:4318"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        location.as_deref(),
        Some(format!("/traces/{FAILED_TRACE}?dataset=from-ui&version=1&added=1").as_str())
    );
    let (_, dataset) = get_json(&app, "/api/datasets/from-ui").await;
    assert_eq!(dataset["examples"][0]["label"], "critical", "{dataset}");
    assert_eq!(dataset["examples"][0]["expected"], "fail");
    let (_, page) = crate::call_text(
        &app,
        Request::get(location.unwrap_or_default())
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(
        page.contains("added to <a href=\"/api/datasets/from-ui\">from-ui</a>, version 1"),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"from-ui\">"),
        "the datalist offers existing datasets"
    );

    let (status, _) = post_form(
        &app,
        PASSING_TRACE,
        "dataset=from-ui",
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a form posted from another site"
    );
    let (status, _) = post_form(&app, PASSING_TRACE, "dataset=bad%20name", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, added) = post(
        &app,
        json!({"name": "labelled", "traces": [PASSING_TRACE], "label": "critical", "expected": "pass"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let (_, dataset) = get_json(&app, "/api/datasets/labelled").await;
    assert_eq!(dataset["examples"][0]["label"], "critical", "{dataset}");
}

async fn post_as(app: &crate::TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::post("/api/datasets")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::from(body.to_string()))
        .expect("request");
    call(app, request).await
}

async fn page_as(app: &crate::TestApp, path: &str, cookie: &str) -> String {
    let request = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request");
    let (status, html) = call_text(app, request).await;
    assert_eq!(status, StatusCode::OK, "{path}: {html}");
    html
}

/// The trace page's form, posted with a session cookie and its CSRF token.
async fn post_form_as(app: &crate::TestApp, cookie: &str, csrf_token: &str) -> StatusCode {
    let form = serde_urlencoded::to_string([("dataset", "from-ui"), ("csrf_token", csrf_token)])
        .expect("form");
    let request = Request::post(format!("/traces/{FAILED_TRACE}/dataset"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(form))
        .expect("request");
    call_text(app, request).await.0
}

/// Adding examples changes the project: a read key or a read key's session gets 403, an
/// admin's is allowed; reading datasets stays open to readers.
#[tokio::test]
async fn only_an_admin_adds_examples() {
    let app = app_with_ui_fixture().await;
    let key = |scope| {
        app.state
            .access
            .create_key("default", scope, None, "test")
            .expect("key")
            .key
    };
    let (reader, admin) = (key(Scope::Read), key(Scope::Admin));
    let body = json!({"name": "failed-runs", "traces": [FAILED_TRACE]});
    let (status, refused) = post_as(&app, &reader, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"]["code"], "permission_denied", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("admin")),
        "{refused}"
    );
    let (status, added) = post_as(&app, &admin, body).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    let request = Request::get("/api/datasets/failed-runs")
        .header(header::AUTHORIZATION, format!("Bearer {reader}"))
        .body(Body::empty())
        .expect("request");
    let (status, dataset) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK, "a reader reads datasets: {dataset}");

    let trace_page = format!("/traces/{FAILED_TRACE}");
    let reader_cookie = sign_in(&app, &reader).await;
    let html = page_as(&app, &trace_page, &reader_cookie).await;
    assert!(!html.contains("add-to-dataset"), "no form for a reader");
    let reader_csrf = csrf_token_of(&html);
    assert_eq!(
        post_form_as(&app, &reader_cookie, &reader_csrf).await,
        StatusCode::FORBIDDEN,
        "a reader's session cannot post the form"
    );

    let admin_cookie = sign_in(&app, &admin).await;
    let html = page_as(&app, &trace_page, &admin_cookie).await;
    assert!(html.contains("add-to-dataset"), "the form for an admin");
    let admin_csrf = csrf_token_of(&html);
    assert_eq!(
        post_form_as(&app, &admin_cookie, &admin_csrf).await,
        StatusCode::SEE_OTHER
    );
    let (_, dataset) = {
        let request = Request::get("/api/datasets/from-ui")
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .body(Body::empty())
            .expect("request");
        call(&app, request).await
    };
    assert_eq!(
        dataset["examples"][0]["trace_id"], FAILED_TRACE,
        "{dataset}"
    );
}

/// One version adds at most 1000 examples: more trace ids, or a larger search limit, is a
/// 400 naming the cap, before any trace is loaded.
#[tokio::test]
async fn a_version_past_the_example_cap_is_refused_naming_it() {
    let app = app_with_ui_fixture().await;
    let ids: Vec<String> = (0..1001).map(|index| format!("{index:032x}")).collect();
    let cases = [
        json!({"name": "too-many", "traces": ids}),
        json!({"name": "too-many", "search": "tool:bash", "limit": 1001}),
    ];
    for body in cases {
        let (status, refused) = post(&app, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("at most 1000")),
            "{refused}"
        );
    }
    let (status, _) = get_json(&app, "/api/datasets/too-many").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was made");
}
