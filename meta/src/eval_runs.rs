//! The `eval_runs` table: each finished eval run's identity, verdict and whole report.

use rusqlite::{Connection, OptionalExtension, params};

use crate::schema_change::SchemaChange;

pub(crate) const SCHEMA: &[SchemaChange] = &[SchemaChange {
    version: 3,
    sql: "
CREATE TABLE eval_runs (
    id              INTEGER PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects(id),
    suite           TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    dataset_version INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    verdict         TEXT NOT NULL,
    report          TEXT NOT NULL
);
CREATE INDEX eval_runs_by_suite ON eval_runs (project_id, suite, started_at);",
}];

/// One stored run: its identity and verdict, and the whole report as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredRun {
    pub id: i64,
    pub suite: String,
    pub dataset: String,
    pub dataset_version: i64,
    pub started_at_ms: i64,
    pub verdict: String,
    pub report: serde_json::Value,
}

/// A finished run to store.
pub struct NewRun<'r> {
    pub project_id: &'r str,
    pub suite: &'r str,
    pub dataset: &'r str,
    pub dataset_version: i64,
    pub started_at_ms: i64,
    pub verdict: &'r str,
    /// The report, as JSON.
    pub report: &'r str,
}

const RUN_COLUMNS: &str =
    "SELECT id, suite, dataset, dataset_version, started_at, verdict, report FROM eval_runs";

fn stored_run(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRun> {
    let report: String = row.get(6)?;
    Ok(StoredRun {
        id: row.get(0)?,
        suite: row.get(1)?,
        dataset: row.get(2)?,
        dataset_version: row.get(3)?,
        started_at_ms: row.get(4)?,
        verdict: row.get(5)?,
        report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
    })
}

/// The eval runs table.
pub struct EvalRuns<'a> {
    connection: &'a Connection,
}

impl<'a> EvalRuns<'a> {
    pub(crate) fn new(connection: &'a Connection) -> EvalRuns<'a> {
        EvalRuns { connection }
    }

    /// Stores a finished run; returns its id.
    pub fn insert(&self, run: &NewRun<'_>) -> rusqlite::Result<i64> {
        self.connection.execute(
            "INSERT INTO eval_runs (project_id, suite, dataset, dataset_version, started_at, verdict, report)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run.project_id,
                run.suite,
                run.dataset,
                run.dataset_version,
                run.started_at_ms,
                run.verdict,
                run.report
            ],
        )?;
        Ok(self.connection.last_insert_rowid())
    }

    /// The project's newest runs (of one suite when given), newest first.
    pub fn list(
        &self,
        project_id: &str,
        suite: Option<&str>,
        limit: usize,
    ) -> rusqlite::Result<Vec<StoredRun>> {
        let mut statement = self.connection.prepare(&format!(
            "{RUN_COLUMNS} WHERE project_id = ?1 AND (?2 IS NULL OR suite = ?2)
             ORDER BY started_at DESC, id DESC LIMIT ?3"
        ))?;
        let rows = statement.query_map(params![project_id, suite, limit as i64], stored_run)?;
        rows.collect()
    }

    /// One run of the project.
    pub fn get(&self, project_id: &str, id: i64) -> rusqlite::Result<Option<StoredRun>> {
        self.connection
            .query_row(
                &format!("{RUN_COLUMNS} WHERE project_id = ?1 AND id = ?2"),
                params![project_id, id],
                stored_run,
            )
            .optional()
    }
}
