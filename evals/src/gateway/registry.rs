//! The runs the gateway currently serves: per eval run, where its calls go (the candidate,
//! or a cassette), the token the agent must present, and the project its spans go to.
//!
//! An agent CLI gets only its run's token (never a provider key, never a Sextant key):
//! a request with another token, or for a run that is not registered, is refused.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::cassette::{Cassette, CassetteRecorder};
use crate::providers::ProviderClient;

/// Where a run's calls are answered.
pub enum Upstream {
    /// The candidate model, called in its own wire shape; optionally recorded.
    Candidate {
        client: ProviderClient,
        recorder: Option<CassetteRecorder>,
    },
    /// Recorded answers, byte for byte.
    Cassette(Cassette),
}

/// Where a run's call spans go.
#[derive(Clone, Default)]
pub enum SpanSink {
    /// The serving process's pipeline, into the run's project.
    #[default]
    Pipeline,
    /// Kept for the caller to export (`sextant eval run --trace-to`).
    Collect(Arc<Mutex<Vec<ExportTraceServiceRequest>>>),
}

/// One registered run.
pub struct GatewayRun {
    pub run_id: String,
    pub project_id: String,
    pub token: String,
    pub upstream: Upstream,
    pub spans: SpanSink,
    /// Model calls answered so far.
    pub calls: AtomicUsize,
    /// Calls the upstream could not answer (unreachable, 5xx after retries): infra, not
    /// the model's doing.
    pub upstream_failures: AtomicUsize,
}

impl GatewayRun {
    pub fn new(run_id: &str, project_id: &str, token: &str, upstream: Upstream) -> GatewayRun {
        GatewayRun {
            run_id: run_id.to_owned(),
            project_id: project_id.to_owned(),
            token: token.to_owned(),
            upstream,
            spans: SpanSink::Pipeline,
            calls: AtomicUsize::new(0),
            upstream_failures: AtomicUsize::new(0),
        }
    }
}

/// Why a call was refused before reaching any model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownRun,
    BadToken,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Refusal::UnknownRun => {
                "no eval run is using this gateway path (finished, or never started)"
            }
            Refusal::BadToken => "the token is not this run's gateway token",
        })
    }
}

/// The runs being served, shared by the server's handlers and the runs that register.
#[derive(Default)]
pub struct GatewayRegistry {
    runs: RwLock<HashMap<String, Arc<GatewayRun>>>,
}

impl GatewayRegistry {
    /// Serves `run` until [`GatewayRegistry::remove`].
    pub fn register(&self, run: GatewayRun) -> Arc<GatewayRun> {
        let run = Arc::new(run);
        if let Ok(mut runs) = self.runs.write() {
            runs.insert(run.run_id.clone(), run.clone());
        }
        run
    }

    pub fn remove(&self, run_id: &str) {
        if let Ok(mut runs) = self.runs.write() {
            runs.remove(run_id);
        }
    }

    /// The run at `run_id` if `token` is its token.
    pub fn authorize(&self, run_id: &str, token: Option<&str>) -> Result<Arc<GatewayRun>, Refusal> {
        let run = self
            .runs
            .read()
            .ok()
            .and_then(|runs| runs.get(run_id).cloned())
            .ok_or(Refusal::UnknownRun)?;
        let given = token.unwrap_or_default();
        // Compared by hash: equal-length digests, compared in constant time by blake3.
        if blake3::hash(given.as_bytes()) == blake3::hash(run.token.as_bytes()) && !given.is_empty()
        {
            Ok(run)
        } else {
            Err(Refusal::BadToken)
        }
    }
}
