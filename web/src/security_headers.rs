//! The browser-facing security headers every HTTP response carries (pages, API, OTLP,
//! assets, errors), set in one place: a layer over the whole router.

use axum::http::{HeaderValue, header};
use axum::response::Response;

/// What the pages may load and who may frame them.
///
/// - Scripts only from `/assets/` (`default-src 'self'`): the UI has no inline script and
///   no event-handler attributes, so injected markup could not run script anyway.
/// - `style-src 'self' 'unsafe-inline'` because the trace waterfall positions each row and
///   bar with a computed `style="…"` attribute (numbers the server formats, never agent
///   text); `style-src-elem 'self'` keeps `<style>` elements out in browsers that know it
///   (CSP 3), so only those attributes are inline. The dashboards' charts-rs SVG uses
///   presentation attributes and no `<style>` (tooltips and animation are off).
/// - No framing (`frame-ancestors`), no `<base>`, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; style-src-elem 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null` on a
/// form POST, and the open-mode "add to dataset" form is checked by its `Origin`.
const REFERRER_POLICY: &str = "same-origin";

/// Adds the security headers to a response (`axum::middleware::map_response`).
pub async fn add_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static(REFERRER_POLICY),
        ),
    ];
    for (name, value) in set {
        headers.insert(name, value);
    }
    response
}
