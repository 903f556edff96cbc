//! Durability: SIGKILL while clients stream acknowledged exports loses nothing and
//! duplicates nothing after restart on the same data dir.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;

use crate::requests::{SPANS_PER_REQUEST, export_request, span_id};
use crate::server::Server;

const CLIENTS: u64 = 4;

#[test]
fn sigkill_while_streaming_loses_no_acknowledged_span() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    // Frequent flushes make it likely the kill lands mid-flush, exercising recovery.
    let config = "[ingest]\nflush_interval_ms = 20\n";
    let mut server = Server::start(&data_dir, config);
    let url = server.url("/v1/traces");

    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let url = url.clone();
            let acknowledged = acknowledged.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("client");
                let mut sequence = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = export_request(client, sequence).encode_to_vec();
                    let sent = http
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .body(body)
                        .send();
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            let mut acknowledged = acknowledged.lock().expect("lock");
                            for index in 0..SPANS_PER_REQUEST {
                                acknowledged.insert(hex::encode(span_id(client, sequence, index)));
                            }
                        }
                        // Refused or cut off by the kill: not acknowledged, so not owed.
                        Ok(_) | Err(_) => {}
                    }
                    sequence += 1;
                }
            })
        })
        .collect();

    // Let acknowledged data pile up across several flushes, then kill without warning.
    while acknowledged.lock().expect("lock").len() < 3_000 {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();

    let server = Server::start(&data_dir, config);
    let count_sql = "SELECT count(*) AS n FROM spans";
    let stored = server.wait_for_count(count_sql, acknowledged.len() as i64);
    assert!(
        stored >= acknowledged.len() as i64,
        "stored {stored} < acknowledged {}",
        acknowledged.len()
    );

    let duplicates = server.sql(
        "SELECT span_id, count(*) AS n FROM spans GROUP BY span_id HAVING count(*) > 1 LIMIT 5",
    );
    assert!(duplicates.is_empty(), "spans stored twice: {duplicates:?}");
    let stored_ids: HashSet<String> = server
        .sql("SELECT span_id FROM spans")
        .into_iter()
        .filter_map(|row| row["span_id"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<_> = acknowledged.difference(&stored_ids).take(5).collect();
    assert!(
        missing.is_empty(),
        "acknowledged spans lost: {missing:?} (of {})",
        acknowledged.len()
    );

    // And the index agrees with Parquet: every stored span is searchable once.
    let (_, found) = server.get_json("/api/search?q=tokens&limit=1000");
    assert_eq!(
        found["hits"].as_array().map(Vec::len),
        Some(stored_ids.len().min(1000))
    );
}

#[test]
fn sigterm_drains_and_flushes_before_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    // A long flush interval: only the drain on SIGTERM can have written these spans.
    let config = "[ingest]\nflush_interval_ms = 600000\n";
    let mut server = Server::start(&data_dir, config);
    assert!(server.export_protobuf(&export_request(0, 0)).is_success());
    let status = server.terminate();
    assert!(status.success(), "sextant exited with {status}");
    let wal_files = std::fs::read_dir(data_dir.join("wal"))
        .expect("wal dir")
        .count();
    let parquet_files = walk_count(&data_dir.join("spans"), "parquet");
    assert_eq!(parquet_files, 1, "the drain should write one parquet file");
    assert!(
        wal_files <= 1,
        "flushed wal segments should be deleted, found {wal_files}"
    );
}

fn walk_count(dir: &std::path::Path, extension: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .map(|path| {
            if path.is_dir() {
                walk_count(&path, extension)
            } else {
                usize::from(path.extension().is_some_and(|found| found == extension))
            }
        })
        .sum()
}
