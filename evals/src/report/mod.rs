//! A run's report: what was compared, the gate's verdict, and every example's outcome —
//! as JSON, as JUnit XML (one test case per example, the first divergence in the failure
//! message) and as a terminal summary.

pub mod stored_runs;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::gate::{GateReport, Verdict};
use crate::scoring::outcome::SideOutcome;
use crate::scoring::scorers::DivergenceKind;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunReport {
    /// The stored run's id (set once stored; `/evals/{id}`).
    pub run_id: Option<i64>,
    pub suite: String,
    pub dataset: String,
    pub dataset_version: i64,
    pub mode: String,
    pub epochs: u32,
    pub candidate: String,
    /// `recording`, or the baseline model.
    pub baseline: String,
    /// The judges that scored, as `name (model)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judges: Vec<String>,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub gate: GateReport,
    pub examples: Vec<ExampleReport>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExampleReport {
    pub trace_id: String,
    pub baseline_score: f64,
    pub candidate_score: f64,
    pub baseline_passed: bool,
    pub candidate_passed: bool,
    /// Each scorer's score, averaged over the epochs that were not void.
    pub baseline_scores: BTreeMap<String, f64>,
    pub candidate_scores: BTreeMap<String, f64>,
    pub first_divergence: Option<DivergenceReport>,
    pub void: Option<String>,
    /// The candidate's steps of the first epoch, recorded against replayed turns.
    pub candidate_steps: Vec<crate::scoring::outcome::StepResult>,
    /// In agent replay, what the CLI did in each epoch (turns, tool calls, files changed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidate_agent_runs: Vec<crate::scoring::outcome::AgentRunFacts>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baseline_agent_runs: Vec<crate::scoring::outcome::AgentRunFacts>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DivergenceReport {
    pub epoch: u32,
    pub step: usize,
    pub kind: DivergenceKind,
    pub expected: String,
    pub got: String,
}

impl DivergenceReport {
    pub fn describe(&self) -> String {
        let kind = serde_json::to_value(&self.kind)
            .ok()
            .and_then(|value| value.as_str().map(str::to_string))
            .unwrap_or_default();
        format!(
            "epoch {} step {}: {kind}: expected {}, got {}",
            self.epoch, self.step, self.expected, self.got
        )
    }
}

fn mean_score(sides: &[SideOutcome]) -> f64 {
    sides.iter().map(|side| side.score).sum::<f64>() / sides.len().max(1) as f64
}

/// Each scorer's mean over the epochs that have its score.
fn mean_scores(sides: &[SideOutcome]) -> BTreeMap<String, f64> {
    crate::scoring::outcome::mean_per_scorer(sides.iter().map(|side| &side.scores))
}

impl ExampleReport {
    pub fn new(
        trace_id: &str,
        baseline: &[SideOutcome],
        candidate: &[SideOutcome],
    ) -> ExampleReport {
        let majority = |sides: &[SideOutcome]| {
            let passed = sides.iter().filter(|side| side.passed).count();
            !sides.is_empty() && passed * 2 >= sides.len()
        };
        let first_divergence = candidate.iter().enumerate().find_map(|(epoch, side)| {
            let step = side.first_divergence()?;
            Some(DivergenceReport {
                epoch: epoch as u32 + 1,
                step: step.step,
                kind: step.divergence.clone()?,
                expected: step.recorded.describe(),
                got: step.replayed.describe(),
            })
        });
        ExampleReport {
            trace_id: trace_id.to_string(),
            baseline_score: mean_score(baseline),
            candidate_score: mean_score(candidate),
            baseline_passed: majority(baseline),
            candidate_passed: majority(candidate),
            baseline_scores: mean_scores(baseline),
            candidate_scores: mean_scores(candidate),
            first_divergence,
            void: baseline
                .iter()
                .chain(candidate)
                .find_map(|side| side.void.clone()),
            candidate_steps: candidate
                .first()
                .map(|side| side.steps.clone())
                .unwrap_or_default(),
            candidate_agent_runs: candidate
                .iter()
                .filter_map(|side| side.agent.clone())
                .collect(),
            baseline_agent_runs: baseline
                .iter()
                .filter_map(|side| side.agent.clone())
                .collect(),
        }
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

impl RunReport {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// JUnit XML: a test case per example; a regressed example is a failure carrying its
    /// first divergence, a void one an error.
    pub fn to_junit(&self) -> String {
        let failures = self
            .examples
            .iter()
            .filter(|e| e.void.is_none() && e.baseline_passed && !e.candidate_passed)
            .count();
        let errors = self.examples.iter().filter(|e| e.void.is_some()).count();
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
            xml_escape(&self.suite),
            self.examples.len(),
            self.duration_ms as f64 / 1e3
        );
        for example in &self.examples {
            let _ = write!(
                xml,
                "  <testcase name=\"{}\" classname=\"{}.{}\">",
                xml_escape(&example.trace_id),
                xml_escape(&self.suite),
                xml_escape(&self.dataset)
            );
            if let Some(reason) = &example.void {
                let _ = write!(xml, "<error message=\"void: {}\"/>", xml_escape(reason));
            } else if example.baseline_passed && !example.candidate_passed {
                let message = example.first_divergence.as_ref().map_or_else(
                    || {
                        format!(
                            "score {:.3} (baseline {:.3})",
                            example.candidate_score, example.baseline_score
                        )
                    },
                    DivergenceReport::describe,
                );
                let _ = write!(xml, "<failure message=\"{}\"/>", xml_escape(&message));
            }
            xml.push_str("</testcase>\n");
        }
        xml.push_str("</testsuite></testsuites>\n");
        xml
    }

    /// Each scorer's mean over the examples that were not void: (baseline, candidate).
    pub fn scorer_means(&self) -> BTreeMap<String, (f64, f64)> {
        let scored: Vec<&ExampleReport> =
            self.examples.iter().filter(|e| e.void.is_none()).collect();
        let mut means = BTreeMap::new();
        for name in scored.iter().flat_map(|e| e.candidate_scores.keys()) {
            let mean = |select: fn(&ExampleReport) -> &BTreeMap<String, f64>| {
                let values: Vec<f64> = scored
                    .iter()
                    .filter_map(|e| select(e).get(name).copied())
                    .collect();
                values.iter().sum::<f64>() / values.len().max(1) as f64
            };
            means.insert(
                name.clone(),
                (mean(|e| &e.baseline_scores), mean(|e| &e.candidate_scores)),
            );
        }
        means
    }

    /// The summary printed at the end of `sextant eval run`.
    pub fn summary(&self) -> String {
        let gate = &self.gate;
        let verdict = match gate.verdict {
            Verdict::Pass => "PASS",
            Verdict::Regression => "REGRESSION",
            Verdict::Inconclusive => "INCONCLUSIVE",
            Verdict::Void => "VOID",
        };
        let mut text = format!(
            "suite {} · dataset {} v{} · {} mode · {} epoch(s)\ncandidate {} vs baseline {}\n",
            self.suite,
            self.dataset,
            self.dataset_version,
            self.mode,
            self.epochs,
            self.candidate,
            self.baseline
        );
        let _ = writeln!(
            text,
            "examples {} · passed: baseline {:.0}% candidate {:.0}% · McNemar p = {:.4} ({} baseline-only, {} candidate-only)",
            gate.examples,
            gate.baseline_pass_rate * 100.0,
            gate.candidate_pass_rate * 100.0,
            gate.mcnemar_p,
            gate.baseline_only,
            gate.candidate_only
        );
        if let Some(interval) = gate.score_difference {
            let _ = writeln!(
                text,
                "score difference {:+.3} [{:+.3}, {:+.3}] · δ = {} · minimum detectable effect {:.3}",
                interval.mean,
                interval.low,
                interval.high,
                gate.min_effect,
                gate.minimum_detectable_effect
            );
        }
        let scorers = self.scorer_means();
        if !scorers.is_empty() {
            let means: Vec<String> = scorers
                .iter()
                .map(|(name, (baseline, candidate))| {
                    format!("{name} {candidate:.3} (baseline {baseline:.3})")
                })
                .collect();
            let _ = writeln!(text, "scorers: {}", means.join(" · "));
        }
        if !self.judges.is_empty() {
            let _ = writeln!(text, "judged by {}", self.judges.join(", "));
        }
        for example in &self.examples {
            if let Some(divergence) = &example.first_divergence {
                let _ = writeln!(
                    text,
                    "  {} diverged at {}",
                    example.trace_id,
                    divergence.describe()
                );
            }
            if let Some(reason) = &example.void {
                let _ = writeln!(text, "  {} void: {reason}", example.trace_id);
            }
        }
        let _ = writeln!(text, "{verdict}: {}", gate.reasons.join("; "));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_escapes_and_reports_failures_with_their_divergence() {
        let example = ExampleReport {
            trace_id: "t<1>".into(),
            baseline_score: 1.0,
            candidate_score: 0.5,
            baseline_passed: true,
            candidate_passed: false,
            first_divergence: Some(DivergenceReport {
                epoch: 1,
                step: 2,
                kind: DivergenceKind::Tool,
                expected: "tool bash".into(),
                got: "tool grep".into(),
            }),
            baseline_scores: BTreeMap::new(),
            candidate_scores: [("action_match".to_string(), 0.5)].into_iter().collect(),
            void: None,
            candidate_steps: Vec::new(),
            candidate_agent_runs: Vec::new(),
            baseline_agent_runs: Vec::new(),
        };
        let report = RunReport {
            run_id: None,
            suite: "s&s".into(),
            dataset: "d".into(),
            dataset_version: 1,
            mode: "step".into(),
            epochs: 1,
            candidate: "m".into(),
            baseline: "recording".into(),
            judges: Vec::new(),
            started_at_ms: 0,
            duration_ms: 1500,
            gate: crate::gate::decide(&[], &Default::default()),
            examples: vec![example],
        };
        let xml = report.to_junit();
        assert!(
            xml.contains("name=\"s&amp;s\" tests=\"1\" failures=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("name=\"t&lt;1&gt;\""), "{xml}");
        assert!(
            xml.contains("epoch 1 step 2: tool: expected tool bash, got tool grep"),
            "{xml}"
        );
    }
}
