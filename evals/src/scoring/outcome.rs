//! What replaying one example on one side gives, whatever the mode (step, trajectory,
//! agent): each step's turns and scores, the example's scores, pass/void, cost and
//! latencies, and in agent mode what the CLI's run did.

use std::collections::BTreeMap;

use crate::messages::Turn;
use crate::scoring::scorers::DivergenceKind;

/// One replayed model call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepResult {
    /// 1-based position among the recording's model calls.
    pub step: usize,
    pub recorded: Turn,
    pub replayed: Turn,
    pub scores: BTreeMap<String, f64>,
    pub divergence: Option<DivergenceKind>,
    pub latency_ms: f64,
    pub cached: bool,
    /// The judges' verdicts and reasoning on this step (in trajectory replay, on the whole
    /// run, kept on its last step).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub judgements: BTreeMap<String, crate::scoring::judge::Judgement>,
}

/// One side's replay of one example in one epoch.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SideOutcome {
    pub steps: Vec<StepResult>,
    /// Each scorer's score of the example: its mean over steps in step replay, its score
    /// of the whole run in trajectory replay; the judges' and ratios' too.
    pub scores: BTreeMap<String, f64>,
    /// The mean of `scores` (1 for an example with no model call and no scorer).
    pub score: f64,
    pub passed: bool,
    /// Why the example could not be replayed (the provider stayed unavailable or refused):
    /// void, never counted as the model's failure.
    pub void: Option<String>,
    pub cost_usd: Option<f64>,
    pub latencies_ms: Vec<f64>,
    /// In trajectory replay, the whole run as one turn: every tool call, the final answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<Turn>,
    /// In agent replay, what the CLI's run did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRunFacts>,
}

impl SideOutcome {
    /// The first step whose turn departs from the recording.
    pub fn first_divergence(&self) -> Option<&StepResult> {
        self.steps.iter().find(|step| step.divergence.is_some())
    }

    /// An outcome scored by the means of its steps' scores.
    pub(crate) fn from_steps(
        steps: Vec<StepResult>,
        pass_score: f64,
        cost_usd: Option<f64>,
    ) -> SideOutcome {
        let mut outcome = SideOutcome {
            latencies_ms: steps.iter().map(|step| step.latency_ms).collect(),
            scores: BTreeMap::new(),
            score: 1.0,
            passed: true,
            steps,
            void: None,
            cost_usd,
            trajectory: None,
            agent: None,
        };
        outcome.scores = outcome.step_means();
        outcome.settle(pass_score);
        outcome
    }

    /// Each scorer's mean over the steps that have its score.
    pub(crate) fn step_means(&self) -> BTreeMap<String, f64> {
        mean_per_scorer(self.steps.iter().map(|step| &step.scores))
    }

    /// Sets `score` (the mean of `scores`) and `passed` from the scores.
    pub(crate) fn settle(&mut self, pass_score: f64) {
        self.score = if self.scores.is_empty() {
            1.0
        } else {
            self.scores.values().sum::<f64>() / self.scores.len() as f64
        };
        self.passed = self.score >= pass_score - 1e-9;
    }

    pub(crate) fn void(reason: String) -> SideOutcome {
        SideOutcome {
            steps: Vec::new(),
            score: 0.0,
            passed: false,
            void: Some(reason),
            cost_usd: None,
            latencies_ms: Vec::new(),
            scores: BTreeMap::new(),
            trajectory: None,
            agent: None,
        }
    }
}

/// Each scorer's mean over the score maps that have it.
pub fn mean_per_scorer<'a>(
    maps: impl Iterator<Item = &'a BTreeMap<String, f64>>,
) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for (name, score) in maps.flatten() {
        let sum = sums.entry(name.clone()).or_default();
        sum.0 += score;
        sum.1 += 1;
    }
    sums.into_iter()
        .map(|(name, (sum, count))| (name, sum / count as f64))
        .collect()
}

/// What an agent run did, for the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AgentRunFacts {
    /// Model turns, by the CLI's own count.
    pub turns: usize,
    pub tool_calls: usize,
    /// Files of the workdir the run added, changed or removed, sorted.
    pub files_changed: Vec<String>,
    pub duration_ms: f64,
}
