//! The usage page (`/usage?since=14d`): cost and tokens per day by project, and each
//! project's calls, errors, tokens and cost as a table — the operator's view of the whole
//! instance (an operator key, or open local mode), made of per-project sums only.

use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;

use crate::api::usage::{UsageParams, load_usage};
use crate::auth::OperatorPageAccess;
use crate::pages::charts::{colored_like, series_by_key, stacked_daily_bars};
use crate::pages::dashboards::WINDOWS;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

pub async fn get_usage_page(
    State(state): State<AppState>,
    OperatorPageAccess(access): OperatorPageAccess,
    Query(params): Query<UsageParams>,
) -> Result<Html<String>, PageError> {
    let (usage, since) = load_usage(&state, &params.since).await?;
    let cost = series_by_key(&usage.days, &usage.by_day, "project", "cost_usd");
    let tokens = colored_like(
        series_by_key(&usage.days, &usage.by_day, "project", "tokens"),
        &cost,
    );
    let html = render(
        "usage.html",
        context! { viewer => access.viewer.clone(),
            page_title => "Usage by project",
            nav => "usage",
            since,
            windows => WINDOWS,
            cost_chart => stacked_daily_bars("Cost (USD) per day by project", &usage.days, &cost)?,
            tokens_chart => stacked_daily_bars("Tokens per day by project", &usage.days, &tokens)?,
            usage,
        },
    )?;
    Ok(Html(html))
}
