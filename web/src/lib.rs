//! Sextant's HTTP server: OTLP/HTTP ingest, the JSON API and health on one port.
//!
//! Entry point: [`router::router`], which tests drive with `tower::ServiceExt::oneshot`
//! and the binary serves with `axum::serve`.

pub mod api_error;
pub mod api_search;
pub mod api_sessions;
pub mod api_sql;
pub mod api_traces;
pub mod metrics;
pub mod router;
pub mod state;
