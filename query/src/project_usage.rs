//! Usage per project and day: the operator's view of the whole instance.
//!
//! Each project's model calls, errors, tokens and cost per day come from its own session's
//! `llm_usage` (the same statement for every project, so the numbers are exactly what that
//! project's `POST /api/sql` answers). Only these sums leave a project: the caller (an
//! operator key, or open local mode) never gets a session that reads spans.

use serde::Serialize;
use serde_json::{Map, Value};
use sextant_ingest::layout::DataDir;

use crate::dashboard::{DashboardRequest, GroupBy, days_between, figure, whole_hours, window};
use crate::error::{QueryError, Result};
use crate::sql_context::project_context;

/// The counts summed per project (as integers; `cost_usd` is summed as a float).
const COUNTS: [&str; 3] = ["calls", "errors", "tokens"];

/// A row's `cost_usd` (zero when unpriced).
fn cost(row: &Map<String, Value>) -> f64 {
    row.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0)
}

#[derive(Debug, Serialize)]
pub struct ProjectUsage {
    /// Every day of the window, `YYYY-MM-DD`, oldest first (days without data included).
    pub days: Vec<String>,
    /// The statement run in each project's session.
    pub sql: String,
    /// project, day, calls, errors, tokens, cost_usd: a row per project and day with calls.
    pub by_day: Vec<Map<String, Value>>,
    /// project, calls, errors, tokens, cost_usd over the window, most expensive first; every
    /// project asked about has a row, zero when it made no calls.
    pub totals: Vec<Map<String, Value>>,
}

/// The daily usage statement over `llm_usage`, whose hours cover the window's ends whole.
fn daily_usage_sql(from_ns: i64, to_ns: i64) -> String {
    let request = DashboardRequest {
        from_ns,
        to_ns,
        group_by: GroupBy::Model,
    };
    format!(
        "SELECT day, sum(calls) AS calls, sum(errors) AS errors, \
         sum(input_tokens) + sum(output_tokens) AS tokens, sum(cost_usd) AS cost_usd \
         FROM llm_usage WHERE {} GROUP BY day ORDER BY day",
        window("hour", &whole_hours(&request))
    )
}

/// Usage per day of each of `projects` over `[from_ns, to_ns)`.
pub async fn load_project_usage(
    data_dir: &DataDir,
    projects: &[String],
    from_ns: i64,
    to_ns: i64,
) -> Result<ProjectUsage> {
    if to_ns <= from_ns {
        return Err(QueryError::InvalidQuery(
            "empty time window: the end must be after the start".into(),
        ));
    }
    let sql = daily_usage_sql(from_ns, to_ns);
    let mut by_day = Vec::new();
    let mut totals = Vec::new();
    for project in projects {
        let context = project_context(data_dir, project).await?;
        let rows = figure(&context, sql.clone()).await?.rows;
        let mut total = Map::new();
        total.insert("project".into(), Value::from(project.as_str()));
        for name in COUNTS {
            let sum: i64 = rows.iter().filter_map(|row| row.get(name)?.as_i64()).sum();
            total.insert(name.into(), Value::from(sum));
        }
        total.insert(
            "cost_usd".into(),
            Value::from(rows.iter().map(cost).sum::<f64>()),
        );
        totals.push(total);
        by_day.extend(rows.into_iter().map(|mut row| {
            row.insert("project".into(), Value::from(project.as_str()));
            row
        }));
    }
    totals.sort_by(|a, b| cost(b).total_cmp(&cost(a)));
    Ok(ProjectUsage {
        days: days_between(from_ns, to_ns, 366),
        sql,
        by_day,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_reads_only_llm_usage_over_whole_hours() {
        const HOUR_NS: i64 = 3_600 * 1_000_000_000;
        let sql = daily_usage_sql(10 * HOUR_NS + 5, 12 * HOUR_NS + 7);
        assert!(sql.contains("FROM llm_usage"), "{sql}");
        assert!(
            sql.contains(&format!("hour >= to_timestamp_nanos({})", 10 * HOUR_NS)),
            "{sql}"
        );
        assert!(
            sql.contains(&format!("hour < to_timestamp_nanos({})", 13 * HOUR_NS)),
            "{sql}"
        );
    }
}
