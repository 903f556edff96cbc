//! `sextant bench data --spans 1M --data-dir DIR`: builds a data dir for the query
//! benchmarks — generated coding-agent sessions (the default mix: three conventions,
//! sub-agents, retries, failures) spread over the last `--days` days, plus one long trace
//! of `--long-trace-spans` spans — through the real write path (normalize, WAL, Parquet,
//! index) in-process, without HTTP. Reports the time it took and the bytes on disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use sextant_ingest::error::IngestError;
use sextant_ingest::layout::{DEFAULT_PROJECT, DataDir};
use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
use sextant_ingest::wal_record::ExportRequest;
use sextant_tracegen::agent_traces::AgentTraceGenerator;

use crate::bench::directory_bytes;

#[derive(Debug, clap::Args)]
pub struct DataBenchArgs {
    /// Spans to generate: a number, or with a k or M suffix (250k, 1M, 10M).
    #[arg(long, value_parser = parse_count)]
    spans: u64,
    /// The data dir to build (must not exist yet; kept afterwards).
    #[arg(long)]
    data_dir: PathBuf,
    /// Days back from now the traces are spread over.
    #[arg(long, default_value_t = 14)]
    days: u64,
    /// The size of the one long trace (0: none).
    #[arg(long, default_value_t = 30_000)]
    long_trace_spans: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Concurrent ingest requests (each waits for its WAL fsync).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `1500`, `250k`, `1M`, `10M`.
fn parse_count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, scale) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1_000),
        Some('m' | 'M') => (&text[..text.len() - 1], 1_000_000),
        _ => (text, 1),
    };
    digits
        .parse::<f64>()
        .ok()
        .filter(|count| *count > 0.0)
        .map(|count| (count * scale as f64) as u64)
        .ok_or_else(|| format!("{text:?} is not a count like 250k, 1M or 1500"))
}

#[derive(Debug, serde::Serialize)]
struct DataFigures {
    spans: u64,
    traces: u64,
    long_trace_id: Option<String>,
    raw_otlp_bytes: u64,
    seconds: f64,
    spans_per_second: f64,
    parquet_bytes: u64,
    index_bytes: u64,
}

/// Sends one request, waiting while the pipeline says it is overloaded.
async fn ingest(pipeline: &IngestPipeline, request: ExportRequest) -> anyhow::Result<()> {
    loop {
        match pipeline.ingest(DEFAULT_PROJECT, request.clone()).await {
            Ok(_) => return Ok(()),
            Err(IngestError::Overloaded { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// A request split into requests of at most `spans` spans each.
fn batches(request: ExportTraceServiceRequest, spans: usize) -> Vec<ExportTraceServiceRequest> {
    let mut out = Vec::new();
    for resource in request.resource_spans {
        for scope in resource.scope_spans {
            for chunk in scope.spans.chunks(spans.max(1)) {
                out.push(ExportTraceServiceRequest {
                    resource_spans: vec![ResourceSpans {
                        resource: resource.resource.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: scope.scope.clone(),
                            spans: chunk.to_vec(),
                            schema_url: scope.schema_url.clone(),
                        }],
                        schema_url: resource.schema_url.clone(),
                    }],
                });
            }
        }
    }
    out
}

/// When the trace generated after `spans` of `target` spans starts: spread evenly over the
/// `window_ns` before `now_ns`. In u128: a 14-day window (~1.2e15 ns) times a span count
/// overflows u64 past ~15k spans (it once put a whole 1M-span data dir into a few hours).
fn trace_start_ns(now_ns: u64, window_ns: u64, spans: u64, target: u64) -> u64 {
    let offset_ns =
        u128::from(window_ns) * u128::from(spans.min(target)) / u128::from(target.max(1));
    now_ns - window_ns + offset_ns as u64
}

pub async fn run_data_bench(args: DataBenchArgs) -> anyhow::Result<()> {
    if args.data_dir.exists() {
        anyhow::bail!("{} exists; pass a new --data-dir", args.data_dir.display());
    }
    let data_dir = DataDir::open(&args.data_dir).context("cannot create the data dir")?;
    let pipeline = Arc::new(IngestPipeline::open(data_dir, PipelineConfig::default())?);
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
    let window_ns = args.days.max(1) * 86_400 * 1_000_000_000;
    let target = args.spans;

    // One thread generates; `concurrency` tasks ingest what it made.
    let (sender, receiver) = tokio::sync::mpsc::channel::<ExportRequest>(64);
    let seed = args.seed;
    let long_trace_spans = args.long_trace_spans;
    let generator = std::thread::spawn(move || {
        let mut generator = AgentTraceGenerator::new(seed);
        let (mut spans, mut traces, mut raw) = (0u64, 0u64, 0u64);
        let mut long_trace_id = None;
        while spans < target {
            let start_ns = trace_start_ns(now_ns, window_ns, spans, target);
            let trace = if long_trace_id.is_none() && long_trace_spans > 0 && spans >= target / 2 {
                let trace = generator.long_trace(start_ns, long_trace_spans);
                long_trace_id = Some(trace.summary.trace_id.clone());
                trace
            } else {
                generator.trace(start_ns)
            };
            spans += trace.span_count as u64;
            traces += 1;
            raw += trace.request.encoded_len() as u64;
            // As exporters batch: at most 512 spans a request (the long trace is many).
            let mut sent = true;
            for request in batches(trace.request, 512) {
                sent &= sender.blocking_send(ExportRequest::Traces(request)).is_ok();
            }
            if !sent {
                break;
            }
            // Claude Code runs' events (their cost) go in too.
            if let Some(logs) = trace.logs
                && sender.blocking_send(ExportRequest::Logs(logs)).is_err()
            {
                break;
            }
            if traces.is_multiple_of(10_000) {
                eprintln!("  {spans} / {target} spans");
            }
        }
        (spans, traces, raw, long_trace_id)
    });
    let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let receiver = receiver.clone();
        let pipeline = pipeline.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let Some(request) = receiver.lock().await.recv().await else {
                    return Ok::<_, anyhow::Error>(());
                };
                ingest(&pipeline, request).await?;
            }
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let (spans, traces, raw_otlp_bytes, long_trace_id) = generator
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))?;
    let drain = pipeline.clone();
    tokio::task::spawn_blocking(move || drain.shutdown()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let figures = DataFigures {
        spans,
        traces,
        long_trace_id,
        raw_otlp_bytes,
        seconds,
        spans_per_second: spans as f64 / seconds,
        parquet_bytes: directory_bytes(&args.data_dir.join("spans"))?,
        index_bytes: directory_bytes(&args.data_dir.join("index"))?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        print_table(&figures, &args.data_dir);
    }
    Ok(())
}

fn print_table(figures: &DataFigures, data_dir: &Path) {
    println!("data dir            {}", data_dir.display());
    println!(
        "spans               {} in {} traces",
        figures.spans, figures.traces
    );
    if let Some(id) = &figures.long_trace_id {
        println!("long trace          {id}");
    }
    println!(
        "raw OTLP            {:.1} MB",
        figures.raw_otlp_bytes as f64 / 1e6
    );
    println!(
        "built in            {:.1} s ({:.0} spans/s, generation included)",
        figures.seconds, figures.spans_per_second
    );
    println!(
        "on disk             {:.1} MB (Parquet {:.1} MB, index {:.1} MB)",
        (figures.parquet_bytes + figures.index_bytes) as f64 / 1e6,
        figures.parquet_bytes as f64 / 1e6,
        figures.index_bytes as f64 / 1e6
    );
}

#[cfg(test)]
mod tests {
    use super::{parse_count, trace_start_ns};

    #[test]
    fn traces_spread_evenly_over_the_whole_window_at_any_size() {
        let day_ns = 86_400 * 1_000_000_000_u64;
        let now_ns = 1_764_633_600_000_000_000; // 2025-12-02T00:00:00Z
        let window_ns = 14 * day_ns;
        for target in [1_000_u64, 1_000_000, 10_000_000] {
            assert_eq!(
                trace_start_ns(now_ns, window_ns, 0, target),
                now_ns - window_ns
            );
            assert_eq!(
                trace_start_ns(now_ns, window_ns, target / 2, target),
                now_ns - 7 * day_ns,
                "{target}"
            );
            assert_eq!(trace_start_ns(now_ns, window_ns, target, target), now_ns);
        }
    }

    #[test]
    fn counts_take_k_and_m_suffixes() {
        assert_eq!(parse_count("1M"), Ok(1_000_000));
        assert_eq!(parse_count("250k"), Ok(250_000));
        assert_eq!(parse_count("1500"), Ok(1_500));
        assert_eq!(parse_count("2.5M"), Ok(2_500_000));
        assert!(parse_count("lots").is_err());
        assert!(parse_count("0").is_err());
    }
}
