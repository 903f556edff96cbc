//! The gate: from baseline and candidate outcomes on the same examples, a verdict with
//! its statistics and reasons, and the exit code CI gates on.
//!
//! - **void** (exit 2): an example could not be replayed on either side (the provider
//!   stayed unavailable after retries, or refused the request) — no verdict on
//!   incomplete evidence.
//! - **regression** (exit 1): a hard gate failed (a `critical` example that always passed
//!   now fails; cost or p95 latency ratio over its limit), or the exact McNemar test finds
//!   significantly more examples failing under the candidate, or — with at least
//!   [`MIN_EXAMPLES_FOR_INTERVAL_REGRESSION`] examples — the whole score interval lies
//!   below −δ.
//! - **pass** (exit 0): no regression and the interval's lower end is at least −δ
//!   (the candidate is not worse by more than δ).
//! - **inconclusive** (exit 3): anything else; the minimum detectable effect says how
//!   many more examples or epochs it would take.
//!
//! [`decide`] first measures ([`measure`]: pass rates, discordant pairs, McNemar, the
//! bootstrap interval, cost and latency ratios), then judges the measurements.

pub mod measure;
pub mod stats;

use crate::gate::measure::{Measurements, majority_passed, measure};
use crate::gate::stats::Interval;
use crate::scoring::outcome::SideOutcome;
use crate::suite::GateConfig;

/// With fewer examples the percentile bootstrap is too narrow to call a regression on its
/// own; McNemar decides.
pub const MIN_EXAMPLES_FOR_INTERVAL_REGRESSION: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Regression,
    Inconclusive,
    Void,
}

impl Verdict {
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Regression => 1,
            Verdict::Void => 2,
            Verdict::Inconclusive => 3,
        }
    }
}

/// Both sides' outcomes on one example, one per epoch.
#[derive(Debug, Clone)]
pub struct ExampleOutcome {
    pub trace_id: String,
    pub critical: bool,
    pub baseline: Vec<SideOutcome>,
    pub candidate: Vec<SideOutcome>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GateReport {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
    pub examples: usize,
    pub void_examples: usize,
    pub baseline_pass_rate: f64,
    pub candidate_pass_rate: f64,
    /// Passed under the baseline only / under the candidate only.
    pub baseline_only: u64,
    pub candidate_only: u64,
    pub mcnemar_p: f64,
    /// Interval of the mean per-example score difference (candidate − baseline).
    pub score_difference: Option<Interval>,
    pub min_effect: f64,
    pub minimum_detectable_effect: f64,
    pub cost_ratio: Option<f64>,
    pub p95_latency_ratio: Option<f64>,
}

pub fn decide(examples: &[ExampleOutcome], gate: &GateConfig) -> GateReport {
    let measured = measure(examples, gate);
    let (verdict, reasons) = verdict(examples, gate, &measured);
    GateReport {
        verdict,
        reasons,
        examples: examples.len(),
        void_examples: measured.void.len(),
        baseline_pass_rate: measured.baseline_pass_rate,
        candidate_pass_rate: measured.candidate_pass_rate,
        baseline_only: measured.discordant.baseline_only,
        candidate_only: measured.discordant.candidate_only,
        mcnemar_p: measured.mcnemar_p,
        score_difference: measured.interval,
        min_effect: gate.min_effect,
        minimum_detectable_effect: measured.mde,
        cost_ratio: measured.cost_ratio,
        p95_latency_ratio: measured.p95_latency_ratio,
    }
}

/// The verdict the measurements call for under the suite's gate, with its reasons.
fn verdict(
    examples: &[ExampleOutcome],
    gate: &GateConfig,
    measured: &Measurements,
) -> (Verdict, Vec<String>) {
    let Measurements {
        void,
        discordant,
        mcnemar_p,
        interval,
        mde,
        cost_ratio,
        p95_latency_ratio,
        ..
    } = measured;
    if examples.is_empty() {
        return (Verdict::Void, vec!["the dataset has no examples".into()]);
    }
    if !void.is_empty() {
        return (
            Verdict::Void,
            vec![format!(
                "{} of {} examples could not be replayed (infra, not the model): {}",
                void.len(),
                examples.len(),
                void.join("; ")
            )],
        );
    }

    let mut regressions = Vec::new();
    for example in examples.iter().filter(|example| example.critical) {
        let always_passed = example.baseline.iter().all(|side| side.passed);
        if always_passed && !majority_passed(&example.candidate) {
            regressions.push(format!("critical example {} now fails", example.trace_id));
        }
    }
    if let (Some(limit), Some(ratio)) = (gate.max_cost_ratio, *cost_ratio)
        && ratio > limit
    {
        regressions.push(format!("cost ratio {ratio:.2} is over the limit {limit}"));
    }
    if let (Some(limit), Some(ratio)) = (gate.max_p95_latency_ratio, *p95_latency_ratio)
        && ratio > limit
    {
        regressions.push(format!(
            "p95 latency ratio {ratio:.2} is over the limit {limit}"
        ));
    }
    if *mcnemar_p < gate.alpha && discordant.baseline_only > discordant.candidate_only {
        regressions.push(format!(
            "{} examples pass only under the baseline, {} only under the candidate (McNemar p = {mcnemar_p:.4})",
            discordant.baseline_only, discordant.candidate_only
        ));
    }
    if let Some(interval) = interval
        && examples.len() >= MIN_EXAMPLES_FOR_INTERVAL_REGRESSION
        && interval.high < -gate.min_effect
    {
        regressions.push(format!(
            "the score difference [{:.3}, {:.3}] is below −δ = −{}",
            interval.low, interval.high, gate.min_effect
        ));
    }
    if !regressions.is_empty() {
        return (Verdict::Regression, regressions);
    }
    match interval {
        Some(interval) if interval.low >= -gate.min_effect => (
            Verdict::Pass,
            vec![format!(
                "the candidate is not worse by more than δ = {}: score difference [{:.3}, {:.3}]",
                gate.min_effect, interval.low, interval.high
            )],
        ),
        _ => {
            let range = interval.map_or("unknown".to_string(), |i| {
                format!("[{:.3}, {:.3}]", i.low, i.high)
            });
            (
                Verdict::Inconclusive,
                vec![format!(
                    "the score difference {range} allows a drop larger than δ = {} without proving one; with these examples only effects of about {mde:.3} are detectable — add examples or epochs",
                    gate.min_effect
                )],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(score: f64) -> SideOutcome {
        SideOutcome {
            steps: Vec::new(),
            score,
            passed: score >= 1.0,
            void: None,
            cost_usd: Some(0.01),
            latencies_ms: vec![100.0],
            scores: Default::default(),
            trajectory: None,
            agent: None,
        }
    }

    fn examples(candidate_scores: &[f64]) -> Vec<ExampleOutcome> {
        candidate_scores
            .iter()
            .enumerate()
            .map(|(index, score)| ExampleOutcome {
                trace_id: format!("t{index}"),
                critical: false,
                baseline: vec![side(1.0)],
                candidate: vec![side(*score)],
            })
            .collect()
    }

    #[test]
    fn verdicts_and_exit_codes() {
        let gate = GateConfig::default();
        let same = decide(&examples(&[1.0; 8]), &gate);
        assert_eq!(
            (same.verdict, same.verdict.exit_code()),
            (Verdict::Pass, 0),
            "{same:?}"
        );

        let mut worse = vec![0.5; 6];
        worse.extend([1.0, 1.0]);
        let regression = decide(&examples(&worse), &gate);
        assert_eq!(regression.verdict, Verdict::Regression, "{regression:?}");
        assert!((regression.mcnemar_p - 0.03125).abs() < 1e-9);

        let mixed = decide(&examples(&[1.0, 0.5, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0]), &gate);
        assert_eq!(
            (mixed.verdict, mixed.verdict.exit_code()),
            (Verdict::Inconclusive, 3),
            "{mixed:?}"
        );

        let mut void = examples(&[1.0; 3]);
        void[1].candidate[0].void = Some("step 1: provider unavailable".into());
        let void = decide(&void, &gate);
        assert_eq!((void.verdict, void.verdict.exit_code()), (Verdict::Void, 2));
    }

    #[test]
    fn hard_gates_fail_even_when_the_statistics_pass() {
        let mut critical = examples(&[1.0, 1.0, 0.0, 1.0]);
        critical[2].critical = true;
        let report = decide(&critical, &GateConfig::default());
        assert_eq!(report.verdict, Verdict::Regression);
        assert!(report.reasons[0].contains("critical"), "{report:?}");

        let mut expensive = examples(&[1.0; 4]);
        for example in &mut expensive {
            example.candidate[0].cost_usd = Some(0.05);
        }
        let gate = GateConfig {
            max_cost_ratio: Some(1.2),
            ..GateConfig::default()
        };
        let report = decide(&expensive, &gate);
        assert_eq!(report.verdict, Verdict::Regression);
        assert_eq!(report.cost_ratio, Some(5.0));
    }
}
