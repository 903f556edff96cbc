//! Where a dataset's examples come from: a full-text search, a SQL query returning
//! `trace_id`, or a list of trace ids — resolved against one project's data, then each
//! trace loaded and turned into a [`Recording`].

use sextant_ingest::layout::DataDir;
use sextant_query::rows::batches_to_json_rows;
use sextant_query::search::{SearchRequest, search_spans};
use sextant_query::sql::{DEFAULT_MAX_RESULT_BYTES, SqlLimits, run_read_only_sql};
use sextant_query::trace::{is_valid_trace_id, load_trace};
use sextant_query::{QueryError, SessionContext};

use crate::error::{EvalError, Result};
use crate::recording::Recording;

/// Most traces one source may add.
pub const MAX_SOURCE_TRACES: usize = 10_000;

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

/// The trace ids a source names, in its order, without repeats.
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
        }
        DatasetSource::Sql(sql) => {
            let output = run_read_only_sql(
                context,
                sql,
                SqlLimits::rows(MAX_SOURCE_TRACES).with_max_bytes(DEFAULT_MAX_RESULT_BYTES),
            )
            .await?;
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
        }
        DatasetSource::Search { query, limit } => {
            let limit = (*limit).clamp(1, MAX_SOURCE_TRACES);
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

/// The recordings of the traces a source names; a trace that is not there is an error
/// naming it.
pub async fn collect_recordings(
    context: &SessionContext,
    data_dir: &DataDir,
    project_id: &str,
    source: &DatasetSource,
) -> Result<Vec<Recording>> {
    let ids = trace_ids(context, data_dir, project_id, source).await?;
    if ids.is_empty() {
        return Err(EvalError::Invalid(format!(
            "{} found no traces; nothing to add",
            source.describe()
        )));
    }
    let mut recordings = Vec::with_capacity(ids.len());
    for id in ids {
        let tree = load_trace(context, &id)
            .await
            .map_err(|error| match error {
                QueryError::NotFound(_) => EvalError::NotFound(format!("trace {id} not found")),
                other => other.into(),
            })?;
        recordings.push(Recording::from_spans(&tree.trace_id, &tree.spans));
    }
    Ok(recordings)
}

/// Resolves `source` in the project and adds its traces to dataset `name` as a new
/// version, each example annotated with `annotation`.
pub async fn add_from_source(
    access: &sextant_ingest::access::AccessControl,
    data_dir: &DataDir,
    project_id: &str,
    name: &str,
    source: &DatasetSource,
    annotation: &crate::datasets::Annotation,
) -> Result<crate::datasets::AddedVersion> {
    let context = sextant_query::session::project_session(data_dir, project_id).await?;
    let recordings = collect_recordings(&context, data_dir, project_id, source).await?;
    access.with_store(|store| {
        crate::datasets::add_examples(
            store,
            project_id,
            name,
            &recordings,
            &source.describe(),
            annotation,
        )
    })
}
