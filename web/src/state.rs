//! State shared by every HTTP handler.

use std::sync::Arc;

use sextant_ingest::layout::DataDir;
use sextant_ingest::pipeline::IngestPipeline;

#[derive(Clone)]
pub struct AppState {
    pub pipeline: Arc<IngestPipeline>,
    /// Cap on an OTLP request body, before and after decompression.
    pub body_limit_bytes: usize,
}

impl AppState {
    pub fn data_dir(&self) -> &DataDir {
        self.pipeline.data_dir()
    }
}
