//! Hostile load against the real binary: keyless gRPC clients sending huge messages, slow
//! uploads that hold the request budget, and items dated where no partition should be.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};

use crate::requests::{export_request_with_output, request_with, string_attribute};
use crate::server::{Server, sextant};

/// The server's resident memory in bytes (Linux `/proc`).
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Samples a process's resident memory until dropped; `peak()` is the most seen.
struct MemorySampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MemorySampler {
    fn start(pid: u32) -> MemorySampler {
        let peak = Arc::new(AtomicU64::new(resident_bytes(pid)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (peak, stop) = (peak.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(resident_bytes(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        });
        MemorySampler {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("sampler");
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// Keyless clients sending 40 MiB messages over gRPC: each is refused from its metadata
/// before tonic reads the message, so the server's memory stays where it was. Before the
/// interceptor, tonic decoded every message first: 8 clients × 3 × 40 MiB (the buffer and
/// the decoded copy) is well over a gigabyte. The bound stated: the server's resident
/// memory grows by less than 160 MiB, one message's worth of slack for allocator and h2
/// buffers on top of the 40 MiB a single decode would hold.
#[test]
fn keyless_grpc_clients_make_the_server_decode_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    sextant(
        &[
            "keys",
            "create",
            "--project",
            "default",
            "--scope",
            "ingest",
        ],
        &data_dir,
    );
    let server = Server::start(&data_dir, "[ingest]\nbody_limit_mib = 48\n");
    let huge = request_with(vec![Span {
        trace_id: vec![7; 16],
        span_id: vec![7; 8],
        name: "execute_tool bash".into(),
        start_time_unix_nano: 1_763_800_000_000_000_000,
        end_time_unix_nano: 1_763_800_000_000_000_500,
        attributes: vec![string_attribute(
            "gen_ai.tool.call.result",
            &"x".repeat(40 * 1024 * 1024),
        )],
        ..Span::default()
    }]);
    let before = resident_bytes(server.pid());
    let sampler = MemorySampler::start(server.pid());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let codes = runtime.block_on(async {
        let clients = (0..8).map(|_| {
            let (url, huge) = (server.grpc_url.clone(), huge.clone());
            tokio::spawn(async move {
                let mut client = TraceServiceClient::connect(url).await.expect("connect");
                let mut codes = Vec::new();
                for _ in 0..3 {
                    let refused = client
                        .export(tonic::Request::new(huge.clone()))
                        .await
                        .expect_err("keyless exports are refused");
                    codes.push(refused.code());
                }
                codes
            })
        });
        let mut codes = Vec::new();
        for client in clients {
            codes.extend(client.await.expect("client task"));
        }
        codes
    });
    let peak = sampler.peak();
    assert!(
        codes
            .iter()
            .all(|code| *code == tonic::Code::Unauthenticated),
        "{codes:?}"
    );
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 160 * 1024 * 1024,
        "the server's memory grew by {} MiB (from {} MiB) while refusing keyless clients",
        grown >> 20,
        before >> 20
    );
}

/// Slow uploads hold what they sent; past the server-wide budget the next request gets
/// 503 + Retry-After at once, and once they are gone requests are served again.
#[test]
fn past_the_request_budget_the_server_answers_503_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        &dir.path().join("data"),
        "[ingest]\nbody_limit_mib = 1\nrequest_budget_mib = 2\n",
    );
    let address = server.base_url.trim_start_matches("http://").to_owned();
    // Two uploads each send 1000 KiB of a 1 MiB body and stall: 48 KiB of the budget is left.
    let stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).expect("connect");
            let head = format!(
                "POST /v1/traces HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
                1024 * 1024
            );
            stream.write_all(head.as_bytes()).expect("head");
            stream
                .write_all(&vec![0u8; 1000 * 1024])
                .expect("partial body");
            stream
        })
        .collect();
    // ~200 KiB: past what is left while the uploads stall, well within it once they are gone.
    let body = export_request_with_output(1, 1, &"y".repeat(20 * 1024)).encode_to_vec();
    assert!(body.len() > 100 * 1024 && body.len() < 1024 * 1024);
    let post = || {
        server
            .client()
            .post(server.url("/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .expect("export")
    };
    // The stalled bodies are read as they arrive: wait (boundedly) until the server holds
    // both, as its /metrics says, before posting (a post racing them could push one out).
    let held = || {
        server
            .metric("sextant_request_budget_held_bytes")
            .unwrap_or(0) as usize
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while held() < 2000 * 1024 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(held(), 2000 * 1024, "both stalled uploads are held");
    let refused = post();
    assert_eq!(refused.status().as_u16(), 503);
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()),
        Some("1")
    );
    drop(stalled);
    let deadline = Instant::now() + Duration::from_secs(30);
    let served = loop {
        let status = post().status().as_u16();
        if status == 200 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(served, 200, "the budget comes back when the uploads go");
}

/// Spans dated years back or days ahead are rejected with `partial_success` and a count;
/// the rest of the request is stored, and no partition is made for the rejected days.
#[test]
fn items_outside_the_time_window_are_rejected_with_partial_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let server = Server::start(&data_dir, "[ingest]\naccept_past_days = 400\n");
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().expect("now") as u64;
    const DAY_NS: u64 = 86_400 * 1_000_000_000;
    let span = |index: u8, start: u64| {
        json!({
            "traceId": format!("{:032x}", u128::from(index) + 1),
            "spanId": format!("{:016x}", u64::from(index) + 1),
            "name": "chat",
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + 1_000).to_string(),
        })
    };
    let spans: Vec<Value> = [
        now_ns,
        now_ns - 1_000 * DAY_NS,
        now_ns + 3 * DAY_NS,
        0,
        now_ns - 2_000 * DAY_NS,
    ]
    .iter()
    .enumerate()
    .map(|(index, &start)| span(index as u8, start))
    .collect();
    let response = server
        .client()
        .post(server.url("/v1/traces"))
        .json(&json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}))
        .send()
        .expect("export");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().expect("json");
    let partial = &body["partialSuccess"];
    let rejected = partial["rejectedSpans"]
        .as_i64()
        .or_else(|| partial["rejectedSpans"].as_str()?.parse().ok());
    assert_eq!(rejected, Some(4), "{body}");
    assert!(
        partial["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("outside the accepted window")),
        "{body}"
    );
    assert_eq!(
        server.wait_for_count("SELECT count(*) AS n FROM spans", 1),
        1
    );
    let days = std::fs::read_dir(data_dir.join("spans/project=default"))
        .expect("partitions")
        .count();
    assert_eq!(days, 1, "one partition, today's");
}

/// Slowloris: 500 connections that send half a request head and stall. A normal request is
/// still served, and the server closes the stalled ones once the head deadline passes
/// (without it they are held forever: the read below would time out instead).
#[test]
fn half_open_connections_neither_block_requests_nor_stay_open() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"), "");
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let mut stalled: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).expect("connect");
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .expect("partial head");
            stream
        })
        .collect();
    let response = server
        .client()
        .get(server.url("/healthz"))
        .send()
        .expect("a normal request is served beside 500 stalled ones");
    assert_eq!(response.status().as_u16(), 200);
    // Generous bound for a loaded machine: the server's head deadline is 10 s.
    let first = &mut stalled[0];
    first
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let mut answer = Vec::new();
    let read = first.read_to_end(&mut answer);
    assert!(
        read.is_ok(),
        "the server must close a connection whose head never completes: {read:?}"
    );
}
