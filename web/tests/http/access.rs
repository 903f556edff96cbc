//! Projects, keys and access through the HTTP interfaces: two projects never see each
//! other, every auth failure has its status and message, and the web sign-in is a
//! HttpOnly, SameSite=Strict cookie with CSRF-protected forms.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use sextant_meta::keys::{CreatedKey, NO_PROJECT, Scope};

use crate::{LimitRates, LimitsConfig, TestApp, app, app_with_limits, call, call_text, flush};

/// The keys of one project.
struct ProjectKeys {
    ingest: CreatedKey,
    read: CreatedKey,
    admin: CreatedKey,
}

fn create_project(app: &TestApp, project: &str) -> ProjectKeys {
    let access = &app.state.access;
    access.with_store(|store| store.projects().create(project).expect("project"));
    let key = |scope| {
        access
            .create_key(project, scope, None, "test")
            .expect("key")
    };
    ProjectKeys {
        ingest: key(Scope::Ingest),
        read: key(Scope::Read),
        admin: key(Scope::Admin),
    }
}

fn bearer(key: &CreatedKey) -> String {
    format!("Bearer {}", key.key)
}

/// One trace of one span whose text and session carry `marker`.
fn trace_json(trace_id: &str, marker: &str) -> String {
    serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": trace_id,
            "spanId": &trace_id[..16],
            "name": format!("invoke_agent {marker}"),
            "startTimeUnixNano": "1763800000000000000",
            "endTimeUnixNano": "1763800001000000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
                {"key": "session.id", "value": {"stringValue": format!("session-{marker}")}},
                {"key": "gen_ai.input.messages", "value": {"stringValue": format!(
                    "[{{\"role\":\"user\",\"parts\":[{{\"type\":\"text\",\"content\":\"fix the {marker} bug\"}}]}}]"
                )}}
            ]}]}]}]})
    .to_string()
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<String>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map_or(Body::empty(), Body::from))
        .expect("request");
    call(app, request).await
}

async fn sql_as(app: &TestApp, authorization: &str, sql: &str) -> (StatusCode, Value) {
    let body = serde_json::json!({ "sql": sql }).to_string();
    send(app, "POST", "/api/sql", Some(authorization), Some(body)).await
}

const TRACE_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TRACE_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// Each project ingests with its own key; each reader sees its own trace and nothing of
/// the other's, through every read path.
#[tokio::test]
async fn two_projects_never_see_each_other() {
    let app = app();
    let alpha = create_project(&app, "alpha");
    let beta = create_project(&app, "beta");
    for (keys, trace, marker) in [(&alpha, TRACE_A, "wombat"), (&beta, TRACE_B, "narwhal")] {
        let (status, body) = send(
            &app,
            "POST",
            "/v1/traces",
            Some(&bearer(&keys.ingest)),
            Some(trace_json(trace, marker)),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    flush(&app);

    let reader = bearer(&alpha.read);
    let (status, list) = send(&app, "GET", "/api/traces", Some(&reader), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list["traces"]
        .as_array()
        .map(|traces| {
            traces
                .iter()
                .filter_map(|t| t["trace_id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, [TRACE_A]);

    for path in [
        format!("/api/traces/{TRACE_B}"),
        format!("/api/traces/{TRACE_B}?skeleton=true"),
        "/api/sessions/session-narwhal".to_string(),
    ] {
        let (status, body) = send(&app, "GET", &path, Some(&reader), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, own) = send(
        &app,
        "GET",
        &format!("/api/traces/{TRACE_A}"),
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{own}");

    for query in [
        "narwhal",
        "session:session-narwhal",
        "trace:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ] {
        let (status, found) = send(
            &app,
            "GET",
            &format!("/api/search?q={query}"),
            Some(&reader),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{found}");
        assert_eq!(
            found["hits"].as_array().map(Vec::len),
            Some(0),
            "{query}: {found}"
        );
    }
    let (_, found) = send(&app, "GET", "/api/search?q=wombat", Some(&reader), None).await;
    assert_eq!(found["hits"].as_array().map(Vec::len), Some(1), "{found}");

    // SQL: counts see one project; naming the other project in a filter finds nothing.
    for table in ["spans", "traces", "sessions"] {
        let (status, body) =
            sql_as(&app, &reader, &format!("SELECT count(*) AS n FROM {table}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["rows"][0]["n"], 1, "{table}: {body}");
    }
    let (_, body) = sql_as(
        &app,
        &reader,
        "SELECT count(*) AS n FROM spans WHERE project_id = 'beta' OR name LIKE '%narwhal%'",
    )
    .await;
    assert_eq!(body["rows"][0]["n"], 0, "{body}");

    // The UI: the other project's trace page is not found, the runs page lists only ours.
    let cookie = sign_in(&app, &alpha.read.key).await;
    let (status, html) = page(&app, &format!("/traces/{TRACE_B}"), &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{html}");
    let (status, html) = page(&app, "/", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(TRACE_A) && !html.contains(TRACE_B), "{html}");
    assert!(html.contains("alpha"), "the header names the project");

    // The admin of beta sees beta; an ingest key cannot read at all.
    let (_, list) = send(&app, "GET", "/api/traces", Some(&bearer(&beta.admin)), None).await;
    assert_eq!(list["traces"][0]["trace_id"], TRACE_B, "{list}");
    let (status, body) = send(
        &app,
        "GET",
        "/api/traces",
        Some(&bearer(&alpha.ingest)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = sql_as(&app, &bearer(&alpha.ingest), "SELECT 1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// Missing, malformed, unknown, revoked and wrong-scope credentials on OTLP and the API.
#[tokio::test]
async fn every_auth_failure_has_its_status_and_message() {
    let app = app();
    // Open mode until a key exists: no credentials needed.
    let (status, _) = send(&app, "GET", "/api/traces", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let keys = create_project(&app, "alpha");
    let access = &app.state.access;
    let revoked = access
        .create_key("alpha", Scope::Read, None, "test")
        .expect("key");
    access
        .revoke_key(&revoked.record.id, "test")
        .expect("revoke");
    let unknown = format!("Bearer sxt_{}_{}", "0".repeat(12), "1".repeat(64));
    let otlp = Some(trace_json(TRACE_A, "otter"));
    let cases: Vec<(&str, &str, Option<String>, StatusCode, &str)> = vec![
        (
            "GET",
            "/api/traces",
            None,
            StatusCode::UNAUTHORIZED,
            "requires an API key",
        ),
        (
            "GET",
            "/api/traces",
            Some("Bearer".into()),
            StatusCode::UNAUTHORIZED,
            "malformed",
        ),
        (
            "GET",
            "/api/traces",
            Some("Bearer not-a-key".into()),
            StatusCode::UNAUTHORIZED,
            "malformed",
        ),
        (
            "GET",
            "/api/traces",
            Some(unknown.clone()),
            StatusCode::UNAUTHORIZED,
            "not valid",
        ),
        (
            "GET",
            "/api/traces",
            Some(bearer(&revoked)),
            StatusCode::UNAUTHORIZED,
            "revoked",
        ),
        (
            "GET",
            "/api/traces",
            Some(bearer(&keys.ingest)),
            StatusCode::FORBIDDEN,
            "ingest scope",
        ),
        (
            "GET",
            "/api/audit",
            Some(bearer(&keys.read)),
            StatusCode::FORBIDDEN,
            "read scope",
        ),
        (
            "POST",
            "/v1/traces",
            None,
            StatusCode::UNAUTHORIZED,
            "requires an API key",
        ),
        (
            "POST",
            "/v1/traces",
            Some(unknown),
            StatusCode::UNAUTHORIZED,
            "not valid",
        ),
        (
            "POST",
            "/v1/traces",
            Some(bearer(&revoked)),
            StatusCode::UNAUTHORIZED,
            "revoked",
        ),
        (
            "POST",
            "/v1/traces",
            Some(bearer(&keys.read)),
            StatusCode::FORBIDDEN,
            "read scope",
        ),
    ];
    for (method, path, authorization, expected, words) in cases {
        let body = (method == "POST").then(|| otlp.clone().unwrap_or_default());
        let (status, answer) = send(&app, method, path, authorization.as_deref(), body).await;
        assert_eq!(
            status, expected,
            "{method} {path} {authorization:?}: {answer}"
        );
        let message = answer["error"]["message"]
            .as_str()
            .or(answer["message"].as_str())
            .unwrap_or_default();
        assert!(
            message.contains(words),
            "{method} {path}: {message:?} lacks {words:?}"
        );
        assert!(!message.contains("beta"), "{message}");
    }
    // The admin sees the failures in the project's audit log.
    let (status, audit) = send(&app, "GET", "/api/audit", Some(&bearer(&keys.admin)), None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    assert!(
        entries.iter().any(|entry| entry["action"] == "auth.failed"
            && entry["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("scope")),
        "{audit}"
    );
}

/// Signs in through the form (CSRF double submit) and returns the session cookie pair.
pub(crate) async fn sign_in(app: &TestApp, key: &str) -> String {
    let (csrf_cookie, csrf_token) = sign_in_form(app).await;
    let form = serde_urlencoded::to_string([
        ("key", key),
        ("csrf_token", csrf_token.as_str()),
        ("next", "/"),
    ])
    .expect("form");
    let response = post_form(app, "/login", &csrf_cookie, form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let set_cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .expect("a session cookie")
        .to_string();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    set_cookie.split(';').next().unwrap_or_default().to_string()
}

/// The sign-in form's CSRF cookie pair and the token in the form.
async fn sign_in_form(app: &TestApp) -> (String, String) {
    let response = raw(
        app,
        Request::get("/login").body(Body::empty()).expect("request"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("csrf cookie")
        .to_string();
    let token = cookie
        .split_once('=')
        .map(|(_, value)| value.to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let html = String::from_utf8_lossy(&body);
    assert!(
        html.contains(&format!("value=\"{token}\"")),
        "the form carries the token"
    );
    (cookie, token)
}

async fn raw(app: &TestApp, request: Request<Body>) -> axum::response::Response {
    use tower::ServiceExt;
    sextant_web::router::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response")
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    form: String,
) -> axum::response::Response {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .body(Body::from(form))
        .expect("request");
    raw(app, request).await
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request");
    call_text(app, request).await
}

/// Pages redirect to the sign-in form; the cookie works for pages and reads but not for
/// POSTs to the API; the forms need their CSRF token; signing out ends the session.
#[tokio::test]
async fn web_sign_in_is_a_strict_cookie_with_csrf_protected_forms() {
    let app = app();
    let keys = create_project(&app, "alpha");
    let response = raw(
        &app,
        Request::get("/dashboards")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok()),
        Some("/login?next=%2Fdashboards")
    );

    // A forged sign-in (no CSRF cookie, or another token) is refused.
    let (csrf_cookie, _) = sign_in_form(&app).await;
    let forged =
        serde_urlencoded::to_string([("key", keys.read.key.as_str()), ("csrf_token", "guess")])
            .expect("form");
    let response = post_form(&app, "/login", &csrf_cookie, forged).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|value| {
                !value
                    .to_str()
                    .unwrap_or_default()
                    .starts_with("sextant_session")
            })
    );
    // An ingest key cannot sign in.
    let (csrf_cookie, token) = sign_in_form(&app).await;
    let form =
        serde_urlencoded::to_string([("key", keys.ingest.key.as_str()), ("csrf_token", &token)])
            .expect("form");
    assert_eq!(
        post_form(&app, "/login", &csrf_cookie, form).await.status(),
        StatusCode::FORBIDDEN
    );

    let cookie = sign_in(&app, &keys.read.key).await;
    let (status, html) = page(&app, "/dashboards", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sign out"), "{html}");
    let (status, _) = page(&app, "/api/traces", &cookie).await;
    assert_eq!(status, StatusCode::OK, "reads work with the cookie");
    let request = Request::post("/api/sql")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"sql":"SELECT 1"}"#))
        .expect("request");
    let (status, _) = call(&app, request).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a cookie alone cannot POST to the API"
    );

    // Sign-out needs the session's CSRF token, which the page carries.
    let response = post_form(&app, "/logout", &cookie, "csrf_token=guess".into()).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let csrf = csrf_token_of(&html);
    let response = post_form(&app, "/logout", &cookie, format!("csrf_token={csrf}")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&app, "/api/traces", &cookie).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended");
}

/// A project over its ingest or API rate gets 429 with `Retry-After`; another project
/// is unaffected. (Rates of one unit per 1000 s: no test runs long enough to refill.)
#[tokio::test]
async fn a_rate_limited_project_gets_429_and_another_does_not() {
    let slow = LimitRates {
        ingest_spans_per_second: Some(0.001),
        ingest_bytes_per_second: None,
        api_requests_per_second: Some(0.001),
    };
    let app = app_with_limits(LimitsConfig {
        projects: [("alpha".to_string(), slow)].into_iter().collect(),
        ..LimitsConfig::default()
    });
    let alpha = create_project(&app, "alpha");
    let beta = create_project(&app, "beta");
    let export = |keys: &ProjectKeys, trace: &str| {
        let authorization = bearer(&keys.ingest);
        let body = trace_json(trace, "limited");
        let app = &app;
        async move {
            let request = Request::post("/v1/traces")
                .header(header::AUTHORIZATION, authorization)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("request");
            raw(app, request).await
        }
    };
    assert_eq!(export(&alpha, TRACE_A).await.status(), StatusCode::OK);
    let refused = export(&alpha, TRACE_A).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!(retry_after >= 1, "{retry_after}");
    for _ in 0..3 {
        assert_eq!(export(&beta, TRACE_B).await.status(), StatusCode::OK);
    }

    let get = |keys: &ProjectKeys| {
        let request = Request::get("/api/traces")
            .header(header::AUTHORIZATION, bearer(&keys.read))
            .body(Body::empty())
            .expect("request");
        raw(&app, request)
    };
    assert_eq!(get(&alpha).await.status(), StatusCode::OK);
    let refused = get(&alpha).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body = axum::body::to_bytes(refused.into_body(), usize::MAX)
        .await
        .expect("body");
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    for _ in 0..3 {
        assert_eq!(get(&beta).await.status(), StatusCode::OK);
    }
}

/// One model call (gpt-5, `input_tokens` in, 10 out) a minute ago, failed when `failed`.
fn model_call_json(trace_id: &str, span_id: &str, input_tokens: i64, failed: bool) -> String {
    let end_ns = chrono::Utc::now().timestamp_nanos_opt().expect("now") - 60_000_000_000;
    let status = if failed {
        serde_json::json!({"code": 2, "message": "overloaded"})
    } else {
        serde_json::json!({})
    };
    serde_json::json!({"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "agent"}}]},
    "scopeSpans": [{"spans": [{
        "traceId": trace_id,
        "spanId": span_id,
        "name": "chat gpt-5",
        "startTimeUnixNano": (end_ns - 1_000_000_000).to_string(),
        "endTimeUnixNano": end_ns.to_string(),
        "status": status,
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-5"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": input_tokens}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 10}},
            {"key": "gen_ai.input.messages", "value": {"stringValue": "secret-prompt-text"}}
        ]}]}]}]})
    .to_string()
}

/// The operator key sees every project's usage — each project's figures equal to what that
/// project's own SQL answers — and nothing of any project's content; no project key sees
/// the usage of the instance.
#[tokio::test]
async fn an_operator_sees_each_projects_usage_and_no_projects_content() {
    let app = app();
    let alpha = create_project(&app, "alpha");
    let beta = create_project(&app, "beta");
    let operator = app
        .state
        .access
        .create_key(NO_PROJECT, Scope::Operator, Some("finance"), "test")
        .expect("operator key");
    let calls = [
        (&alpha, TRACE_A, "aaaaaaaaaaaaaaa1", 1000, false),
        (&alpha, TRACE_A, "aaaaaaaaaaaaaaa2", 3000, true),
        (&beta, TRACE_B, "bbbbbbbbbbbbbbb1", 500, false),
    ];
    for (keys, trace, span, input_tokens, failed) in calls {
        let body = model_call_json(trace, span, input_tokens, failed);
        let (status, answer) = send(
            &app,
            "POST",
            "/v1/traces",
            Some(&bearer(&keys.ingest)),
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    flush(&app);

    let (status, usage) = send(
        &app,
        "GET",
        "/api/usage?since=7d",
        Some(&bearer(&operator)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let total_of = |project: &str| {
        usage["totals"]
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["project"] == project))
            .cloned()
            .unwrap_or_else(|| panic!("no row for {project}: {usage}"))
    };
    let own_sql = "SELECT sum(calls) AS calls, sum(errors) AS errors, \
                   sum(input_tokens) + sum(output_tokens) AS tokens, sum(cost_usd) AS cost_usd \
                   FROM llm_usage";
    for (keys, project, expected_calls, expected_errors) in
        [(&alpha, "alpha", 2, 1), (&beta, "beta", 1, 0)]
    {
        let (_, own) = sql_as(&app, &bearer(&keys.read), own_sql).await;
        let total = total_of(project);
        assert_eq!(total["calls"], expected_calls, "{project}: {total}");
        assert_eq!(total["errors"], expected_errors, "{project}: {total}");
        for figure in ["calls", "errors", "tokens"] {
            assert_eq!(
                total[figure], own["rows"][0][figure],
                "{project} {figure}: {own}"
            );
        }
        let cost = total["cost_usd"].as_f64().expect("priced");
        let own_cost = own["rows"][0]["cost_usd"].as_f64().expect("priced");
        assert!(
            cost > 0.0 && (cost - own_cost).abs() < 1e-12,
            "{project}: {cost} vs {own_cost}"
        );
    }
    assert_eq!(
        total_of("default")["calls"],
        0,
        "a project without calls has a zero row"
    );
    assert_eq!(
        usage["totals"][0]["project"], "alpha",
        "most expensive first: {usage}"
    );
    let days: Vec<&str> = usage["by_day"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["project"].as_str())
        .collect();
    assert_eq!(days.len(), 2, "one day each for alpha and beta: {usage}");
    assert!(!usage.to_string().contains("secret-prompt-text"));

    // The operator key reads and writes no project.
    let operator_bearer = bearer(&operator);
    for path in [
        "/api/traces".to_string(),
        format!("/api/traces/{TRACE_A}"),
        "/api/search?q=secret".to_string(),
        "/api/audit".to_string(),
        "/api/datasets".to_string(),
    ] {
        let (status, body) = send(&app, "GET", &path, Some(&operator_bearer), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    let (status, body) = sql_as(&app, &operator_bearer, "SELECT count(*) FROM spans").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let body = model_call_json(TRACE_A, "aaaaaaaaaaaaaaa3", 1, false);
    let (status, _) = send(
        &app,
        "POST",
        "/v1/traces",
        Some(&operator_bearer),
        Some(body),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an operator key cannot ingest"
    );
    // And no project key sees the instance's usage, the admin's included.
    for key in [&alpha.read, &alpha.admin, &beta.admin] {
        let (status, body) = send(&app, "GET", "/api/usage", Some(&bearer(key)), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }

    // In the browser: the operator lands on the usage page, with both projects charted.
    let cookie = sign_in(&app, &operator.key).await;
    let request = Request::get("/")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("request");
    let response = raw(&app, request).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[header::LOCATION], "/usage");
    let (status, html) = page(&app, "/usage?since=7d", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("<svg") && html.contains("Cost (USD) per day by project"),
        "{html}"
    );
    for project in ["alpha", "beta", "default"] {
        assert!(
            html.contains(&format!("data-project=\"{project}\"")),
            "{project}"
        );
    }
    assert!(!html.contains("secret-prompt-text"));
    assert!(
        !html.contains("href=\"/sql\""),
        "an operator's header links to no project page"
    );
    let reader_cookie = sign_in(&app, &alpha.read.key).await;
    let (status, _) = page(&app, "/usage", &reader_cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The csrf token of a signed-in page's forms (the sign-out form's).
pub(crate) fn csrf_token_of(html: &str) -> String {
    html.split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a form's csrf token")
        .to_string()
}

/// An operator's browser session ends on sign-out like any other: the old cookie is sent
/// back to the sign-in form.
#[tokio::test]
async fn an_operator_signs_out_and_the_old_cookie_is_refused() {
    let app = app();
    let operator = app
        .state
        .access
        .create_key(NO_PROJECT, Scope::Operator, Some("finance"), "test")
        .expect("operator key");
    let cookie = sign_in(&app, &operator.key).await;
    let (status, html) = page(&app, "/usage", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Sign out"), "{html}");

    let form = format!("csrf_token={}", csrf_token_of(&html));
    let response = post_form(&app, "/logout", &cookie, form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/login");

    let request = Request::get("/usage")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("request");
    let response = raw(&app, request).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "the session ended"
    );
    assert_eq!(response.headers()[header::LOCATION], "/login?next=%2Fusage");
    let (status, body) = page(&app, "/api/usage", &cookie).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let audit = app
        .state
        .access
        .with_store(|store| store.audit().list(None, 100).expect("audit"));
    assert!(
        audit.iter().any(|entry| entry.action == "web.sign_out"),
        "{audit:?}"
    );
}

/// Open local mode is the machine's owner: it sees the usage page of its one project.
#[tokio::test]
async fn open_mode_sees_the_usage_page() {
    let app = app();
    let (status, usage) = send(&app, "GET", "/api/usage", None, None).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["totals"][0]["project"], "default", "{usage}");
    let (status, html) = page(&app, "/usage", "").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("href=\"/usage\""), "linked from the header");
    assert!(
        html.contains("<select name=\"since\">"),
        "the time range picker: {html}"
    );
    let (_, runs) = page(&app, "/", "").await;
    assert!(
        runs.contains("href=\"/usage\""),
        "the runs page links it too"
    );
}

/// What a tracing subscriber writes, kept for the test to read.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's request log lines, kept for the tests to read. A global subscriber, set
/// once: a scoped one (`set_default`) was seen to miss every event while other tests of
/// this binary ran in parallel. Other tests' requests are logged here too; a test reads
/// the lines of its own project.
fn request_logs() -> &'static CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("sextant_web::request_span=debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("the only global subscriber of the http tests");
        logs
    })
}

/// Every request is logged inside a span naming its method, path, project and key, so a
/// line Sextant logs while serving it says whose request it was.
#[tokio::test]
async fn requests_are_logged_with_their_project_and_key() {
    let logs = request_logs();
    let app = app();
    let keys = create_project(&app, "logged");

    let request = Request::get("/api/traces")
        .header(header::AUTHORIZATION, bearer(&keys.read))
        .body(Body::empty())
        .expect("request");
    let (status, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    let request = Request::post("/v1/traces")
        .header(header::AUTHORIZATION, bearer(&keys.ingest))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(trace_json(
            "0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a",
            "logged",
        )))
        .expect("request");
    let (status, _) = call(&app, request).await;
    assert_eq!(status, StatusCode::OK);

    let text = String::from_utf8(logs.0.lock().expect("logs").clone()).expect("utf-8");
    let served: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("request served") && line.contains("project=logged"))
        .collect();
    assert_eq!(served.len(), 2, "{text}");
    let read_id = &keys.read.record.id;
    let ingest_id = &keys.ingest.record.id;
    for (line, path, key_id) in [
        (served[0], "path=/api/traces", read_id),
        (served[1], "path=/v1/traces", ingest_id),
    ] {
        for expected in [
            path.to_owned(),
            "project=logged".to_owned(),
            format!("key_id={key_id}"),
            "status=200".to_owned(),
        ] {
            assert!(line.contains(&expected), "{expected} not in {line}");
        }
    }
    assert!(
        !text.contains(&keys.read.key),
        "a secret was logged: {text}"
    );
}
