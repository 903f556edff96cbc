//! Where a dataset's examples come from: a full-text search, a SQL query returning
//! `trace_id`, or a list of trace ids — resolved against one project's data, then each
//! trace loaded and turned into a [`Recording`].
//!
//! ```text
//! source ─ trace_ids (≤ MAX_EXAMPLES_PER_VERSION) ─ load_trace → Recording → ExampleBatch (byte caps)
//!        ─ (store lock, blocking thread) add_examples → a new version
//! ```
//!
//! Invariant: the queries run without the metadata store's lock, which every
//! authentication takes; the lock is held only to insert the finished batch.

use sextant_ingest::layout::DataDir;
use sextant_query::batch_output::batches_to_json_rows;
use sextant_query::search::{SearchRequest, search_spans};
use sextant_query::sql::{DEFAULT_MAX_RESULT_BYTES, SqlLimits, run_read_only_sql};
use sextant_query::trace::{is_valid_trace_id, load_trace};
use sextant_query::{QueryError, SessionContext};

use sextant_meta::SharedMetadata;

use crate::datasets::recording::Recording;
use crate::datasets::{
    AddedVersion, Annotation, ExampleBatch, MAX_EXAMPLES_PER_VERSION, add_examples, validate_name,
};
use crate::error::{EvalError, Result};

/// Most rows a dataset query may return (a trace can be on many rows).
pub const MAX_SOURCE_ROWS: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub enum DatasetSource {
    /// The newest traces with a search hit (search syntax), at most `limit`.
    Search { query: String, limit: usize },
    /// A read-only SQL query with a `trace_id` column.
    Sql(String),
    /// These traces.
    Traces(Vec<String>),
}

impl DatasetSource {
    /// How the version was made, stored with it.
    pub fn describe(&self) -> String {
        match self {
            DatasetSource::Search { query, limit } => format!("search {query:?} (limit {limit})"),
            DatasetSource::Sql(sql) => format!("sql {sql:?}"),
            DatasetSource::Traces(ids) => format!("traces {}", ids.join(",")),
        }
    }
}

fn too_many_traces(what: &str) -> EvalError {
    EvalError::Invalid(format!(
        "{what}; a dataset version adds at most {MAX_EXAMPLES_PER_VERSION} traces: narrow it, or add the rest as another version"
    ))
}

/// The trace ids a source names, in its order, without repeats; at most
/// [`MAX_EXAMPLES_PER_VERSION`], else an error naming the cap.
pub async fn trace_ids(
    context: &SessionContext,
    data_dir: &DataDir,
    project_id: &str,
    source: &DatasetSource,
) -> Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    match source {
        DatasetSource::Traces(list) => {
            for id in list {
                if !is_valid_trace_id(id) {
                    return Err(EvalError::Invalid(format!(
                        "invalid trace id {id:?}: expected 32 hex characters"
                    )));
                }
                push_unique(&mut ids, id);
            }
            if ids.len() > MAX_EXAMPLES_PER_VERSION {
                return Err(too_many_traces(&format!("{} trace ids given", ids.len())));
            }
        }
        DatasetSource::Sql(sql) => {
            let output = run_read_only_sql(
                context,
                sql,
                SqlLimits::rows(MAX_SOURCE_ROWS).with_max_bytes(DEFAULT_MAX_RESULT_BYTES),
            )
            .await?;
            if output.truncated.is_some() {
                return Err(EvalError::Invalid(format!(
                    "the dataset query returned more than {MAX_SOURCE_ROWS} rows or {} MiB; select DISTINCT trace_id, or add a LIMIT",
                    DEFAULT_MAX_RESULT_BYTES >> 20
                )));
            }
            for row in batches_to_json_rows(&output.batches)? {
                match row.get("trace_id").and_then(|value| value.as_str()) {
                    Some(id) => push_unique(&mut ids, id),
                    None => {
                        return Err(EvalError::Invalid(
                            "the dataset query must return a trace_id column (e.g. SELECT trace_id FROM traces WHERE has_error)".into(),
                        ));
                    }
                }
            }
            if ids.len() > MAX_EXAMPLES_PER_VERSION {
                return Err(too_many_traces(&format!(
                    "the dataset query returned {} traces",
                    ids.len()
                )));
            }
        }
        DatasetSource::Search { query, limit } => {
            if *limit > MAX_EXAMPLES_PER_VERSION {
                return Err(too_many_traces(&format!("a limit of {limit} was asked")));
            }
            let limit = (*limit).max(1);
            let mut cursor = None;
            loop {
                let request = SearchRequest {
                    query: query.clone(),
                    limit: 1000,
                    cursor,
                    ..SearchRequest::default()
                };
                let page = search_spans(data_dir, project_id, &request)?;
                for hit in &page.hits {
                    if let Some(id) = hit.row.get("trace_id").and_then(|value| value.as_str()) {
                        push_unique(&mut ids, id);
                    }
                }
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
                if ids.len() >= limit {
                    break;
                }
            }
            ids.truncate(limit);
        }
    }
    Ok(ids)
}

fn push_unique(ids: &mut Vec<String>, id: &str) {
    let id = id.to_ascii_lowercase();
    if !ids.contains(&id) {
        ids.push(id);
    }
}

/// The recordings of the traces a source names, serialized and within the caps; a trace
/// that is not there is an error naming it.
pub async fn collect_recordings(
    context: &SessionContext,
    data_dir: &DataDir,
    project_id: &str,
    source: &DatasetSource,
) -> Result<ExampleBatch> {
    let ids = trace_ids(context, data_dir, project_id, source).await?;
    if ids.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{} found no traces; nothing to add",
            source.describe()
        )));
    }
    let mut batch = ExampleBatch::default();
    for id in ids {
        let tree = load_trace(context, &id)
            .await
            .map_err(|error| match error {
                QueryError::NotFound(_) => EvalError::NotFound(format!("trace {id} not found")),
                other => other.into(),
            })?;
        batch.push(&Recording::from_spans(&tree.trace_id, &tree.spans))?;
    }
    Ok(batch)
}

/// Resolves `source` in the project and adds its traces to dataset `name` as a new
/// version, each example annotated with `annotation`.
pub async fn add_from_source(
    metadata: &SharedMetadata,
    data_dir: &DataDir,
    project_id: &str,
    name: &str,
    source: &DatasetSource,
    annotation: &Annotation,
) -> Result<AddedVersion> {
    validate_name(name)?;
    let context = sextant_query::sql_context::project_context(data_dir, project_id).await?;
    let batch = collect_recordings(&context, data_dir, project_id, source).await?;
    // Only now the store's lock, and on a blocking thread: SQLite inserts and fsync.
    let metadata = metadata.clone();
    let (project_id, name, description, annotation) = (
        project_id.to_string(),
        name.to_string(),
        source.describe(),
        annotation.clone(),
    );
    tokio::task::spawn_blocking(move || {
        metadata.with(|store| {
            add_examples(store, &project_id, &name, &batch, &description, &annotation)
        })
    })
    .await
    // A panic in the insert is the caller's, as if it ran here.
    .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
}
