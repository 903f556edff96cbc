//! The OTLP/gRPC receivers: the trace, logs and metrics collector `Export` services.
//!
//! Same pipeline, same durability as OTLP/HTTP: a call returns once its rows are in the
//! fsynced WAL. Errors map to `INVALID_ARGUMENT` (bad data, says what to fix),
//! `RESOURCE_EXHAUSTED` (too large), `UNAVAILABLE` (backpressure; retryable) or `INTERNAL`.
//!
//! A call is authorized by [`IngestAuthInterceptor`] from its metadata before tonic reads or
//! decodes the message, and its body bytes come from the request budget
//! ([`super::grpc_budget`]), so a keyless client makes the server decode nothing.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

use sextant_ingest::pipeline::{IngestAck, IngestPipeline};
use sextant_ingest::wal_record::ExportRequest;
use sextant_meta::keys::Scope;
use sextant_meta::{AccessControl, Principal};

use super::grpc_budget::GrpcReservation;
use super::http::OtlpSignal;
use super::refusal::grpc_status;

/// Answers all three collector services from one pipeline.
#[derive(Clone)]
pub struct GrpcReceiver {
    pipeline: Arc<IngestPipeline>,
    access: Arc<AccessControl>,
}

impl GrpcReceiver {
    /// Ingests a call the interceptor authorized, for its principal's project.
    async fn ingest<T: prost::Message>(
        &self,
        request: Request<T>,
        into_export: impl FnOnce(T) -> ExportRequest,
    ) -> Result<IngestAck, Status> {
        let started = std::time::Instant::now();
        let principal = request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Status::internal("the call skipped authorization"))?;
        principal.record_on_request_span();
        let served = self.ingest_for(&principal, request, into_export).await;
        tracing::debug!(
            status = ?served.as_ref().map_or_else(Status::code, |_| tonic::Code::Ok),
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "request served"
        );
        served
    }

    async fn ingest_for<T: prost::Message>(
        &self,
        principal: &Principal,
        request: Request<T>,
        into_export: impl FnOnce(T) -> ExportRequest,
    ) -> Result<IngestAck, Status> {
        // The decoded message's size is what is held from here on (not the decoding cap).
        let reservation = request.extensions().get::<GrpcReservation>().cloned();
        if let Some(reservation) = &reservation {
            reservation.shrink_to(request.get_ref().encoded_len());
        }
        let export = into_export(request.into_inner());
        self.access
            .limits()
            .admit_ingest(
                &principal.project_id,
                export.item_count(),
                export.encoded_len() as u64,
            )
            .map_err(|over| grpc_status(&over.into()))?;
        self.pipeline
            .ingest(&principal.project_id, export)
            .await
            .map_err(|error| grpc_status(&error.into()))
    }
}

/// Authorizes a call by its `authorization` metadata before tonic reads or decodes its
/// message, and hands the principal to the handler in the request's extensions.
#[derive(Clone)]
pub struct IngestAuthInterceptor {
    access: Arc<AccessControl>,
}

impl Interceptor for IngestAuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|value| value.to_str().unwrap_or("\u{fffd}"));
        let principal = self
            .access
            .authorize_header(authorization, Scope::Ingest)
            .map_err(|failure| {
                let status = grpc_status(&failure.into());
                tracing::debug!(status = ?status.code(), "request refused");
                status
            })?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let ack = self.ingest(request, ExportRequest::Traces).await?;
        Ok(Response::new(
            <ExportTraceServiceRequest as OtlpSignal>::response(&ack),
        ))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let ack = self.ingest(request, ExportRequest::Logs).await?;
        Ok(Response::new(
            <ExportLogsServiceRequest as OtlpSignal>::response(&ack),
        ))
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let ack = self.ingest(request, ExportRequest::Metrics).await?;
        Ok(Response::new(
            <ExportMetricsServiceRequest as OtlpSignal>::response(&ack),
        ))
    }
}

/// A collector service behind the auth interceptor.
pub type AuthorizedService<S> = InterceptedService<S, IngestAuthInterceptor>;

/// The three gRPC services, accepting gzip, capped at `body_limit_bytes` per message, each
/// authorizing a call before its message is read.
pub struct GrpcServices {
    pub traces: AuthorizedService<TraceServiceServer<GrpcReceiver>>,
    pub logs: AuthorizedService<LogsServiceServer<GrpcReceiver>>,
    pub metrics: AuthorizedService<MetricsServiceServer<GrpcReceiver>>,
}

pub fn grpc_services(
    pipeline: Arc<IngestPipeline>,
    access: Arc<AccessControl>,
    body_limit_bytes: usize,
) -> GrpcServices {
    let interceptor = IngestAuthInterceptor {
        access: access.clone(),
    };
    let receiver = GrpcReceiver { pipeline, access };
    GrpcServices {
        traces: InterceptedService::new(
            TraceServiceServer::new(receiver.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(body_limit_bytes),
            interceptor.clone(),
        ),
        logs: InterceptedService::new(
            LogsServiceServer::new(receiver.clone())
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(body_limit_bytes),
            interceptor.clone(),
        ),
        metrics: InterceptedService::new(
            MetricsServiceServer::new(receiver)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(body_limit_bytes),
            interceptor,
        ),
    }
}

/// The tracing span each gRPC call is served in (the server's `trace_fn`): like an HTTP
/// request's (`crate::request_span`), its method and path, and once the key is checked its
/// project and key id; the call's status and duration are logged in it at debug level.
pub fn grpc_request_span(request: &http::Request<()>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = "gRPC",
        path = %request.uri().path(),
        project = tracing::field::Empty,
        key_id = tracing::field::Empty,
    )
}
