//! `sextant eval run SUITE.toml`: runs a suite now and exits with the gate's code —
//! 0 pass, 1 regression, 3 inconclusive, 2 error or void (a bad suite file, a missing
//! dataset, an unreachable provider).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use sextant_evals::gateway::registry::GatewayRegistry;
use sextant_evals::replay::agent::AgentHost;
use sextant_evals::run::{SuiteRun, run_suite_with};
use sextant_evals::suite::{ReplayMode, Suite};
use sextant_ingest::layout::DataDir;
use sextant_ingest::request_budget::{DEFAULT_REQUEST_BUDGET_BYTES, RequestBudget};
use sextant_meta::AccessControl;
use sextant_meta::keys::Scope;
use sextant_web::api::gateway::{GatewayState, gateway_router};

use crate::otlp_sender::{OtlpBody, export_with_retry};

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run a suite now; the exit code is the verdict (0 pass, 1 regression,
    /// 3 inconclusive, 2 error or void).
    Run {
        suite: PathBuf,
        /// Also write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write JUnit XML here (one test case per example).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// The project [default: the suite's `project`, else `default`].
        #[arg(long)]
        project: Option<String>,
        /// Trace the replays into the Sextant server at this URL (its OTLP/HTTP base, e.g.
        /// http://127.0.0.1:4318), tagged eval.run_id.
        #[arg(long)]
        trace_to: Option<String>,
        /// The ingest key to trace with, when that server requires keys.
        #[arg(long, env = "SEXTANT_TRACE_KEY", hide_env_values = true)]
        trace_key: Option<String>,
    },
}

/// The exit code for an error before any verdict.
const EXIT_ERROR: i32 = 2;

pub async fn run_eval(data_dir: &Path, command: EvalCommand) -> i32 {
    match run(data_dir, command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            EXIT_ERROR
        }
    }
}

async fn run(data_dir: &Path, command: EvalCommand) -> anyhow::Result<i32> {
    let EvalCommand::Run {
        suite,
        json,
        junit,
        project,
        trace_to,
        trace_key,
    } = command;
    let suite = Suite::load(&suite)?;
    let data = DataDir::open(data_dir)?;
    let access = AccessControl::open(data_dir)?;
    let project = project
        .or_else(|| suite.project.clone())
        .unwrap_or_else(|| sextant_ingest::layout::DEFAULT_PROJECT.to_string());
    // An agent suite's CLIs call the model gateway: served here, on loopback, for the run.
    if let (ReplayMode::Agent, Some(key)) = (suite.mode, &trace_key) {
        refuse_a_key_that_reads(&access, trace_to.as_deref(), key).await?;
    }
    let gateway = match suite.mode {
        ReplayMode::Agent => Some(serve_gateway(trace_to.clone(), trace_key.clone()).await?),
        _ => None,
    };
    let host = gateway.as_ref().map(|(host, _)| host);
    let SuiteRun {
        report,
        mut replays,
    } = run_suite_with(access.metadata(), &data, &project, &suite, host).await?;
    if let Some((host, server)) = gateway {
        for calls in host.take_spans() {
            replays.resource_spans.extend(calls.resource_spans);
        }
        server.abort();
    }
    if let Some(path) = json {
        std::fs::write(&path, report.to_json())?;
    }
    if let Some(path) = junit {
        std::fs::write(&path, report.to_junit())?;
    }
    crate::say!("{}", report.summary());
    match &trace_to {
        Some(url) => {
            let spans = replays
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum::<usize>();
            // The verdict stands either way: a tracing failure is reported, not the exit code.
            match trace_replays(url, trace_key.as_deref(), replays).await {
                Ok(()) => crate::say!(
                    "replays traced to {url}: {spans} spans tagged eval.run_id = {}",
                    report.run_id.unwrap_or_default()
                ),
                Err(error) => eprintln!("warning: {error:#}"),
            }
        }
        None => crate::say!("replays not traced (--trace-to URL of a Sextant server traces them)"),
    }
    Ok(report.gate.verdict.exit_code())
}

/// The trace key is handed to the agent CLI (its telemetry headers), and the agent runs what
/// a model says: it must be able to write spans and nothing else. A key of this data dir is
/// checked here; another server's key is tried on that server's read API.
async fn refuse_a_key_that_reads(
    access: &AccessControl,
    trace_to: Option<&str>,
    key: &str,
) -> anyhow::Result<()> {
    let refuse = |scope: &str| {
        anyhow::anyhow!(
            "SEXTANT_TRACE_KEY (--trace-key) is handed to the agent CLI and is a {scope} key: \
             give an ingest key (sextant keys create --scope ingest)"
        )
    };
    if let Some(scope) = access.key_scope(key) {
        return match scope {
            Scope::Ingest => Ok(()),
            other => Err(refuse(other.as_str())),
        };
    }
    let Some(base) = trace_to else {
        return Ok(());
    };
    let probe = sextant_evals::providers::http::client(std::time::Duration::from_secs(10), None)?
        .get(format!("{}/api/traces?limit=1", base.trim_end_matches('/')))
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("cannot reach {base} to check the trace key"))?;
    if probe.status().is_success() {
        return Err(refuse("read"));
    }
    Ok(())
}

/// Serves the model gateway on an ephemeral loopback port; its call spans are collected and
/// traced with the replays.
async fn serve_gateway(
    trace_to: Option<String>,
    trace_key: Option<String>,
) -> anyhow::Result<(AgentHost, tokio::task::JoinHandle<()>)> {
    let registry = std::sync::Arc::new(GatewayRegistry::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback for the model gateway")?;
    let address = listener.local_addr()?;
    let router = gateway_router(GatewayState {
        registry: registry.clone(),
        pipeline: None,
        budget: RequestBudget::new(DEFAULT_REQUEST_BUDGET_BYTES),
    });
    let server = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the model gateway stopped");
        }
    });
    let host = AgentHost::collecting(format!("http://{address}"), registry, trace_to, trace_key);
    Ok((host, server))
}

/// Spans per export request, well under a server's body limit.
const SPANS_PER_REQUEST: usize = 2_000;

/// Sends the replays to a Sextant server's `/v1/traces` (OTLP/HTTP protobuf), in requests
/// of at most [`SPANS_PER_REQUEST`] spans.
async fn trace_replays(
    base_url: &str,
    key: Option<&str>,
    replays: ExportTraceServiceRequest,
) -> anyhow::Result<()> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}").parse()?,
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let url = format!("{}/v1/traces", base_url.trim_end_matches('/'));
    for resource in replays.resource_spans {
        for scope in &resource.scope_spans {
            for spans in scope.spans.chunks(SPANS_PER_REQUEST) {
                let request = ExportTraceServiceRequest {
                    resource_spans: vec![ResourceSpans {
                        resource: resource.resource.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: scope.scope.clone(),
                            spans: spans.to_vec(),
                            ..ScopeSpans::default()
                        }],
                        ..ResourceSpans::default()
                    }],
                };
                export_with_retry(
                    &client,
                    &url,
                    OtlpBody::protobuf(request.encode_to_vec()),
                    10,
                )
                .await
                .with_context(|| format!("tracing the replays to {url}"))?;
            }
        }
    }
    Ok(())
}
