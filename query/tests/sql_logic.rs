//! SQL behaviour tests: every `tests/slt/*.slt` file, run with `sqllogictest` through the path
//! user SQL takes (`project_context` + `run_read_only_sql`), so refusals are tested for real.
//!
//! Run: `cargo test --workspace --locked --test sql_logic`.
//!
//! Data: each `.slt` file gets a fresh data dir into which every
//! `tests/fixtures/<project>.<signal>.json` (OTLP/JSON; signal `traces`, `logs` or `metrics`) is
//! ingested through `IngestPipeline` and flushed to Parquet before the first statement runs.
//! The fixtures hold two projects, `alpha` and `beta`, on two UTC days (2026-01-05 and
//! 2026-01-06).
//!
//! Project: statements run in a session for `alpha` until a comment line `# project: NAME`
//! switches the following records to NAME's session (NAME must have fixtures).
//!
//! Results: values are formatted with arrow's `ArrayFormatter`; NULL prints as `NULL`, an empty
//! string as `(empty)`, and the temporary data dir's path (as object-store paths print it, with
//! no leading `/`) as `<data-dir>`. Column types are sqllogictest's defaults, checked strictly:
//! `I` for integers, `R` for floats and decimals, `T` for strings, `?` for everything else
//! (booleans, timestamps, dates, lists). A query must return fewer than [`ROW_LIMIT`] rows.
//! Errors are matched against the message users get (`QueryError`'s display).
//!
//! [`sql_limits`]: the limits on a statement's answer and work (byte cap, bounded functions,
//! constants copied into rows, time limit), checked in Rust where a limit must be set.

mod sql_limits;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use sextant_ingest::layout::DataDir;
use sextant_ingest::otlp_decode::{OtlpEncoding, decode_request};
use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
use sextant_query::sql::{DEFAULT_MAX_RESULT_BYTES, SqlLimits, run_read_only_sql};
use sextant_query::sql_context::project_context;
use sextant_query::{QueryError, SessionContext};
use sqllogictest::{DB, DBOutput, DefaultColumnType, Record, Runner, strict_column_validator};

/// Queries are run with this row cap; a test query that reaches it fails instead of comparing
/// a truncated answer.
const ROW_LIMIT: usize = 10_000;

/// The project a file's statements run as until a `# project:` comment says otherwise.
const DEFAULT_PROJECT: &str = "alpha";

const PROJECT_DIRECTIVE: &str = "project:";

fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// `tests/slt/*.slt`, sorted so the run order is stable.
fn slt_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifest_path("tests/slt"))
        .expect("read tests/slt")
        .map(|entry| entry.expect("tests/slt entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "slt"))
        .collect();
    files.sort();
    files
}

/// One OTLP/JSON fixture file: `<project>.<signal>.json`.
struct Fixture {
    project: String,
    signal: String,
    path: PathBuf,
}

fn fixtures() -> Vec<Fixture> {
    let mut fixtures: Vec<Fixture> = std::fs::read_dir(manifest_path("tests/fixtures"))
        .expect("read tests/fixtures")
        .map(|entry| entry.expect("tests/fixtures entry").path())
        .filter_map(|path| {
            let file_name = path.file_name()?.to_str()?.to_owned();
            let stem = file_name.strip_suffix(".json")?;
            let (project, signal) = stem.split_once('.')?;
            Some(Fixture {
                project: project.to_owned(),
                signal: signal.to_owned(),
                path,
            })
        })
        .collect();
    fixtures.sort_by(|left, right| left.path.cmp(&right.path));
    assert!(!fixtures.is_empty(), "no fixtures in tests/fixtures");
    fixtures
}

/// Ingests every fixture into `data_dir` through the real pipeline and flushes it to Parquet.
fn load_fixtures(runtime: &tokio::runtime::Runtime, data_dir: &Path, fixtures: &[Fixture]) {
    let data_dir = DataDir::open(data_dir).expect("open data dir");
    // Only the explicit flush below writes Parquet, so every partition is one file with the
    // same flush id on every run (EXPLAIN output names them).
    let config = PipelineConfig {
        flush_interval: Duration::from_secs(3600),
        ..PipelineConfig::default()
    };
    let pipeline = IngestPipeline::open(data_dir, config).expect("pipeline");
    runtime.block_on(async {
        for fixture in fixtures {
            let body = std::fs::read(&fixture.path)
                .unwrap_or_else(|error| panic!("read {}: {error}", fixture.path.display()));
            let project = fixture.project.as_str();
            let ingested = match fixture.signal.as_str() {
                "traces" => {
                    let request: ExportTraceServiceRequest =
                        decode_request(&body, OtlpEncoding::Json).expect("decode traces");
                    pipeline.ingest_traces(project, request).await
                }
                "logs" => {
                    let request: ExportLogsServiceRequest =
                        decode_request(&body, OtlpEncoding::Json).expect("decode logs");
                    pipeline.ingest_logs(project, request).await
                }
                "metrics" => {
                    let request: ExportMetricsServiceRequest =
                        decode_request(&body, OtlpEncoding::Json).expect("decode metrics");
                    pipeline.ingest_metrics(project, request).await
                }
                other => panic!(
                    "{}: unknown signal {other:?}; name fixtures <project>.<traces|logs|metrics>.json",
                    fixture.path.display()
                ),
            };
            let ack = ingested
                .unwrap_or_else(|error| panic!("ingest {}: {error}", fixture.path.display()));
            assert!(ack.accepted > 0, "{}: nothing accepted", fixture.path.display());
        }
    });
    pipeline.flush_and_wait().expect("flush fixtures");
    pipeline.shutdown();
}

/// The database under test: one data dir, a session per project, the project chosen by the
/// file's `# project:` comments (shared with the loop that feeds records to the runner).
///
/// It implements sqllogictest's synchronous `DB`: the runner drives records on its own
/// executor, and each statement is run to completion on the test's tokio runtime.
struct SextantSql {
    runtime: Arc<tokio::runtime::Runtime>,
    data_dir: DataDir,
    current_project: Arc<Mutex<String>>,
    sessions: Vec<(String, SessionContext)>,
}

impl SextantSql {
    fn session(&mut self) -> Result<&SessionContext, QueryError> {
        let project = self
            .current_project
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        let position = match self.sessions.iter().position(|(name, _)| *name == project) {
            Some(position) => position,
            None => {
                let session = self
                    .runtime
                    .block_on(project_context(&self.data_dir, &project))?;
                self.sessions.push((project, session));
                self.sessions.len() - 1
            }
        };
        Ok(&self.sessions[position].1)
    }
}

impl DB for SextantSql {
    type Error = QueryError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, QueryError> {
        let runtime = self.runtime.clone();
        let session = self.session()?;
        let limits = SqlLimits::rows(ROW_LIMIT).with_max_bytes(DEFAULT_MAX_RESULT_BYTES);
        let output = runtime.block_on(run_read_only_sql(session, sql, limits))?;
        if output.is_truncated() {
            return Err(QueryError::InvalidQuery(format!(
                "test query returned more than {ROW_LIMIT} rows"
            )));
        }
        let types = output
            .schema
            .fields()
            .iter()
            .map(|field| column_type(field.data_type()))
            .collect();
        let data_dir_path = self.data_dir.root().to_string_lossy();
        let data_dir_path = data_dir_path.trim_start_matches('/');
        let mut rows = Vec::with_capacity(output.row_count);
        for batch in &output.batches {
            format_rows(batch, data_dir_path, &mut rows)?;
        }
        Ok(DBOutput::Rows { types, rows })
    }

    fn engine_name(&self) -> &str {
        "sextant"
    }
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DefaultColumnType::FloatingPoint,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DefaultColumnType::Text,
        _ => DefaultColumnType::Any,
    }
}

fn format_rows(
    batch: &RecordBatch,
    data_dir_path: &str,
    rows: &mut Vec<Vec<String>>,
) -> Result<(), QueryError> {
    let options = FormatOptions::default().with_null("NULL");
    let formatters = batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()?;
    for row in 0..batch.num_rows() {
        let cells = formatters
            .iter()
            .zip(batch.columns())
            .map(|(formatter, column)| {
                let text = formatter.value(row).to_string();
                // An empty cell would vanish from the whitespace-separated expected line.
                if text.is_empty() && !column.is_null(row) {
                    "(empty)".to_owned()
                } else {
                    text.replace(data_dir_path, "<data-dir>")
                }
            })
            .collect();
        rows.push(cells);
    }
    Ok(())
}

/// `Some(NAME)` for a comment block holding a `project: NAME` line.
fn project_directive(comment_lines: &[String]) -> Option<String> {
    comment_lines.iter().find_map(|line| {
        let name = line.trim().strip_prefix(PROJECT_DIRECTIVE)?.trim();
        Some(name.to_owned())
    })
}

/// Runs one `.slt` file on a fresh data dir holding every fixture.
fn run_slt_file(path: &Path, fixtures: &[Fixture]) -> Result<(), String> {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    load_fixtures(&runtime, dir.path(), fixtures);
    let projects: BTreeSet<&str> = fixtures
        .iter()
        .map(|fixture| fixture.project.as_str())
        .collect();

    let current_project = Arc::new(Mutex::new(DEFAULT_PROJECT.to_owned()));
    let data_dir = DataDir::open(dir.path()).expect("open data dir");
    let connection_project = current_project.clone();
    let connection_runtime = runtime.clone();
    let mut runner = Runner::new(move || {
        let database = SextantSql {
            runtime: connection_runtime.clone(),
            data_dir: data_dir.clone(),
            current_project: connection_project.clone(),
            sessions: Vec::new(),
        };
        std::future::ready(Ok::<_, QueryError>(database))
    });
    runner.with_column_validator(strict_column_validator);

    let records = sqllogictest::parse_file::<DefaultColumnType>(path)
        .map_err(|error| format!("parse: {error}"))?;
    for record in records {
        if let Record::Comment(lines) = &record
            && let Some(project) = project_directive(lines)
        {
            if !projects.contains(project.as_str()) {
                return Err(format!(
                    "{PROJECT_DIRECTIVE} {project:?} has no fixtures; known: {projects:?}"
                ));
            }
            *current_project
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()) = project;
        }
        runner
            .run(record)
            .map_err(|error| error.display(false).to_string())?;
    }
    Ok(())
}

#[test]
fn sql_logic_tests() {
    let fixtures = fixtures();
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files in tests/slt");
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().expect("file name").to_string_lossy();
        match run_slt_file(path, &fixtures) {
            Ok(()) => eprintln!("ok   {name}"),
            Err(error) => {
                eprintln!("FAIL {name}\n{error}\n");
                failures.push(name.into_owned());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} .slt files failed: {failures:?}",
        failures.len(),
        files.len()
    );
}
