//! Read-only SQL over one project's session, with a row cap and a time limit.
//!
//! DDL, DML (including `COPY`), `SET` and other statements are refused by DataFusion's
//! statement verification before planning, and by an allow-list of statement kinds
//! ([`writing_statement`]: queries, `EXPLAIN`, `SHOW`) that also names the statements
//! DataFusion cannot plan at all (`BEGIN`, `SET TIME ZONE`); the session registers no
//! function that reads files or URLs, so a `SELECT` can only see the project's tables.

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
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
        let not_read_only = writing_statement(sql);
        let frame = match context.sql_with_options(sql, read_only_options()).await {
            Ok(frame) => frame,
            Err(error) => return Err(refusal_or_error(error, not_read_only.as_deref())),
        };
        if let Some(keyword) = not_read_only {
            return Err(read_only_refusal(&keyword));
        }
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

/// The first keyword of the first statement of `sql` that is not a query, an `EXPLAIN` of
/// one, or a `SHOW`; `None` when there is none (and for text that does not parse: DataFusion's own
/// error then says why).
fn writing_statement(sql: &str) -> Option<String> {
    fn read_only(statement: &SqlStatement) -> bool {
        match statement {
            SqlStatement::Query(_)
            | SqlStatement::ShowTables { .. }
            | SqlStatement::ShowColumns { .. }
            | SqlStatement::ShowVariable { .. }
            | SqlStatement::ExplainTable { .. } => true,
            SqlStatement::Explain { statement, .. } => read_only(statement),
            _ => false,
        }
    }
    fn statement_read_only(statement: &DfStatement) -> bool {
        match statement {
            DfStatement::Statement(statement) => read_only(statement),
            DfStatement::Explain(explain) => statement_read_only(&explain.statement),
            _ => false,
        }
    }
    let statements = DFParser::parse_sql(sql).ok()?;
    let writing = statements
        .iter()
        .find(|statement| !statement_read_only(statement))?;
    Some(
        writing
            .to_string()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_uppercase(),
    )
}

fn read_only_refusal(keyword: &str) -> QueryError {
    QueryError::Forbidden(format!(
        "sextant sql is read-only: only SELECT (and EXPLAIN, WITH, SHOW) queries are allowed, not {keyword}"
    ))
}

/// Turns DataFusion's statement-verification errors, and its errors on statements that
/// are not read-only anyway, into a clear refusal.
fn refusal_or_error(error: DataFusionError, not_read_only: Option<&str>) -> QueryError {
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
    match not_read_only {
        Some(keyword) => read_only_refusal(keyword),
        None => QueryError::DataFusion(error),
    }
}

/// Arrow, re-exported for callers that encode results (IPC, CSV) without their own dependency.
pub use datafusion::arrow;
