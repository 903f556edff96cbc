//! Who a web request acts as: the extractors every API route and page takes.
//!
//! - API routes ([`ReadAccess`], [`AdminAccess`]) take `Authorization: Bearer <key>`; a
//!   browser's session cookie also works for reads (`GET`), so the UI's own fetches work.
//! - Pages ([`PageAccess`]) take the session cookie (or a bearer key); without one they
//!   redirect to `/login`. Forms that change a project take [`AdminPageAccess`].
//!
//! In open local mode (no key ever created) every request is the `default` project's
//! admin. Failures are 401 (missing, malformed, unknown, revoked key; ended session) or
//! 403 (a valid key of the wrong scope), with a message and never a word about other
//! projects.
//!
//! Beside the extractors: [`sign_in`] (the sign-in page and sign-out) and [`host_check`]
//! (the DNS-rebinding guard of open local mode, which accepts `crate::public_url` too).

pub mod form_check;
pub mod host_check;
pub mod sign_in;

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sextant_meta::keys::Scope;
use sextant_meta::limits::OverLimit;
use sextant_meta::{AuthFailure, Principal};

use crate::respond::api_error::ApiError;
use crate::respond::page_error::PageError;
use crate::state::AppState;

/// The cookie holding a signed-in browser's session token.
pub const SESSION_COOKIE: &str = "sextant_session";

/// The value of cookie `name`, if the request carries it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_string())
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> ApiError {
        let (status, code) = if failure.is_forbidden() {
            (StatusCode::FORBIDDEN, "permission_denied")
        } else if failure.is_internal() {
            return ApiError::internal(failure);
        } else {
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        };
        ApiError {
            status,
            code,
            message: failure.to_string(),
        }
    }
}

/// Resolves a request's principal (and its session's CSRF token, if signed in by cookie).
fn resolve(
    state: &AppState,
    parts: &Parts,
    needed: Scope,
    cookie_allowed: bool,
) -> Result<(Principal, Option<String>), AuthFailure> {
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    if authorization.is_none()
        && cookie_allowed
        && let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE)
        && !state.access.is_open_mode()
    {
        let (principal, csrf) = state.access.authorize_web_session(&token, needed)?;
        principal.record_on_request_span();
        return Ok((principal, Some(csrf)));
    }
    let principal = state.access.authorize_header(authorization, needed)?;
    principal.record_on_request_span();
    Ok((principal, None))
}

/// Why an API request was refused: its credentials, or its project's request rate.
pub enum AccessRejection {
    Denied(ApiError),
    OverLimit(OverLimit),
}

impl From<AuthFailure> for AccessRejection {
    fn from(failure: AuthFailure) -> AccessRejection {
        AccessRejection::Denied(failure.into())
    }
}

/// 429 with `Retry-After`, as JSON (`api`) or as an error page.
fn over_limit_response(over: &OverLimit, page: bool) -> Response {
    let error = ApiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "rate_limited",
        message: format!(
            "this project is over its limit of {}; retry after {} s",
            over.what, over.retry_after_secs
        ),
    };
    let mut response = if page {
        PageError(error).into_response()
    } else {
        error.into_response()
    };
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(over.retry_after_secs),
    );
    response
}

impl IntoResponse for AccessRejection {
    fn into_response(self) -> Response {
        match self {
            AccessRejection::Denied(error) => error.into_response(),
            AccessRejection::OverLimit(over) => over_limit_response(&over, false),
        }
    }
}

/// Resolves the principal, then charges one request to its project's API rate.
fn admit(
    state: &AppState,
    parts: &Parts,
    needed: Scope,
    cookie_allowed: bool,
) -> Result<(Principal, Option<String>), AccessRejection> {
    let (principal, csrf) = resolve(state, parts, needed, cookie_allowed)?;
    charge_request(state, &principal).map_err(AccessRejection::OverLimit)?;
    Ok((principal, csrf))
}

/// Charges one request to the principal's project's API rate.
fn charge_request(state: &AppState, principal: &Principal) -> Result<(), OverLimit> {
    state.access.limits().admit_api(&principal.project_id)
}

/// Admits a request needing `needed` that only reads: a browser's session cookie counts too.
fn admit_read_only(
    state: &AppState,
    parts: &Parts,
    needed: Scope,
) -> Result<Principal, AccessRejection> {
    // A cookie rides along with any request a page makes the browser send; only safe
    // methods accept it, so a forged form cannot act with the session.
    let cookie_allowed = parts.method == Method::GET || parts.method == Method::HEAD;
    let (principal, _) = admit(state, parts, needed, cookie_allowed)?;
    Ok(principal)
}

/// A request allowed to read its project (a `read` or `admin` key).
pub struct ReadAccess(pub Principal);

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = AccessRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AccessRejection> {
        admit_read_only(state, parts, Scope::Read).map(ReadAccess)
    }
}

/// A request with an `admin` key of its project.
pub struct AdminAccess(pub Principal);

impl FromRequestParts<AppState> for AdminAccess {
    type Rejection = AccessRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AccessRejection> {
        let (principal, _) = admit(state, parts, Scope::Admin, false)?;
        Ok(AdminAccess(principal))
    }
}

/// A request with the instance's operator key (or any request in open local mode): it may
/// see every project's usage sums, and nothing else.
pub struct OperatorAccess(pub Principal);

impl FromRequestParts<AppState> for OperatorAccess {
    type Rejection = AccessRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, AccessRejection> {
        admit_read_only(state, parts, Scope::Operator).map(OperatorAccess)
    }
}

/// A page request allowed to read its project, and what the page shows about it.
pub struct PageAccess {
    pub principal: Principal,
    pub viewer: Viewer,
}

/// A page request of the instance's operator (or open local mode): the usage page.
pub struct OperatorPageAccess(pub PageAccess);

/// A page request with an `admin` key's session (or open local mode): the forms that
/// change a project's datasets.
pub struct AdminPageAccess(pub PageAccess);

/// What the page header shows: the project, and a sign-out form when signed in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Viewer {
    pub project: String,
    pub signed_in: bool,
    /// The session's CSRF token, for the sign-out form (and any other POST form).
    pub csrf_token: Option<String>,
    /// Signed in with an operator key: the header links only to the usage page.
    pub operator: bool,
    /// May open the usage page (an operator, or anyone in open local mode).
    pub sees_usage: bool,
    /// May change the project (an admin key, or open local mode): the trace page's
    /// "Add to dataset" form is shown.
    pub admin: bool,
}

/// Why a page was not shown: sign in first, go elsewhere, an error page, or the rate.
pub enum PageRejection {
    SignIn(String),
    Redirect(&'static str),
    Error(PageError),
    OverLimit(OverLimit),
}

impl IntoResponse for PageRejection {
    fn into_response(self) -> Response {
        match self {
            PageRejection::SignIn(next) => {
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                Redirect::to(&format!("/login?{query}")).into_response()
            }
            PageRejection::Redirect(to) => Redirect::to(to).into_response(),
            PageRejection::Error(error) => error.into_response(),
            PageRejection::OverLimit(over) => over_limit_response(&over, true),
        }
    }
}

/// The page the usage figures are on, where an operator's browser is sent.
pub const USAGE_PAGE: &str = "/usage";

/// Admits a page request needing `needed`; an operator asking for a project's page is
/// sent to the usage page instead of an error.
fn admit_page(state: &AppState, parts: &Parts, needed: Scope) -> Result<PageAccess, PageRejection> {
    let (principal, csrf_token) = match resolve(state, parts, needed, true) {
        Ok(resolved) => resolved,
        Err(AuthFailure::Forbidden {
            have: Scope::Operator,
            ..
        }) => return Err(PageRejection::Redirect(USAGE_PAGE)),
        Err(failure) if failure.is_forbidden() || failure.is_internal() => {
            return Err(PageRejection::Error(PageError(failure.into())));
        }
        Err(_) => {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/".to_string(), |path| path.as_str().to_string());
            return Err(PageRejection::SignIn(next));
        }
    };
    charge_request(state, &principal).map_err(PageRejection::OverLimit)?;
    let operator = principal.scope == Scope::Operator;
    Ok(PageAccess {
        viewer: Viewer {
            project: principal.project_id.clone(),
            signed_in: csrf_token.is_some(),
            csrf_token,
            operator,
            sees_usage: operator || principal.key_id.is_none(),
            admin: principal.scope == Scope::Admin,
        },
        principal,
    })
}

impl FromRequestParts<AppState> for PageAccess {
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PageRejection> {
        admit_page(state, parts, Scope::Read)
    }
}

impl FromRequestParts<AppState> for OperatorPageAccess {
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PageRejection> {
        admit_page(state, parts, Scope::Operator).map(OperatorPageAccess)
    }
}

impl FromRequestParts<AppState> for AdminPageAccess {
    type Rejection = PageRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, PageRejection> {
        admit_page(state, parts, Scope::Admin).map(AdminPageAccess)
    }
}
