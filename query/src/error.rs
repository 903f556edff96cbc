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
    /// The query asked for more than a limit allows (time, a function's result, a
    /// constant's copies); the message names the limit and how to stay under it.
    #[error("{0}")]
    LimitExceeded(String),
    #[error("query error: {0}")]
    DataFusion(#[source] datafusion::error::DataFusionError),
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

impl From<datafusion::error::DataFusionError> for QueryError {
    /// A [`LimitExceeded`] raised inside DataFusion (by a bounded function, in whatever
    /// operator and task it ran) comes back out as [`QueryError::LimitExceeded`].
    fn from(error: datafusion::error::DataFusionError) -> QueryError {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = cause {
            if let Some(limit) = current.downcast_ref::<LimitExceeded>() {
                return QueryError::LimitExceeded(limit.0.clone());
            }
            cause = current.source();
        }
        QueryError::DataFusion(error)
    }
}

/// A limit reached inside DataFusion's execution, carried out as
/// `DataFusionError::External` and turned into [`QueryError::LimitExceeded`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(pub String);

/// DataFusion's error enum, re-exported so callers can classify errors without a direct dependency.
pub use datafusion::error::DataFusionError as DataFusionErrorKind;
