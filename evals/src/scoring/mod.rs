//! A suite's scorers as a set, and the scoring of whole examples that follows a replay:
//! the LLM judges (a model call per step, or one per run in trajectory replay) and the
//! ratios of the replay's cost, model latency and model calls to the recording's.
//!
//! Turn scorers (`scorers.rs`) score each step as it is replayed; [`Scoring::finish`]
//! then adds the judges' and the ratios' scores and settles the example's score (the mean
//! of its scorers) and whether it passed. A judge that cannot answer, or answers outside
//! its choices, makes the example void: the judge's failure is never the model's.
//!
//! A ratio is `min(1, recorded ÷ replayed)`: 1 when the replay spends no more than the
//! recording did, ½ at twice as much. A ratio with an unknown side (a model without a
//! price, a recording without durations) is left out of the example's scores.

pub mod judge;
pub mod outcome;
pub mod scorers;

use sextant_meta::SharedMetadata;

use crate::datasets::recording::{Recording, first_user_message, recorded_trajectory};
use crate::error::{EvalError, Result};
use crate::messages::{Part, Role, conversation};
use crate::scoring::judge::{Judge, JudgeInput, conversation_text};
use crate::scoring::outcome::SideOutcome;
use crate::scoring::scorers::Scorer;
use crate::suite::ScorerConfig;

/// What a ratio scorer compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ratio {
    Cost,
    Latency,
    Turns,
}

impl Ratio {
    pub fn name(self) -> &'static str {
        match self {
            Ratio::Cost => "cost_ratio",
            Ratio::Latency => "latency_ratio",
            Ratio::Turns => "turn_ratio",
        }
    }

    /// The recording's and the replay's amounts; `None` when either is unknown.
    fn amounts(self, recording: &Recording, outcome: &SideOutcome) -> Option<(f64, f64)> {
        let calls = &recording.llm_calls;
        match self {
            Ratio::Cost => {
                total_of_all(calls.iter().map(|call| call.cost_usd)).zip(outcome.cost_usd)
            }
            Ratio::Latency => total_of_all(
                calls
                    .iter()
                    .map(|call| call.duration_ns.map(|ns| ns as f64 / 1e6)),
            )
            .map(|recorded| (recorded, outcome.latencies_ms.iter().sum())),
            Ratio::Turns => Some((calls.len() as f64, outcome.steps.len() as f64)),
        }
    }

    /// `min(1, recorded ÷ replayed)`; 1 when the replay spent nothing.
    pub fn score(self, recording: &Recording, outcome: &SideOutcome) -> Option<f64> {
        let (recorded, replayed) = self.amounts(recording, outcome)?;
        Some(if replayed <= 0.0 {
            1.0
        } else {
            (recorded / replayed).clamp(0.0, 1.0)
        })
    }
}

/// The sum of the amounts when every one is known (and there is one at least).
fn total_of_all(amounts: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut total = None;
    for amount in amounts {
        total = Some(total.unwrap_or(0.0) + amount?);
    }
    total
}

/// Every scorer a suite names, ready to run.
pub struct Scoring {
    /// Scorers of one turn against another (`action_match` when the suite names none).
    pub turn: Vec<(String, Scorer)>,
    pub judges: Vec<Judge>,
    pub ratios: Vec<Ratio>,
    pub pass_score: f64,
}

impl Scoring {
    /// Prepares the suite's scorers: compiles patterns and schemas, checks judges'
    /// templates and models. Two scorers may not share a name.
    pub fn new(configs: &[ScorerConfig], pass_score: f64) -> Result<Scoring> {
        let mut scoring = Scoring {
            turn: Vec::new(),
            judges: Vec::new(),
            ratios: Vec::new(),
            pass_score,
        };
        let mut names = Vec::new();
        for config in configs {
            let name = match config {
                ScorerConfig::Judge {
                    name,
                    template,
                    judge,
                    choices,
                } => {
                    let name = name.clone().unwrap_or_else(|| "judge".into());
                    scoring
                        .judges
                        .push(Judge::new(&name, template, judge, choices)?);
                    name
                }
                ScorerConfig::CostRatio | ScorerConfig::LatencyRatio | ScorerConfig::TurnRatio => {
                    let ratio = match config {
                        ScorerConfig::CostRatio => Ratio::Cost,
                        ScorerConfig::LatencyRatio => Ratio::Latency,
                        _ => Ratio::Turns,
                    };
                    scoring.ratios.push(ratio);
                    ratio.name().to_string()
                }
                _ => {
                    let Some((name, scorer)) = Scorer::from_config(config)? else {
                        continue;
                    };
                    scoring.turn.push((name.clone(), scorer));
                    name
                }
            };
            if names.contains(&name) {
                return Err(EvalError::Invalid(format!(
                    "two scorers are named {name:?}; give each judge its own `name`, and name each other scorer once"
                )));
            }
            names.push(name);
        }
        if configs.is_empty() {
            scoring
                .turn
                .push(("action_match".into(), Scorer::ActionMatch));
        }
        Ok(scoring)
    }

    /// Adds the judges' and the ratios' scores to a replayed side and settles its score.
    pub async fn finish(
        &self,
        metadata: &SharedMetadata,
        outcome: &mut SideOutcome,
        recording: &Recording,
        trajectory: bool,
        epoch: u32,
    ) {
        if outcome.void.is_some() {
            return;
        }
        if let Err(reason) = self
            .judge(metadata, outcome, recording, trajectory, epoch)
            .await
        {
            *outcome = SideOutcome::void(reason);
            return;
        }
        for ratio in &self.ratios {
            if let Some(score) = ratio.score(recording, outcome) {
                outcome.scores.insert(ratio.name().to_string(), score);
            }
        }
        outcome.settle(self.pass_score);
    }

    async fn judge(
        &self,
        metadata: &SharedMetadata,
        outcome: &mut SideOutcome,
        recording: &Recording,
        trajectory: bool,
        epoch: u32,
    ) -> std::result::Result<(), String> {
        if self.judges.is_empty() {
            return Ok(());
        }
        let first_input = first_user_message(recording);
        let task = task_text(&first_input);
        for judge in &self.judges {
            if trajectory {
                let recorded = recorded_trajectory(recording);
                let candidate = outcome.trajectory.clone().unwrap_or_default();
                let judgement = judge
                    .judge(
                        metadata,
                        &JudgeInput {
                            task: &task,
                            conversation: &first_input,
                            recorded: &recorded,
                            candidate: &candidate,
                            outcome: &recording.outcome,
                        },
                        epoch,
                    )
                    .await?;
                outcome.scores.insert(judge.name.clone(), judgement.score);
                if let Some(last) = outcome.steps.last_mut() {
                    last.judgements.insert(judge.name.clone(), judgement);
                }
                continue;
            }
            for step in &mut outcome.steps {
                let messages = recording
                    .llm_calls
                    .get(step.step - 1)
                    .map(|call| conversation(&call.messages))
                    .unwrap_or_default();
                let judgement = judge
                    .judge(
                        metadata,
                        &JudgeInput {
                            task: &task,
                            conversation: &messages,
                            recorded: &step.recorded,
                            candidate: &step.replayed,
                            outcome: &recording.outcome,
                        },
                        epoch,
                    )
                    .await?;
                step.scores.insert(judge.name.clone(), judgement.score);
                step.judgements.insert(judge.name.clone(), judgement);
            }
            if let Some(mean) = outcome.step_means().get(&judge.name) {
                outcome.scores.insert(judge.name.clone(), *mean);
            }
        }
        Ok(())
    }
}

/// The run's task: the text of its first input's user messages.
fn task_text(first_input: &[crate::messages::Message]) -> String {
    let texts: Vec<&str> = first_input
        .iter()
        .filter(|message| message.role == Role::User)
        .flat_map(|message| &message.parts)
        .filter_map(|part| match part {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        conversation_text(first_input)
    } else {
        texts.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::datasets::recording::{LlmCall, Outcome};
    use crate::scoring::outcome::StepResult;

    fn recording(costs: &[Option<f64>], durations_ms: &[i64]) -> Recording {
        Recording {
            trace_id: "t".into(),
            root_name: "agent".into(),
            first_input: Some(serde_json::json!("fix it")),
            outcome: Outcome {
                failed: false,
                error: None,
            },
            llm_calls: costs
                .iter()
                .zip(durations_ms)
                .map(|(cost, duration)| LlmCall {
                    span_id: String::new(),
                    provider: None,
                    model: None,
                    system_prompt: None,
                    messages: serde_json::Value::Null,
                    tool_definitions: None,
                    output: serde_json::Value::Null,
                    input_tokens: None,
                    output_tokens: None,
                    cost_usd: *cost,
                    duration_ns: Some(duration * 1_000_000),
                })
                .collect(),
            tool_calls: Vec::new(),
            repository: None,
        }
    }

    fn replayed(steps: usize, cost: Option<f64>, latency_ms: f64) -> SideOutcome {
        let step = |index: usize| StepResult {
            step: index + 1,
            recorded: Default::default(),
            replayed: Default::default(),
            scores: BTreeMap::new(),
            divergence: None,
            latency_ms,
            cached: false,
            judgements: BTreeMap::new(),
        };
        SideOutcome::from_steps((0..steps).map(step).collect(), 1.0, cost)
    }

    #[test]
    fn ratios_score_one_when_no_dearer_and_fall_with_the_excess() {
        let recorded = recording(&[Some(0.01), Some(0.01)], &[1000, 1000]);
        let cheaper = replayed(2, Some(0.01), 500.0);
        assert_eq!(Ratio::Cost.score(&recorded, &cheaper), Some(1.0));
        assert_eq!(Ratio::Latency.score(&recorded, &cheaper), Some(1.0));
        assert_eq!(Ratio::Turns.score(&recorded, &cheaper), Some(1.0));

        let dearer = replayed(4, Some(0.08), 2000.0);
        assert_eq!(Ratio::Cost.score(&recorded, &dearer), Some(0.25));
        assert_eq!(Ratio::Latency.score(&recorded, &dearer), Some(0.25));
        assert_eq!(Ratio::Turns.score(&recorded, &dearer), Some(0.5));
    }

    #[test]
    fn a_ratio_with_an_unknown_side_is_left_out() {
        let unpriced_recording = recording(&[Some(0.01), None], &[1000, 1000]);
        assert_eq!(
            Ratio::Cost.score(&unpriced_recording, &replayed(2, Some(0.01), 1.0)),
            None
        );
        let priced = recording(&[Some(0.01)], &[1000]);
        assert_eq!(Ratio::Cost.score(&priced, &replayed(1, None, 1.0)), None);
    }

    #[test]
    fn a_suite_may_not_name_two_scorers_alike_and_gets_action_match_by_default() {
        let twice = [ScorerConfig::CostRatio, ScorerConfig::CostRatio];
        let error = Scoring::new(&twice, 1.0)
            .err()
            .expect("duplicate")
            .to_string();
        assert!(error.contains("cost_ratio"), "{error}");
        let default = Scoring::new(&[], 1.0).expect("no scorers");
        assert_eq!(default.turn.len(), 1);
        assert_eq!(default.turn[0].0, "action_match");
        let ratios = Scoring::new(&[ScorerConfig::TurnRatio, ScorerConfig::LatencyRatio], 1.0)
            .expect("ratios");
        assert!(
            ratios.turn.is_empty(),
            "naming only ratios adds no turn scorer"
        );
        assert_eq!(ratios.ratios, [Ratio::Turns, Ratio::Latency]);
    }
}
