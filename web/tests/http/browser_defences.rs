//! What protects a browser's user: open local mode answers only requests addressed to
//! loopback (or the public URL), against DNS rebinding; every response carries the
//! security headers, and the pages need no inline script for their policy.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sextant_meta::keys::Scope;
use sextant_web::security_headers::CONTENT_SECURITY_POLICY;
use tower::ServiceExt;

use crate::{TestApp, app, app_with_ui_fixture};

/// Status, headers and body of `request` through the router.
async fn respond(app: &TestApp, request: Request<Body>) -> (StatusCode, header::HeaderMap, String) {
    let response = sextant_web::router::router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn get(path: &str, host: Option<&str>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(host) = host {
        request = request.header(header::HOST, host);
    }
    request.body(Body::empty()).expect("request")
}

/// The status of `GET /api/traces` addressed to `host`.
async fn status_for_host(app: &TestApp, host: &str) -> StatusCode {
    respond(app, get("/api/traces", Some(host))).await.0
}

#[tokio::test]
async fn open_mode_answers_only_loopback_hosts_and_the_public_url() {
    let mut app = app();
    for host in [
        "127.0.0.1:4318",
        "127.0.0.1",
        "127.9.9.9:80",
        "localhost:4318",
        "LOCALHOST",
        "[::1]:4318",
    ] {
        assert_eq!(status_for_host(&app, host).await, StatusCode::OK, "{host}");
    }
    let (status, _, body) = respond(&app, get("/api/traces", None)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "no Host is no browser (oneshot, HTTP/1.0): {body}"
    );

    for host in [
        "evil.example",
        "evil.example:4318",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "10.0.0.8:4318",
        "traces.example.com",
    ] {
        let (status, headers, body) = respond(&app, get("/api/traces", Some(host))).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{host}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("json error");
        assert_eq!(error["error"]["code"], "misdirected_request", "{body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("public_url")),
            "says what to do: {body}"
        );
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }
    // A page gets an error page; OTLP ingest on the same router is refused too.
    let request = Request::get("/")
        .header(header::HOST, "evil.example")
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .body(Body::empty())
        .expect("request");
    let (status, _, html) = respond(&app, request).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert!(
        html.contains("<!doctype html>") && html.contains("public_url"),
        "{html}"
    );
    let request = Request::post("/v1/traces")
        .header(header::HOST, "evil.example:4318")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"resourceSpans":[]}"#))
        .expect("request");
    assert_eq!(
        respond(&app, request).await.0,
        StatusCode::MISDIRECTED_REQUEST
    );

    app.state.public_url = Some("https://traces.example.com".parse().expect("public url"));
    for host in [
        "traces.example.com",
        "Traces.Example.com:443",
        "127.0.0.1:4318",
    ] {
        assert_eq!(status_for_host(&app, host).await, StatusCode::OK, "{host}");
    }
    assert_eq!(
        status_for_host(&app, "evil.example").await,
        StatusCode::MISDIRECTED_REQUEST
    );
}

/// With keys every request needs one, whatever its host: the guard stands aside.
#[tokio::test]
async fn with_keys_any_host_is_answered_by_its_key() {
    let app = app();
    let key = app
        .state
        .access
        .create_key("default", Scope::Read, None, "test")
        .expect("key");
    let request = Request::get("/api/traces")
        .header(header::HOST, "traces.example.com")
        .header(header::AUTHORIZATION, format!("Bearer {}", key.key))
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = respond(&app, request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        status_for_host(&app, "traces.example.com").await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = app_with_ui_fixture().await;
    let otlp = Request::post("/v1/traces")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"resourceSpans":[]}"#))
        .expect("request");
    let requests = [
        ("page", get("/", None)),
        (
            "trace page",
            get("/traces/7e1f0c0ffee0000000000000000000a1", None),
        ),
        ("dashboards", get("/dashboards", None)),
        ("api", get("/api/traces", None)),
        ("api error", get("/api/traces/nothex", None)),
        ("asset", get("/assets/sextant.css", None)),
        ("no route", get("/no/such/route", None)),
        ("healthz", get("/healthz", None)),
        ("otlp", otlp),
    ];
    for (what, request) in requests {
        let (status, headers, _) = respond(&app, request).await;
        let header_of = |name: header::HeaderName| {
            headers
                .get(&name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_else(|| panic!("{what} ({status}): no {name}"))
                .to_string()
        };
        assert_eq!(
            header_of(header::CONTENT_SECURITY_POLICY),
            CONTENT_SECURITY_POLICY,
            "{what}"
        );
        assert_eq!(header_of(header::X_FRAME_OPTIONS), "DENY", "{what}");
        assert_eq!(
            header_of(header::X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{what}"
        );
        assert_eq!(header_of(header::REFERRER_POLICY), "same-origin", "{what}");
    }
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
}

/// The policy allows no inline script and no `<style>` element: the pages have none, and
/// the charts' SVG neither.
#[tokio::test]
async fn pages_need_no_inline_script_or_style_element() {
    let app = app_with_ui_fixture().await;
    for path in [
        "/",
        "/traces/7e1f0c0ffee0000000000000000000a1",
        "/dashboards",
        "/usage",
        "/sql?q=SELECT%201",
        "/evals",
    ] {
        let (status, _, html) = respond(&app, get(path, None)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        for tag in html.split("<script").skip(1) {
            let open_tag = tag.split('>').next().unwrap_or_default();
            assert!(
                open_tag.contains("src=\"/assets/"),
                "{path}: inline <script{open_tag}>"
            );
        }
        assert!(!html.contains("<style"), "{path}: a <style> element");
        // Inside tags only: agent text may say `onerror=`, escaped.
        for tag in html.split('<').skip(1) {
            let tag = tag
                .split('>')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let handler = tag
                .split_whitespace()
                .any(|attribute| attribute.starts_with("on") && attribute.contains('='));
            assert!(!handler, "{path}: an event handler in <{tag}>");
            assert!(!tag.contains("javascript:"), "{path}: <{tag}>");
        }
    }
    assert!(
        respond(&app, get("/dashboards", None))
            .await
            .2
            .contains("<svg"),
        "the dashboards draw their charts inline"
    );
}
