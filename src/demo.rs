//! `sextant demo`: serve, and load generated coding-agent traces through the real ingest path.
//!
//! The traces are spread over the last 14 days and posted as OTLP/HTTP protobuf to the
//! server's own loopback listener, so they are normalized, logged, flushed and indexed
//! like any agent's. `/healthz` answers while loading. A marker file keeps a restart on
//! the same data dir from loading the data twice.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use prost::Message;
use sextant_tracegen::agent_traces::AgentTraceGenerator;

use crate::otlp_sender::{OtlpBody, RETRY_FOREVER, export_with_retry};

const DEMO_DAYS: u64 = 14;
const MARKER_FILE: &str = "demo-loaded";

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Agent traces to generate.
    #[arg(long, default_value_t = 2000)]
    pub traces: usize,
    /// Generator seed (same seed, same data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub async fn load_demo_data(
    http_addr: SocketAddr,
    data_dir: PathBuf,
    args: DemoArgs,
) -> anyhow::Result<()> {
    let marker = data_dir.join(MARKER_FILE);
    if marker.exists() {
        say!("demo data already loaded in {}", data_dir.display());
        return Ok(());
    }
    let url = format!("http://{http_addr}/v1/traces");
    let logs_url = format!("http://{http_addr}/v1/logs");
    let client = reqwest::Client::new();
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
    let window_ns = DEMO_DAYS * 86_400 * 1_000_000_000;
    let spacing_ns = window_ns / args.traces.max(1) as u64;
    let generator = Arc::new(std::sync::Mutex::new(AgentTraceGenerator::new(args.seed)));
    let mut spans = 0;
    say!(
        "loading {} demo agent traces over the last {DEMO_DAYS} days…",
        args.traces
    );
    for index in 0..args.traces {
        let start_ns = now_ns - window_ns + index as u64 * spacing_ns;
        let generator = generator.clone();
        let (body, logs, span_count) = tokio::task::spawn_blocking(move || {
            let mut generator = generator
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let trace = generator.trace(start_ns);
            let logs = trace.logs.map(|logs| logs.encode_to_vec());
            (trace.request.encode_to_vec(), logs, trace.span_count)
        })
        .await?;
        export_with_retry(&client, &url, OtlpBody::protobuf(body), RETRY_FOREVER).await?;
        if let Some(logs) = logs {
            export_with_retry(&client, &logs_url, OtlpBody::protobuf(logs), RETRY_FOREVER).await?;
        }
        spans += span_count;
        if (index + 1) % 500 == 0 {
            say!("  {} / {} traces", index + 1, args.traces);
        }
    }
    std::fs::write(
        &marker,
        format!(
            "{} traces, {spans} spans, seed {}\n",
            args.traces, args.seed
        ),
    )?;
    say!(
        "demo data loaded: {} traces, {spans} spans. Try:",
        args.traces
    );
    say!("  curl -s 'http://{http_addr}/api/search?q=FAILED&limit=5'");
    say!(
        "  curl -s http://{http_addr}/api/sql -H 'content-type: application/json' \\\n    -d '{{\"sql\": \"SELECT request_model, count(*) AS calls, sum(input_tokens) AS input_tokens FROM spans WHERE span_type = '\\''llm'\\'' GROUP BY 1\"}}'"
    );
    Ok(())
}
