//! The eval pages: `/evals` (runs newest first, and each suite's verdicts over time) and
//! `/evals/{id}` (one run: the verdict and its statistics, then every example with its
//! recorded and candidate turns side by side, the first divergence marked).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Html;
use minijinja::context;
use serde_json::Value;
use sextant_evals::report::stored_runs::{list_runs, load_run};

use crate::api::evals::run_summary;
use crate::auth::PageAccess;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

/// Runs listed on the page; the history strip shows up to this many per suite.
const LISTED_RUNS: usize = 200;
const HISTORY_PER_SUITE: usize = 30;

pub async fn get_evals_page(
    State(state): State<AppState>,
    access: PageAccess,
) -> Result<Html<String>, PageError> {
    let runs = state
        .access
        .with_store(|store| list_runs(store, &access.principal.project_id, None, LISTED_RUNS))?;
    // Oldest to newest, per suite, for the verdict strip.
    let mut history: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for run in runs.iter().rev() {
        let strip = history.entry(run.suite.clone()).or_default();
        strip.push(serde_json::json!({"id": run.id, "verdict": run.verdict, "started_at_ms": run.started_at_ms}));
        if strip.len() > HISTORY_PER_SUITE {
            strip.remove(0);
        }
    }
    let runs: Vec<Value> = runs.iter().map(run_summary).collect();
    let html = render(
        "evals.html",
        context! { viewer => access.viewer.clone(), page_title => "Evals", nav => "evals", runs, history },
    )?;
    Ok(Html(html))
}

pub async fn get_eval_run_page(
    State(state): State<AppState>,
    access: PageAccess,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let run = state
        .access
        .with_store(|store| load_run(store, &access.principal.project_id, id))?;
    let html = render(
        "eval_run.html",
        context! { viewer => access.viewer.clone(),
            page_title => format!("eval run {id} · {}", run.suite),
            nav => "evals",
            run,
        },
    )?;
    Ok(Html(html))
}
