//! The times Sextant accepts: spans, log records and metric points whose time lies outside
//! a window around now are rejected before they reach the write-ahead log.
//!
//! Rows are partitioned by day, so each distinct day a client names is a new folder, index
//! and file per flush: one export of a thousand spans dated a thousand days apart would
//! otherwise create a thousand partitions. The window (by default no older than 400 days,
//! no more than one day ahead) drops such items from the request itself, so the WAL record
//! holds only what was accepted and a replay after a crash accepts the same items again.
//! The client is told through OTLP's `partial_success` (the count and why), not an error:
//! its other items are kept.

use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use crate::wal_record::ExportRequest;

/// What the server accepts, relative to its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Oldest accepted age; `None` accepts any past time.
    pub max_age: Option<Duration>,
    /// Furthest accepted time ahead of now; `None` accepts any future time.
    pub max_ahead: Option<Duration>,
}

pub const DEFAULT_MAX_AGE_DAYS: u64 = 400;
pub const DEFAULT_MAX_AHEAD_HOURS: u64 = 24;

impl TimeWindow {
    /// Accepts every time (library callers that load historical data, tests).
    pub const UNBOUNDED: TimeWindow = TimeWindow {
        max_age: None,
        max_ahead: None,
    };

    /// The server's default: 400 days back, one day ahead.
    pub fn server_default() -> TimeWindow {
        TimeWindow {
            max_age: Some(Duration::from_secs(DEFAULT_MAX_AGE_DAYS * 86_400)),
            max_ahead: Some(Duration::from_secs(DEFAULT_MAX_AHEAD_HOURS * 3_600)),
        }
    }

    /// The window reaching back at least `days` (a project's retention keeps that much, so
    /// the window must accept it); an unbounded past stays unbounded.
    pub fn reaching_back_at_least(self, days: u32) -> TimeWindow {
        let retained = Duration::from_secs(u64::from(days) * 86_400);
        TimeWindow {
            max_age: self.max_age.map(|age| age.max(retained)),
            ..self
        }
    }

    fn bounds(&self, now_ns: i64) -> (i64, i64) {
        let nanos = |duration: Duration| i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
        let oldest = self
            .max_age
            .map_or(i64::MIN, |age| now_ns.saturating_sub(nanos(age)));
        let newest = self
            .max_ahead
            .map_or(i64::MAX, |ahead| now_ns.saturating_add(nanos(ahead)));
        (oldest, newest)
    }
}

/// Items a request lost to the window, for `partial_success`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowRejection {
    pub rejected: usize,
}

impl WindowRejection {
    /// The `partial_success.error_message`, when anything was rejected.
    pub fn message(&self, window: &TimeWindow) -> Option<String> {
        if self.rejected == 0 {
            return None;
        }
        let days = window.max_age.map(|age| age.as_secs() / 86_400);
        let hours = window.max_ahead.map(|ahead| ahead.as_secs() / 3_600);
        Some(format!(
            "{} items rejected: their time is outside the accepted window ({} back, {} ahead); check the sender's clock",
            self.rejected,
            days.map_or("any time".into(), |days| format!("{days} days")),
            hours.map_or("any time".into(), |hours| format!("{hours} hours")),
        ))
    }
}

/// Removes the items whose time lies outside `window` from `request`; returns how many.
/// The time is the one the row is partitioned by: a span's start, a log record's time (its
/// observed time when unset), a metric point's time.
pub fn drop_outside_window(
    request: &mut ExportRequest,
    window: &TimeWindow,
    now_ns: i64,
) -> WindowRejection {
    if *window == TimeWindow::UNBOUNDED {
        return WindowRejection::default();
    }
    let (oldest, newest) = window.bounds(now_ns);
    let mut rejected = 0;
    let mut keep = |time_ns: u64| {
        let time = i64::try_from(time_ns).unwrap_or(i64::MAX);
        let inside = (oldest..=newest).contains(&time);
        if !inside {
            rejected += 1;
        }
        inside
    };
    match request {
        ExportRequest::Traces(traces) => {
            for resource in &mut traces.resource_spans {
                for scope in &mut resource.scope_spans {
                    scope.spans.retain(|span| keep(span.start_time_unix_nano));
                }
            }
        }
        ExportRequest::Logs(logs) => {
            for resource in &mut logs.resource_logs {
                for scope in &mut resource.scope_logs {
                    scope.log_records.retain(|record| {
                        keep(match record.time_unix_nano {
                            0 => record.observed_time_unix_nano,
                            time => time,
                        })
                    });
                }
            }
        }
        ExportRequest::Metrics(metrics) => {
            for resource in &mut metrics.resource_metrics {
                for scope in &mut resource.scope_metrics {
                    for metric in &mut scope.metrics {
                        match &mut metric.data {
                            Some(Data::Gauge(gauge)) => {
                                gauge.data_points.retain(|point| keep(point.time_unix_nano))
                            }
                            Some(Data::Sum(sum)) => {
                                sum.data_points.retain(|point| keep(point.time_unix_nano))
                            }
                            Some(Data::Histogram(histogram)) => histogram
                                .data_points
                                .retain(|point| keep(point.time_unix_nano)),
                            Some(Data::ExponentialHistogram(histogram)) => histogram
                                .data_points
                                .retain(|point| keep(point.time_unix_nano)),
                            Some(Data::Summary(summary)) => summary
                                .data_points
                                .retain(|point| keep(point.time_unix_nano)),
                            None => {}
                        }
                    }
                }
            }
        }
    }
    WindowRejection { rejected }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    const DAY_NS: u64 = 86_400 * 1_000_000_000;
    const NOW_NS: u64 = 20_000 * DAY_NS;

    fn spans(starts: &[u64]) -> ExportRequest {
        ExportRequest::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: starts
                        .iter()
                        .map(|&start| Span {
                            start_time_unix_nano: start,
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        })
    }

    #[test]
    fn spans_outside_the_window_are_dropped_and_counted() {
        let window = TimeWindow::server_default();
        let mut request = spans(&[
            NOW_NS,
            NOW_NS - 399 * DAY_NS,
            NOW_NS - 401 * DAY_NS,
            NOW_NS + DAY_NS / 2,
            NOW_NS + 2 * DAY_NS,
            0,
            u64::MAX,
        ]);
        let rejection = drop_outside_window(&mut request, &window, NOW_NS as i64);
        assert_eq!(rejection.rejected, 4);
        assert_eq!(request.item_count(), 3);
        let message = rejection.message(&window).expect("a message");
        assert!(
            message.contains("4 items rejected") && message.contains("400 days"),
            "{message}"
        );
        let mut all = spans(&[0, u64::MAX]);
        let none = drop_outside_window(&mut all, &TimeWindow::UNBOUNDED, NOW_NS as i64);
        assert_eq!((none.rejected, all.item_count()), (0, 2));
        assert_eq!(none.message(&window), None);
    }

    #[test]
    fn the_window_reaches_back_as_far_as_the_longest_retention() {
        let window = TimeWindow::server_default();
        let wider = window.reaching_back_at_least(730);
        assert_eq!(wider.max_age, Some(Duration::from_secs(730 * 86_400)));
        assert_eq!(wider.max_ahead, window.max_ahead);
        assert_eq!(window.reaching_back_at_least(30), window, "never narrower");
        assert_eq!(
            TimeWindow::UNBOUNDED.reaching_back_at_least(30),
            TimeWindow::UNBOUNDED
        );
    }

    #[test]
    fn logs_use_their_observed_time_when_unset_and_metrics_each_point() {
        let window = TimeWindow::server_default();
        let mut logs = ExportRequest::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        LogRecord {
                            observed_time_unix_nano: NOW_NS,
                            ..LogRecord::default()
                        },
                        LogRecord {
                            time_unix_nano: 5,
                            observed_time_unix_nano: NOW_NS,
                            ..LogRecord::default()
                        },
                    ],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        });
        assert_eq!(
            drop_outside_window(&mut logs, &window, NOW_NS as i64).rejected,
            1
        );
        let point = |time| NumberDataPoint {
            time_unix_nano: time,
            ..NumberDataPoint::default()
        };
        let mut metrics = ExportRequest::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![point(NOW_NS), point(1), point(NOW_NS * 2)],
                        })),
                        ..Metric::default()
                    }],
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        });
        assert_eq!(
            drop_outside_window(&mut metrics, &window, NOW_NS as i64).rejected,
            2
        );
        assert_eq!(metrics.item_count(), 1);
    }
}
