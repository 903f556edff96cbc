//! The dashboard's figures: cost, tokens, runs and success per day, latency percentiles,
//! top errors and the most expensive sessions over a time window, grouped by model, agent or
//! service.
//!
//! Every figure is one read-only SQL statement over the public views, kept with its result,
//! so the page can show the SQL and the numbers are exactly what `POST /api/sql` answers.
//! The statements interpolate only validated integers and fixed column expressions.

use datafusion::execution::context::SessionContext;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::batch_output::batches_to_json_rows;
use crate::error::{QueryError, Result};
use crate::sql::{SqlLimits, run_read_only_sql};

/// Rows kept per ranked table (errors, sessions, latency groups).
const TOP_ROWS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Model,
    Agent,
    Service,
}

impl GroupBy {
    pub fn parse(text: &str) -> Result<GroupBy> {
        match text {
            "" | "model" => Ok(GroupBy::Model),
            "agent" => Ok(GroupBy::Agent),
            "service" => Ok(GroupBy::Service),
            other => Err(QueryError::InvalidQuery(format!(
                "invalid group {other:?}: expected model, agent or service"
            ))),
        }
    }

    /// The relation to aggregate and the group expression over it. Models are per model call
    /// (`spans`); agents and services per run (`traces`), since agents tag their root span.
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            GroupBy::Model => (
                "spans",
                "COALESCE(response_model, request_model, '(unknown)')",
                "span_type = 'llm' AND ",
            ),
            GroupBy::Agent => ("traces", "COALESCE(agent_name, '(none)')", ""),
            GroupBy::Service => ("traces", "COALESCE(service_name, '(none)')", ""),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DashboardRequest {
    /// Inclusive start of the window, ns since the epoch.
    pub from_ns: i64,
    /// Exclusive end of the window, ns since the epoch.
    pub to_ns: i64,
    pub group_by: GroupBy,
}

/// One figure: its SQL and its rows.
#[derive(Debug, Serialize)]
pub struct Figure {
    pub sql: String,
    pub rows: Vec<Map<String, Value>>,
}

#[derive(Debug, Serialize)]
pub struct Dashboard {
    pub group_by: GroupBy,
    /// Every day of the window, `YYYY-MM-DD`, oldest first (days without data included).
    pub days: Vec<String>,
    /// runs, failed runs, cost, tokens over the whole window.
    pub totals: Figure,
    /// day, grp, cost_usd, tokens.
    pub usage_by_day: Figure,
    /// day, runs, failed.
    pub runs_by_day: Figure,
    /// grp, calls, p50_ms, p95_ms.
    pub latency: Figure,
    /// error, spans, runs.
    pub top_errors: Figure,
    /// session_id, cost_usd, traces, tokens, errors, last_seen.
    pub expensive_sessions: Figure,
}

pub(crate) fn window(column: &str, request: &DashboardRequest) -> String {
    format!(
        "{column} >= to_timestamp_nanos({}) AND {column} < to_timestamp_nanos({})",
        request.from_ns, request.to_ns
    )
}

/// The window widened to whole hours, the grain of `llm_usage`.
pub(crate) fn whole_hours(request: &DashboardRequest) -> DashboardRequest {
    const HOUR_NS: i64 = 3_600 * 1_000_000_000;
    DashboardRequest {
        from_ns: request.from_ns.div_euclid(HOUR_NS) * HOUR_NS,
        to_ns: request
            .to_ns
            .saturating_add(HOUR_NS - 1)
            .div_euclid(HOUR_NS)
            * HOUR_NS,
        group_by: request.group_by,
    }
}

pub(crate) async fn figure(context: &SessionContext, sql: String) -> Result<Figure> {
    let output = run_read_only_sql(context, &sql, SqlLimits::rows(100_000)).await?;
    let rows = batches_to_json_rows(&output.batches)?;
    Ok(Figure { sql, rows })
}

/// The UTC days from `from_ns` to `to_ns` (exclusive), at most `max_days`.
pub(crate) fn days_between(from_ns: i64, to_ns: i64, max_days: usize) -> Vec<String> {
    let first = chrono::DateTime::from_timestamp_nanos(from_ns).date_naive();
    let last = chrono::DateTime::from_timestamp_nanos(to_ns.saturating_sub(1)).date_naive();
    first
        .iter_days()
        .take_while(|day| *day <= last)
        .take(max_days)
        .map(|day| day.format("%Y-%m-%d").to_string())
        .collect()
}

pub async fn load_dashboard(
    context: &SessionContext,
    request: DashboardRequest,
) -> Result<Dashboard> {
    if request.to_ns <= request.from_ns {
        return Err(QueryError::InvalidQuery(
            "empty time window: the end must be after the start".into(),
        ));
    }
    let runs_window = window("start_time", &request);
    let (source, group, only_calls) = request.group_by.source();
    let tokens = "COALESCE(sum(input_tokens), 0) + COALESCE(sum(output_tokens), 0)";

    let totals = figure(
        context,
        format!(
            "SELECT count(*) AS runs, count(*) FILTER (WHERE outcome = 'failed') AS failed, \
             sum(cost_usd) AS cost_usd, {tokens} AS tokens FROM traces WHERE {runs_window}"
        ),
    )
    .await?;
    let usage_sql = match request.group_by {
        // Per model from the per-file rollups (`llm_usage`), not a scan of every span; its
        // hours cover the window's first and last hour whole.
        GroupBy::Model => format!(
            "SELECT day, COALESCE(model, '(unknown)') AS grp, sum(cost_usd) AS cost_usd, \
             sum(input_tokens) + sum(output_tokens) AS tokens \
             FROM llm_usage WHERE {} GROUP BY 1, 2 ORDER BY 1, 2",
            window("hour", &whole_hours(&request))
        ),
        GroupBy::Agent | GroupBy::Service => format!(
            "SELECT to_char(start_time, '%Y-%m-%d') AS day, {group} AS grp, \
             sum(cost_usd) AS cost_usd, {tokens} AS tokens \
             FROM {source} WHERE {only_calls}{runs_window} GROUP BY 1, 2 ORDER BY 1, 2"
        ),
    };
    let usage_by_day = figure(context, usage_sql).await?;
    let runs_by_day = figure(
        context,
        format!(
            "SELECT to_char(start_time, '%Y-%m-%d') AS day, count(*) AS runs, \
             count(*) FILTER (WHERE outcome = 'failed') AS failed \
             FROM traces WHERE {runs_window} GROUP BY 1 ORDER BY 1"
        ),
    )
    .await?;
    let latency = figure(
        context,
        format!(
            "SELECT {group} AS grp, count(*) AS calls, \
             approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ns) / 1e6 AS p50_ms, \
             approx_percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ns) / 1e6 AS p95_ms \
             FROM {source} WHERE {only_calls}{runs_window} GROUP BY 1 ORDER BY calls DESC, grp \
             LIMIT {TOP_ROWS}"
        ),
    )
    .await?;
    let top_errors = figure(
        context,
        format!(
            "SELECT COALESCE(error_type, status_message, 'error') AS error, count(*) AS spans, \
             count(DISTINCT trace_id) AS runs FROM spans \
             WHERE status_code = 'error' AND {runs_window} \
             GROUP BY 1 ORDER BY spans DESC, error LIMIT {TOP_ROWS}"
        ),
    )
    .await?;
    let expensive_sessions = figure(
        context,
        format!(
            "SELECT session_id, cost_usd, traces, \
             COALESCE(input_tokens, 0) + COALESCE(output_tokens, 0) AS tokens, errors, last_seen \
             FROM sessions WHERE {} AND cost_usd IS NOT NULL \
             ORDER BY cost_usd DESC, session_id LIMIT {TOP_ROWS}",
            window("last_seen", &request)
        ),
    )
    .await?;
    Ok(Dashboard {
        group_by: request.group_by,
        days: days_between(request.from_ns, request.to_ns, 366),
        totals,
        usage_by_day,
        runs_by_day,
        latency,
        top_errors,
        expensive_sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_cover_the_window_inclusively() {
        let day_ns = 86_400_000_000_000_i64;
        let start = 1_764_547_200_000_000_000; // 2025-12-01T00:00:00Z
        assert_eq!(
            days_between(start + 3_600_000_000_000, start + 2 * day_ns, 366),
            ["2025-12-01", "2025-12-02"]
        );
        assert_eq!(days_between(start, start + day_ns, 366), ["2025-12-01"]);
        assert_eq!(days_between(start, start + 400 * day_ns, 366).len(), 366);
    }

    #[test]
    fn the_usage_window_covers_whole_hours() {
        let hour = 3_600_000_000_000_i64;
        let start = 1_764_547_200_000_000_000; // 2025-12-01T00:00:00Z
        let request = DashboardRequest {
            from_ns: start + hour + 5,
            to_ns: start + 3 * hour + 1,
            group_by: GroupBy::Model,
        };
        let widened = whole_hours(&request);
        assert_eq!(
            (widened.from_ns, widened.to_ns),
            (start + hour, start + 4 * hour)
        );
        let aligned = DashboardRequest {
            from_ns: start,
            to_ns: start + hour,
            group_by: GroupBy::Model,
        };
        let same = whole_hours(&aligned);
        assert_eq!((same.from_ns, same.to_ns), (start, start + hour));
    }

    #[test]
    fn groups_parse_and_refuse_others() {
        assert_eq!(GroupBy::parse("").unwrap(), GroupBy::Model);
        assert_eq!(GroupBy::parse("agent").unwrap(), GroupBy::Agent);
        assert!(GroupBy::parse("project; DROP").is_err());
    }
}
