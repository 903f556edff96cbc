//! Sextant's HTTP server: OTLP/HTTP ingest, the JSON API, the web UI and health on one port.
//!
//! Entry point: [`router::router`], which tests drive with `tower::ServiceExt::oneshot`
//! and the binary serves with [`http_server::serve_http`] (connection cap, header deadline).
//!
//! - [`otlp`]: the OTLP/HTTP and gRPC receivers;
//! - [`api`]: the JSON API (`/api/*`) and the model gateway;
//! - [`pages`]: the web UI's pages, their views, templates, charts and assets;
//! - [`auth`]: who a request acts as (extractors), sign-in, the DNS-rebinding guard;
//! - [`alerts`]: policies checked against tool calls as they arrive, alerts and notifiers;
//! - [`respond`]: how every part answers — the API's JSON error, the HTML error page, the
//!   templates;
//! - the server itself: [`router`], [`state`], [`http_server`], [`tls_listener`],
//!   [`request_span`], [`security_headers`], [`query_slots`], [`metrics`], [`public_url`].

pub mod alerts;
pub mod api;
pub mod auth;
pub mod http_server;
pub mod metrics;
pub mod otlp;
pub mod pages;
pub mod public_url;
pub mod query_slots;
pub mod request_span;
pub mod respond;
pub mod router;
pub mod security_headers;
pub mod state;
pub mod tls_listener;

#[cfg(test)]
mod tests {
    #[test]
    fn the_metadata_store_and_the_storage_engine_name_the_same_default_project() {
        assert_eq!(
            sextant_meta::DEFAULT_PROJECT,
            sextant_ingest::layout::DEFAULT_PROJECT
        );
    }
}
