//! `sextant loadgen`: sends generated coding-agent traces to an OTLP endpoint at a steady
//! rate, and reports what was acknowledged, the retries after 429/503 (gRPC: UNAVAILABLE,
//! RESOURCE_EXHAUSTED) and request latency percentiles.
//!
//! One trace is one export request, followed by one logs export request when the run has
//! log events (Claude Code runs: prompts, API requests with their cost, tool results), as
//! the agent's own exporters send them. A tick that finds `max_in_flight` requests still open is
//! counted as skipped rather than queued, so the rate sent is the rate asked for or less,
//! never a burst that catches up.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use sextant_tracegen::agent_traces::AgentTraceGenerator;
use sextant_tracegen::config::{Convention, GeneratorConfig};
use tokio::sync::Semaphore;

use crate::otlp_sender::{ExportOutcome, OtlpBody, export_with_retry};

/// Attempts of one request before it counts as failed.
const MAX_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadProtocol {
    /// OTLP/HTTP with protobuf bodies (`/v1/traces`).
    HttpProto,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
    /// OTLP/gRPC `TraceService/Export`.
    Grpc,
}

/// The telemetry conventions the generator can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadConvention {
    /// OTel GenAI semantic conventions.
    Genai,
    Openinference,
    /// Claude Code's spans and log events.
    ClaudeCode,
}

impl From<LoadConvention> for Convention {
    fn from(convention: LoadConvention) -> Convention {
        match convention {
            LoadConvention::Genai => Convention::GenAi,
            LoadConvention::Openinference => Convention::OpenInference,
            LoadConvention::ClaudeCode => Convention::ClaudeCode,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct LoadgenArgs {
    /// Base URL of the receiver: `http://127.0.0.1:4318` (HTTP) or `http://127.0.0.1:4317` (gRPC).
    #[arg(long)]
    target: String,
    /// Export requests (one trace each) per second.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// How long to send, e.g. `30s`, `5m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    #[arg(long, value_enum, default_value = "http-proto")]
    protocol: LoadProtocol,
    /// Requests open at once before ticks are skipped.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Generator seed [default: from the clock, so repeated runs send new trace ids].
    #[arg(long)]
    seed: Option<u64>,
    /// Send only runs of this convention [default: the generator's mix].
    #[arg(long, value_enum)]
    convention: Option<LoadConvention>,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `30s`, `5m`, `1h`, `250ms`, or bare seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: use 250ms, 30s, 5m or 1h");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

#[derive(Debug, Default, serde::Serialize)]
struct LoadFigures {
    protocol: String,
    target_rate: f64,
    seconds: f64,
    sent: u64,
    acknowledged: u64,
    spans_acknowledged: u64,
    /// Log records (agent events) acknowledged with the traces.
    log_records_acknowledged: u64,
    failed: u64,
    /// Answers of 429/503 (gRPC UNAVAILABLE/RESOURCE_EXHAUSTED) that were retried.
    retries: u64,
    /// Ticks skipped because `max_in_flight` requests were open.
    skipped: u64,
    achieved_rate: f64,
    latency_p50_ms: f64,
    latency_p95_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
}

#[derive(Default)]
struct Tally {
    acknowledged: u64,
    spans_acknowledged: u64,
    log_records_acknowledged: u64,
    failed: u64,
    retries: u64,
    latencies_ms: Vec<f64>,
    first_error: Option<String>,
}

enum Sender {
    Http {
        client: reqwest::Client,
        traces_url: String,
        logs_url: String,
        json: bool,
    },
    Grpc(Box<GrpcClients>),
}

/// The trace and logs services over one channel.
struct GrpcClients {
    traces: TraceServiceClient<tonic::transport::Channel>,
    logs: LogsServiceClient<tonic::transport::Channel>,
}

/// What one run's export requests came to.
struct RunOutcome {
    /// Of the trace request, the one the latency figures are about.
    traces: ExportOutcome,
    /// 429/503 answers of the logs request.
    log_refusals: u64,
    log_records: usize,
}

impl Sender {
    async fn connect(args: &LoadgenArgs) -> anyhow::Result<Sender> {
        let base = args.target.trim_end_matches('/');
        Ok(match args.protocol {
            LoadProtocol::Grpc => {
                let channel = tonic::transport::Channel::from_shared(base.to_owned())
                    .with_context(|| format!("invalid target {base}"))?
                    .connect()
                    .await
                    .with_context(|| format!("connect to {base}"))?;
                Sender::Grpc(Box::new(GrpcClients {
                    traces: TraceServiceClient::new(channel.clone()),
                    logs: LogsServiceClient::new(channel),
                }))
            }
            protocol => Sender::Http {
                client: reqwest::Client::new(),
                traces_url: format!("{base}/v1/traces"),
                logs_url: format!("{base}/v1/logs"),
                json: protocol == LoadProtocol::HttpJson,
            },
        })
    }

    /// Sends one run: its spans, then its log events if it has any.
    async fn send(
        &self,
        request: ExportTraceServiceRequest,
        logs: Option<ExportLogsServiceRequest>,
    ) -> anyhow::Result<RunOutcome> {
        let log_records = logs.as_ref().map_or(0, |logs| {
            logs.resource_logs
                .iter()
                .flat_map(|resource| &resource.scope_logs)
                .map(|scope| scope.log_records.len())
                .sum()
        });
        let (traces, log_refusals) = match self {
            Sender::Http {
                client,
                traces_url,
                logs_url,
                json,
            } => {
                let body = |message: &dyn ErasedExport| -> anyhow::Result<OtlpBody> {
                    Ok(if *json {
                        OtlpBody::json(message.json()?)
                    } else {
                        OtlpBody::protobuf(message.protobuf())
                    })
                };
                let traces =
                    export_with_retry(client, traces_url, body(&request)?, MAX_ATTEMPTS).await?;
                let log_refusals = match &logs {
                    Some(logs) => {
                        export_with_retry(client, logs_url, body(logs)?, MAX_ATTEMPTS)
                            .await?
                            .refusals
                    }
                    None => 0,
                };
                (traces, log_refusals)
            }
            Sender::Grpc(clients) => {
                let GrpcClients {
                    traces: traces_client,
                    logs: logs_client,
                } = clients.as_ref();
                let traces = retry_grpc(|| {
                    let request = request.clone();
                    let mut client = traces_client.clone();
                    async move { client.export(request).await.map(|_| ()) }
                })
                .await?;
                let log_refusals = match &logs {
                    Some(logs) => {
                        retry_grpc(|| {
                            let request = logs.clone();
                            let mut client = logs_client.clone();
                            async move { client.export(request).await.map(|_| ()) }
                        })
                        .await?
                        .refusals
                    }
                    None => 0,
                };
                (traces, log_refusals)
            }
        };
        Ok(RunOutcome {
            traces,
            log_refusals,
            log_records,
        })
    }
}

/// A traces or logs export request, encoded either way.
trait ErasedExport {
    fn json(&self) -> anyhow::Result<Vec<u8>>;
    fn protobuf(&self) -> Vec<u8>;
}

impl<T: Message + serde::Serialize> ErasedExport for T {
    fn json(&self) -> anyhow::Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    fn protobuf(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

/// Calls `export` until it succeeds, retrying UNAVAILABLE and RESOURCE_EXHAUSTED.
async fn retry_grpc<F, Fut>(export: F) -> anyhow::Result<ExportOutcome>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), tonic::Status>>,
{
    let mut refusals = 0;
    loop {
        let sent = Instant::now();
        match export().await {
            Ok(()) => {
                return Ok(ExportOutcome {
                    latency: sent.elapsed(),
                    refusals,
                });
            }
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::ResourceExhausted
                ) && refusals + 1 < u64::from(MAX_ATTEMPTS) =>
            {
                refusals += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(status) => anyhow::bail!("export failed: {status}"),
        }
    }
}

fn percentile(sorted: &[f64], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * quantile).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub async fn run_loadgen(args: LoadgenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be a positive number of requests per second"
    );
    let sender = Arc::new(Sender::connect(&args).await?);
    let seed = args
        .seed
        .unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64);
    let mut config = GeneratorConfig::default();
    if let Some(convention) = args.convention {
        config.conventions = vec![(convention.into(), 100)];
    }
    let generator = Arc::new(Mutex::new(AgentTraceGenerator::with_config(seed, config)));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let in_flight = Arc::new(Semaphore::new(args.max_in_flight.max(1)));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let (mut sent, mut skipped) = (0_u64, 0_u64);
    while started.elapsed() < args.duration {
        ticker.tick().await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        sent += 1;
        let (sender, generator, tally) = (sender.clone(), generator.clone(), tally.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as u64;
            let trace = tokio::task::spawn_blocking(move || {
                let mut generator = generator
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner());
                generator.trace(now_ns)
            })
            .await;
            let outcome = match trace {
                Ok(trace) => sender
                    .send(trace.request, trace.logs)
                    .await
                    .map(|outcome| (outcome, trace.span_count)),
                Err(error) => Err(anyhow::anyhow!("generator task: {error}")),
            };
            let mut tally = tally.lock().unwrap_or_else(|poison| poison.into_inner());
            match outcome {
                Ok((outcome, spans)) => {
                    tally.acknowledged += 1;
                    tally.spans_acknowledged += spans as u64;
                    tally.log_records_acknowledged += outcome.log_records as u64;
                    tally.retries += outcome.traces.refusals + outcome.log_refusals;
                    tally
                        .latencies_ms
                        .push(outcome.traces.latency.as_secs_f64() * 1000.0);
                }
                Err(error) => {
                    tally.failed += 1;
                    tally
                        .first_error
                        .get_or_insert_with(|| format!("{error:#}"));
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();

    let mut tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|poison| poison.into_inner()));
    tally.latencies_ms.sort_by(f64::total_cmp);
    let figures = LoadFigures {
        protocol: format!("{:?}", args.protocol),
        target_rate: args.rate,
        seconds,
        sent,
        acknowledged: tally.acknowledged,
        spans_acknowledged: tally.spans_acknowledged,
        log_records_acknowledged: tally.log_records_acknowledged,
        failed: tally.failed,
        retries: tally.retries,
        skipped,
        achieved_rate: tally.acknowledged as f64 / seconds.max(f64::EPSILON),
        latency_p50_ms: percentile(&tally.latencies_ms, 0.50),
        latency_p95_ms: percentile(&tally.latencies_ms, 0.95),
        latency_p99_ms: percentile(&tally.latencies_ms, 0.99),
        latency_max_ms: tally.latencies_ms.last().copied().unwrap_or(0.0),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!(
            "{} runs sent in {:.1} s ({} skipped at the limit of {} in flight), {} acknowledged = {} spans + {} log events ({:.1} runs/s), {} failed, {} retries after 429/503",
            figures.sent,
            figures.seconds,
            figures.skipped,
            args.max_in_flight,
            figures.acknowledged,
            figures.spans_acknowledged,
            figures.log_records_acknowledged,
            figures.achieved_rate,
            figures.failed,
            figures.retries
        );
        println!(
            "latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            figures.latency_p50_ms,
            figures.latency_p95_ms,
            figures.latency_p99_ms,
            figures.latency_max_ms
        );
    }
    if let Some(error) = &tally.first_error {
        eprintln!("first failure: {error}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5y").is_err());
    }

    #[test]
    fn percentiles_pick_by_rank() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.5), 51.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
