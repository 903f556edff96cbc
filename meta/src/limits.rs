//! Per-project rate limits: ingest spans/s and bytes/s, API requests/s.
//!
//! Each (project, dimension) has a token bucket holding up to one second of its rate
//! (at least one unit). A request is admitted when the bucket holds what it costs — or,
//! for a request larger than the bucket, when the bucket is full — and takes its whole
//! cost, possibly going into debt: a single export larger than a second's allowance still
//! gets through, followed by a pause, and the average rate holds.
//! A refused request costs nothing and is told when to retry (`Retry-After`, gRPC
//! `RetryInfo`). Limits come from the `[limits]` TOML section, per project.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Rates of one project; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRates {
    /// Spans, log records and metric data points per second.
    pub ingest_spans_per_second: Option<f64>,
    /// OTLP request bytes (as received, after decompression) per second.
    pub ingest_bytes_per_second: Option<f64>,
    /// JSON API and page requests per second.
    pub api_requests_per_second: Option<f64>,
}

impl LimitRates {
    /// `self`, with each rate it leaves unset taken from `defaults`.
    fn or(self, defaults: LimitRates) -> LimitRates {
        LimitRates {
            ingest_spans_per_second: self
                .ingest_spans_per_second
                .or(defaults.ingest_spans_per_second),
            ingest_bytes_per_second: self
                .ingest_bytes_per_second
                .or(defaults.ingest_bytes_per_second),
            api_requests_per_second: self
                .api_requests_per_second
                .or(defaults.api_requests_per_second),
        }
    }
}

/// The `[limits]` section: rates for every project, and `[limits.projects.<id>]`
/// overrides (a rate an override leaves out comes from the section).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub ingest_spans_per_second: Option<f64>,
    pub ingest_bytes_per_second: Option<f64>,
    pub api_requests_per_second: Option<f64>,
    #[serde(default)]
    pub projects: HashMap<String, LimitRates>,
}

impl LimitsConfig {
    fn rates(&self, project_id: &str) -> LimitRates {
        let defaults = LimitRates {
            ingest_spans_per_second: self.ingest_spans_per_second,
            ingest_bytes_per_second: self.ingest_bytes_per_second,
            api_requests_per_second: self.api_requests_per_second,
        };
        self.projects
            .get(project_id)
            .copied()
            .unwrap_or_default()
            .or(defaults)
    }
}

/// What a refused request is told: which limit, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub what: &'static str,
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Dimension {
    Spans,
    Bytes,
    Requests,
}

impl Dimension {
    fn describe(self) -> &'static str {
        match self {
            Dimension::Spans => "spans per second",
            Dimension::Bytes => "bytes per second",
            Dimension::Requests => "API requests per second",
        }
    }
}

#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    fn capacity(rate: f64) -> f64 {
        rate.max(1.0)
    }

    fn refill(&mut self, rate: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(Self::capacity(rate));
        self.updated = now;
    }

    /// Seconds until the bucket can pay for `cost` (0 when it can now).
    fn wait_secs(&self, rate: f64, cost: f64) -> f64 {
        let needed = cost.min(Self::capacity(rate));
        (needed - self.tokens).max(0.0) / rate
    }
}

/// The buckets of every project.
#[derive(Debug, Default)]
pub struct RateLimiter {
    config: LimitsConfig,
    buckets: Mutex<HashMap<(String, Dimension), TokenBucket>>,
}

impl RateLimiter {
    pub fn new(config: LimitsConfig) -> RateLimiter {
        RateLimiter {
            config,
            buckets: Mutex::default(),
        }
    }

    /// Admits an export of `items` spans/records/points and `bytes` bytes, or says why not.
    pub fn admit_ingest(&self, project_id: &str, items: u64, bytes: u64) -> Result<(), OverLimit> {
        let rates = self.config.rates(project_id);
        self.admit(
            project_id,
            &[
                (
                    Dimension::Spans,
                    rates.ingest_spans_per_second,
                    items as f64,
                ),
                (
                    Dimension::Bytes,
                    rates.ingest_bytes_per_second,
                    bytes as f64,
                ),
            ],
            Instant::now(),
        )
    }

    /// Admits one API or page request.
    pub fn admit_api(&self, project_id: &str) -> Result<(), OverLimit> {
        let rate = self.config.rates(project_id).api_requests_per_second;
        self.admit(
            project_id,
            &[(Dimension::Requests, rate, 1.0)],
            Instant::now(),
        )
    }

    fn admit(
        &self,
        project_id: &str,
        costs: &[(Dimension, Option<f64>, f64)],
        now: Instant,
    ) -> Result<(), OverLimit> {
        let limited: Vec<(Dimension, f64, f64)> = costs
            .iter()
            .filter_map(|&(dimension, rate, cost)| {
                rate.filter(|rate| *rate > 0.0)
                    .map(|rate| (dimension, rate, cost))
            })
            .collect();
        if limited.is_empty() {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        // All dimensions must have room before any is charged.
        let mut longest_wait: Option<(f64, Dimension)> = None;
        for &(dimension, rate, cost) in &limited {
            let bucket = buckets
                .entry((project_id.to_string(), dimension))
                .or_insert_with(|| TokenBucket {
                    tokens: TokenBucket::capacity(rate),
                    updated: now,
                });
            bucket.refill(rate, now);
            let wait = bucket.wait_secs(rate, cost);
            if wait > 0.0 && longest_wait.is_none_or(|(longest, _)| wait > longest) {
                longest_wait = Some((wait, dimension));
            }
        }
        if let Some((wait, dimension)) = longest_wait {
            return Err(OverLimit {
                what: dimension.describe(),
                retry_after_secs: wait.ceil().max(1.0) as u64,
            });
        }
        for &(dimension, _, cost) in &limited {
            if let Some(bucket) = buckets.get_mut(&(project_id.to_string(), dimension)) {
                bucket.tokens -= cost;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(toml_text: &str) -> RateLimiter {
        RateLimiter::new(toml::from_str(toml_text).expect("limits toml"))
    }

    #[test]
    fn a_large_export_passes_then_the_project_waits() {
        let limits = RateLimiter::default();
        let start = Instant::now();
        let spans = |items, at| limits.admit("small", &[(Dimension::Spans, Some(10.0), items)], at);
        assert_eq!(spans(25.0, start), Ok(()), "one large export gets through");
        let refused = spans(1.0, start).expect_err("then the project is over");
        assert_eq!(refused.retry_after_secs, 2, "15 spans of debt at 10/s");
        assert_eq!(refused.what, "spans per second");
        assert_eq!(spans(1.0, start + Duration::from_secs(2)), Ok(()));
    }

    #[test]
    fn projects_override_the_section_rate_by_rate() {
        let limits = limiter(
            "ingest_spans_per_second = 100\napi_requests_per_second = 5\n\
             [projects.small]\ningest_spans_per_second = 10",
        );
        let small = limits.config.rates("small");
        assert_eq!(small.ingest_spans_per_second, Some(10.0));
        assert_eq!(small.api_requests_per_second, Some(5.0));
        assert_eq!(
            limits.config.rates("other").ingest_spans_per_second,
            Some(100.0)
        );
        // Each project has its own buckets.
        assert_eq!(limits.admit_ingest("small", 50, 0), Ok(()));
        assert!(limits.admit_ingest("small", 1, 0).is_err());
        assert_eq!(limits.admit_ingest("other", 50, 0), Ok(()));
    }

    #[test]
    fn no_limits_admit_everything_and_unknown_keys_are_named() {
        let limits = RateLimiter::default();
        for _ in 0..1000 {
            assert_eq!(limits.admit_api("p"), Ok(()));
        }
        let error =
            toml::from_str::<LimitsConfig>("ingest_span_per_second = 1").expect_err("a typo");
        assert!(
            error.to_string().contains("ingest_span_per_second"),
            "{error}"
        );
    }

    #[test]
    fn a_refused_request_costs_nothing() {
        let limits = limiter("api_requests_per_second = 1");
        let now = Instant::now();
        let request = [(Dimension::Requests, Some(1.0), 1.0)];
        assert_eq!(limits.admit("p", &request, now), Ok(()));
        for _ in 0..10 {
            assert!(limits.admit("p", &request, now).is_err());
        }
        let next_second = now + Duration::from_millis(1001);
        assert_eq!(limits.admit("p", &request, next_second), Ok(()));
    }
}
