//! Sign-in and sign-out of the web UI (`GET`/`POST /login`, `POST /logout`).
//!
//! Signing in with a read, admin or operator key sets an HttpOnly, SameSite=Strict session cookie.
//! Every state-changing form carries a CSRF token: the sign-in form a double-submit token
//! (the same random value in a short-lived cookie and in the form), the signed-in forms
//! their session's token.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use minijinja::context;
use sextant_meta::keys::random_token;

use crate::auth::{SESSION_COOKIE, cookie_value};
use crate::respond::api_error::ApiError;
use crate::respond::page_error::PageError;
use crate::respond::templates::render;
use crate::state::AppState;

/// The cookie of the sign-in form's double-submit CSRF token.
const SIGN_IN_CSRF_COOKIE: &str = "sextant_sign_in_csrf";

#[derive(Debug, serde::Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct SignInForm {
    key: String,
    csrf_token: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub struct SignOutForm {
    csrf_token: String,
}

/// Where to go after signing in: a path of this server, else `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_local_path(path) => path.to_string(),
        _ => "/".to_string(),
    }
}

/// True for an absolute path of this server, as sent and decoded once: a browser (or a
/// proxy) that decodes `/%2f%2fevil.example` or `/%5cevil.example` would see another
/// site (`//host` and `/\host` are scheme-relative to browsers), and a tab, CR or LF is
/// dropped by URL parsers or splits the `Location` header.
fn is_local_path(path: &str) -> bool {
    // Graphic ASCII only, as a `Location` header value must be.
    let sendable = path.bytes().all(|byte| byte.is_ascii_graphic());
    let Ok(decoded) = percent_encoding::percent_decode_str(path).decode_utf8() else {
        return false;
    };
    sendable
        && [path, decoded.as_ref()]
            .into_iter()
            .all(is_plain_local_path)
}

fn is_plain_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
}

fn cookie_header(cookie: Cookie<'_>) -> Result<HeaderValue, PageError> {
    HeaderValue::from_str(&cookie.to_string())
        .map_err(|error| PageError(ApiError::internal(format!("cookie: {error}"))))
}

fn session_cookie(value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
}

/// Renders the sign-in form with a fresh CSRF token (in the form and its cookie).
fn sign_in_page(
    status: StatusCode,
    next: &str,
    message: Option<String>,
) -> Result<Response, PageError> {
    let csrf_token = random_token()
        .map_err(|error| PageError(ApiError::internal(format!("random: {error}"))))?;
    let html = render(
        "login.html",
        context! { page_title => "Sign in", nav => "login", next, message, csrf_token },
    )?;
    let csrf_cookie = Cookie::build((SIGN_IN_CSRF_COOKIE, csrf_token))
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::minutes(30))
        .build();
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_header(csrf_cookie)?);
    Ok(response)
}

pub async fn get_sign_in(
    State(state): State<AppState>,
    Query(query): Query<SignInQuery>,
) -> Result<Response, PageError> {
    let next = safe_next(query.next.as_deref());
    if state.access.is_open_mode() {
        return Ok(Redirect::to(&next).into_response());
    }
    sign_in_page(StatusCode::OK, &next, None)
}

pub async fn post_sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, PageError> {
    let next = safe_next(form.next.as_deref());
    let expected = cookie_value(&headers, SIGN_IN_CSRF_COOKIE);
    if expected.as_deref() != Some(form.csrf_token.as_str()) || form.csrf_token.is_empty() {
        let message = "the sign-in form expired or came from another site; try again".to_string();
        return sign_in_page(StatusCode::FORBIDDEN, &next, Some(message));
    }
    let access = state.access.clone();
    let key = form.key;
    let outcome = tokio::task::spawn_blocking(move || access.sign_in(&key))
        .await
        .map_err(|error| PageError(ApiError::internal(format!("sign-in task: {error}"))))?;
    match outcome {
        Ok((token, _)) => {
            let cookie = session_cookie(token, 12 * 60 * 60, state.secure_cookies);
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie_header(cookie)?);
            Ok(response)
        }
        Err(failure) if failure.is_internal() => Err(PageError(failure.into())),
        Err(failure) => {
            let status = if failure.is_forbidden() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            sign_in_page(status, &next, Some(failure.to_string()))
        }
    }
}

pub async fn post_sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignOutForm>,
) -> Result<Response, PageError> {
    let Some(token) = cookie_value(&headers, SESSION_COOKIE) else {
        return Ok(Redirect::to("/login").into_response());
    };
    // Any live session may end, whatever its key's scope: an operator's key reads no
    // project, and a scope check here once left operators signed in.
    let Ok((principal, csrf_token)) = state.access.web_session(&token) else {
        return Ok(Redirect::to("/login").into_response());
    };
    if csrf_token != form.csrf_token {
        return Err(PageError(ApiError {
            status: StatusCode::FORBIDDEN,
            code: "csrf",
            message: "the form came from another site or an old page; reload and try again".into(),
        }));
    }
    state.access.sign_out(&token, &principal);
    let mut response = Redirect::to("/login").into_response();
    let expired = session_cookie(String::new(), 0, state.secure_cookies);
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_header(expired)?);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/traces/abc?x=1")), "/traces/abc?x=1");
        assert_eq!(
            safe_next(Some("/runs/%C3%A9t%C3%A9")),
            "/runs/%C3%A9t%C3%A9"
        );
        assert_eq!(safe_next(Some("/?q=a%20b")), "/?q=a%20b");
        for outside in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "/\\/evil.example",
            "/a\\b",
            "evil",
            "",
            "/%2f%2fevil.example",
            "/%2F%2Fevil.example",
            "%2f%2fevil.example",
            "/%5cevil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/\r\nSet-Cookie:x=1",
            "/%0d%0aSet-Cookie:x=1",
            "/%00",
            "/%ff",
            "/ evil",
            "/caf\u{e9}",
        ] {
            assert_eq!(safe_next(Some(outside)), "/", "{outside:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
