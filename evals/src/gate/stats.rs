//! The statistics the gate decides with: paired comparisons of baseline and candidate on
//! the same examples.
//!
//! - Pass/fail: the exact McNemar test — a two-sided binomial test on the discordant
//!   examples (passed under one, failed under the other). With several epochs an example
//!   counts as passed under a side when it passed in at least half of its epochs.
//! - Scores: the cluster bootstrap. Epochs of one example are not independent, so the
//!   example is the unit resampled; the interval is the percentile interval of the mean
//!   per-example difference (candidate − baseline).
//! - The minimum detectable effect: the smallest true mean difference this many examples
//!   would detect with 80 % power at the 5 % level, reported so a "no difference" verdict
//!   says how small a difference it could have missed.
//!
//! Resampling uses a seeded generator: the same run gives the same interval.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Discordant pairs of a paired pass/fail comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discordant {
    /// Passed under the baseline, failed under the candidate.
    pub baseline_only: u64,
    /// Failed under the baseline, passed under the candidate.
    pub candidate_only: u64,
}

impl Discordant {
    /// Counts discordant examples from `(baseline passed, candidate passed)` pairs.
    pub fn count(pairs: impl IntoIterator<Item = (bool, bool)>) -> Discordant {
        let mut counts = Discordant {
            baseline_only: 0,
            candidate_only: 0,
        };
        for pair in pairs {
            match pair {
                (true, false) => counts.baseline_only += 1,
                (false, true) => counts.candidate_only += 1,
                _ => {}
            }
        }
        counts
    }
}

/// Two-sided p-value of the exact McNemar test (1.0 when no example is discordant).
pub fn mcnemar_exact(counts: Discordant) -> f64 {
    let n = counts.baseline_only + counts.candidate_only;
    if n == 0 {
        return 1.0;
    }
    let smaller = counts.baseline_only.min(counts.candidate_only);
    // P(X <= smaller) for X ~ Binomial(n, 1/2), summed in log space (n may be large).
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64;
    let mut tail = 0.0f64;
    for i in 0..=smaller {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose - ln_half_n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// A confidence interval of the mean per-example difference.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
}

/// Percentile cluster-bootstrap interval (`confidence`, e.g. 0.95) of the mean over
/// examples of the per-example difference; `differences[i]` holds example `i`'s
/// candidate − baseline values, one per epoch.
pub fn cluster_bootstrap(
    differences: &[Vec<f64>],
    confidence: f64,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    let per_example: Vec<f64> = differences
        .iter()
        .filter(|epochs| !epochs.is_empty())
        .map(|epochs| epochs.iter().sum::<f64>() / epochs.len() as f64)
        .collect();
    if per_example.is_empty() {
        return None;
    }
    let n = per_example.len();
    let mean = per_example.iter().sum::<f64>() / n as f64;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            (0..n)
                .map(|_| per_example[rng.random_range(0..n)])
                .sum::<f64>()
                / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    let at = |quantile: f64| {
        let position = (quantile * (means.len() - 1) as f64).round() as usize;
        means[position.min(means.len() - 1)]
    };
    Some(Interval {
        mean,
        low: at(tail),
        high: at(1.0 - tail),
    })
}

/// The smallest mean difference `n` examples with per-example differences of standard
/// deviation `sd` detect with 80 % power in a two-sided 5 % test.
pub fn minimum_detectable_effect(sd: f64, n: usize) -> f64 {
    // z(0.975) + z(0.80)
    const Z_SUM: f64 = 1.959_964 + 0.841_621;
    if n == 0 {
        return f64::INFINITY;
    }
    Z_SUM * sd / (n as f64).sqrt()
}

/// Sample standard deviation (0 for fewer than two values).
pub fn standard_deviation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance = values
        .iter()
        .map(|value| (value - mean).powi(2))
        .sum::<f64>()
        / (values.len() - 1) as f64;
    variance.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-6
    }

    #[test]
    fn mcnemar_matches_known_values() {
        // statsmodels `mcnemar([[a, 10], [2, d]], exact=True).pvalue`
        let p = mcnemar_exact(Discordant {
            baseline_only: 10,
            candidate_only: 2,
        });
        assert!(close(p, 0.038_574_218_75), "{p}");
        // Symmetric, and 1 when balanced or empty.
        let swapped = mcnemar_exact(Discordant {
            baseline_only: 2,
            candidate_only: 10,
        });
        assert!(close(swapped, p));
        assert!(close(
            mcnemar_exact(Discordant {
                baseline_only: 5,
                candidate_only: 5
            }),
            1.0
        ));
        assert!(close(
            mcnemar_exact(Discordant {
                baseline_only: 0,
                candidate_only: 0
            }),
            1.0
        ));
        // 0 vs 6: 2 * 0.5^6
        assert!(close(
            mcnemar_exact(Discordant {
                baseline_only: 6,
                candidate_only: 0
            }),
            0.031_25
        ));
        // Large n stays finite: 400 vs 300 is far from chance.
        let large = mcnemar_exact(Discordant {
            baseline_only: 400,
            candidate_only: 300,
        });
        assert!(large > 0.0 && large < 1e-3, "{large}");
    }

    #[test]
    fn discordant_pairs_are_counted_by_direction() {
        let counts = Discordant::count([(true, false), (true, true), (false, true), (true, false)]);
        assert_eq!(
            counts,
            Discordant {
                baseline_only: 2,
                candidate_only: 1
            }
        );
    }

    /// On synthetic data with a known true difference, the 95 % interval covers it in
    /// about 95 % of repetitions (a percentile bootstrap runs a little narrow with 40
    /// examples, so the band is 0.88–0.99).
    #[test]
    fn bootstrap_interval_covers_the_true_difference() {
        let truth = 0.1;
        let mut data_rng = StdRng::seed_from_u64(7);
        let repetitions = 300;
        let mut covered = 0;
        for repetition in 0..repetitions {
            let differences: Vec<Vec<f64>> = (0..40)
                .map(|_| {
                    // An example effect plus epoch noise: clustered, not independent.
                    let example_effect = truth + data_rng.random_range(-0.5..0.5);
                    (0..3)
                        .map(|_| example_effect + data_rng.random_range(-0.2..0.2))
                        .collect()
                })
                .collect();
            let interval =
                cluster_bootstrap(&differences, 0.95, 400, repetition).expect("interval");
            if interval.low <= truth && truth <= interval.high {
                covered += 1;
            }
        }
        let coverage = covered as f64 / repetitions as f64;
        assert!((0.88..=0.99).contains(&coverage), "coverage {coverage}");
    }

    #[test]
    fn bootstrap_is_reproducible_and_centred_on_the_mean() {
        let differences = vec![vec![1.0, 0.0], vec![0.0], vec![0.5, 0.5]];
        let first = cluster_bootstrap(&differences, 0.9, 500, 42).expect("interval");
        assert_eq!(Some(first), cluster_bootstrap(&differences, 0.9, 500, 42));
        assert!(close(first.mean, 1.0 / 3.0));
        assert!(first.low <= first.mean && first.mean <= first.high);
        assert!(cluster_bootstrap(&[], 0.95, 100, 1).is_none());
    }

    #[test]
    fn minimum_detectable_effect_shrinks_with_more_examples() {
        assert!(close(minimum_detectable_effect(1.0, 100), 0.280_158_5));
        assert!(minimum_detectable_effect(1.0, 400) < minimum_detectable_effect(1.0, 100));
        assert!(close(
            standard_deviation(&[1.0, 2.0, 3.0, 4.0]),
            1.290_994_448_7
        ));
    }
}
