//! The JSON API: status codes, error bodies, the read-only SQL guard and its limits (bytes,
//! bombs, concurrent queries), agent telemetry become sessions with cost.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use sextant_ingest::layout::DEFAULT_PROJECT;
use sextant_web::query_slots::SqlSettings;

use crate::{
    app, app_with_sql, app_with_ui_fixture, call, call_text, capture, export_json, flush, get_json,
    respond, sql, ui_fixture,
};

#[tokio::test]
async fn select_works_on_an_empty_store() {
    let app = app();
    let (status, body) = sql(&app, "SELECT count(*) AS n FROM spans").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"][0]["n"], 0);
    assert_eq!(body["truncated"], false);
    assert_eq!(body["truncated_by"], Value::Null);
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
    assert_eq!(body["truncated_by"], "rows");
}

/// An answer past `max_result_bytes` keeps the rows that fit, flagged as cut by size, in
/// JSON and in CSV.
#[tokio::test]
async fn the_byte_cap_sets_the_truncated_flag() {
    let app = app_with_sql(SqlSettings {
        max_result_bytes: 64 * 1024,
        ..SqlSettings::default()
    });
    let wide_rows = "SELECT value, repeat('x', 1000) AS s FROM generate_series(1, 1000)";
    let (status, body) = sql(&app, wide_rows).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["truncated"], true);
    assert_eq!(body["truncated_by"], "bytes");
    let row_count = body["row_count"].as_u64().expect("row_count");
    assert!(
        (1..100).contains(&row_count),
        "64 KiB of 1 KB rows, not {row_count}"
    );
    assert_eq!(
        body["rows"].as_array().map(Vec::len),
        Some(row_count as usize)
    );

    let request = Request::post("/api/sql?format=csv")
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({ "sql": wide_rows }).to_string(),
        ))
        .expect("request");
    let response = respond(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-sextant-truncated"], "true");
    assert_eq!(response.headers()["x-sextant-truncated-by"], "bytes");
}

/// The hardening issue's bombs: a 16 GB range, 8 GB batches of a repeated constant, and a
/// cross join of spans with itself that cannot finish (times a billion rows, as the fixture
/// is small) answer 400 `limit_exceeded` saying what to change, and the server answers next.
#[tokio::test]
async fn resource_bombs_are_refused_and_the_server_keeps_answering() {
    let app = app_with_sql(SqlSettings {
        time_limit: Duration::from_secs(1),
        ..SqlSettings::default()
    });
    export_json(&app, "traces", ui_fixture()).await;
    flush(&app);
    let bombs = [
        (
            "SELECT cardinality(range(0, 2000000000))",
            "range(…) would build up to 14.9 GiB",
        ),
        (
            "SELECT repeat('x', 1000000) FROM generate_series(1, 100000)",
            "would be copied into each of up to 8192 rows at once",
        ),
        (
            "SELECT count(*) FROM spans a, spans b, generate_series(1, 1000000000) c",
            "query ran longer than 1 s and was cancelled",
        ),
    ];
    for (bomb, expected) in bombs {
        let (status, body) = sql(&app, bomb).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bomb}: {body}");
        assert_eq!(body["error"]["code"], "limit_exceeded", "{bomb}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{bomb}: {message}");
    }
    let (status, body) = sql(&app, "SELECT count(*) AS n FROM spans a, spans b").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["rows"][0]["n"].as_u64().unwrap_or_default() > 1,
        "{body}"
    );
}

/// With the project's (or the server's) query slots held, a query waits the queue time and
/// gets 503 with `Retry-After`, from the API and the console; once they are free it runs.
#[tokio::test]
async fn queries_past_the_concurrency_limit_get_503_with_retry_after() {
    let app = app_with_sql(SqlSettings {
        queue_wait: Duration::from_millis(20),
        ..SqlSettings::default()
    });
    let slots = app.state.query_slots.clone();
    let settings = *slots.settings();
    let sql_request = || {
        Request::post("/api/sql")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"sql": "SELECT 1 AS one"}"#))
            .expect("request")
    };
    let refused = |response: axum::response::Response, why: &'static str| async move {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(text.contains(why), "{text}");
        text
    };

    let project_slots = slots
        .project_semaphore(DEFAULT_PROJECT)
        .acquire_many_owned(settings.max_concurrent_per_project as u32)
        .await
        .expect("hold the project's slots");
    let body = refused(
        respond(&app, sql_request()).await,
        "this project already runs 4 SQL queries",
    )
    .await;
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(body["error"]["code"], "overloaded");
    let console = Request::get("/sql?q=SELECT%201")
        .body(Body::empty())
        .expect("request");
    let page = refused(respond(&app, console).await, "this project already runs").await;
    assert!(page.contains("id=\"sql-error\""), "{page}");
    drop(project_slots);

    let server_slots = slots
        .overall_semaphore()
        .acquire_many_owned(settings.max_concurrent as u32)
        .await
        .expect("hold the server's slots");
    refused(
        respond(&app, sql_request()).await,
        "the server already runs 8 SQL queries",
    )
    .await;
    drop(server_slots);

    let (status, body) = sql(&app, "SELECT 1 AS one").await;
    assert_eq!(status, StatusCode::OK, "{body}");
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

const CLAUDE_SESSION: &str = "e82a73ec-2177-4b26-bf99-652bb7c18c86";
const CLAUDE_TRACE: &str = "0dd2afd7d0606ef6931c5f2d183020ca";

/// The Claude Code capture (spans, events, metrics) becomes one session whose llm spans carry
/// the cost the CLI reported in its `api_request` events.
#[tokio::test]
async fn claude_code_telemetry_becomes_a_session_with_its_reported_cost() {
    let app = app();
    let dir = "claude-code-2.1.328";
    export_json(&app, "traces", capture(&format!("{dir}/traces.json"))).await;
    export_json(&app, "logs", capture(&format!("{dir}/logs.json"))).await;
    export_json(&app, "metrics", capture(&format!("{dir}/metrics.json"))).await;
    flush(&app);

    let (status, session) = get_json(&app, &format!("/api/sessions/{CLAUDE_SESSION}")).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let cost = session["summary"]["cost_usd"].as_f64().unwrap_or_default();
    assert!((cost - 0.0119).abs() < 1e-9, "session cost {cost}");
    assert_eq!(session["summary"]["traces"], 1);
    assert_eq!(session["summary"]["prompts"], 1);
    assert_eq!(session["summary"]["input_tokens"], 2400);
    assert_eq!(session["traces"][0]["prompt"], "run the otter check");
    assert_eq!(session["traces"][0]["llm_calls"], 2);
    assert_eq!(session["traces"][0]["tool_calls"], 1);
    // Start-up events (settings, plugins) come before the first prompt, in a group of their own.
    assert_eq!(session["prompts"][0]["prompt_id"], Value::Null);
    assert_eq!(session["prompts"][1]["prompt"], "run the otter check");
    let events = session["prompts"][1]["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|event| event["event_name"] == "claude_code.tool_result"),
        "{events:?}"
    );

    let (status, trace) = get_json(&app, &format!("/api/traces/{CLAUDE_TRACE}")).await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let llm: Vec<&Value> = trace["spans"]
        .as_array()
        .map(|spans| {
            spans
                .iter()
                .filter(|span| span["span_type"] == "llm")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(llm.len(), 2);
    for span in llm {
        assert_eq!(span["cost_source"], "event", "{span}");
        let cost = span["cost_usd"].as_f64().unwrap_or_default();
        assert!((cost - 0.00595).abs() < 1e-9, "span cost {cost}");
    }

    let (_, body) = sql(
        &app,
        "SELECT sum(value) AS usd FROM metrics WHERE metric_name = 'claude_code.cost.usage'",
    )
    .await;
    let metric_cost = body["rows"][0]["usd"].as_f64().unwrap_or_default();
    assert!((metric_cost - 0.0119).abs() < 1e-9, "{body}");
    let (_, body) = sql(
        &app,
        "SELECT count(*) AS n FROM logs WHERE event_name = 'claude_code.api_request'",
    )
    .await;
    assert_eq!(body["rows"][0]["n"], 2, "{body}");
}

/// Log events are full-text indexed with the spans: a word only an event carried finds the
/// event (`kind: log`), and the run it belongs to in the runs list; `kind:` keeps one kind.
#[tokio::test]
async fn words_in_log_events_are_found_by_search_and_the_runs_list() {
    let app = app();
    let dir = "claude-code-2.1.328";
    export_json(&app, "traces", capture(&format!("{dir}/traces.json"))).await;
    // A tool result event whose output no span carries.
    let event = serde_json::json!({"resourceLogs": [{
    "resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "claude-code"}}]},
    "scopeLogs": [{"logRecords": [{
        "timeUnixNano": "1763778070953000000",
        "traceId": CLAUDE_TRACE,
        "body": {"stringValue": "claude_code.tool_result"},
        "attributes": [
            {"key": "event.name", "value": {"stringValue": "tool_result"}},
            {"key": "session.id", "value": {"stringValue": CLAUDE_SESSION}},
            {"key": "tool_name", "value": {"stringValue": "Bash"}},
            {"key": "success", "value": {"stringValue": "false"}},
            {"key": "tool_output", "value": {"stringValue": "error: quokka-gasket overheated"}}
        ]}]}]}]});
    export_json(&app, "logs", event.to_string()).await;
    flush(&app);

    let (status, found) = get_json(&app, "/api/search?q=quokka").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let hits = found["hits"].as_array().cloned().unwrap_or_default();
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["kind"], "log");
    assert_eq!(hits[0]["event_name"], "claude_code.tool_result");
    assert_eq!(hits[0]["trace_id"], CLAUDE_TRACE);
    let snippet = hits[0]["snippet"].as_str().unwrap_or_default();
    assert!(snippet.contains("<b>quokka</b>"), "{snippet}");

    for (query, expected) in [
        ("quokka%20kind:log", 1),
        ("quokka%20kind:span", 0),
        ("quokka%20status:error%20tool:bash", 1),
        ("quokka%20status:ok", 0),
    ] {
        let (_, found) = get_json(&app, &format!("/api/search?q={query}")).await;
        assert_eq!(
            found["hits"].as_array().map(Vec::len),
            Some(expected),
            "{query}: {found}"
        );
    }

    let (status, runs) = get_json(&app, "/api/traces?q=gasket").await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs["traces"][0]["trace_id"], CLAUDE_TRACE, "{runs}");
}

/// Codex sends only events: its conversation is still a session, with tokens and one prompt.
#[tokio::test]
async fn codex_events_alone_make_a_session() {
    let app = app();
    export_json(&app, "logs", capture("codex-0.169.0/logs.json")).await;
    flush(&app);
    let conversation = "01a20119-8bbc-7090-af2c-41c854c72264";
    let (status, session) = get_json(&app, &format!("/api/sessions/{conversation}")).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["summary"]["traces"], 0);
    assert_eq!(session["summary"]["prompts"], 1);
    assert!(
        session["summary"]["input_tokens"]
            .as_i64()
            .unwrap_or_default()
            > 0
    );
    assert_eq!(session["summary"]["models"][0], "fake-model");
    let prompts = session["prompts"].as_array().cloned().unwrap_or_default();
    assert!(
        prompts.iter().any(
            |prompt| prompt["events"].as_array().is_some_and(|events| events
                .iter()
                .any(|event| event["event_name"] == "codex.tool_result"))
        ),
        "{prompts:?}"
    );
    let (status, _) = get_json(&app, "/api/sessions/no-such-session").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A model call without a cost of its own is priced from the price table at query time, and
/// a price in the data directory's own table wins (fixing a price reprices history).
#[tokio::test]
async fn cost_is_computed_from_the_price_table_at_query_time() {
    let app = app();
    export_json(&app, "traces", capture("../genai-current.json")).await;
    flush(&app);
    let priced = "SELECT sum(cost_usd) AS usd, count(*) FILTER (WHERE cost_source = 'price_table') AS n \
                  FROM spans WHERE span_type = 'llm'";
    let (status, before) = sql(&app, priced).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let (_, prices) = sql(&app, "SELECT count(*) AS n FROM prices").await;
    assert!(
        prices["rows"][0]["n"].as_i64().unwrap_or_default() > 10,
        "{prices}"
    );
    let (_, models) = sql(
        &app,
        "SELECT DISTINCT COALESCE(response_model, request_model) AS model FROM spans WHERE span_type = 'llm'",
    )
    .await;
    let model = models["rows"][0]["model"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!model.is_empty(), "{models}");
    let own_prices = format!(
        "[[price]]\nmodel = \"{model}\"\nfrom = \"2000-01-01\"\ninput = 1000000.0\noutput = 0.0\n"
    );
    std::fs::write(app.state.data_dir().root().join("prices.toml"), own_prices).expect("write");
    let (_, after) = sql(&app, priced).await;
    let before_usd = before["rows"][0]["usd"].as_f64().unwrap_or_default();
    let after_usd = after["rows"][0]["usd"].as_f64().unwrap_or_default();
    assert!(
        after["rows"][0]["n"].as_i64().unwrap_or_default() > 0,
        "{after}"
    );
    assert!(
        after_usd > before_usd,
        "repriced: {before_usd} → {after_usd}"
    );
}

/// `search()` joins full-text hits to SQL; `WHERE` on status and time narrows them.
#[tokio::test]
async fn search_table_function_joins_hits_to_traces() {
    let app = app_with_ui_fixture().await;
    let joined = "SELECT s.kind, s.trace_id, s.status, t.root_name \
                  FROM search('\"tests still failing\"') s JOIN traces t USING (trace_id)";
    let (status, body) = sql(&app, joined).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rows"],
        serde_json::json!([{
            "kind": "span",
            "trace_id": "7e1f0c0ffee0000000000000000000a1",
            "status": "error",
            "root_name": "invoke_agent fixer"
        }]),
        "{body}"
    );
    for (filter, expected) in [
        ("s.status = 'error'", 1),
        ("s.status = 'ok'", 0),
        ("s.start_time >= TIMESTAMP '2026-01-01T00:00:00Z'", 1),
        ("s.start_time < TIMESTAMP '2026-01-01T00:00:00Z'", 0),
        ("s.kind = 'log'", 0),
    ] {
        let (status, body) = sql(&app, &format!("{joined} WHERE {filter}")).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {body}");
        assert_eq!(
            body["rows"].as_array().map(Vec::len),
            Some(expected),
            "{filter}: {body}"
        );
    }
    let (status, body) = sql(
        &app,
        "SELECT count(*) AS n, min(score) > 0 AS scored FROM search('fixer')",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["rows"][0]["n"].as_i64().unwrap_or_default() >= 1,
        "{body}"
    );
    assert_eq!(body["rows"][0]["scored"], true, "{body}");
    for bad in [
        "SELECT * FROM search(1)",
        "SELECT * FROM search('a', 'b')",
        "SELECT * FROM search('')",
    ] {
        let (status, body) = sql(&app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("search("), "{bad}: {message}");
    }
}

/// A hit shows what its row holds, whether its document's stored text holds the match (the
/// start of a tool output) or the match lies past it and the row is read from Parquet.
#[tokio::test]
async fn search_hits_show_their_row_whether_the_match_is_early_or_late_in_the_text() {
    let app = app();
    let trace_id = "5eac4c0ffee0000000000000000000b2";
    let long_output = format!(
        "numbat-early {} wallaby-late",
        "padding words of a long file ".repeat(200)
    );
    let spans = serde_json::json!({"resourceSpans": [{
    "resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "hit-test"}}]},
    "scopeSpans": [{"spans": [{
        "traceId": trace_id,
        "spanId": "5eac4c0ffee000b2",
        "name": "execute_tool read_file",
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225601000000000",
        "status": {"code": 2, "message": "file too long"},
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "execute_tool"}},
            {"key": "gen_ai.tool.name", "value": {"stringValue": "read_file"}},
            {"key": "gen_ai.tool.call.result", "value": {"stringValue": long_output}}
        ]}]}]}]});
    export_json(&app, "traces", spans.to_string()).await;
    flush(&app);

    let (_, rows) = sql(
        &app,
        &format!(
            "SELECT trace_id, span_id, name, span_type, status_code, status_message, \
             start_time, duration_ns, service_name, tool_name FROM spans WHERE trace_id = '{trace_id}'"
        ),
    )
    .await;
    let expected = &rows["rows"][0];
    for word in ["numbat", "wallaby"] {
        let (status, found) = get_json(&app, &format!("/api/search?q={word}")).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let hit = &found["hits"][0];
        for (column, value) in expected.as_object().into_iter().flatten() {
            assert_eq!(&hit[column], value, "{word}: {column} in {hit}");
        }
        let snippet = hit["snippet"].as_str().unwrap_or_default();
        assert!(
            snippet.contains(&format!("<b>{word}</b>")),
            "{word}: {snippet}"
        );
    }
}

/// `llm_usage` sums every flushed file's model calls, a file flushed after the last query included.
#[tokio::test]
async fn llm_usage_counts_calls_of_files_flushed_after_earlier_queries() {
    let app = app();
    let call = |span_id: &str, input_tokens: i64| {
        serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "usage-test"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": "0f0e0c0ffee0000000000000000000c3",
            "spanId": span_id,
            "name": "chat gpt-5",
            "startTimeUnixNano": "1767225600000000000",
            "endTimeUnixNano": "1767225601000000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-5"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": input_tokens}},
                {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 10}}
            ]}]}]}]})
        .to_string()
    };
    let usage = "SELECT sum(calls) AS calls, sum(input_tokens) AS input_tokens, \
                 round(sum(cost_usd), 9) AS cost_usd FROM llm_usage WHERE model = 'gpt-5'";
    export_json(&app, "traces", call("0f0e0c0ffee000c1", 1000)).await;
    flush(&app);
    let (status, first) = sql(&app, usage).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["rows"][0]["calls"], 1, "{first}");
    export_json(&app, "traces", call("0f0e0c0ffee000c2", 3000)).await;
    flush(&app);
    let (_, second) = sql(&app, usage).await;
    assert_eq!(second["rows"][0]["calls"], 2, "{second}");
    assert_eq!(second["rows"][0]["input_tokens"], 4000, "{second}");
    // gpt-5*: 1.25 per million input, 10 per million output.
    let (_, from_spans) = sql(
        &app,
        "SELECT round(sum(cost_usd), 9) AS cost_usd FROM spans WHERE span_type = 'llm'",
    )
    .await;
    assert_eq!(
        second["rows"][0]["cost_usd"],
        from_spans["rows"][0]["cost_usd"]
    );
    assert_eq!(second["rows"][0]["cost_usd"], 0.0052, "{second}");
}

/// A trace whose spans fall on two days is read from just those days' files (the partition
/// indexes say which, and on which day its logs are), and whole: its skeleton, its full form and one span's content.
#[tokio::test]
async fn a_trace_over_two_days_is_read_whole_from_its_days_only() {
    use sextant_query::trace_days::TraceDays;

    const DAY_NS: i64 = 86_400 * 1_000_000_000;
    const TRACE: &str = "0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d";
    const OTHER: &str = "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e";
    let app = app();
    // 2026-01-01T23:59:59Z: the root on day one, its child the next day, another trace on a third.
    let root_ns: i64 = 1_767_311_999_000_000_000;
    let span = |trace: &str, span_id: &str, parent: &str, start_ns: i64, name: &str| {
        serde_json::json!({"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "days-test"}}]},
            "scopeSpans": [{"spans": [{
                "traceId": trace,
                "spanId": span_id,
                "parentSpanId": parent,
                "name": name,
                "startTimeUnixNano": start_ns.to_string(),
                "endTimeUnixNano": (start_ns + 1_000_000_000).to_string(),
                "attributes": [{"key": "gen_ai.tool.name", "value": {"stringValue": "bash"}},
                    {"key": "gen_ai.tool.call.result", "value": {"stringValue": format!("output of {name}")}}]
            }]}]}]})
        .to_string()
    };
    export_json(
        &app,
        "traces",
        span(TRACE, "0d0d0d0d0d0d0d01", "", root_ns, "root"),
    )
    .await;
    flush(&app);
    let child_ns = root_ns + 2_000_000_000;
    export_json(
        &app,
        "traces",
        span(
            TRACE,
            "0d0d0d0d0d0d0d02",
            "0d0d0d0d0d0d0d01",
            child_ns,
            "child",
        ),
    )
    .await;
    export_json(
        &app,
        "traces",
        span(OTHER, "0e0e0e0e0e0e0e01", "", root_ns + 2 * DAY_NS, "other"),
    )
    .await;
    let log = serde_json::json!({"resourceLogs": [{
    "resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "days-test"}}]},
    "scopeLogs": [{"logRecords": [{
        "timeUnixNano": (child_ns + 500_000_000).to_string(),
        "traceId": TRACE,
        "spanId": "0d0d0d0d0d0d0d02",
        "body": {"stringValue": "a log line of the child"},
        "attributes": [{"key": "event.name", "value": {"stringValue": "tool_result"}}]
    }]}]}]})
    .to_string();
    export_json(&app, "logs", log).await;
    flush(&app);

    let context = sextant_query::sql_context::project_context(app.state.data_dir(), "default")
        .await
        .expect("session");
    assert_eq!(
        sextant_query::trace_days::trace_days(&context, TRACE),
        Some(TraceDays {
            spans: vec!["2026-01-01".to_owned(), "2026-01-02".to_owned()],
            logs: vec!["2026-01-02".to_owned()],
        }),
    );
    assert_eq!(
        sextant_query::trace_days::trace_days(&context, "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"),
        Some(TraceDays::default()),
        "a trace no index knows is on no day"
    );
    for path in [
        format!("/api/traces/{TRACE}?skeleton=true"),
        format!("/api/traces/{TRACE}"),
    ] {
        let (status, trace) = get_json(&app, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {trace}");
        let names: Vec<&str> = trace["spans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|span| span["name"].as_str())
            .collect();
        assert_eq!(names, ["root", "child"], "{path}: {trace}");
    }
    let request = Request::get(format!("/traces/{TRACE}/spans/0d0d0d0d0d0d0d02"))
        .body(Body::empty())
        .expect("request");
    let (status, html) = call_text(&app, request).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("output of child"), "{html}");
}

/// A run's outcome is its root span's. A run whose test step failed before the agent fixed
/// it succeeded: listed as ok with "1 failed step", not under `status=error`, and not
/// counted against the dashboards' success rate; a run whose root failed is.
#[tokio::test]
async fn a_run_with_a_failed_step_that_succeeded_is_not_a_failed_run() {
    const FIXED: &str = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f";
    const BROKEN: &str = "1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f";
    let app = app();
    let start_ns = chrono::Utc::now().timestamp_nanos_opt().expect("now") - 3_600_000_000_000;
    let span = |trace: &str, span_id: &str, parent: &str, name: &str, failed: bool| {
        let status = if failed {
            serde_json::json!({"code": 2, "message": "exit status 101"})
        } else {
            serde_json::json!({"code": 1})
        };
        serde_json::json!({
            "traceId": trace, "spanId": span_id, "parentSpanId": parent, "name": name,
            "startTimeUnixNano": start_ns.to_string(),
            "endTimeUnixNano": (start_ns + 1_000_000_000).to_string(),
            "status": status,
        })
    };
    let spans = vec![
        span(FIXED, "0f0f0f0f0f0f0f01", "", "invoke_agent fixer", false),
        span(
            FIXED,
            "0f0f0f0f0f0f0f02",
            "0f0f0f0f0f0f0f01",
            "execute_tool bash",
            true,
        ),
        span(BROKEN, "1f1f1f1f1f1f1f01", "", "invoke_agent fixer", true),
    ];
    export_json(
        &app,
        "traces",
        serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).to_string(),
    )
    .await;
    flush(&app);

    let ids = |page: &Value| -> Vec<String> {
        page["traces"]
            .as_array()
            .expect("traces")
            .iter()
            .map(|trace| trace["trace_id"].as_str().expect("id").to_owned())
            .collect()
    };
    let (status, failed) = get_json(&app, "/api/traces?status=error&since=1d").await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    assert_eq!(ids(&failed), [BROKEN]);
    let (_, ok) = get_json(&app, "/api/traces?status=ok&since=1d").await;
    assert_eq!(ids(&ok), [FIXED]);
    let fixed = &ok["traces"][0];
    assert_eq!(fixed["outcome"], "success");
    assert_eq!(fixed["has_error"], true, "a step failed");
    assert_eq!(fixed["error_count"], 1);

    let (_, runs) = call_text(
        &app,
        Request::get("/?since=1d")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(runs.contains("1 failed step<"), "{runs}");
    assert_eq!(
        runs.matches(r#"<tr class="run failed">"#).count(),
        1,
        "{runs}"
    );
    let (_, dashboards) = call_text(
        &app,
        Request::get("/dashboards?since=1d")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(
        dashboards.contains(r#"<strong data-figure="success_rate">50.0%</strong>"#),
        "one of two runs failed: {dashboards}"
    );
}
