//! The ingest crate's error type and the code each receiver (HTTP, gRPC, the gateway) maps
//! to its own status.

use std::io;

/// Result alias for the ingest crate.
pub type Result<T> = std::result::Result<T, IngestError>;

/// A small code that each interface maps to its own status (HTTP status, gRPC code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The client sent something we cannot accept; retrying the same bytes will fail again.
    InvalidInput,
    /// The body is larger than the configured limit.
    PayloadTooLarge,
    /// The content type or encoding is not one we speak.
    UnsupportedMediaType,
    /// We are saturated; the client should retry after a pause.
    Overloaded,
    /// Our bug or an I/O failure; details are logged, not returned.
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("request body exceeds the limit of {limit_bytes} bytes (after decompression)")]
    PayloadTooLarge { limit_bytes: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("ingest is saturated ({reason}); retry after {retry_after_secs} s")]
    Overloaded {
        reason: &'static str,
        retry_after_secs: u64,
    },
    #[error("the write-ahead log cannot be written ({0}); retry later")]
    StorageUnavailable(String),
    #[error("ingest is shutting down")]
    ShuttingDown,
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow error: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IngestError {
    pub fn code(&self) -> ErrorCode {
        match self {
            IngestError::InvalidInput(_) => ErrorCode::InvalidInput,
            IngestError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            IngestError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            IngestError::Overloaded { .. }
            | IngestError::StorageUnavailable(_)
            | IngestError::ShuttingDown => ErrorCode::Overloaded,
            IngestError::Io(_)
            | IngestError::Parquet(_)
            | IngestError::Arrow(_)
            | IngestError::Index(_)
            | IngestError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Seconds a client should wait before retrying, for retryable errors.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            IngestError::Overloaded {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            IngestError::ShuttingDown | IngestError::StorageUnavailable(_) => Some(1),
            _ => None,
        }
    }
}
