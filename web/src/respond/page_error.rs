//! `PageError`: a failed UI request as an HTML page with the right status, the HTML twin of
//! [`ApiError`] (whose kinds, statuses and messages it reuses).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;

use sextant_query::QueryError;

use crate::respond::api_error::ApiError;
use crate::respond::templates::render;

#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> PageError {
        PageError(error)
    }
}

impl From<QueryError> for PageError {
    fn from(error: QueryError) -> PageError {
        PageError(error.into())
    }
}

impl From<sextant_evals::error::EvalError> for PageError {
    fn from(error: sextant_evals::error::EvalError) -> PageError {
        PageError(error.into())
    }
}

impl From<minijinja::Error> for PageError {
    fn from(error: minijinja::Error) -> PageError {
        PageError(ApiError::internal(format!("template: {error:#}")))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let ApiError {
            status,
            code,
            message,
        } = self.0;
        let page = render(
            "error.html",
            context! { status => status.as_u16(), reason => status.canonical_reason(), code, message },
        );
        match page {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, "error page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
            }
        }
    }
}
