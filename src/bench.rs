//! `sextant bench ingest`: OTLP/HTTP protobuf over loopback into a real server, measured.
//!
//! Generates realistic coding-agent runs up front (so generation is not timed) — spans, and
//! the log events Claude Code runs come with — sends them with a few concurrent clients, waits for every acknowledgement, then drains the
//! pipeline and reports spans/s, MB/s of raw OTLP, bytes on disk per raw byte, request
//! latency percentiles and the peak RSS of the process (server and clients together), and
//! what secret redaction costs (timed alone; `--no-redaction` for a run without it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sextant_ingest::layout::DataDir;
use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
use sextant_ingest::redact::Redactor;
use sextant_ingest::redact::otlp::redact_request;
use sextant_ingest::request_budget::{DEFAULT_REQUEST_BUDGET_BYTES, RequestBudget};
use sextant_ingest::row_observer::RowObserver;
use sextant_ingest::wal_record::ExportRequest;
use sextant_meta::AccessControl;
use sextant_query::agent_actions::policy::{PolicyConfig, Severity};
use sextant_tracegen::agent_traces::AgentTraceGenerator;
use sextant_web::alerts::{AlertsEngine, Rules};
use sextant_web::query_slots::{QuerySlots, SqlSettings};
use sextant_web::router::router;
use sextant_web::state::AppState;

use crate::otlp_sender::{OtlpBody, RETRY_FOREVER, export_with_retry};

#[derive(Debug, clap::Args)]
pub struct IngestBenchArgs {
    /// Agent runs to send (each a traces export request, plus a logs request when the run
    /// has log events).
    #[arg(long, default_value_t = 400)]
    traces: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the in-process server stores data [default: a fresh temporary directory, removed after].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Store secrets as sent: what redaction costs is the difference with a run without it.
    #[arg(long)]
    no_redaction: bool,
    /// Check every tool call against this many policies that match nothing (what watching
    /// ingest costs is the difference with a run with 0).
    #[arg(long, default_value_t = 0)]
    policies: usize,
}

#[derive(Debug, serde::Serialize)]
struct IngestFigures {
    traces: usize,
    spans: usize,
    raw_otlp_bytes: u64,
    /// Until the last export was acknowledged (durable in the WAL).
    seconds: f64,
    spans_per_second: f64,
    raw_megabytes_per_second: f64,
    /// Until everything was flushed to Parquet and indexed.
    indexed_seconds: f64,
    indexed_megabytes_per_second: f64,
    bytes_on_disk: u64,
    parquet_bytes: u64,
    index_bytes: u64,
    disk_bytes_per_raw_byte: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    peak_rss_mib: f64,
    refused_503: u64,
    /// Whether secrets were redacted at ingest.
    redaction: bool,
    /// Policies every tool call was checked against, and the alerts they raised.
    policies: usize,
    alerts_raised: u64,
    /// Requests not checked because the policy queue was full (the check fell behind).
    requests_unchecked: u64,
    /// Secrets the redactor found in the generated requests (the generator plants none:
    /// anything here is a false positive).
    secrets_redacted: u64,
    /// Redacting every request once, alone, on one core (decoding excluded).
    redaction_seconds: f64,
    redaction_megabytes_per_second: f64,
}

pub async fn run_ingest_bench(args: IngestBenchArgs) -> anyhow::Result<()> {
    let (data_root, remove_after) = match &args.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("sextant-bench-{}", std::process::id())),
            true,
        ),
    };
    if data_root.exists() {
        anyhow::bail!("{} exists; pass an empty --data-dir", data_root.display());
    }
    eprintln!(
        "generating {} agent traces (seed {})…",
        args.traces, args.seed
    );
    let (requests, spans) = generate_requests(args.traces, args.seed);
    let raw_otlp_bytes: u64 = requests.iter().map(|(_, body)| body.len() as u64).sum();

    let redactor = Redactor::built_in();
    let (secrets_redacted, redaction_seconds) = time_redaction(&requests, &redactor)?;

    let data_dir = DataDir::open(&data_root)?;
    let mut config = PipelineConfig::default();
    if args.no_redaction {
        config.redactor = None;
    }
    let access = Arc::new(AccessControl::open(&data_root)?);
    let alerts = (args.policies > 0)
        .then(|| -> anyhow::Result<_> {
            let rules = Rules::compile(&never_matching_policies(args.policies), &[])
                .map_err(anyhow::Error::msg)?;
            Ok(AlertsEngine::start(rules, access.metadata().clone()))
        })
        .transpose()?;
    config.observer = alerts.clone().map(|engine| {
        RowObserver(engine as Arc<dyn sextant_ingest::row_observer::AcknowledgedRows>)
    });
    let pipeline = Arc::new(IngestPipeline::open(data_dir, config)?);
    let state = AppState {
        pipeline: pipeline.clone(),
        access,
        body_limit_bytes: 64 * 1024 * 1024,
        secure_cookies: false,
        gateway: Default::default(),
        request_budget: RequestBudget::new(DEFAULT_REQUEST_BUDGET_BYTES),
        query_slots: Arc::new(QuerySlots::new(SqlSettings::default())),
        public_url: None,
        alerts: alerts.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router(state)).await });

    eprintln!(
        "sending {} spans, {:.1} MB of OTLP protobuf, {} clients…",
        spans,
        raw_otlp_bytes as f64 / 1e6,
        args.concurrency
    );
    let started = Instant::now();
    let (mut latencies, refused) = send_all(&url, requests, args.concurrency).await?;
    let seconds = started.elapsed().as_secs_f64();
    server.abort();
    let drain_pipeline = pipeline.clone();
    tokio::task::spawn_blocking(move || drain_pipeline.shutdown()).await?;
    // Until everything is in Parquet and the index, not just acknowledged.
    let indexed_seconds = started.elapsed().as_secs_f64();

    latencies.sort();
    let percentile = |p: f64| -> f64 {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies
            .get(index)
            .map_or(0.0, |latency| latency.as_secs_f64() * 1000.0)
    };
    let parquet_bytes =
        directory_bytes(&data_root.join("spans"))? + directory_bytes(&data_root.join("logs"))?;
    let index_bytes = directory_bytes(&data_root.join("index"))?;
    let figures = IngestFigures {
        traces: args.traces,
        spans,
        raw_otlp_bytes,
        seconds,
        spans_per_second: spans as f64 / seconds,
        raw_megabytes_per_second: raw_otlp_bytes as f64 / 1e6 / seconds,
        indexed_seconds,
        indexed_megabytes_per_second: raw_otlp_bytes as f64 / 1e6 / indexed_seconds,
        bytes_on_disk: parquet_bytes + index_bytes,
        parquet_bytes,
        index_bytes,
        disk_bytes_per_raw_byte: (parquet_bytes + index_bytes) as f64 / raw_otlp_bytes as f64,
        latency_p50_ms: percentile(0.50),
        latency_p99_ms: percentile(0.99),
        peak_rss_mib: peak_rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0),
        refused_503: refused,
        redaction: !args.no_redaction,
        policies: args.policies,
        alerts_raised: alerts.as_ref().map_or(0, |engine| {
            engine
                .stats
                .raised
                .load(std::sync::atomic::Ordering::Relaxed)
        }),
        requests_unchecked: alerts.as_ref().map_or(0, |engine| {
            engine
                .stats
                .unchecked
                .load(std::sync::atomic::Ordering::Relaxed)
        }),
        secrets_redacted,
        redaction_seconds,
        redaction_megabytes_per_second: raw_otlp_bytes as f64 / 1e6 / redaction_seconds,
    };
    if remove_after {
        std::fs::remove_dir_all(&data_root)
            .with_context(|| format!("cannot remove {}", data_root.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print_table(&figures);
    }
    Ok(())
}

/// `count` policies over every kind of action whose targets no generated run touches (a
/// glob, a regex and a host each), so each tool call is checked in full and raises nothing.
fn never_matching_policies(count: usize) -> Vec<PolicyConfig> {
    (0..count)
        .map(|index| PolicyConfig {
            name: format!("bench-{index}"),
            severity: Severity::Medium,
            kind: None,
            target: vec![
                format!("**/never-{index}/*.pem"),
                format!("re:^rm -rf /nowhere-{index}"),
                format!("*.never-{index}.example"),
            ],
            not_target: Vec::new(),
            projects: Vec::new(),
            notify: Vec::new(),
        })
        .collect()
}

/// Redacts a decoded copy of each request, timing only the redaction: the secrets found and
/// the seconds it took.
fn time_redaction(
    requests: &[(Signal, Vec<u8>)],
    redactor: &Redactor,
) -> anyhow::Result<(u64, f64)> {
    let mut found = 0;
    let mut spent = Duration::ZERO;
    for (signal, body) in requests {
        let mut request = match signal {
            Signal::Traces => ExportRequest::Traces(ExportTraceServiceRequest::decode(&body[..])?),
            Signal::Logs => ExportRequest::Logs(ExportLogsServiceRequest::decode(&body[..])?),
        };
        let started = Instant::now();
        found += redact_request(&mut request, redactor).total();
        spent += started.elapsed();
    }
    Ok((found, spent.as_secs_f64()))
}

/// Which OTLP endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Logs,
}

/// Every run's traces request, then its logs request when it has log events (Claude Code
/// runs), as the agents' exporters send them; and the number of spans.
fn generate_requests(traces: usize, seed: u64) -> (Vec<(Signal, Vec<u8>)>, usize) {
    let mut generator = AgentTraceGenerator::new(seed);
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
    let spacing_ns = 3_600_000_000_000 / traces.max(1) as u64;
    let mut spans = 0;
    let mut requests = Vec::with_capacity(traces * 2);
    for index in 0..traces {
        let trace = generator.trace(now_ns - 3_600_000_000_000 + index as u64 * spacing_ns);
        spans += trace.span_count;
        requests.push((Signal::Traces, trace.request.encode_to_vec()));
        if let Some(logs) = trace.logs {
            requests.push((Signal::Logs, logs.encode_to_vec()));
        }
    }
    (requests, spans)
}

/// Sends every request, retrying after 503s; returns the latency of each accepted request
/// and the number of refusals.
async fn send_all(
    base_url: &str,
    requests: Vec<(Signal, Vec<u8>)>,
    concurrency: usize,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let client = reqwest::Client::new();
    let queue = Arc::new(tokio::sync::Mutex::new(requests.into_iter()));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let client = client.clone();
        let queue = queue.clone();
        let traces_url = format!("{base_url}/v1/traces");
        let logs_url = format!("{base_url}/v1/logs");
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0u64;
            loop {
                let Some((signal, body)) = queue.lock().await.next() else {
                    break;
                };
                let url = match signal {
                    Signal::Traces => &traces_url,
                    Signal::Logs => &logs_url,
                };
                let outcome =
                    export_with_retry(&client, url, OtlpBody::protobuf(body), RETRY_FOREVER)
                        .await?;
                latencies.push(outcome.latency);
                refused += outcome.refusals;
            }
            Ok::<_, anyhow::Error>((latencies, refused))
        }));
    }
    let mut latencies = Vec::new();
    let mut refused = 0;
    for worker in workers {
        let (worker_latencies, worker_refused) = worker.await??;
        latencies.extend(worker_latencies);
        refused += worker_refused;
    }
    Ok((latencies, refused))
}

pub fn directory_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    for entry in entries {
        let entry = entry?;
        let metadata = entry.metadata()?;
        total += if metadata.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            metadata.len()
        };
    }
    Ok(total)
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss_bytes() -> Option<u64> {
    process_status_bytes("VmHWM:")
}

/// Resident set size of this process now (Linux `VmRSS`).
pub fn current_rss_bytes() -> Option<u64> {
    process_status_bytes("VmRSS:")
}

/// A size line of `/proc/self/status`, in bytes.
fn process_status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(key))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn print_table(figures: &IngestFigures) {
    println!("ingest benchmark (OTLP/HTTP protobuf over loopback, full-text indexing on)");
    println!(
        "  traces / spans            {} / {}",
        figures.traces, figures.spans
    );
    println!(
        "  raw OTLP                  {:.1} MB",
        figures.raw_otlp_bytes as f64 / 1e6
    );
    println!(
        "  acknowledged (WAL)        {:.2} s: {:.0} spans/s, {:.1} MB/s",
        figures.seconds, figures.spans_per_second, figures.raw_megabytes_per_second
    );
    println!(
        "  flushed + indexed         {:.2} s: {:.1} MB/s   (target ≥ 20 MB/s)",
        figures.indexed_seconds, figures.indexed_megabytes_per_second
    );
    println!(
        "  on disk                   {:.1} MB = {:.3}× raw (parquet {:.1} MB, index {:.1} MB)   (target ≤ 0.3×)",
        figures.bytes_on_disk as f64 / 1e6,
        figures.disk_bytes_per_raw_byte,
        figures.parquet_bytes as f64 / 1e6,
        figures.index_bytes as f64 / 1e6
    );
    println!(
        "  request latency           p50 {:.1} ms, p99 {:.1} ms",
        figures.latency_p50_ms, figures.latency_p99_ms
    );
    println!(
        "  peak RSS (server+clients) {:.0} MiB   (target ≤ 2048 MiB)",
        figures.peak_rss_mib
    );
    println!("  503 retries               {}", figures.refused_503);
    println!(
        "  policies                  {} checked on every tool call, {} alerts, {} requests unchecked",
        figures.policies, figures.alerts_raised, figures.requests_unchecked
    );
    println!(
        "  secret redaction          {} at ingest; alone: {:.2} s = {:.0} MB/s on one core, {} secrets found",
        if figures.redaction { "on" } else { "off" },
        figures.redaction_seconds,
        figures.redaction_megabytes_per_second,
        figures.secrets_redacted
    );
}
