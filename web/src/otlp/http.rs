//! The OTLP/HTTP receiver: `POST /v1/traces`, `/v1/logs`, `/v1/metrics` (protobuf or JSON,
//! optionally gzip, with or without `Content-Length`).
//!
//! Answers per the OTLP spec: 200 with the signal's `Export…ServiceResponse` in the request's
//! encoding; 400/413/415 with a `google.rpc.Status` saying what to fix; 503 with
//! `Retry-After` under backpressure; a generic 500 whose detail is logged once.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

use sextant_ingest::otlp_decode::{
    OtlpEncoding, RpcStatus, decode_content_encoding, decode_request, encode_response,
};
use sextant_ingest::pipeline::{IngestAck, IngestPipeline};
use sextant_ingest::request_budget::{BudgetReservation, RequestBudget};
use sextant_ingest::wal_record::ExportRequest;
use sextant_ingest::{ErrorCode, IngestError};
use sextant_meta::AccessControl;
use sextant_meta::keys::Scope;

use super::refusal::{ExportRefusal, RefusalKind};

/// Shared state of the OTLP routes.
#[derive(Clone)]
pub struct OtlpState {
    pub pipeline: Arc<IngestPipeline>,
    /// Decides which project a request writes to (an `ingest` or `admin` key's).
    pub access: Arc<AccessControl>,
    /// Cap on a request body, before and after decompression.
    pub body_limit_bytes: usize,
    /// The server-wide budget of in-flight body bytes, shared with gRPC and the gateway.
    pub budget: RequestBudget,
}

/// Routes `/v1/traces`, `/v1/logs` and `/v1/metrics`.
pub fn otlp_router(state: OtlpState) -> Router {
    Router::new()
        .route("/v1/traces", post(export::<ExportTraceServiceRequest>))
        .route("/v1/logs", post(export::<ExportLogsServiceRequest>))
        .route("/v1/metrics", post(export::<ExportMetricsServiceRequest>))
        .with_state(state)
}

/// An OTLP export request type and the response it is answered with.
pub trait OtlpSignal: Message + Default + DeserializeOwned + Send + 'static {
    type Response: Message + Serialize + Default;
    fn into_export(self) -> ExportRequest;
    /// The success response: `partial_success` when some items were rejected.
    fn response(ack: &IngestAck) -> Self::Response;
}

impl OtlpSignal for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;
    fn into_export(self) -> ExportRequest {
        ExportRequest::Traces(self)
    }
    fn response(ack: &IngestAck) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: ack.rejection_message.clone().map(|error_message| {
                ExportTracePartialSuccess {
                    rejected_spans: ack.rejected as i64,
                    error_message,
                }
            }),
        }
    }
}

impl OtlpSignal for ExportLogsServiceRequest {
    type Response = ExportLogsServiceResponse;
    fn into_export(self) -> ExportRequest {
        ExportRequest::Logs(self)
    }
    fn response(ack: &IngestAck) -> ExportLogsServiceResponse {
        ExportLogsServiceResponse {
            partial_success: ack.rejection_message.clone().map(|error_message| {
                ExportLogsPartialSuccess {
                    rejected_log_records: ack.rejected as i64,
                    error_message,
                }
            }),
        }
    }
}

impl OtlpSignal for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;
    fn into_export(self) -> ExportRequest {
        ExportRequest::Metrics(self)
    }
    fn response(ack: &IngestAck) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: ack.rejection_message.clone().map(|error_message| {
                ExportMetricsPartialSuccess {
                    rejected_data_points: ack.rejected as i64,
                    error_message,
                }
            }),
        }
    }
}

async fn export<S: OtlpSignal>(State(state): State<OtlpState>, request: Request) -> Response {
    let headers = request.headers().clone();
    let encoding = match OtlpEncoding::from_content_type(header_str(&headers, header::CONTENT_TYPE))
    {
        Ok(encoding) => encoding,
        Err(error) => return error_response(&error.into(), OtlpEncoding::Json),
    };
    match receive::<S>(&state, &headers, request.into_body(), encoding).await {
        Ok(ack) => otlp_response(
            StatusCode::OK,
            encoding,
            encode_response(&S::response(&ack), encoding),
        ),
        Err(error) => error_response(&error, encoding),
    }
}

async fn receive<S: OtlpSignal>(
    state: &OtlpState,
    headers: &HeaderMap,
    body: Body,
    encoding: OtlpEncoding,
) -> Result<IngestAck, ExportRefusal> {
    // Before the body is read: an unauthenticated client costs no decoding.
    let principal = state
        .access
        .authorize_header(header_str(headers, header::AUTHORIZATION), Scope::Ingest)?;
    principal.record_on_request_span();
    let limit_bytes = state.body_limit_bytes;
    // Every byte held from here on is taken from the server-wide budget first.
    let mut reservation = state.budget.reserve(0)?;
    let raw = tokio::time::timeout(
        BODY_READ_TIMEOUT,
        read_body_capped(body, limit_bytes, &mut reservation),
    )
    .await
    .map_err(|_| {
        IngestError::InvalidInput(format!(
            "request body not received within {} s; send it faster or in smaller exports",
            BODY_READ_TIMEOUT.as_secs()
        ))
    })??;
    let content_encoding = header_str(headers, header::CONTENT_ENCODING).map(str::to_string);
    // Decompression and decoding are CPU work: one hop off the async runtime for both.
    let (request, body_bytes, _reservation) = tokio::task::spawn_blocking(move || {
        let body: Bytes = decode_content_encoding(
            raw,
            content_encoding.as_deref(),
            limit_bytes,
            &mut reservation,
        )?;
        let request: S = decode_request(&body, encoding)?;
        Ok::<_, IngestError>((request, body.len() as u64, reservation))
    })
    .await
    .map_err(|error| IngestError::Internal(format!("decode task failed: {error}")))??;
    let export = request.into_export();
    state
        .access
        .limits()
        .admit_ingest(&principal.project_id, export.item_count(), body_bytes)?;
    Ok(state.pipeline.ingest(&principal.project_id, export).await?)
}

/// A client that stalls mid-upload must not hold a connection (or a graceful shutdown) forever.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Past the limit, up to this much more of an oversized body is read and discarded before
/// answering 413, so the client sees the answer instead of a reset mid-upload and the
/// connection stays usable.
const OVERSIZED_DRAIN_BYTES: usize = 64 * 1024 * 1024;

/// Reads a request body of at most `limit_bytes`, each kept chunk taken from `budget` first.
pub async fn read_body_capped(
    body: Body,
    limit_bytes: usize,
    budget: &mut BudgetReservation,
) -> Result<Bytes, IngestError> {
    let mut stream = body.into_data_stream();
    let mut collected = Vec::new();
    let mut seen = 0usize;
    // Past the budget the body is still read, not kept (like an oversized one), so the
    // client gets the 503 instead of a connection reset mid-upload.
    let mut over_budget = None;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            IngestError::InvalidInput(format!("cannot read request body: {error}"))
        })?;
        seen += chunk.len();
        if seen > limit_bytes || over_budget.is_some() {
            if seen > limit_bytes + OVERSIZED_DRAIN_BYTES {
                break;
            }
            continue;
        }
        if let Err(spent) = budget.grow(chunk.len()) {
            over_budget = Some(spent);
            collected = Vec::new();
            budget.shrink_to(0);
            continue;
        }
        collected.extend_from_slice(&chunk);
    }
    if seen > limit_bytes {
        return Err(IngestError::PayloadTooLarge { limit_bytes });
    }
    if let Some(spent) = over_budget {
        return Err(spent);
    }
    Ok(Bytes::from(collected))
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn otlp_response(status: StatusCode, encoding: OtlpEncoding, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    response
}

/// Maps a refusal to the OTLP error response.
pub fn error_response(error: &ExportRefusal, encoding: OtlpEncoding) -> Response {
    // gRPC codes, as google.rpc.Status wants them.
    const INVALID_ARGUMENT: i32 = 3;
    const PERMISSION_DENIED: i32 = 7;
    const UNAUTHENTICATED: i32 = 16;
    const RESOURCE_EXHAUSTED: i32 = 8;
    const INTERNAL: i32 = 13;
    const UNAVAILABLE: i32 = 14;
    let (status, rpc_code) = match error.kind() {
        RefusalKind::Ingest(ErrorCode::InvalidInput) => (StatusCode::BAD_REQUEST, INVALID_ARGUMENT),
        RefusalKind::Ingest(ErrorCode::PayloadTooLarge) => {
            (StatusCode::PAYLOAD_TOO_LARGE, RESOURCE_EXHAUSTED)
        }
        RefusalKind::Ingest(ErrorCode::UnsupportedMediaType) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, INVALID_ARGUMENT)
        }
        RefusalKind::Ingest(ErrorCode::Overloaded) => {
            (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
        }
        RefusalKind::Ingest(ErrorCode::Internal) => (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL),
        RefusalKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, RESOURCE_EXHAUSTED),
        RefusalKind::Unauthenticated => (StatusCode::UNAUTHORIZED, UNAUTHENTICATED),
        RefusalKind::PermissionDenied => (StatusCode::FORBIDDEN, PERMISSION_DENIED),
    };
    let message = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(%error, "otlp export failed");
        "internal error; see the server log".to_string()
    } else {
        tracing::debug!(%error, status = status.as_u16(), "otlp export rejected");
        error.to_string()
    };
    let body = encode_response(
        &RpcStatus {
            code: rpc_code,
            message,
        },
        encoding,
    );
    let mut response = otlp_response(status, encoding, body);
    if let Some(seconds) = error.retry_after_secs() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
