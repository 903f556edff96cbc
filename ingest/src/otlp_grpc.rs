//! The OTLP/gRPC trace receiver: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! Same pipeline, same durability as OTLP/HTTP: the call returns once the spans are in the
//! fsynced WAL. Errors map to `INVALID_ARGUMENT` (bad data, says what to fix),
//! `RESOURCE_EXHAUSTED` (too large), `UNAVAILABLE` (backpressure; retryable) or `INTERNAL`.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::error::{ErrorCode, IngestError};
use crate::layout::DEFAULT_PROJECT;
use crate::pipeline::IngestPipeline;

pub struct GrpcTraceReceiver {
    pipeline: Arc<IngestPipeline>,
}

#[tonic::async_trait]
impl TraceService for GrpcTraceReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.pipeline
            .ingest_traces(DEFAULT_PROJECT, request.into_inner())
            .await
            .map_err(|error| grpc_status(&error))?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// The gRPC trace service, accepting gzip, capped at `body_limit_bytes` per message.
pub fn grpc_trace_service(
    pipeline: Arc<IngestPipeline>,
    body_limit_bytes: usize,
) -> TraceServiceServer<GrpcTraceReceiver> {
    TraceServiceServer::new(GrpcTraceReceiver { pipeline })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(body_limit_bytes)
}

pub fn grpc_status(error: &IngestError) -> Status {
    match error.code() {
        ErrorCode::InvalidInput | ErrorCode::UnsupportedMediaType => {
            Status::invalid_argument(error.to_string())
        }
        ErrorCode::PayloadTooLarge => Status::resource_exhausted(error.to_string()),
        ErrorCode::Overloaded => Status::unavailable(error.to_string()),
        ErrorCode::Internal => {
            tracing::error!(%error, "otlp grpc export failed");
            Status::internal("internal error; see the server log")
        }
    }
}
