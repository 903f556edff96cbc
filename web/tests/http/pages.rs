//! The web UI's pages on fixed fixture data (`fixtures/ui-traces.json`: a failed fixer run
//! with a diff and a failing test, and a passing review run, in one session): rendered HTML
//! snapshots, hostile content shown as text, the trace list API's filters and paging.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;

use crate::{
    TestApp, app, app_with_fixture, app_with_ui_fixture, call_text, export_json, flush, get_json,
    respond,
};

const FAILED_TRACE: &str = "7e1f0c0ffee0000000000000000000a1";
const PASSING_TRACE: &str = "7e1f0c0ffee0000000000000000000b2";
const FAILING_TOOL_SPAN: &str = "a100000000000004";

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    call_text(
        app,
        Request::get(path).body(Body::empty()).expect("request"),
    )
    .await
}

async fn ok_page(app: &TestApp, path: &str) -> String {
    let (status, html) = page(app, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {html}");
    html
}

/// Markup an agent put in prompts and tool output must reach the browser as text.
fn assert_no_live_markup(html: &str) {
    for live in ["<script>alert", "<img src=x"] {
        assert!(!html.contains(live), "unescaped {live:?} in page");
    }
}

#[tokio::test]
async fn runs_page_lists_newest_first_and_renders_stably() {
    let app = app_with_ui_fixture().await;
    let html = ok_page(&app, "/").await;
    let passing = html.find(PASSING_TRACE).expect("passing run listed");
    let failed = html.find(FAILED_TRACE).expect("failed run listed");
    assert!(passing < failed, "newest first");
    insta::assert_snapshot!("runs_page", html);
}

#[tokio::test]
async fn failed_only_and_model_filters_narrow_the_list() {
    let app = app_with_ui_fixture().await;
    let failed_only = ok_page(&app, "/?status=error").await;
    assert!(failed_only.contains(FAILED_TRACE));
    assert!(!failed_only.contains(PASSING_TRACE));
    let by_model = ok_page(&app, "/?model=gpt-5-mini").await;
    assert!(by_model.contains(PASSING_TRACE));
    assert!(!by_model.contains(FAILED_TRACE));
}

#[tokio::test]
async fn search_finds_a_run_by_a_word_in_its_tool_output_with_a_snippet() {
    let app = app_with_ui_fixture().await;
    let html = ok_page(&app, "/?q=zanzibar").await;
    assert!(html.contains(FAILED_TRACE));
    assert!(!html.contains(PASSING_TRACE));
    assert!(html.contains("<b>zanzibar</b>"), "highlighted snippet");
    assert_no_live_markup(&html);
}

#[tokio::test]
async fn trace_page_opens_on_the_failing_span_with_its_output() {
    let app = app_with_ui_fixture().await;
    let html = ok_page(&app, &format!("/traces/{FAILED_TRACE}")).await;
    assert!(html.contains(&format!("data-span=\"{FAILING_TOOL_SPAN}\"")));
    assert!(html.contains("exit status 101"));
    assert!(html.contains("zanzibar overflow"));
    assert_no_live_markup(&html);
    insta::assert_snapshot!("trace_page", html);
}

#[tokio::test]
async fn an_edit_span_shows_its_diff_as_a_diff() {
    let app = app_with_ui_fixture().await;
    let html = ok_page(
        &app,
        &format!("/traces/{FAILED_TRACE}/spans/a100000000000003"),
    )
    .await;
    assert!(
        html.contains(r#"<span class="d-del">-    serde_json::from_str(input).unwrap()</span>"#),
        "{html}"
    );
    assert!(html.contains(
        r#"<span class="d-add">+    serde_json::from_str(input).unwrap_or_default()</span>"#
    ));
    assert!(html.contains(r#"<span class="d-hunk">@@ -10,3 +10,3 @@</span>"#));
}

#[tokio::test]
async fn llm_span_renders_messages_per_role_and_escapes_the_prompt() {
    let app = app_with_ui_fixture().await;
    let html = ok_page(
        &app,
        &format!("/traces/{FAILED_TRACE}?span=a100000000000002"),
    )
    .await;
    assert!(html.contains("message role-user"));
    assert!(html.contains("message role-assistant"));
    assert!(
        html.contains("&lt;script&gt;alert("),
        "prompt shown as text"
    );
    assert!(html.contains("You are a careful coding agent."));
    assert_no_live_markup(&html);
    insta::assert_snapshot!(
        "llm_span_fragment",
        ok_page(
            &app,
            &format!("/traces/{FAILED_TRACE}/spans/a100000000000002")
        )
        .await
    );
}

#[tokio::test]
async fn session_page_lists_its_traces_in_order_with_prompts() {
    let app = app_with_ui_fixture().await;
    let html = ok_page(&app, "/sessions/sess-ui-1").await;
    let failed = html.find(FAILED_TRACE).expect("first trace");
    let passing = html.find(PASSING_TRACE).expect("second trace");
    assert!(failed < passing, "oldest first");
    assert!(html.contains("Review the diff for style."));
    assert_no_live_markup(&html);
    insta::assert_snapshot!("session_page", html);
}

#[tokio::test]
async fn page_errors_are_html_with_the_right_status() {
    let app = app_with_ui_fixture().await;
    let (status, html) = page(&app, "/traces/not-a-trace").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("expected 32 hex characters"), "{html}");
    assert!(html.starts_with("<!doctype html>"));
    let (status, _) = page(&app, &format!("/traces/{}", "0".repeat(32))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, html) = page(&app, "/?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("invalid since"), "{html}");
    let (status, _) = page(&app, "/sessions/no-such-session").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assets_are_served_from_the_binary() {
    let app = app();
    let (status, css) = page(&app, "/assets/sextant.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains(".span-row"));
    let (status, _) = page(&app, "/assets/../Cargo.toml").await;
    assert_ne!(status, StatusCode::OK);
}

fn trace_ids(body: &Value) -> Vec<&str> {
    body["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|trace| trace["trace_id"].as_str().expect("trace_id"))
        .collect()
}

#[tokio::test]
async fn trace_list_api_filters_and_pages_by_cursor() {
    let app = app_with_ui_fixture().await;
    let (status, first) = get_json(&app, "/api/traces?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(trace_ids(&first), [PASSING_TRACE]);
    assert_eq!(first["traces"][0]["span_count"], 2);
    assert_eq!(first["traces"][0]["input_tokens"], 400);
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let (_, second) = get_json(&app, &format!("/api/traces?limit=1&cursor={cursor}")).await;
    assert_eq!(trace_ids(&second), [FAILED_TRACE]);
    assert!(second["next_cursor"].is_null());

    let (_, failed) = get_json(&app, "/api/traces?status=error").await;
    assert_eq!(trace_ids(&failed), [FAILED_TRACE]);
    assert_eq!(failed["traces"][0]["error_count"], 2);
    let (_, slow) = get_json(&app, "/api/traces?min_duration=5").await;
    assert_eq!(trace_ids(&slow), [FAILED_TRACE]);
    let (_, by_agent) = get_json(&app, "/api/traces?agent=reviewer").await;
    assert_eq!(trace_ids(&by_agent), [PASSING_TRACE]);
    let (_, by_tool) = get_json(&app, "/api/traces?q=tool:bash").await;
    assert_eq!(trace_ids(&by_tool), [FAILED_TRACE]);
    let (_, searched) = get_json(&app, "/api/traces?q=zanzibar").await;
    assert_eq!(trace_ids(&searched), [FAILED_TRACE]);
    let snippet = searched["traces"][0]["snippet"]
        .as_str()
        .expect("a snippet");
    assert!(snippet.contains("<b>zanzibar</b>"), "{snippet}");
    let (_, none) = get_json(&app, "/api/traces?from=2030-01-01").await;
    assert_eq!(trace_ids(&none), Vec::<&str>::new());

    let (status, body) = get_json(&app, "/api/traces?min_cost=cheap").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("min_cost")
    );
}

#[tokio::test]
async fn trace_skeleton_leaves_out_content() {
    let app = app_with_ui_fixture().await;
    let (status, body) = get_json(&app, &format!("/api/traces/{FAILED_TRACE}?skeleton=true")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["span_count"], 4);
    let span = &body["spans"][0];
    assert!(span.get("input").is_none());
    assert!(span["start_ns"].is_i64());
}

#[tokio::test]
async fn dashboards_draw_charts_and_their_numbers_match_sql() {
    let app = app_with_ui_fixture().await;
    // The fixture is dated 2026-01-01; a wide window holds it whatever today is.
    let html = ok_page(&app, "/dashboards?since=5000d&group=model").await;
    assert!(html.contains("<svg"), "server-drawn charts");
    let (_, totals) = crate::sql(
        &app,
        "SELECT count(*) AS runs, count(*) FILTER (WHERE outcome = 'failed') AS failed FROM traces",
    )
    .await;
    let runs = totals["rows"][0]["runs"].as_i64().expect("runs");
    assert_eq!(runs, 2);
    assert!(
        html.contains(&format!(r#"<strong data-figure="runs">{runs}</strong>"#)),
        "{html}"
    );
    assert!(html.contains(r#"<strong data-figure="success_rate">50.0%</strong>"#));
    assert!(html.contains("claude-sonnet-4-5") && html.contains("gpt-5-mini"));
    assert!(html.contains("exit status 101"), "top errors");
    assert!(html.contains("sess-ui-1"), "expensive sessions");
    assert!(
        html.contains(r#"<tr><td>2026-01-01</td><td class="num">2</td>"#),
        "runs per day as a table"
    );
    let by_agent = ok_page(&app, "/dashboards?since=5000d&group=agent").await;
    assert!(by_agent.contains("fixer") && by_agent.contains("reviewer"));
    let (status, _) = page(&app, "/dashboards?group=project").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sql_console_shows_results_refusals_and_a_csv_download() {
    let app = app_with_ui_fixture().await;
    let empty = ok_page(&app, "/sql").await;
    assert!(empty.contains("Examples"));
    let html = ok_page(&app, "/sql?q=SELECT%20count(*)%20AS%20runs%20FROM%20traces").await;
    assert!(html.contains("<th>runs</th>"), "{html}");
    assert!(html.contains("<td>2</td>"));
    assert!(html.contains("sql.csv?q=SELECT+count"), "a CSV link");
    let hostile = ok_page(
        &app,
        "/sql?q=SELECT%20'%3Cscript%3Ealert(1)%3C/script%3E'%20AS%20s",
    )
    .await;
    assert_no_live_markup(&hostile);
    let (status, refused) = page(&app, "/sql?q=DROP%20TABLE%20stored_spans").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused.contains("id=\"sql-error\""), "{refused}");

    let response = crate::router_response(
        &app,
        "/sql.csv?q=SELECT%20trace_id%20FROM%20traces%20ORDER%20BY%20trace_id",
    )
    .await;
    assert_eq!(response.0, StatusCode::OK);
    assert_eq!(
        response.1.as_deref(),
        Some("attachment; filename=\"sextant.csv\"")
    );
    assert_eq!(
        response.2,
        format!("trace_id\n{FAILED_TRACE}\n{PASSING_TRACE}\n")
    );
}

/// Chinese and Japanese have no spaces between words: a word inside a sentence is found.
#[tokio::test]
async fn cjk_words_inside_sentences_are_searchable() {
    let app = app_with_fixture("cjk-trace.json").await;
    for word in ["连接", "数据库", "失敗"] {
        let (status, body) = get_json(&app, &format!("/api/search?q={word}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["hits"].as_array().map(Vec::len),
            Some(1),
            "{word}: {body}"
        );
        let snippet = body["hits"][0]["snippet"].as_str().unwrap_or_default();
        assert!(snippet.contains("<b>"), "{word} highlighted: {snippet}");
    }
    let (_, none) = get_json(&app, "/api/search?q=连线").await;
    assert_eq!(none["hits"].as_array().map(Vec::len), Some(0), "{none}");
    let html = ok_page(&app, "/?q=超时").await;
    assert!(html.contains("c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"));
}

/// `query/tests/fixtures/gamma.<signal>.json`: Claude Code, Codex and GenAI tool calls.
fn governance_fixture(signal: &str) -> String {
    let path = format!(
        "{}/../query/tests/fixtures/gamma.{signal}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Every number on the governance page is SQL's over `agent_actions`; its filters narrow
/// them; an alert is acknowledged from the page.
#[tokio::test]
async fn the_governance_page_agrees_with_sql_and_acknowledges_alerts() {
    let app = app();
    export_json(&app, "logs", governance_fixture("logs")).await;
    export_json(&app, "traces", governance_fixture("traces")).await;
    flush(&app);
    let figures = "SELECT count(*) AS actions, count(DISTINCT session_id) AS sessions, \
         count(*) FILTER (WHERE kind = 'file_write') AS files_written, \
         count(*) FILTER (WHERE kind = 'command') AS commands, \
         count(DISTINCT target) FILTER (WHERE kind = 'network') AS hosts, \
         count(*) FILTER (WHERE kind = 'decision' AND decision = 'reject') AS rejected, \
         count(*) FILTER (WHERE kind = 'secret_exposed') AS secrets FROM agent_actions";
    let check = |html: &str, totals: &serde_json::Value| {
        for figure in [
            "actions",
            "sessions",
            "files_written",
            "commands",
            "hosts",
            "rejected",
            "secrets",
        ] {
            let value = totals["rows"][0][figure].as_i64().expect("a count");
            assert!(
                html.contains(&format!(
                    r#"<strong data-figure="{figure}">{value}</strong>"#
                )),
                "{figure} = {value}: {html}"
            );
        }
    };
    let html = ok_page(&app, "/governance?since=5000d").await;
    let (_, totals) = crate::sql(&app, figures).await;
    assert_eq!(totals["rows"][0]["actions"], 13, "{totals}");
    check(&html, &totals);
    for shown in [
        "evil.example.com",
        "src&#x2f;lib.rs",
        "github_token",
        "registry.npmjs.org",
        "reject",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
    let html = ok_page(&app, "/governance?since=5000d&agent=codex_exec").await;
    let (_, totals) = crate::sql(&app, &format!("{figures} WHERE agent = 'codex_exec'")).await;
    assert_eq!(totals["rows"][0]["actions"], 3, "{totals}");
    check(&html, &totals);
    assert!(!html.contains("evil.example.com"), "filtered out");

    let alert = app
        .state
        .access
        .with_store(|store| {
            store.alerts().raise(&sextant_meta::alerts::NewAlert {
                project_id: "default".into(),
                policy: "secrets-read".into(),
                severity: "high".into(),
                session_id: Some("gov-cc".into()),
                trace_id: None,
                span_id: None,
                kind: "file_read".into(),
                target: "/repo/.env".into(),
                detail: None,
                time_ms: 1_767_780_002_000,
            })
        })
        .expect("raise")
        .expect("new");
    let html = ok_page(&app, "/governance").await;
    assert!(
        html.contains(&format!(r#"<tr data-alert="{}">"#, alert.id)),
        "{html}"
    );
    assert!(html.contains("acknowledge</button>"), "{html}");
    let request = Request::post(format!("/governance/alerts/{}", alert.id))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("state=acknowledged"))
        .expect("request");
    let response = respond(&app, request).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let (_, page) = get_json(&app, "/api/alerts?state=acknowledged").await;
    assert_eq!(page["alerts"][0]["id"], alert.id, "{page}");
    let request = Request::post(format!("/governance/alerts/{}", alert.id))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .header("host", "127.0.0.1:4318")
        .body(Body::from("state=resolved"))
        .expect("request");
    assert_eq!(respond(&app, request).await.status(), StatusCode::FORBIDDEN);
}
