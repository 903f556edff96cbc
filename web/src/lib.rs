//! Sextant's HTTP server: OTLP/HTTP ingest, the JSON API, the web UI and health on one port.
//!
//! Entry point: [`router::router`], which tests drive with `tower::ServiceExt::oneshot`
//! and the binary serves with [`http_server::serve_http`] (connection cap, header deadline).

pub mod api_audit;
pub mod api_datasets;
pub mod api_error;
pub mod api_evals;
pub mod api_gateway;
pub mod api_search;
pub mod api_sessions;
pub mod api_sql;
pub mod api_traces;
pub mod api_usage;
pub mod assets;
pub mod auth;
pub mod charts;
pub mod host_check;
pub mod http_server;
pub mod metrics;
pub mod otlp;
pub mod page_add_to_dataset;
pub mod page_dashboards;
pub mod page_error;
pub mod page_evals;
pub mod page_login;
pub mod page_runs;
pub mod page_session;
pub mod page_sql;
pub mod page_trace;
pub mod page_usage;
pub mod public_url;
pub mod query_slots;
pub mod request_span;
pub mod router;
pub mod security_headers;
pub mod span_view;
pub mod state;
pub mod templates;
pub mod tls_listener;
pub mod trace_list_params;
pub mod trace_view;

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
