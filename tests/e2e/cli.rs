//! The CLI against a data dir, `sextant demo`, and backpressure seen by a client.

use serde_json::Value;

use crate::requests::{SPANS_PER_REQUEST, export_request, export_request_with_output};
use crate::server::{Server, sextant};

#[test]
fn sql_and_search_commands_read_the_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let mut server = Server::start(&data_dir, "");
    assert!(server.export_protobuf(&export_request(3, 1)).is_success());
    assert!(server.terminate().success());

    let rows: Value = serde_json::from_str(&sextant(
        &[
            "sql",
            "SELECT tool_name, count(*) AS n FROM spans GROUP BY tool_name",
            "--format",
            "json",
        ],
        &data_dir,
    ))
    .expect("json rows");
    assert_eq!(rows[0]["n"], SPANS_PER_REQUEST);

    let table = sextant(&["sql", "SELECT count(*) AS n FROM spans"], &data_dir);
    assert!(table.contains("| n "), "{table}");
    assert!(
        table.contains(&format!("| {SPANS_PER_REQUEST} ")),
        "{table}"
    );

    let csv = sextant(
        &[
            "sql",
            "SELECT span_type FROM spans LIMIT 1",
            "--format",
            "csv",
        ],
        &data_dir,
    );
    assert_eq!(csv, "span_type\ntool\n");

    let hits: Value = serde_json::from_str(&sextant(
        &[
            "search",
            "parser::tokens",
            "--limit",
            "5",
            "--format",
            "json",
        ],
        &data_dir,
    ))
    .expect("json hits");
    assert_eq!(hits.as_array().map(Vec::len), Some(5), "{hits}");
    let table = sextant(&["search", "parser::tokens", "--limit", "2"], &data_dir);
    assert!(table.contains("| trace_id"), "{table}");
    assert!(table.contains("| snippet"), "{table}");
    let csv = sextant(
        &[
            "search",
            "parser::tokens",
            "--limit",
            "2",
            "--format",
            "csv",
        ],
        &data_dir,
    );
    assert_eq!(csv.lines().count(), 3, "header + 2 hits: {csv}");
    assert!(
        csv.starts_with("kind,time,trace_id,span_id,name,status,snippet"),
        "{csv}"
    );
}

#[test]
fn demo_serves_and_loads_generated_traces_through_ingest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let server = Server::start_command(&["demo", "--traces", "12", "--seed", "7"], &data_dir, "");
    let (status, _) = server.get_json("/healthz");
    assert!(status.is_success());
    let traces = server.wait_for_count("SELECT count(DISTINCT trace_id) AS n FROM spans", 12);
    assert_eq!(traces, 12);
    let rows = server.sql(
        "SELECT count(*) AS n FROM spans WHERE span_type = 'llm' AND request_model IS NOT NULL AND input_tokens > 0",
    );
    assert!(rows[0]["n"].as_i64().unwrap_or(0) >= 12, "{rows:?}");
    let days = server.sql("SELECT count(DISTINCT day) AS n FROM spans");
    assert!(
        days[0]["n"].as_i64().unwrap_or(0) > 1,
        "demo data should span several days: {days:?}"
    );
}

#[test]
fn search_pages_through_equal_start_times_without_repeats_or_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let mut request = export_request_with_output(5, 1, "flaky numbat test output");
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.start_time_unix_nano = 1_763_800_000_000_000_000;
    }
    assert!(server.export_protobuf(&request).is_success());
    server.wait_for_count("SELECT count(*) AS n FROM spans", SPANS_PER_REQUEST as i64);

    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/search?q=numbat&limit=8&cursor={cursor}"),
            None => "/api/search?q=numbat&limit=8".to_string(),
        };
        let (status, page) = server.get_json(&path);
        assert!(status.is_success(), "{page}");
        for hit in page["hits"].as_array().expect("hits") {
            let span_id = hit["span_id"].as_str().expect("span id").to_string();
            assert!(seen.insert(span_id), "span returned twice: {page}");
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen.len(), SPANS_PER_REQUEST as usize);
    assert_eq!(pages, 3);
}

#[test]
fn overload_gets_503_with_retry_after_and_keeps_accepted_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    // 1 MiB of unflushed data allowed, and no timed flush: the second big export must wait.
    let mut server = Server::start(
        &data_dir,
        "[ingest]\nmax_pending_mib = 1\nflush_interval_ms = 600000\n",
    );
    let big_output = "x".repeat(40 * 1024);
    let first = export_request_with_output(1, 1, &big_output);
    let second = export_request_with_output(1, 2, &big_output);
    assert!(server.export_protobuf(&first).is_success());

    let response = server
        .client()
        .post(server.url("/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(prost::Message::encode_to_vec(&second))
        .send()
        .expect("send");
    assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let metrics = server
        .client()
        .get(server.url("/metrics"))
        .send()
        .and_then(|response| response.text())
        .expect("metrics");
    assert!(
        metrics.contains("sextant_exports_refused_overloaded_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "sextant_spans_acknowledged_total {SPANS_PER_REQUEST}"
        )),
        "{metrics}"
    );

    assert!(server.terminate().success());
    let server = Server::start(&data_dir, "");
    let count = server.wait_for_count("SELECT count(*) AS n FROM spans", SPANS_PER_REQUEST as i64);
    assert_eq!(
        count, SPANS_PER_REQUEST as i64,
        "only the accepted export is stored"
    );
}

/// `sextant loadgen` against a real server, over HTTP JSON and gRPC: every acknowledged span
/// is stored, and the report says so.
#[test]
fn loadgen_sends_at_a_rate_and_reports_what_was_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let mut expected_spans = 0;
    let mut expected_events = 0;
    // The gRPC leg sends only Claude Code runs: spans plus their log events.
    for (protocol, target, convention) in [
        ("http-json", &server.base_url, "genai"),
        ("grpc", &server.grpc_url, "claude-code"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(["loadgen", "--target", target, "--protocol", protocol])
            .args(["--convention", convention])
            .args(["--rate", "20", "--duration", "1s", "--json"])
            .output()
            .expect("run loadgen");
        assert!(
            output.status.success(),
            "loadgen {protocol}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("loadgen json report");
        assert_eq!(report["failed"], 0, "{report}");
        let acknowledged = report["acknowledged"].as_i64().expect("acknowledged");
        assert!(acknowledged >= 10, "{report}");
        assert_eq!(
            report["sent"].as_i64(),
            Some(acknowledged + report["failed"].as_i64().unwrap_or(0))
        );
        expected_spans += report["spans_acknowledged"].as_i64().expect("spans");
        expected_events += report["log_records_acknowledged"]
            .as_i64()
            .expect("log events");
    }
    let stored = server.wait_for_count("SELECT count(*) AS n FROM spans", expected_spans);
    assert_eq!(stored, expected_spans);
    // Claude Code runs come with their log events, as Claude Code sends them.
    assert!(expected_events > 0, "some generated runs are Claude Code's");
    let events = server.wait_for_count("SELECT count(*) AS n FROM logs", expected_events);
    assert_eq!(events, expected_events);
}

/// `sextant dataset create|list|show` on a data dir: versions from SQL and trace ids.
#[test]
fn dataset_commands_build_versions_from_sql_and_trace_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let mut server = Server::start(&data_dir, "");
    // Clients 1 and 2 write traces 0x02… and 0x03… (trace id = client + 1).
    for client in [1, 2] {
        assert!(
            server
                .export_protobuf(&export_request(client, 0))
                .is_success()
        );
    }
    assert!(server.terminate().success());

    let first_trace = "02".repeat(16);
    let second_trace = "03".repeat(16);
    let created = sextant(
        &[
            "dataset",
            "create",
            "nightly",
            "--from-sql",
            &format!("SELECT trace_id FROM traces WHERE trace_id = '{first_trace}'"),
        ],
        &data_dir,
    );
    assert!(created.contains("version 1: 1 examples added"), "{created}");
    let created = sextant(
        &[
            "dataset",
            "create",
            "nightly",
            "--traces",
            &format!("{first_trace},{second_trace}"),
        ],
        &data_dir,
    );
    assert!(
        created.contains("version 2: 1 examples added, 1 already"),
        "{created}"
    );
    let listed = sextant(&["dataset", "list"], &data_dir);
    assert!(
        listed
            .lines()
            .any(|line| line.starts_with("nightly") && line.contains(" 2 ")),
        "{listed}"
    );
    let first_version = sextant(&["dataset", "show", "nightly", "--version", "1"], &data_dir);
    assert!(first_version.contains(&first_trace), "{first_version}");
    assert!(!first_version.contains(&second_trace), "{first_version}");
}

/// `sextant bench data` builds a data dir through the write path (with its long trace), and
/// `sextant bench query` measures every read-path figure on it. Only that they run and
/// find what was built is checked: the figures themselves go to BENCHMARKS.md.
#[test]
fn bench_data_builds_a_data_dir_that_bench_query_measures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("bench-data");
    let run = |args: &[&str]| -> Value {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .env("SEXTANT_LOG", "warn")
            .output()
            .expect("run sextant bench");
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("json figures")
    };
    let data_arg = data_dir.to_string_lossy().into_owned();
    let built = run(&[
        "bench",
        "data",
        "--spans",
        "3k",
        "--long-trace-spans",
        "400",
        "--days",
        "3",
        "--data-dir",
        &data_arg,
        "--json",
    ]);
    let spans = built["spans"].as_u64().expect("spans");
    assert!(spans >= 3_000, "{built}");
    assert!(built["parquet_bytes"].as_u64() > Some(0), "{built}");
    let long_trace = built["long_trace_id"]
        .as_str()
        .expect("a long trace")
        .to_string();

    let measured = run(&[
        "bench",
        "query",
        "--data-dir",
        &data_arg,
        "--repetitions",
        "2",
        "--json",
    ]);
    assert_eq!(measured["spans"].as_u64(), Some(spans), "{measured}");
    assert_eq!(measured["biggest_trace"], long_trace.as_str());
    assert!(
        measured["trace_rollup"]["build_seconds"].as_f64() > Some(0.0),
        "{measured}"
    );
    let figures = measured["figures"].as_array().cloned().unwrap_or_default();
    let result = |name: &str| {
        figures
            .iter()
            .find(|figure| figure["name"] == name)
            .and_then(|figure| figure["result"].as_u64())
            .unwrap_or_else(|| panic!("no figure {name}: {measured}"))
    };
    assert_eq!(result("search top-20, broad"), 20);
    assert!(result("GROUP BY model, day (llm spans)") > 0);
    assert_eq!(result("trace list, first page of 50"), 50);
    assert!(result("biggest trace, skeleton") >= 400);
    // Over HTTP: bytes of the answers read whole.
    assert!(result("HTTP search top-20, broad") > 1_000);
    assert!(result("HTTP trace list, first page of 50") > 10_000);
    assert!(result("HTTP biggest trace, skeleton") > 10_000);
    assert!(result("HTTP runs page (50 rows)") > 10_000);
    assert!(result("HTTP biggest trace's page") > 10_000);
    // Two repetitions give no p99: the tail is the max, and the first call stands apart.
    for figure in &figures {
        assert!(figure["p99_ms"].is_null(), "{figure}");
        assert!(
            figure["max_ms"].as_f64() >= figure["p50_ms"].as_f64(),
            "{figure}"
        );
        assert!(figure["first_ms"].as_f64() > Some(0.0), "{figure}");
    }
}

/// `sextant compact` merges the files two server runs left, one maintainer at a time, and
/// the rows read the same; `projects retention` is stored and listed.
#[test]
fn compact_merges_small_files_and_retention_is_set_per_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    for sequence in 1..=2 {
        let mut server = Server::start(&data_dir, "");
        assert!(
            server
                .export_protobuf(&export_request(5, sequence))
                .is_success()
        );
        if sequence == 2 {
            // The running server maintains the data dir: a second maintainer is refused.
            let refused = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
                .args(["compact", "--data-dir"])
                .arg(&data_dir)
                .output()
                .expect("run sextant compact");
            assert!(!refused.status.success());
            let stderr = String::from_utf8_lossy(&refused.stderr);
            assert!(stderr.contains("maintained by another process"), "{stderr}");
        }
        assert!(server.terminate().success());
    }
    let count = "SELECT count(*) AS n FROM spans";
    let before = sextant(&["sql", count, "--format", "json"], &data_dir);
    let out = sextant(&["compact", "--grace-secs", "0"], &data_dir);
    assert!(out.contains("merged 2 files into 1"), "{out}");
    assert!(out.contains("deleted 2 superseded files"), "{out}");
    assert_eq!(
        sextant(&["sql", count, "--format", "json"], &data_dir),
        before
    );
    let hits: Value = serde_json::from_str(&sextant(
        &[
            "search",
            "parser::tokens",
            "--limit",
            "3",
            "--format",
            "json",
        ],
        &data_dir,
    ))
    .expect("json hits");
    assert_eq!(hits.as_array().map(Vec::len), Some(3), "{hits}");

    let out = sextant(&["projects", "retention", "default", "30"], &data_dir);
    assert!(out.contains("keeps 30 days"), "{out}");
    let listed = sextant(&["projects", "list"], &data_dir);
    assert!(listed.contains("30 days"), "{listed}");
    // The spans are from 2025-11-22: past 30 days, so the next round drops their day.
    let out = sextant(&["compact", "--grace-secs", "0"], &data_dir);
    assert!(out.contains("dropped 1 partitions"), "{out}");
    let after: Value =
        serde_json::from_str(&sextant(&["sql", count, "--format", "json"], &data_dir))
            .expect("json rows");
    assert_eq!(after[0]["n"], 0, "{after}");
}
