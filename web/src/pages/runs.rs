//! The runs page (`/`): search box, filters, and the traces that match, newest first.
//!
//! Every view is its URL: the form submits with GET, so a filtered list can be bookmarked
//! and shared, and "next page" is a link carrying the cursor.

use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use sextant_query::trace_list::list_traces;

use crate::api::trace_list_params::TraceListParams;
use crate::auth::PageAccess;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

/// Time windows offered by the page.
const WINDOWS: &[(&str, &str)] = &[
    ("", "all time"),
    ("1h", "last hour"),
    ("24h", "last 24 hours"),
    ("7d", "last 7 days"),
    ("14d", "last 14 days"),
    ("30d", "last 30 days"),
];

pub async fn get_runs(
    State(state): State<AppState>,
    access: PageAccess,
    Query(params): Query<TraceListParams>,
) -> Result<Html<String>, PageError> {
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let request = params.to_request(now_ns)?;
    let page = list_traces(state.data_dir(), &access.principal.project_id, &request).await?;
    let next_url = page
        .next_cursor
        .as_deref()
        .map(|cursor| format!("/?{}", params.query_string_with_cursor(Some(cursor))));
    let html = render(
        "runs.html",
        context! { viewer => access.viewer.clone(),
            page_title => "Runs",
            nav => "runs",
            params => &params,
            show_filters => params.has_filters(),
            windows => WINDOWS,
            traces => page.traces,
            next_url,
            first_page_url => (!params.cursor.is_empty())
                .then(|| format!("/?{}", params.query_string_with_cursor(None))),
        },
    )?;
    Ok(Html(html))
}
