//! Static assets of the web UI (stylesheet, script), compiled into the binary and served
//! under `/assets/`, so the UI makes no request beyond Sextant itself.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::respond::api_error::ApiError;

/// (file name, content type, bytes).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "sextant.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/sextant.css"),
    ),
    (
        "sextant.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/sextant.js"),
    ),
];

pub async fn get_asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(file, _, _)| *file == name)
        .ok_or_else(|| ApiError {
            status: axum::http::StatusCode::NOT_FOUND,
            code: "not_found",
            message: format!("no asset {name:?}"),
        })?;
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
