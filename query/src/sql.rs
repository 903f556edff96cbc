//! Read-only SQL over one project's session, with a row cap and a time limit.
//!
//! DDL, DML (including `COPY`), `SET` and other statements are refused by DataFusion's
//! statement verification before planning; the session registers no function that
//! reads files or URLs, so a `SELECT` can only see the project's tables.

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use futures::StreamExt;

use crate::error::{QueryError, Result};

/// Longest a query may run before it is cancelled.
pub const QUERY_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The answer to a query, capped at a row limit.
#[derive(Debug)]
pub struct SqlOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub row_count: usize,
    /// True when the query had more rows than the limit.
    pub truncated: bool,
}

fn read_only_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs `sql` and collects at most `row_limit` rows.
pub async fn run_read_only_sql(
    context: &SessionContext,
    sql: &str,
    row_limit: usize,
) -> Result<SqlOutput> {
    if sql.trim().is_empty() {
        return Err(QueryError::InvalidQuery(
            "empty query; send a SELECT statement".into(),
        ));
    }
    let run = async {
        let frame = context
            .sql_with_options(sql, read_only_options())
            .await
            .map_err(refusal_or_error)?;
        let schema: SchemaRef = frame.schema().inner().clone();
        let mut stream = frame.execute_stream().await?;
        let mut batches = Vec::new();
        let mut row_count = 0;
        let mut truncated = false;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let room = row_limit - row_count;
            if batch.num_rows() > room {
                batches.push(batch.slice(0, room));
                row_count += room;
                truncated = true;
                break;
            }
            row_count += batch.num_rows();
            batches.push(batch);
        }
        Ok::<_, QueryError>(SqlOutput {
            schema,
            batches,
            row_count,
            truncated,
        })
    };
    tokio::time::timeout(QUERY_TIME_LIMIT, run).await.map_err(|_| {
        QueryError::InvalidQuery(format!(
            "query ran longer than {} s and was cancelled; narrow the time range or add a LIMIT",
            QUERY_TIME_LIMIT.as_secs()
        ))
    })?
}

/// Turns DataFusion's statement-verification errors into a clear refusal.
fn refusal_or_error(error: DataFusionError) -> QueryError {
    let message = error.to_string();
    let refused = [
        "DDL not supported",
        "DML not supported",
        "Statement not supported",
    ];
    if refused.iter().any(|needle| message.contains(needle)) {
        return QueryError::Forbidden(format!(
            "sextant sql is read-only: only SELECT (and EXPLAIN, WITH, SHOW) queries are allowed ({message})"
        ));
    }
    QueryError::DataFusion(error)
}

/// Arrow, re-exported for callers that encode results (IPC, CSV) without their own dependency.
pub use datafusion::arrow;
