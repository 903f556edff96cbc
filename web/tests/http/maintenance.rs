//! Compaction and retention seen through the API: every span stays findable by SQL, search
//! and the trace API before and after a flush and a compaction; a dropped partition is gone
//! from all three.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::json;
use sextant_ingest::compaction::CompactionPolicy;
use sextant_ingest::layout::{PartitionKey, parse_parquet_file_range};
use sextant_ingest::maintenance::{MaintenanceConfig, MaintenanceReport, run_pass};
use sextant_ingest::table::Table;

use crate::{TestApp, app, export_json, flush, get_json, sql};

const BATCHES: usize = 5;
const DAY_S: u64 = 86_400;

/// 10:00 UTC three days ago: a day that is over, so its files are worth merging.
fn day_start_s() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    now - now % DAY_S - 3 * DAY_S + 10 * 3600
}

fn day() -> String {
    sextant_ingest::layout::day_of(day_start_s() as i64 * 1_000_000_000)
}

fn trace_id(batch: usize) -> String {
    format!("{:032x}", batch + 1)
}

/// One trace of two spans, the child named after a word unique to the batch.
fn batch(batch: usize) -> String {
    let start_ns = (day_start_s() + batch as u64 * 60) * 1_000_000_000;
    let span = |span_id: String, parent: Option<String>, name: String, offset_ns: u64| {
        json!({
            "traceId": trace_id(batch),
            "spanId": span_id,
            "parentSpanId": parent.unwrap_or_default(),
            "name": name,
            "kind": 1,
            "startTimeUnixNano": (start_ns + offset_ns).to_string(),
            "endTimeUnixNano": (start_ns + offset_ns + 1_000_000).to_string(),
        })
    };
    json!({"resourceSpans": [{
    "resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "nightly-agent"}}]},
    "scopeSpans": [{"spans": [
        span(format!("{:016x}", 2 * batch + 1), None, "invoke_agent fixer".into(), 0),
        span(
            format!("{:016x}", 2 * batch + 2),
            Some(format!("{:016x}", 2 * batch + 1)),
            format!("deploy wombat{batch}"),
            1000,
        ),
    ]}]}]})
    .to_string()
}

/// `seconds` from now: file ages (the grace period) are measured on the real clock.
fn later(seconds: u64) -> SystemTime {
    SystemTime::now() + Duration::from_secs(seconds)
}

fn pass(app: &TestApp, retention: &[(String, u32)], now: SystemTime) -> MaintenanceReport {
    let config = MaintenanceConfig {
        compaction: CompactionPolicy {
            min_files_open: 2,
            ..CompactionPolicy::default()
        },
        grace: Duration::from_secs(60),
        ..MaintenanceConfig::default()
    };
    run_pass(app.state.pipeline.data_dir(), &config, retention, now).expect("maintenance pass")
}

fn partition() -> PartitionKey {
    PartitionKey {
        project_id: "default".into(),
        day: day(),
    }
}

fn span_file_names(app: &TestApp) -> Vec<String> {
    let dir = app
        .state
        .pipeline
        .data_dir()
        .table_partition_dir(Table::Spans, &partition());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| parse_parquet_file_range(&entry.path()).is_some())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What a reader sees: span count, the traces of each batch's word, each trace's spans.
async fn visible(app: &TestApp) -> (i64, Vec<Option<String>>, Vec<usize>) {
    let (status, counted) = sql(app, "SELECT count(*) AS n FROM spans").await;
    assert_eq!(status, StatusCode::OK, "{counted}");
    let count = counted["rows"][0]["n"].as_i64().expect("count");
    let mut found = Vec::new();
    let mut span_counts = Vec::new();
    for batch in 0..BATCHES {
        let (status, hits) = get_json(app, &format!("/api/search?q=wombat{batch}")).await;
        assert_eq!(status, StatusCode::OK, "{hits}");
        let hits = hits["hits"].as_array().cloned().unwrap_or_default();
        assert!(hits.len() <= 1, "{hits:?}");
        found.push(
            hits.first()
                .and_then(|hit| hit["trace_id"].as_str().map(str::to_owned)),
        );
        let (status, trace) = get_json(app, &format!("/api/traces/{}", trace_id(batch))).await;
        let spans = if status == StatusCode::OK {
            trace["spans"].as_array().map_or(0, Vec::len)
        } else {
            0
        };
        span_counts.push(spans);
    }
    (count, found, span_counts)
}

#[tokio::test]
async fn compaction_keeps_every_span_findable_and_retention_drops_whole_days() {
    let app = app();
    for index in 0..BATCHES {
        export_json(&app, "traces", batch(index)).await;
        flush(&app);
    }
    assert_eq!(span_file_names(&app).len(), BATCHES);
    let everything = (
        2 * BATCHES as i64,
        (0..BATCHES).map(|b| Some(trace_id(b))).collect::<Vec<_>>(),
        vec![2; BATCHES],
    );
    assert_eq!(visible(&app).await, everything);

    // The day is over: its five small files merge into one. Readers see it at once; the
    // inputs stay on disk for the grace period (a query may still be reading them).
    let report = pass(&app, &[], later(0));
    let spans_merged: Vec<_> = report
        .compactions
        .iter()
        .filter(|outcome| outcome.table == Table::Spans)
        .collect();
    assert_eq!(spans_merged.len(), 1, "{report:?}");
    assert_eq!(spans_merged[0].input_files, BATCHES);
    assert_eq!(spans_merged[0].rows, 2 * BATCHES as u64);
    assert_eq!(report.files_removed, 0, "deleted within the grace period");
    assert_eq!(span_file_names(&app).len(), BATCHES + 1);
    assert_eq!(visible(&app).await, everything);

    // Past the grace period the superseded files go; every span is still found.
    let report = pass(&app, &[], later(3600));
    assert!(report.compactions.is_empty(), "{report:?}");
    assert!(report.files_removed >= BATCHES, "{report:?}");
    let names = span_file_names(&app);
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].contains('-'), "a compacted file: {names:?}");
    assert_eq!(visible(&app).await, everything);

    // A late span of the same day lands in a new flush file beside the compacted one.
    export_json(&app, "traces", batch(BATCHES)).await;
    flush(&app);
    let (_, counted) = sql(&app, "SELECT count(*) AS n FROM spans").await;
    assert_eq!(counted["rows"][0]["n"], 2 * BATCHES as i64 + 2);
    let (_, late) = get_json(&app, &format!("/api/search?q=wombat{BATCHES}")).await;
    assert_eq!(late["hits"][0]["trace_id"], trace_id(BATCHES), "{late}");

    // With one day of retention the day is dropped: invisible at once, deleted after the
    // grace period.
    let retention = [("default".to_owned(), 1)];
    let report = pass(&app, &retention, later(0));
    assert_eq!(report.partitions_dropped, [partition()]);
    assert_eq!(
        visible(&app).await,
        (0, vec![None; BATCHES], vec![0; BATCHES])
    );
    let (_, runs) = get_json(&app, "/api/traces").await;
    assert_eq!(runs["traces"], json!([]), "{runs}");
    let report = pass(&app, &retention, later(3600));
    assert_eq!(report.partitions_deleted, 1, "{report:?}");
    let data_dir = app.state.pipeline.data_dir();
    assert!(
        !data_dir
            .table_partition_dir(Table::Spans, &partition())
            .exists()
    );
    assert!(!data_dir.index_partition_dir(&partition()).exists());
}
