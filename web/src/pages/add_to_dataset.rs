//! "Add to dataset" on the trace page: a plain HTML form POSTed to
//! `/traces/{id}/dataset` (dataset name, label, expected outcome) that adds the run to the
//! dataset as a new version — created on first use — and redirects back to the trace,
//! which then says what happened (`?dataset=…&version=…&added=…`).
//!
//! Adding examples changes the project: it needs an admin key's session (a read key's
//! gets 403), and the form must come from this server's page (`auth/form_check.rs`).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Redirect;
use sextant_evals::datasets::Annotation;
use sextant_evals::datasets::source::{DatasetSource, add_from_source};

use crate::auth::AdminPageAccess;
use crate::auth::form_check::check_form;
use crate::respond::page_error::PageError;
use crate::state::AppState;

#[derive(Debug, serde::Deserialize)]
pub struct AddToDatasetForm {
    dataset: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    expected: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn post_add_to_dataset(
    State(state): State<AppState>,
    AdminPageAccess(access): AdminPageAccess,
    headers: HeaderMap,
    Path(trace_id): Path<String>,
    Form(form): Form<AddToDatasetForm>,
) -> Result<Redirect, PageError> {
    check_form(&access.viewer, &form.csrf_token, &headers)?;
    let name = form.dataset.trim();
    let added = add_from_source(
        state.access.metadata(),
        state.data_dir(),
        &access.principal.project_id,
        name,
        &DatasetSource::Traces(vec![trace_id.clone()]),
        &Annotation {
            expected: Some(form.expected),
            label: Some(form.label),
        },
    )
    .await?;
    let query = serde_urlencoded::to_string([
        ("dataset", added.name),
        ("version", added.version.to_string()),
        ("added", added.added.to_string()),
    ])
    .unwrap_or_default();
    Ok(Redirect::to(&format!("/traces/{trace_id}?{query}")))
}
