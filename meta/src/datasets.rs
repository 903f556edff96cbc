//! The `datasets`, `dataset_versions` and `dataset_examples` tables: named, versioned sets
//! of examples, per project.
//!
//! Version `n` holds every example added in versions `1..=n`; a trace already in the
//! dataset is not added twice, and a version never changes once made. What an example
//! holds (a recording, as JSON) and the bounds of a version are the eval harness's
//! business (`sextant_evals::datasets`); this module only stores them.

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::now_ms;
use crate::schema_change::SchemaChange;

pub(crate) const SCHEMA: &[SchemaChange] = &[SchemaChange {
    version: 2,
    sql: "
CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id),
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE dataset_versions (
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    source      TEXT NOT NULL,
    PRIMARY KEY (dataset_id, version)
);
CREATE TABLE dataset_examples (
    dataset_id  INTEGER NOT NULL REFERENCES datasets(id),
    trace_id    TEXT NOT NULL,
    added_in    INTEGER NOT NULL,
    recording   TEXT NOT NULL,
    expected    TEXT,
    label       TEXT,
    PRIMARY KEY (dataset_id, trace_id)
);",
}];

/// A dataset and its newest version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DatasetSummary {
    pub name: String,
    pub version: i64,
    pub examples: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The outcome of adding examples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AddedVersion {
    pub name: String,
    /// The version now newest (unchanged when nothing new was added).
    pub version: i64,
    pub added: usize,
    pub already_present: usize,
}

/// What one new version adds: each example's trace id and recording (JSON, as stored),
/// with one annotation for all of them and where they came from.
pub struct NewVersion<'e> {
    pub examples: &'e [(String, String)],
    pub expected: Option<&'e str>,
    pub label: Option<&'e str>,
    /// How the examples were chosen (`ids`, a search, …), kept with the version.
    pub source: &'e str,
}

/// One example as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredExample {
    pub trace_id: String,
    /// The version that added it.
    pub added_in: i64,
    /// The recording, as JSON.
    pub recording: String,
    pub expected: Option<String>,
    pub label: Option<String>,
}

/// The examples of one version, or why there are none.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadedVersion {
    Examples {
        version: i64,
        examples: Vec<StoredExample>,
    },
    NoSuchDataset,
    NoSuchVersion {
        newest: i64,
    },
}

/// The dataset tables.
pub struct Datasets<'a> {
    connection: &'a Connection,
}

impl<'a> Datasets<'a> {
    pub(crate) fn new(connection: &'a Connection) -> Datasets<'a> {
        Datasets { connection }
    }

    /// Adds examples to a dataset (created on first use) as one new version, in one
    /// transaction. A trace already in the dataset keeps its example (and annotation) as
    /// it was; when nothing is new, no version is made.
    pub fn add_version(
        &self,
        project_id: &str,
        name: &str,
        new: &NewVersion<'_>,
    ) -> rusqlite::Result<AddedVersion> {
        let transaction = self.connection.unchecked_transaction()?;
        let now = now_ms();
        transaction.execute(
            "INSERT OR IGNORE INTO datasets (project_id, name, created_at) VALUES (?1, ?2, ?3)",
            params![project_id, name, now],
        )?;
        let id = dataset_id(&transaction, project_id, name)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        let previous = newest_version(&transaction, id)?;
        let version = previous + 1;
        let mut added = 0;
        for (trace_id, recording) in new.examples {
            let inserted = transaction.execute(
                "INSERT OR IGNORE INTO dataset_examples (dataset_id, trace_id, added_in, recording, expected, label)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, trace_id, version, recording, new.expected, new.label],
            )?;
            added += inserted;
        }
        let version = if added == 0 {
            previous
        } else {
            transaction.execute(
                "INSERT INTO dataset_versions (dataset_id, version, created_at, source) VALUES (?1, ?2, ?3, ?4)",
                params![id, version, now, new.source],
            )?;
            version
        };
        transaction.commit()?;
        Ok(AddedVersion {
            name: name.to_string(),
            version,
            added,
            already_present: new.examples.len() - added,
        })
    }

    /// The project's datasets, by name.
    pub fn list(&self, project_id: &str) -> rusqlite::Result<Vec<DatasetSummary>> {
        let mut statement = self.connection.prepare(
            "SELECT d.name, coalesce(max(v.version), 0), d.created_at, coalesce(max(v.created_at), d.created_at),
                    (SELECT count(*) FROM dataset_examples e WHERE e.dataset_id = d.id)
             FROM datasets d LEFT JOIN dataset_versions v ON v.dataset_id = d.id
             WHERE d.project_id = ?1 GROUP BY d.id ORDER BY d.name",
        )?;
        let rows = statement.query_map(params![project_id], |row| {
            Ok(DatasetSummary {
                name: row.get(0)?,
                version: row.get(1)?,
                created_at_ms: row.get(2)?,
                updated_at_ms: row.get(3)?,
                examples: row.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// The examples of a version (the newest when `None`), oldest first.
    pub fn load(
        &self,
        project_id: &str,
        name: &str,
        version: Option<i64>,
    ) -> rusqlite::Result<LoadedVersion> {
        let Some(id) = dataset_id(self.connection, project_id, name)? else {
            return Ok(LoadedVersion::NoSuchDataset);
        };
        let newest = newest_version(self.connection, id)?;
        let version = version.unwrap_or(newest);
        if version < 1 || version > newest {
            return Ok(LoadedVersion::NoSuchVersion { newest });
        }
        let mut statement = self.connection.prepare(
            "SELECT trace_id, added_in, recording, expected, label FROM dataset_examples
             WHERE dataset_id = ?1 AND added_in <= ?2 ORDER BY added_in, trace_id",
        )?;
        let rows = statement.query_map(params![id, version], |row| {
            Ok(StoredExample {
                trace_id: row.get(0)?,
                added_in: row.get(1)?,
                recording: row.get(2)?,
                expected: row.get(3)?,
                label: row.get(4)?,
            })
        })?;
        Ok(LoadedVersion::Examples {
            version,
            examples: rows.collect::<rusqlite::Result<_>>()?,
        })
    }
}

fn dataset_id(
    connection: &Connection,
    project_id: &str,
    name: &str,
) -> rusqlite::Result<Option<i64>> {
    connection
        .query_row(
            "SELECT id FROM datasets WHERE project_id = ?1 AND name = ?2",
            params![project_id, name],
            |row| row.get(0),
        )
        .optional()
}

fn newest_version(connection: &Connection, dataset_id: i64) -> rusqlite::Result<i64> {
    connection.query_row(
        "SELECT coalesce(max(version), 0) FROM dataset_versions WHERE dataset_id = ?1",
        params![dataset_id],
        |row| row.get(0),
    )
}
