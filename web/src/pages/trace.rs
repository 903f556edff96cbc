//! The trace page (`/traces/{id}`): tree and waterfall side by side, the selected span's
//! content beside them; `/traces/{id}/spans/{span_id}` is that content alone, which the
//! page's script swaps in without reloading (and which works as a plain page too).

use axum::extract::{Path, Query, State};
use axum::response::Html;
use minijinja::context;
use serde_json::{Map, Value};
use sextant_query::sql_context::project_context;
use sextant_query::trace::{TraceTree, load_span, load_span_of, load_trace_skeleton};

use crate::auth::PageAccess;
use crate::pages::span_view::span_view;
use crate::pages::touched::trace_touched;
use crate::pages::trace_view::{page_of_span, trace_view};
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TracePageParams {
    /// The selected span.
    pub span: Option<String>,
    /// Page of the tree (0-based); defaults to the selected span's page.
    pub page: Option<usize>,
    /// After "add to dataset": the dataset, its version now, and how many were added.
    pub dataset: Option<String>,
    pub version: Option<i64>,
    pub added: Option<usize>,
}

pub async fn get_trace_page(
    State(state): State<AppState>,
    access: PageAccess,
    Path(trace_id): Path<String>,
    Query(params): Query<TracePageParams>,
) -> Result<Html<String>, PageError> {
    let context = project_context(state.data_dir(), &access.principal.project_id).await?;
    let tree = load_trace_skeleton(&context, &trace_id).await?;
    // The selected span, else where the run failed (the deepest error: a failed run's root
    // is an error too, but the cause is below it), else the root.
    let selected_id = params
        .span
        .clone()
        .filter(|span_id| page_of_span(&tree, span_id).is_some())
        .or_else(|| {
            deepest_error(&tree)
                .or(tree.spans.first())
                .and_then(span_id)
        });
    let page = params
        .page
        .or_else(|| {
            selected_id
                .as_deref()
                .and_then(|id| page_of_span(&tree, id))
        })
        .unwrap_or(0);
    let selected = match &selected_id {
        Some(span_id) => Some(span_view(load_span_of(&context, &tree, span_id).await?)),
        None => None,
    };
    let view = trace_view(&tree, page);
    let touched_actions = trace_touched(&context, &trace_id).await?;
    let datasets = state.access.with_store(|store| {
        sextant_evals::datasets::list_datasets(store, &access.principal.project_id)
    })?;
    let added_to = params.dataset.as_ref().map(|name| {
        context! { name, version => params.version, added => params.added.unwrap_or(0) }
    });
    let html = render(
        "trace.html",
        context! { viewer => access.viewer.clone(),
            page_title => format!("{} · trace", view.root_name),
            nav => "runs",
            trace => view,
            selected_id,
            selected,
            datasets,
            added_to,
            touched_actions,
        },
    )?;
    Ok(Html(html))
}

pub async fn get_span_fragment(
    State(state): State<AppState>,
    access: PageAccess,
    Path((trace_id, span_id)): Path<(String, String)>,
) -> Result<Html<String>, PageError> {
    let context = project_context(state.data_dir(), &access.principal.project_id).await?;
    let span = span_view(load_span(&context, &trace_id, &span_id).await?);
    let html = render(
        "span.html",
        context! { viewer => access.viewer.clone(), selected => span, trace_id },
    )?;
    Ok(Html(html))
}

fn span_id(span: &Map<String, Value>) -> Option<String> {
    span.get("span_id")?.as_str().map(str::to_owned)
}

/// The first of the deepest error spans, in tree order.
fn deepest_error(tree: &TraceTree) -> Option<&Map<String, Value>> {
    let depth = |span: &Map<String, Value>| span.get("depth").and_then(Value::as_u64).unwrap_or(0);
    tree.spans
        .iter()
        .filter(|span| span.get("status_code").and_then(Value::as_str) == Some("error"))
        .fold(
            None,
            |deepest: Option<&Map<String, Value>>, span| match deepest {
                Some(current) if depth(current) >= depth(span) => Some(current),
                _ => Some(span),
            },
        )
}
