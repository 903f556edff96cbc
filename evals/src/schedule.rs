//! Scheduled suites: inside `sextant serve`, each suite with a `schedule` (cron, seconds
//! optional) runs at its times; a regression POSTs the run's summary to the suite's
//! `webhook`. Runs of one suite never overlap: the next time is computed after a run ends.
//! Each run's replays are ingested into the suite's project through the server's own
//! pipeline, tagged `eval.run_id`.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sextant_ingest::layout::DEFAULT_PROJECT;
use sextant_ingest::pipeline::IngestPipeline;
use sextant_meta::SharedMetadata;

use crate::gate::Verdict;
use crate::gateway::registry::GatewayRegistry;
use crate::replay::agent::AgentHost;
use crate::report::RunReport;
use crate::run::run_suite_with;
use crate::suite::Suite;

/// The JSON a webhook receives.
pub fn webhook_summary(report: &RunReport) -> serde_json::Value {
    serde_json::json!({
        "suite": report.suite,
        "run_id": report.run_id,
        "verdict": report.gate.verdict,
        "reasons": report.gate.reasons,
        "dataset": report.dataset,
        "dataset_version": report.dataset_version,
        "candidate": report.candidate,
        "baseline": report.baseline,
        "examples": report.gate.examples,
        "candidate_pass_rate": report.gate.candidate_pass_rate,
        "baseline_pass_rate": report.gate.baseline_pass_rate,
        "mcnemar_p": report.gate.mcnemar_p,
        "regressed": report
            .examples
            .iter()
            .filter(|example| example.baseline_passed && !example.candidate_passed)
            .map(|example| serde_json::json!({
                "trace_id": example.trace_id,
                "first_divergence": example.first_divergence,
            }))
            .collect::<Vec<_>>(),
    })
}

async fn post_webhook(url: &str, report: &RunReport) {
    // The URL's path is often its secret (Slack, Teams): only its origin is logged, and
    // reqwest's errors are stripped of the URL they would print.
    let origin = crate::providers::http::loggable_origin(url);
    let client = match crate::providers::http::client(Duration::from_secs(30), None) {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(webhook = %origin, %error, "no HTTP client for the eval webhook");
            return;
        }
    };
    let sent = client
        .post(url)
        .timeout(Duration::from_secs(30))
        .json(&webhook_summary(report))
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            tracing::warn!(webhook = %origin, status = %response.status(), "eval webhook refused the summary")
        }
        Err(error) => {
            let error = error.without_url();
            tracing::warn!(webhook = %origin, %error, "eval webhook unreachable")
        }
    }
}

/// Where scheduled `agent` suites find the server's own model gateway.
#[derive(Clone)]
pub struct ServerGateway {
    /// The server's HTTP base (`http://127.0.0.1:4318`).
    pub url: String,
    pub registry: Arc<GatewayRegistry>,
    /// Where the agents' own telemetry goes: the server itself when it needs no key.
    pub otlp_endpoint: Option<String>,
}

/// Starts one task per scheduled suite; they run until the runtime stops.
pub fn spawn_schedules(
    metadata: SharedMetadata,
    pipeline: Arc<IngestPipeline>,
    suites: Vec<Suite>,
    gateway: ServerGateway,
) -> Vec<tokio::task::JoinHandle<()>> {
    suites
        .into_iter()
        .filter_map(|suite| {
            let cron = croner::Cron::from_str(suite.schedule.as_deref()?).ok()?;
            let metadata = metadata.clone();
            let pipeline = pipeline.clone();
            let gateway = gateway.clone();
            Some(tokio::spawn(async move {
                loop {
                    let now = chrono::Utc::now();
                    let Ok(next) = cron.find_next_occurrence(&now, false) else {
                        tracing::warn!(suite = suite.name, "schedule has no next time; stopping it");
                        return;
                    };
                    let wait = (next - now).to_std().unwrap_or_default();
                    tokio::time::sleep(wait).await;
                    let project = suite.project.as_deref().unwrap_or(DEFAULT_PROJECT);
                    let host = AgentHost::collecting(
                        gateway.url.clone(),
                        gateway.registry.clone(),
                        gateway.otlp_endpoint.clone(),
                        None,
                    );
                    match run_suite_with(&metadata, pipeline.data_dir(), project, &suite, Some(&host)).await {
                        Ok(mut run) => {
                            for calls in host.take_spans() {
                                run.replays.resource_spans.extend(calls.resource_spans);
                            }
                            let report = run.report;
                            if let Err(error) = pipeline.ingest_traces(project, run.replays).await {
                                tracing::warn!(suite = suite.name, %error, "cannot trace the eval's replays");
                            }
                            tracing::info!(suite = suite.name, verdict = ?report.gate.verdict, run = ?report.run_id, "scheduled eval ran");
                            if report.gate.verdict == Verdict::Regression
                                && let Some(url) = &suite.webhook
                            {
                                post_webhook(url, &report).await;
                            }
                        }
                        Err(error) => {
                            tracing::error!(suite = suite.name, %error, "scheduled eval failed")
                        }
                    }
                }
            }))
        })
        .collect()
}
