//! Why an OTLP export was not accepted: the storage engine's reason ([`IngestError`]: bad
//! data, too large, saturated, …) or the server's own (credentials, the project's rate
//! limit). Both receivers map a refusal to their status through [`ExportRefusal::kind`]:
//! OTLP/HTTP in `http::error_response`, gRPC in [`grpc_status`] (here, as the request budget's
//! gRPC layer answers with it too).

use std::time::Duration;

use sextant_ingest::{ErrorCode, IngestError};
use sextant_meta::AuthFailure;
use sextant_meta::limits::OverLimit;
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum ExportRefusal {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Auth(#[from] AuthFailure),
    #[error("project over its ingest limit ({what}); retry after {retry_after_secs} s")]
    RateLimited { what: String, retry_after_secs: u64 },
}

/// What a refusal means to a client, whatever the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The storage engine's code.
    Ingest(ErrorCode),
    /// No valid credentials (missing, malformed, unknown or revoked key).
    Unauthenticated,
    /// A valid key whose scope does not allow this.
    PermissionDenied,
    /// The project is over its configured rate; retry after a pause.
    RateLimited,
}

impl ExportRefusal {
    pub fn kind(&self) -> RefusalKind {
        match self {
            ExportRefusal::Ingest(error) => RefusalKind::Ingest(error.code()),
            ExportRefusal::Auth(failure) if failure.is_internal() => {
                RefusalKind::Ingest(ErrorCode::Internal)
            }
            ExportRefusal::Auth(failure) if failure.is_forbidden() => RefusalKind::PermissionDenied,
            ExportRefusal::Auth(_) => RefusalKind::Unauthenticated,
            ExportRefusal::RateLimited { .. } => RefusalKind::RateLimited,
        }
    }

    /// Seconds a client should wait before retrying, for retryable refusals.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ExportRefusal::Ingest(error) => error.retry_after_secs(),
            ExportRefusal::RateLimited {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ExportRefusal::Auth(_) => None,
        }
    }
}

impl From<OverLimit> for ExportRefusal {
    fn from(over: OverLimit) -> Self {
        ExportRefusal::RateLimited {
            what: over.what.to_string(),
            retry_after_secs: over.retry_after_secs,
        }
    }
}

/// The gRPC status of a refusal; retryable ones carry `RetryInfo`.
pub fn grpc_status(error: &ExportRefusal) -> Status {
    match error.kind() {
        RefusalKind::Ingest(ErrorCode::InvalidInput | ErrorCode::UnsupportedMediaType) => {
            Status::invalid_argument(error.to_string())
        }
        RefusalKind::Ingest(ErrorCode::PayloadTooLarge) => {
            Status::resource_exhausted(error.to_string())
        }
        RefusalKind::Unauthenticated => Status::unauthenticated(error.to_string()),
        RefusalKind::PermissionDenied => Status::permission_denied(error.to_string()),
        // RESOURCE_EXHAUSTED is retryable for OTLP exporters only with RetryInfo.
        RefusalKind::RateLimited => Status::with_error_details(
            tonic::Code::ResourceExhausted,
            error.to_string(),
            ErrorDetails::with_retry_info(Some(Duration::from_secs(
                error.retry_after_secs().unwrap_or(1),
            ))),
        ),
        // RetryInfo tells OTLP exporters how long to back off (the HTTP twin is Retry-After).
        RefusalKind::Ingest(ErrorCode::Overloaded) => {
            let delay = Duration::from_secs(error.retry_after_secs().unwrap_or(1));
            Status::with_error_details(
                tonic::Code::Unavailable,
                error.to_string(),
                ErrorDetails::with_retry_info(Some(delay)),
            )
        }
        RefusalKind::Ingest(ErrorCode::Internal) => {
            tracing::error!(%error, "otlp grpc export failed");
            Status::internal("internal error; see the server log")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overload_is_unavailable_with_retry_info() {
        let status = grpc_status(&ExportRefusal::from(IngestError::Overloaded {
            reason: "pending bytes",
            retry_after_secs: 2,
        }));
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let retry = status.get_error_details().retry_info().cloned();
        assert_eq!(
            retry.and_then(|info| info.retry_delay),
            Some(Duration::from_secs(2))
        );
    }

    #[test]
    fn over_the_project_rate_is_resource_exhausted_with_retry_info() {
        let status = grpc_status(&ExportRefusal::RateLimited {
            what: "spans per second".into(),
            retry_after_secs: 3,
        });
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let retry = status.get_error_details().retry_info().cloned();
        assert_eq!(
            retry.and_then(|info| info.retry_delay),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn bad_input_is_invalid_argument() {
        let status = grpc_status(&IngestError::InvalidInput("span 3: bad trace id".into()).into());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("bad trace id"));
    }
}
