//! Stored eval runs: the list (newest first, per suite when asked) and one run's report.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use sextant_ingest::access::store::MetadataStore;

use crate::error::{EvalError, Result};

/// One stored run: its identity and verdict, and the whole report as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredRun {
    pub id: i64,
    pub suite: String,
    pub dataset: String,
    pub dataset_version: i64,
    pub started_at_ms: i64,
    pub verdict: String,
    pub report: Value,
}

fn stored_run(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRun> {
    let report: String = row.get(6)?;
    Ok(StoredRun {
        id: row.get(0)?,
        suite: row.get(1)?,
        dataset: row.get(2)?,
        dataset_version: row.get(3)?,
        started_at_ms: row.get(4)?,
        verdict: row.get(5)?,
        report: serde_json::from_str(&report).unwrap_or(Value::Null),
    })
}

const RUN_COLUMNS: &str =
    "SELECT id, suite, dataset, dataset_version, started_at, verdict, report FROM eval_runs";

/// The project's newest runs (of one suite when given), newest first.
pub fn list_runs(
    store: &MetadataStore,
    project_id: &str,
    suite: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredRun>> {
    let mut statement = store.connection().prepare(&format!(
        "{RUN_COLUMNS} WHERE project_id = ?1 AND (?2 IS NULL OR suite = ?2)
         ORDER BY started_at DESC, id DESC LIMIT ?3"
    ))?;
    let rows = statement.query_map(params![project_id, suite, limit as i64], stored_run)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One run of the project.
pub fn load_run(store: &MetadataStore, project_id: &str, id: i64) -> Result<StoredRun> {
    store
        .connection()
        .query_row(
            &format!("{RUN_COLUMNS} WHERE project_id = ?1 AND id = ?2"),
            params![project_id, id],
            stored_run,
        )
        .optional()?
        .ok_or_else(|| EvalError::NotFound(format!("no eval run {id}")))
}
