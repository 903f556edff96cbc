//! `GET /metrics`: Sextant's own counters in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

pub async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.pipeline.stats();
    let mut counters = vec![
        (
            "sextant_spans_acknowledged_total",
            "Spans acknowledged to clients (durable in the WAL).",
            stats.spans_acknowledged.load(Ordering::Relaxed),
        ),
        (
            "sextant_log_records_acknowledged_total",
            "Log records acknowledged to clients (durable in the WAL).",
            stats.log_records_acknowledged.load(Ordering::Relaxed),
        ),
        (
            "sextant_metric_points_acknowledged_total",
            "Metric data points acknowledged to clients (durable in the WAL).",
            stats.metric_points_acknowledged.load(Ordering::Relaxed),
        ),
        (
            "sextant_spans_flushed_total",
            "Spans written to Parquet and the index.",
            stats.spans_flushed.load(Ordering::Relaxed),
        ),
        (
            "sextant_flushes_total",
            "Completed flushes.",
            stats.flushes.load(Ordering::Relaxed),
        ),
        (
            "sextant_parquet_bytes_written_total",
            "Bytes of Parquet written.",
            stats.parquet_bytes_written.load(Ordering::Relaxed),
        ),
        (
            "sextant_secrets_redacted_total",
            "Credentials replaced by a [REDACTED:<kind>] marker before they were stored.",
            stats.secrets_redacted.load(Ordering::Relaxed),
        ),
        (
            "sextant_exports_refused_overloaded_total",
            "Exports refused with 503 because ingest was saturated.",
            stats.requests_refused_overloaded.load(Ordering::Relaxed),
        ),
    ];
    if let Some(alerts) = &state.alerts {
        let notifier = &alerts.notifier;
        counters.extend([
            (
                "sextant_alerts_raised_total",
                "Alerts raised by policies.",
                alerts.stats.raised.load(Ordering::Relaxed),
            ),
            (
                "sextant_alert_checks_skipped_total",
                "Requests whose tool calls were not checked against policies (queue full).",
                alerts.stats.unchecked.load(Ordering::Relaxed),
            ),
            (
                "sextant_alert_notifications_sent_total",
                "Alerts delivered to notifiers.",
                notifier.sent.load(Ordering::Relaxed),
            ),
            (
                "sextant_alert_notifications_failed_total",
                "Alerts no notifier accepted after every retry.",
                notifier.failed.load(Ordering::Relaxed),
            ),
            (
                "sextant_alert_notifications_dropped_total",
                "Alerts dropped unsent because the notifier queue was full.",
                notifier.dropped.load(Ordering::Relaxed),
            ),
        ]);
    }
    let mut body = String::new();
    for (name, help, value) in counters {
        let _ = writeln!(
            body,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let pending = state.pipeline.pending_bytes();
    let _ = writeln!(
        body,
        "# HELP sextant_pending_bytes Accepted data not yet flushed.\n# TYPE sextant_pending_bytes gauge\nsextant_pending_bytes {pending}"
    );
    let budget = &state.request_budget;
    let held = budget.total_bytes() - budget.available_bytes();
    let _ = writeln!(
        body,
        "# HELP sextant_request_budget_held_bytes Request bytes held by requests being read and decoded.\n# TYPE sextant_request_budget_held_bytes gauge\nsextant_request_budget_held_bytes {held}\n# HELP sextant_request_budget_bytes The in-flight request budget.\n# TYPE sextant_request_budget_bytes gauge\nsextant_request_budget_bytes {}",
        budget.total_bytes()
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
