//! Running a suite now: load its dataset version, replay every example (step, trajectory,
//! or through an agent CLI behind the model gateway) on both sides for each epoch, decide with the gate, store the run in the metadata store,
//! and trace its replays (`replay/spans.rs`) for the caller to ingest.

use std::time::Instant;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use sextant_ingest::layout::DataDir;
use sextant_meta::SharedMetadata;
use sextant_meta::clock::now_ms;
use sextant_meta::eval_runs::NewRun;
use sextant_query::prices::PriceTable;

use crate::datasets::load_examples;
use crate::error::{EvalError, Result};
use crate::gate::{ExampleOutcome, decide};
use crate::providers::ProviderClient;
use crate::replay::agent::{AgentHost, AgentSide, SideModel, recorded_agent_side};
use crate::replay::spans::{ReplayedSide, RunTags, replay_traces};
use crate::replay::step::{ModelSide, recorded_side};
use crate::replay::trajectory::recorded_trajectory_side;
use crate::report::{ExampleReport, RunReport};
use crate::scoring::Scoring;
use crate::scoring::outcome::SideOutcome;
use crate::suite::{ReplayMode, Suite};

/// The label an annotation gives an example whose failure always fails the gate.
pub const CRITICAL_LABEL: &str = "critical";

/// A finished run: its report (with the verdict) and its replays as OTLP traces.
pub struct SuiteRun {
    pub report: RunReport,
    /// Every model side's replay of every example and epoch, tagged `eval.run_id`.
    pub replays: ExportTraceServiceRequest,
}

/// Runs `suite` against the project's data (step and trajectory suites).
pub async fn run_suite(
    metadata: &SharedMetadata,
    data_dir: &DataDir,
    project_id: &str,
    suite: &Suite,
) -> Result<SuiteRun> {
    run_suite_with(metadata, data_dir, project_id, suite, None).await
}

/// Runs `suite`; an `agent` suite's CLIs reach the model gateway `agent_host` serves.
pub async fn run_suite_with(
    metadata: &SharedMetadata,
    data_dir: &DataDir,
    project_id: &str,
    suite: &Suite,
    agent_host: Option<&AgentHost>,
) -> Result<SuiteRun> {
    let scoring = Scoring::new(&suite.scorers, suite.gate.pass_score)?;
    let (dataset_version, examples) = metadata
        .with(|store| load_examples(store, project_id, &suite.dataset, suite.dataset_version))?;
    let started_at_ms = now_ms();
    let started = Instant::now();
    let outcomes = match suite.mode {
        ReplayMode::Agent => {
            let host = agent_host.ok_or_else(|| {
                EvalError::Invalid(
                    "mode \"agent\" needs the model gateway its CLIs call: run it with `sextant eval run`, \
                     or schedule it in `sextant serve`"
                        .into(),
                )
            })?;
            agent_outcomes(host, project_id, suite, &examples, started_at_ms).await?
        }
        _ => model_outcomes(metadata, data_dir, suite, &scoring, &examples).await?,
    };
    finish_run(
        metadata,
        project_id,
        suite,
        &scoring,
        dataset_version,
        &outcomes,
        started_at_ms,
        started,
    )
}

/// Every example replayed through the agent CLI, on the candidate and the baseline model
/// (or against the recorded outcome).
async fn agent_outcomes(
    host: &AgentHost,
    project_id: &str,
    suite: &Suite,
    examples: &[crate::datasets::Example],
    started_at_ms: i64,
) -> Result<Vec<ExampleOutcome>> {
    let config = suite
        .agent
        .as_ref()
        .ok_or_else(|| EvalError::Invalid("mode \"agent\" needs an [agent] table".into()))?;
    if !suite.scorers.is_empty() {
        return Err(EvalError::Invalid(
            "an agent suite is scored by its outcome command; remove its [[scorers]]".into(),
        ));
    }
    let name: String = suite
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let key = format!("{name}-{started_at_ms}");
    let candidate = AgentSide::register(
        host,
        config,
        SideModel::Model {
            config: &suite.candidate,
            record_to: config.record_cassette.as_deref(),
        },
        &format!("{key}-candidate"),
        project_id,
    )?;
    let baseline_side = match (&config.baseline_cassette, &suite.baseline) {
        (Some(cassette), _) => Some(SideModel::Cassette(cassette)),
        (None, Some(model)) => Some(SideModel::Model {
            config: model,
            record_to: None,
        }),
        (None, None) => None,
    };
    let baseline = baseline_side
        .map(|side| AgentSide::register(host, config, side, &format!("{key}-baseline"), project_id))
        .transpose()?;
    let mut outcomes = Vec::with_capacity(examples.len());
    for example in examples {
        let mut candidate_epochs = Vec::new();
        let mut baseline_epochs = Vec::new();
        for epoch in 0..suite.epochs {
            candidate_epochs.push(candidate.replay(example, epoch).await);
            match &baseline {
                Some(baseline) => baseline_epochs.push(baseline.replay(example, epoch).await),
                None if epoch == 0 => baseline_epochs.push(recorded_agent_side(&example.recording)),
                None => {}
            }
        }
        outcomes.push(example_outcome(example, baseline_epochs, candidate_epochs));
    }
    Ok(outcomes)
}

/// Every example replayed on the model sides (step or trajectory).
async fn model_outcomes(
    metadata: &SharedMetadata,
    data_dir: &DataDir,
    suite: &Suite,
    scoring: &Scoring,
    examples: &[crate::datasets::Example],
) -> Result<Vec<ExampleOutcome>> {
    let prices = PriceTable::load_cached(data_dir.root())?;
    let candidate_client = ProviderClient::new(&suite.candidate)?;
    let baseline_client = suite
        .baseline
        .as_ref()
        .map(ProviderClient::new)
        .transpose()?;
    let pass_score = suite.gate.pass_score;
    let side = |client| ModelSide {
        client,
        metadata,
        prices: &prices,
        scorers: &scoring.turn,
        pass_score,
    };
    let candidate = side(&candidate_client);
    let baseline = baseline_client.as_ref().map(side);

    let mut outcomes = Vec::with_capacity(examples.len());
    for example in examples {
        let recording = &example.recording;
        let mut candidate_epochs = Vec::new();
        let mut baseline_epochs = Vec::new();
        let trajectory = suite.mode == ReplayMode::Trajectory;
        let policy = suite.on_divergence;
        for epoch in 0..suite.epochs {
            let mut outcome = replay(&candidate, recording, epoch, trajectory, policy).await;
            scoring
                .finish(metadata, &mut outcome, recording, trajectory, epoch)
                .await;
            candidate_epochs.push(outcome);
            let baseline_outcome = match &baseline {
                Some(baseline) => {
                    Some(replay(baseline, recording, epoch, trajectory, policy).await)
                }
                None if epoch == 0 && trajectory => Some(recorded_trajectory_side(
                    recording,
                    &scoring.turn,
                    pass_score,
                )),
                None if epoch == 0 => Some(recorded_side(recording, &scoring.turn, pass_score)),
                None => None,
            };
            if let Some(mut outcome) = baseline_outcome {
                scoring
                    .finish(metadata, &mut outcome, recording, trajectory, epoch)
                    .await;
                baseline_epochs.push(outcome);
            }
        }
        outcomes.push(example_outcome(example, baseline_epochs, candidate_epochs));
    }
    Ok(outcomes)
}

/// One example's sides for the gate; an example labelled critical must not regress.
fn example_outcome(
    example: &crate::datasets::Example,
    baseline: Vec<SideOutcome>,
    candidate: Vec<SideOutcome>,
) -> ExampleOutcome {
    ExampleOutcome {
        trace_id: example.trace_id.clone(),
        critical: example.label.as_deref() == Some(CRITICAL_LABEL),
        baseline,
        candidate,
    }
}

/// The gate's verdict on the outcomes, the report, the run stored and its replays traced.
#[allow(clippy::too_many_arguments)]
fn finish_run(
    metadata: &SharedMetadata,
    project_id: &str,
    suite: &Suite,
    scoring: &Scoring,
    dataset_version: i64,
    outcomes: &[ExampleOutcome],
    started_at_ms: i64,
    started: Instant,
) -> Result<SuiteRun> {
    let gate = decide(outcomes, &suite.gate);
    let mut report = RunReport {
        run_id: None,
        suite: suite.name.clone(),
        dataset: suite.dataset.clone(),
        dataset_version,
        mode: match suite.mode {
            ReplayMode::Step => "step",
            ReplayMode::Trajectory => "trajectory",
            ReplayMode::Agent => "agent",
        }
        .into(),
        epochs: suite.epochs,
        candidate: suite.candidate.model.clone(),
        baseline: suite
            .baseline
            .as_ref()
            .map_or("recording".to_string(), |model| model.model.clone()),
        judges: scoring
            .judges
            .iter()
            .map(|judge| format!("{} ({})", judge.name, judge.model()))
            .collect(),
        started_at_ms,
        duration_ms: started.elapsed().as_millis() as i64,
        gate,
        examples: outcomes
            .iter()
            .map(|outcome| {
                ExampleReport::new(&outcome.trace_id, &outcome.baseline, &outcome.candidate)
            })
            .collect(),
    };
    let run_id = store_run(metadata, project_id, &report)?;
    report.run_id = Some(run_id);
    let replays = traced_replays(run_id, suite, &report, outcomes);
    Ok(SuiteRun { report, replays })
}

/// The model sides' replays (the recording, as a baseline, is already traced).
fn traced_replays(
    run_id: i64,
    suite: &Suite,
    report: &RunReport,
    outcomes: &[ExampleOutcome],
) -> ExportTraceServiceRequest {
    let mut sides = Vec::new();
    for outcome in outcomes {
        let baseline = suite
            .baseline
            .as_ref()
            .map(|model| ("baseline", model, &outcome.baseline));
        for (side, model, epochs) in
            std::iter::once(("candidate", &suite.candidate, &outcome.candidate)).chain(baseline)
        {
            for (epoch, replay) in epochs.iter().enumerate() {
                sides.push(ReplayedSide {
                    example: &outcome.trace_id,
                    side,
                    epoch: epoch as u32,
                    model,
                    outcome: replay,
                });
            }
        }
    }
    let tags = RunTags {
        run_id,
        suite: &report.suite,
        dataset: &report.dataset,
        dataset_version: report.dataset_version,
        mode: &report.mode,
        started_at_ms: report.started_at_ms,
    };
    replay_traces(&tags, &sides)
}

async fn replay(
    side: &ModelSide<'_>,
    recording: &crate::datasets::recording::Recording,
    epoch: u32,
    trajectory: bool,
    policy: crate::suite::DivergencePolicy,
) -> crate::scoring::outcome::SideOutcome {
    if trajectory {
        side.replay_trajectory(recording, epoch, policy).await
    } else {
        side.replay(recording, epoch).await
    }
}

/// Stores a finished run's report in `eval_runs`; returns its id.
pub fn store_run(metadata: &SharedMetadata, project_id: &str, report: &RunReport) -> Result<i64> {
    let verdict = serde_json::to_value(report.gate.verdict)?;
    let report_json = report.to_json();
    let run = NewRun {
        project_id,
        suite: &report.suite,
        dataset: &report.dataset,
        dataset_version: report.dataset_version,
        started_at_ms: report.started_at_ms,
        verdict: verdict.as_str().unwrap_or_default(),
        report: &report_json,
    };
    Ok(metadata.with(|store| store.eval_runs().insert(&run))?)
}
