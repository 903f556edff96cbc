//! Projects: the tenants of a data dir, and how long each keeps its data.
//!
//! Every span, key, dataset and eval run belongs to one project. The `default` project
//! always exists (the store creates it on open).

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::now_ms;
use crate::schema_change::SchemaChange;

/// The project of open local mode and of data sent without a key; it always exists.
/// The storage engine names the same directory (`sextant_ingest::layout::DEFAULT_PROJECT`).
pub const DEFAULT_PROJECT: &str = "default";

pub(crate) const SCHEMA: &[SchemaChange] = &[
    SchemaChange {
        version: 1,
        sql: "
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);",
    },
    SchemaChange {
        version: 4,
        sql: "
ALTER TABLE projects ADD COLUMN retention_days INTEGER CHECK (retention_days > 0);",
    },
];

/// The `projects` table.
pub struct Projects<'a> {
    connection: &'a Connection,
}

impl<'a> Projects<'a> {
    pub(crate) fn new(connection: &'a Connection) -> Projects<'a> {
        Projects { connection }
    }

    /// True when the project exists.
    pub fn exists(&self, project_id: &str) -> rusqlite::Result<bool> {
        Ok(self
            .connection
            .query_row(
                "SELECT 1 FROM projects WHERE id = ?1",
                params![project_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Creates a project; false when it already existed.
    pub fn create(&self, project_id: &str) -> rusqlite::Result<bool> {
        let inserted = self.connection.execute(
            "INSERT OR IGNORE INTO projects (id, created_at) VALUES (?1, ?2)",
            params![project_id, now_ms()],
        )?;
        Ok(inserted == 1)
    }

    /// Sets how many days of a project's data are kept (`None`: forever); false when the
    /// project does not exist.
    pub fn set_retention_days(
        &self,
        project_id: &str,
        days: Option<u32>,
    ) -> rusqlite::Result<bool> {
        let updated = self.connection.execute(
            "UPDATE projects SET retention_days = ?2 WHERE id = ?1",
            params![project_id, days],
        )?;
        Ok(updated == 1)
    }

    /// The projects that keep their data for a limited time, with their days.
    pub fn retention_days(&self) -> rusqlite::Result<Vec<(String, u32)>> {
        let mut statement = self.connection.prepare(
            "SELECT id, retention_days FROM projects WHERE retention_days IS NOT NULL ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    }

    /// Every project with its creation time (ms) and number of active keys, by id.
    pub fn list(&self) -> rusqlite::Result<Vec<ProjectRow>> {
        let mut statement = self.connection.prepare(
            "SELECT p.id, p.created_at,
                    (SELECT count(*) FROM api_keys k WHERE k.project_id = p.id AND k.revoked_at IS NULL),
                    p.retention_days
             FROM projects p ORDER BY p.id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(ProjectRow {
                id: row.get(0)?,
                created_at_ms: row.get(1)?,
                active_keys: row.get(2)?,
                retention_days: row.get(3)?,
            })
        })?;
        rows.collect()
    }
}

/// One row of `sextant projects list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProjectRow {
    pub id: String,
    pub created_at_ms: i64,
    pub active_keys: i64,
    /// Days of data kept; `None` keeps everything.
    pub retention_days: Option<u32>,
}
