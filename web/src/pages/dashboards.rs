//! The dashboards page (`/dashboards?since=14d&group=model`): cost and tokens per day by
//! model, agent or service, runs and success rate, latency percentiles, top errors and the
//! most expensive sessions; charts drawn on the server, the same numbers as tables, and the
//! SQL behind each figure.

use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use serde_json::{Map, Value};
use sextant_query::dashboard::{Dashboard, DashboardRequest, GroupBy, load_dashboard};
use sextant_query::sql_context::project_context;

use crate::api::trace_list_params::{DEFAULT_WINDOW, window_until_now};
use crate::auth::PageAccess;
use crate::pages::charts::{
    DailySeries, colored_like, day_positions, series_by_key, stacked_daily_bars,
};
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

/// Slots of the light theme's palette: green and red.
const SUCCEEDED_COLOR: usize = 1;
const FAILED_COLOR: usize = 3;
pub const WINDOWS: &[(&str, &str)] = &[
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
    let (since, from_ns, to_ns) = window_until_now(&params.since, DEFAULT_WINDOW)?;
    let group_by = GroupBy::parse(params.group.trim())?;
    let request = DashboardRequest {
        from_ns,
        to_ns,
        group_by,
    };
    let context = project_context(state.data_dir(), &access.principal.project_id).await?;
    let dashboard = load_dashboard(&context, request).await?;
    let rows = &dashboard.usage_by_day.rows;
    let cost = series_by_key(&dashboard.days, rows, "grp", "cost_usd");
    let tokens = colored_like(series_by_key(&dashboard.days, rows, "grp", "tokens"), &cost);
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
