//! State shared by every HTTP handler.

use std::sync::Arc;

use sextant_evals::gateway::registry::GatewayRegistry;
use sextant_ingest::layout::DataDir;
use sextant_ingest::pipeline::IngestPipeline;
use sextant_ingest::request_budget::RequestBudget;
use sextant_meta::AccessControl;

use crate::alerts::AlertsEngine;
use crate::query_slots::QuerySlots;

use crate::public_url::PublicUrl;

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Arc<IngestPipeline>,
    /// Keys, projects and sessions: who each request acts as.
    pub access: Arc<AccessControl>,
    /// Cap on an OTLP request body, before and after decompression.
    pub body_limit_bytes: usize,
    /// Mark cookies `Secure` (served over TLS).
    pub secure_cookies: bool,
    /// The eval runs the model gateway serves (`/gateway/…`).
    pub gateway: Arc<GatewayRegistry>,
    /// In-flight request bytes, shared by OTLP/HTTP, OTLP/gRPC and the gateway.
    pub request_budget: RequestBudget,
    /// Users' SQL: the statements running at once and the limits each runs within.
    pub query_slots: Arc<QuerySlots>,
    /// The address the server is reached at from outside; in open local mode its host is
    /// the only one besides loopback that is answered (`host_check.rs`).
    pub public_url: Option<PublicUrl>,
    /// The policies engine, when the server runs one (its counters are in `/metrics`).
    pub alerts: Option<Arc<AlertsEngine>>,
}

impl AppState {
    pub fn data_dir(&self) -> &DataDir {
        self.pipeline.data_dir()
    }
}
