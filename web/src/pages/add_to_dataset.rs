//! "Add to dataset" on the trace page: a plain HTML form POSTed to
//! `/traces/{id}/dataset` (dataset name, label, expected outcome) that adds the run to the
//! dataset as a new version — created on first use — and redirects back to the trace,
//! which then says what happened (`?dataset=…&version=…&added=…`).
//!
//! Adding examples changes the project: it needs an admin key's session (a read key's
//! gets 403). A signed-in browser's form carries the session's CSRF token; without a session (an
//! open loopback server) a request another site made (its `Origin` or `Sec-Fetch-Site`
//! says so) is refused.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Redirect;
use sextant_evals::datasets::Annotation;
use sextant_evals::datasets::source::{DatasetSource, add_from_source};

use crate::auth::AdminPageAccess;
use crate::respond::api_error::ApiError;
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

pub(crate) fn forbidden() -> PageError {
    PageError(ApiError {
        status: StatusCode::FORBIDDEN,
        code: "csrf",
        message: "the form came from another site or an old page; reload and try again".into(),
    })
}

/// True when the browser says the request came from a page of this server (or did not
/// say: not a browser, or an old one).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, origin_host)| origin_host == host),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

pub async fn post_add_to_dataset(
    State(state): State<AppState>,
    AdminPageAccess(access): AdminPageAccess,
    headers: HeaderMap,
    Path(trace_id): Path<String>,
    Form(form): Form<AddToDatasetForm>,
) -> Result<Redirect, PageError> {
    let trusted = match &access.viewer.csrf_token {
        Some(token) => *token == form.csrf_token,
        None => same_origin(&headers),
    };
    if !trusted {
        return Err(forbidden());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_static(name),
                    axum::http::HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn only_requests_from_this_server_s_pages_are_same_origin() {
        assert!(same_origin(&headers(&[])), "not a browser");
        assert!(same_origin(&headers(&[
            ("origin", "http://127.0.0.1:4318"),
            ("host", "127.0.0.1:4318"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:4318"),
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
    }
}
