//! Read-only SQL over one project's session, with limits on its answer and its work.
//!
//! DDL, DML (including `COPY`), `SET` and other statements are refused by DataFusion's
//! statement verification before planning, and by an allow-list of statement kinds
//! ([`writing_statement`]: queries, `EXPLAIN`, `SHOW`) that also names the statements
//! DataFusion cannot plan at all (`BEGIN`, `SET TIME ZONE`); the session registers no
//! function that reads files or URLs, so a `SELECT` can only see the project's tables.
//!
//! What a statement may take ([`SqlLimits`]): its answer is collected batch by batch from
//! the running plan and cut at a row cap and a byte cap (`truncated`), which also stops the
//! plan; it is cancelled past a time limit. Memory is bounded in three places: the
//! session's memory pool (operators that buffer: sorts, joins, aggregates), the bounded
//! functions (`bounded_functions`: `range`, `repeat`, … refuse to build more than
//! [`MAX_BATCH_VALUE_BYTES`] at once) and the check of constants copied into each row
//! (`constant_copies`, on the optimized plan before it runs).

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::physical_plan::execute_stream;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::StreamExt;

use crate::bounded_functions::MAX_BATCH_VALUE_BYTES;
use crate::constant_copies::check_constant_copies;
use crate::error::{QueryError, Result};
use crate::result_bytes::batch_bytes;

/// Longest a query may run before it is cancelled, unless its [`SqlLimits`] say less.
pub const QUERY_TIME_LIMIT: Duration = Duration::from_secs(60);

/// Bytes of a user's answer by default (`[query] max_result_mib`).
pub const DEFAULT_MAX_RESULT_BYTES: usize = 64 * 1024 * 1024;

/// What one statement may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlLimits {
    /// Rows of the answer; more are cut off ([`Truncation::Rows`]).
    pub max_rows: usize,
    /// Bytes of the answer, as its rows take them in Arrow (`result_bytes`); more are cut
    /// off ([`Truncation::Bytes`]). JSON and CSV encodings of the same rows are larger.
    pub max_bytes: usize,
    /// Past this the statement is cancelled and refused.
    pub time_limit: Duration,
}

impl SqlLimits {
    /// `max_rows` rows of any size, in [`QUERY_TIME_LIMIT`]: Sextant's own statements, whose
    /// answers it needs whole (a trace's rows) and whose size the data bounds.
    pub fn rows(max_rows: usize) -> SqlLimits {
        SqlLimits {
            max_rows,
            max_bytes: usize::MAX,
            time_limit: QUERY_TIME_LIMIT,
        }
    }

    /// The same limits with a byte cap on the answer: for users' statements.
    pub fn with_max_bytes(self, max_bytes: usize) -> SqlLimits {
        SqlLimits { max_bytes, ..self }
    }

    pub fn with_time_limit(self, time_limit: Duration) -> SqlLimits {
        SqlLimits { time_limit, ..self }
    }
}

/// Which cap cut an answer short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    Rows,
    Bytes,
}

impl Truncation {
    pub fn as_str(self) -> &'static str {
        match self {
            Truncation::Rows => "rows",
            Truncation::Bytes => "bytes",
        }
    }
}

/// The answer to a query, within its [`SqlLimits`].
#[derive(Debug)]
pub struct SqlOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub row_count: usize,
    /// Set when the query had more rows, or more bytes, than its limits: the answer holds
    /// the first rows that fit.
    pub truncated: Option<Truncation>,
}

impl SqlOutput {
    pub fn is_truncated(&self) -> bool {
        self.truncated.is_some()
    }
}

fn read_only_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Runs `sql` and collects its answer within `limits`.
pub async fn run_read_only_sql(
    context: &SessionContext,
    sql: &str,
    limits: SqlLimits,
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
        // Planned here rather than by `DataFrame::execute_stream`, to check the optimized
        // plan (where constant calls have been computed) before it runs.
        let (state, plan) = frame.into_parts();
        let plan = state.optimize(&plan)?;
        check_constant_copies(&plan, state.config().batch_size(), MAX_BATCH_VALUE_BYTES)?;
        let physical = state
            .query_planner()
            .create_physical_plan(&plan, &state)
            .await?;
        let mut stream = execute_stream(physical, state.task_ctx())?;
        let mut answer = Answer::new(schema, limits);
        while let Some(batch) = stream.next().await {
            if !answer.push(batch?) {
                // Dropping the stream stops the plan: no more batches are computed.
                break;
            }
        }
        Ok::<_, QueryError>(answer.output)
    };
    tokio::time::timeout(limits.time_limit, run)
        .await
        .map_err(|_| {
            QueryError::LimitExceeded(format!(
                "query ran longer than {} and was cancelled; narrow the time range or add a LIMIT",
                seconds(limits.time_limit)
            ))
        })?
}

fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// The answer being collected, and the caps it is cut at.
struct Answer {
    output: SqlOutput,
    limits: SqlLimits,
    bytes: usize,
}

impl Answer {
    fn new(schema: SchemaRef, limits: SqlLimits) -> Answer {
        Answer {
            output: SqlOutput {
                schema,
                batches: Vec::new(),
                row_count: 0,
                truncated: None,
            },
            limits,
            bytes: 0,
        }
    }

    /// Keeps what fits of `batch`; false once a cap is reached (the rest is not wanted).
    fn push(&mut self, batch: RecordBatch) -> bool {
        let room_rows = self.limits.max_rows.saturating_sub(self.output.row_count);
        let mut kept = batch.num_rows().min(room_rows);
        let mut truncation = (kept < batch.num_rows()).then_some(Truncation::Rows);
        // Without a byte cap (Sextant's own statements) batches are not measured.
        if self.limits.max_bytes != usize::MAX {
            let room_bytes = self.limits.max_bytes.saturating_sub(self.bytes);
            let mut kept_bytes = batch_bytes(&batch.slice(0, kept));
            if kept_bytes > room_bytes {
                kept = rows_within(&batch, kept, room_bytes);
                kept_bytes = batch_bytes(&batch.slice(0, kept));
                truncation = Some(Truncation::Bytes);
            }
            if kept > 0 {
                self.bytes += kept_bytes;
            }
        }
        if kept > 0 {
            self.output.batches.push(batch.slice(0, kept));
            self.output.row_count += kept;
        }
        self.output.truncated = truncation;
        truncation.is_none()
    }
}

/// The most leading rows of `batch` (at most `max_rows`) whose bytes fit `room_bytes`.
fn rows_within(batch: &RecordBatch, max_rows: usize, room_bytes: usize) -> usize {
    // Bytes grow with rows, so the answer is found by bisection.
    let (mut fits, mut too_many) = (0, max_rows);
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        if batch_bytes(&batch.slice(0, middle)) <= room_bytes {
            fits = middle;
        } else {
            too_many = middle;
        }
    }
    fits
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
        None => error.into(),
    }
}

/// Arrow, re-exported for callers that encode results (IPC, CSV) without their own dependency.
pub use datafusion::arrow;
