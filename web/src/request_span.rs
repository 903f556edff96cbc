//! A tracing span around each HTTP request: its method and path, and, once access is
//! checked, its project and key id (`Principal::record_on_request_span`). Whatever Sextant
//! logs while serving the request carries them; when it ends, its status and duration are
//! logged once at debug level (`SEXTANT_LOG=sextant_web::request_span=debug`).

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The middleware: serves `request` inside its span.
pub async fn in_request_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        project = tracing::field::Empty,
        key_id = tracing::field::Empty,
    );
    let started = Instant::now();
    async move {
        let response = next.run(request).await;
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "request served"
        );
        response
    }
    .instrument(span)
    .await
}
