//! The evals crate's error type.

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The user asked for something that cannot be done; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("metadata store: {0}")]
    Store(#[from] sextant_meta::StoreError),
    #[error(transparent)]
    Query(#[from] sextant_query::QueryError),
    #[error("recording JSON: {0}")]
    Json(#[from] serde_json::Error),
}

pub type Result<T> = std::result::Result<T, EvalError>;
