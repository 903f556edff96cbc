//! The dashboards page (`/dashboards?since=14d&group=model`): cost and tokens per day by
//! model, agent or service, runs and success rate, latency percentiles, top errors and the
//! most expensive sessions; charts drawn on the server, the same numbers as tables, and the
//! SQL behind each figure.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use serde_json::{Map, Value};
use sextant_query::dashboard::{Dashboard, DashboardRequest, GroupBy, load_dashboard};
use sextant_query::session::project_session;

use crate::api_error::ApiError;
use crate::auth::PageAccess;
use crate::charts::{DailySeries, stacked_daily_bars, top_series};
use crate::page_error::PageError;
use crate::state::AppState;
use crate::templates::render;
use crate::trace_list_params::parse_window_ns;

const DEFAULT_WINDOW: &str = "14d";
/// Slots of the light theme's palette: green and red.
const SUCCEEDED_COLOR: usize = 1;
const FAILED_COLOR: usize = 3;
const WINDOWS: &[(&str, &str)] = &[
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
    ("14d", "last 14 days"),
    ("30d", "last 30 days"),
    ("90d", "last 90 days"),
];

#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct DashboardParams {
    pub since: String,
    pub group: String,
}

fn number(row: &Map<String, Value>, key: &str) -> f64 {
    row.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// Each day of the window to its position on the x axis.
fn day_positions(days: &[String]) -> BTreeMap<&str, usize> {
    days.iter()
        .enumerate()
        .map(|(index, day)| (day.as_str(), index))
        .collect()
}

/// One series per group from `(day, grp, <value>)` rows, aligned on `days`.
fn series_by_group(dashboard: &Dashboard, value: &str) -> Vec<DailySeries> {
    let day_index = day_positions(&dashboard.days);
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in &dashboard.usage_by_day.rows {
        let Some(&index) = row
            .get("day")
            .and_then(Value::as_str)
            .and_then(|day| day_index.get(day))
        else {
            continue;
        };
        let group = row
            .get("grp")
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_owned();
        groups
            .entry(group)
            .or_insert_with(|| vec![0.0; dashboard.days.len()])[index] += number(row, value);
    }
    top_series(
        groups
            .into_iter()
            .map(|(name, values)| DailySeries {
                name,
                values,
                color_index: None,
            })
            .collect(),
    )
}

/// Runs and failed runs per day, aligned on `days`.
fn runs_series(dashboard: &Dashboard) -> Vec<DailySeries> {
    let mut passed = vec![0.0; dashboard.days.len()];
    let mut failed = vec![0.0; dashboard.days.len()];
    let day_index = day_positions(&dashboard.days);
    for row in &dashboard.runs_by_day.rows {
        let day = row.get("day").and_then(Value::as_str).unwrap_or_default();
        if let Some(&index) = day_index.get(day) {
            failed[index] = number(row, "failed");
            passed[index] = number(row, "runs") - failed[index];
        }
    }
    vec![
        DailySeries {
            name: "succeeded".into(),
            values: passed,
            color_index: Some(SUCCEEDED_COLOR),
        },
        DailySeries {
            name: "failed".into(),
            values: failed,
            color_index: Some(FAILED_COLOR),
        },
    ]
}

pub async fn get_dashboards(
    State(state): State<AppState>,
    access: PageAccess,
    Query(params): Query<DashboardParams>,
) -> Result<Html<String>, PageError> {
    let since = if params.since.trim().is_empty() {
        DEFAULT_WINDOW
    } else {
        params.since.trim()
    };
    let window_ns = parse_window_ns(since).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid since {since:?}: expected a window like 24h, 7d or 30d"
        ))
    })?;
    let group_by = GroupBy::parse(params.group.trim())?;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let request = DashboardRequest {
        from_ns: now_ns.saturating_sub(window_ns),
        to_ns: now_ns,
        group_by,
    };
    let context = project_session(state.data_dir(), &access.principal.project_id).await?;
    let dashboard = load_dashboard(&context, request).await?;
    let cost = series_by_group(&dashboard, "cost_usd");
    let mut tokens = series_by_group(&dashboard, "tokens");
    // A group keeps its color (and place) from the cost chart.
    for series in &mut tokens {
        series.color_index = cost
            .iter()
            .find(|by_cost| by_cost.name == series.name)
            .and_then(|by_cost| by_cost.color_index);
    }
    let runs = runs_series(&dashboard);
    let group_label = match group_by {
        GroupBy::Model => "model",
        GroupBy::Agent => "agent",
        GroupBy::Service => "service",
    };
    let html = render(
        "dashboards.html",
        context! { viewer => access.viewer.clone(),
            page_title => "Dashboards",
            nav => "dashboards",
            since,
            group => group_label,
            windows => WINDOWS,
            totals => dashboard.totals.rows.first(),
            cost_chart => stacked_daily_bars(&format!("Cost (USD) per day by {group_label}"), &dashboard.days, &cost)?,
            tokens_chart => stacked_daily_bars(&format!("Tokens per day by {group_label}"), &dashboard.days, &tokens)?,
            runs_chart => stacked_daily_bars("Runs per day", &dashboard.days, &runs)?,
            cost,
            tokens,
            days => &dashboard.days,
            dashboard,
        },
    )?;
    Ok(Html(html))
}
