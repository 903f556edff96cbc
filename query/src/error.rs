//! The query crate's error type.

pub type Result<T> = std::result::Result<T, QueryError>;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The user's query is wrong; the message says how.
    #[error("{0}")]
    InvalidQuery(String),
    /// The query would write, read files, or change settings.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The query asked for more than a limit allows (its time); the message names the
    /// limit and how to stay under it.
    #[error("{0}")]
    LimitExceeded(String),
    #[error("query error: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("arrow error: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("ingest error: {0}")]
    Ingest(#[from] sextant_ingest::IngestError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    /// True when the error is the caller's (a 4xx), false when it is ours (a 5xx).
    pub fn is_user_error(&self) -> bool {
        use datafusion::error::DataFusionError as E;
        match self {
            QueryError::InvalidQuery(_)
            | QueryError::Forbidden(_)
            | QueryError::NotFound(_)
            | QueryError::LimitExceeded(_) => true,
            QueryError::DataFusion(error) => matches!(
                error.find_root(),
                E::SQL(..) | E::Plan(_) | E::SchemaError(..) | E::NotImplemented(_)
            ),
            _ => false,
        }
    }
}

/// DataFusion's error enum, re-exported so callers can classify errors without a direct dependency.
pub use datafusion::error::DataFusionError as DataFusionErrorKind;
