//! Forms that change a project (add to a dataset, move an alert) must come from this
//! server's own pages. A signed-in browser's form carries the session's CSRF token; without
//! a session (an open loopback server) a request another site made (its `Origin` or
//! `Sec-Fetch-Site` says so) is refused.

use axum::http::{HeaderMap, StatusCode};

use crate::auth::Viewer;
use crate::respond::api_error::ApiError;
use crate::respond::page_error::PageError;

/// Ok when the form came from one of this server's pages; else the 403 page.
pub fn check_form(viewer: &Viewer, csrf_token: &str, headers: &HeaderMap) -> Result<(), PageError> {
    let trusted = match &viewer.csrf_token {
        Some(token) => token == csrf_token,
        None => same_origin(headers),
    };
    if trusted { Ok(()) } else { Err(forbidden()) }
}

fn forbidden() -> PageError {
    PageError(ApiError {
        status: StatusCode::FORBIDDEN,
        code: "csrf",
        message: "the form came from another site or an old page; reload and try again".into(),
    })
}

/// True when the browser says the request came from a page of this server (or did not
/// say: not a browser, or an old one).
fn same_origin(headers: &HeaderMap) -> bool {
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
