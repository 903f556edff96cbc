//! The session page (`/sessions/{id}`): a conversation's traces in order with the prompt that
//! started each, outcome, tokens and cost, what the run touched (`touched.rs`), and the
//! agent's events per prompt.

use axum::extract::{Path, State};
use axum::response::Html;
use minijinja::context;
use sextant_query::session_detail::load_session;
use sextant_query::sql_context::project_context;

use crate::auth::PageAccess;
use crate::pages::touched::session_touched;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

pub async fn get_session_page(
    State(state): State<AppState>,
    access: PageAccess,
    Path(session_id): Path<String>,
) -> Result<Html<String>, PageError> {
    let context = project_context(state.data_dir(), &access.principal.project_id).await?;
    let session = load_session(&context, &session_id).await?;
    let trace_ids: Vec<String> = session
        .traces
        .iter()
        .filter_map(|trace| trace.get("trace_id").and_then(|id| id.as_str()))
        .map(str::to_string)
        .collect();
    let touched_actions = session_touched(&context, &session_id, &trace_ids).await?;
    let html = render(
        "session.html",
        context! { viewer => access.viewer.clone(),
            page_title => format!("session {session_id}"),
            nav => "runs",
            session,
            touched_actions,
        },
    )?;
    Ok(Html(html))
}
