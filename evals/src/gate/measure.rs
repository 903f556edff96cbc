//! Measuring a run for the gate: from both sides' outcomes on each example, the pass
//! rates, the discordant pairs and McNemar's p, the bootstrap interval of the mean score
//! difference with the minimum detectable effect, and the cost and p95 latency ratios.
//! Deciding what they mean is the gate's (`super::decide`).

use crate::gate::ExampleOutcome;
use crate::gate::stats::{
    Discordant, Interval, cluster_bootstrap, mcnemar_exact, minimum_detectable_effect,
    standard_deviation,
};
use crate::scoring::outcome::SideOutcome;
use crate::suite::GateConfig;

const BOOTSTRAP_RESAMPLES: usize = 2000;
const BOOTSTRAP_SEED: u64 = 0x05e4_7a47;

/// What the gate decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurements {
    /// `trace id: reason` of each example a side could not replay.
    pub void: Vec<String>,
    pub baseline_pass_rate: f64,
    pub candidate_pass_rate: f64,
    pub discordant: Discordant,
    pub mcnemar_p: f64,
    /// Interval of the mean per-example score difference (candidate − baseline).
    pub interval: Option<Interval>,
    pub mde: f64,
    pub cost_ratio: Option<f64>,
    pub p95_latency_ratio: Option<f64>,
}

/// Measures both sides' outcomes; `gate.alpha` sets the interval's confidence.
pub fn measure(examples: &[ExampleOutcome], gate: &GateConfig) -> Measurements {
    let void: Vec<String> = examples
        .iter()
        .filter_map(|example| {
            example
                .baseline
                .iter()
                .chain(&example.candidate)
                .find_map(|side| side.void.clone())
                .map(|reason| format!("{}: {reason}", example.trace_id))
        })
        .collect();
    let pairs: Vec<(bool, bool)> = examples
        .iter()
        .map(|example| {
            (
                majority_passed(&example.baseline),
                majority_passed(&example.candidate),
            )
        })
        .collect();
    let discordant = Discordant::count(pairs.iter().copied());
    let mcnemar_p = mcnemar_exact(discordant);
    let rate = |side: usize| {
        let passed = pairs
            .iter()
            .filter(|pair| if side == 0 { pair.0 } else { pair.1 })
            .count();
        passed as f64 / pairs.len().max(1) as f64
    };
    let differences: Vec<Vec<f64>> = examples
        .iter()
        .map(|example| {
            example
                .candidate
                .iter()
                .enumerate()
                .map(|(epoch, candidate)| {
                    let baseline = example
                        .baseline
                        .get(epoch)
                        .or(example.baseline.first())
                        .map_or(0.0, |side| side.score);
                    candidate.score - baseline
                })
                .collect()
        })
        .collect();
    let per_example: Vec<f64> = differences
        .iter()
        .filter(|d| !d.is_empty())
        .map(|d| mean(d))
        .collect();
    let interval = cluster_bootstrap(
        &differences,
        1.0 - gate.alpha,
        BOOTSTRAP_RESAMPLES,
        BOOTSTRAP_SEED,
    );
    let mde = minimum_detectable_effect(standard_deviation(&per_example), per_example.len());

    let total_cost = |select: fn(&ExampleOutcome) -> &Vec<SideOutcome>| -> Option<f64> {
        examples
            .iter()
            .map(|example| {
                let epochs = select(example);
                let costs: Option<Vec<f64>> = epochs.iter().map(|side| side.cost_usd).collect();
                costs.map(|costs| mean(&costs))
            })
            .sum()
    };
    let cost_ratio = match (total_cost(|e| &e.candidate), total_cost(|e| &e.baseline)) {
        (Some(candidate), Some(baseline)) if baseline > 0.0 => Some(candidate / baseline),
        _ => None,
    };
    let latencies = |select: fn(&ExampleOutcome) -> &Vec<SideOutcome>| -> Vec<f64> {
        examples
            .iter()
            .flat_map(|example| {
                select(example)
                    .iter()
                    .flat_map(|side| side.latencies_ms.clone())
            })
            .collect()
    };
    let p95_latency_ratio = match (
        p95(latencies(|e| &e.candidate)),
        p95(latencies(|e| &e.baseline)),
    ) {
        (Some(candidate), Some(baseline)) if baseline > 0.0 => Some(candidate / baseline),
        _ => None,
    };

    Measurements {
        void,
        baseline_pass_rate: rate(0),
        candidate_pass_rate: rate(1),
        discordant,
        mcnemar_p,
        interval,
        mde,
        cost_ratio,
        p95_latency_ratio,
    }
}

/// True when most epochs passed.
pub(crate) fn majority_passed(epochs: &[SideOutcome]) -> bool {
    let passed = epochs.iter().filter(|outcome| outcome.passed).count();
    passed * 2 >= epochs.len() && !epochs.is_empty()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn p95(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let position = ((values.len() as f64) * 0.95).ceil() as usize;
    Some(values[position.clamp(1, values.len()) - 1])
}
