//! The metadata store: one SQLite database per data dir (`<data-dir>/metadata.sqlite`).
//!
//! It holds what is small and relational — projects, API keys, web sessions, the audit
//! log, eval datasets, and later eval runs — never spans. Every table's schema is here,
//! in [`MIGRATIONS`], whichever crate reads it. The server and the CLI (`sextant
//! keys create` while the server runs) open it at the same time: WAL journal mode lets
//! them, and `PRAGMA data_version` tells the server when another process changed it.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::layout::DEFAULT_PROJECT;

/// The schema, one entry per version; a database at version `n` runs entries `n..`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id),
    scope       TEXT NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
    name        TEXT,
    hash        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE TABLE web_sessions (
    token_hash  BLOB PRIMARY KEY,
    key_id      TEXT NOT NULL REFERENCES api_keys(id),
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    project_id  TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_by_project ON audit_log (project_id, time);
"#,
    r#"
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
);
"#,
    r#"
CREATE TABLE model_responses (
    request_hash TEXT NOT NULL,
    epoch        INTEGER NOT NULL,
    turn         TEXT NOT NULL,
    latency_ms   REAL NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (request_hash, epoch)
);
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
CREATE INDEX eval_runs_by_suite ON eval_runs (project_id, suite, started_at);
"#,
    r#"
ALTER TABLE projects ADD COLUMN retention_days INTEGER CHECK (retention_days > 0);
"#,
    // Operator keys: of no project (NULL), the only keys without one. SQLite cannot change
    // a CHECK in place, so the table is rebuilt (foreign keys are off while migrating).
    r#"
CREATE TABLE api_keys_next (
    id          TEXT PRIMARY KEY,
    project_id  TEXT REFERENCES projects(id),
    scope       TEXT NOT NULL CHECK (scope IN ('ingest', 'read', 'admin', 'operator')),
    name        TEXT,
    hash        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    CHECK ((scope = 'operator') = (project_id IS NULL))
);
INSERT INTO api_keys_next (id, project_id, scope, name, hash, created_at, revoked_at)
    SELECT id, project_id, scope, name, hash, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_next RENAME TO api_keys;
"#,
];

/// An open connection to a data dir's metadata database, migrated to the current schema.
pub struct MetadataStore {
    connection: Connection,
}

impl MetadataStore {
    pub const FILE_NAME: &'static str = "metadata.sqlite";

    /// Opens (creating and migrating if needed) the metadata database of a data dir.
    pub fn open(data_dir_root: &Path) -> rusqlite::Result<MetadataStore> {
        let mut connection = Connection::open(data_dir_root.join(Self::FILE_NAME))?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // Key creation and revocation must survive a crash once the CLI has said so.
        connection.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut connection)?;
        connection.pragma_update(None, "foreign_keys", true)?;
        connection.execute(
            "INSERT OR IGNORE INTO projects (id, created_at) VALUES (?1, ?2)",
            params![DEFAULT_PROJECT, now_ms()],
        )?;
        Ok(MetadataStore { connection })
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// A number that changes whenever another connection commits a change.
    pub fn data_version(&self) -> rusqlite::Result<i64> {
        self.connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
    }

    /// True when the project exists.
    pub fn project_exists(&self, project_id: &str) -> rusqlite::Result<bool> {
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
    pub fn create_project(&self, project_id: &str) -> rusqlite::Result<bool> {
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
    pub fn list_projects(&self) -> rusqlite::Result<Vec<ProjectRow>> {
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

/// Runs the migrations the database has not had, each in its own transaction, with
/// foreign keys off (a rebuilt table is briefly missing) and checked before each commit.
fn migrate(connection: &mut Connection) -> rusqlite::Result<()> {
    connection.pragma_update(None, "foreign_keys", false)?;
    let version: usize =
        connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(migration)?;
        let violations: i64 =
            transaction.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
                row.get(0)
            })?;
        if violations > 0 {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!(
                    "migration {} leaves {violations} foreign key violations",
                    index + 1
                )),
            ));
        }
        transaction.pragma_update(None, "user_version", (index + 1) as i64)?;
        transaction.commit()?;
    }
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_migrates_once_and_keeps_projects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("open");
        assert!(store.create_project("team-a").expect("create"));
        assert!(!store.create_project("team-a").expect("create again"));
        drop(store);
        let store = MetadataStore::open(dir.path()).expect("reopen");
        let ids: Vec<String> = store
            .list_projects()
            .expect("list")
            .into_iter()
            .map(|project| project.id)
            .collect();
        assert_eq!(ids, ["default", "team-a"]);
    }

    #[test]
    fn rebuilding_the_keys_table_keeps_keys_and_their_web_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(MetadataStore::FILE_NAME);
        let connection = Connection::open(&path).expect("open");
        for migration in &MIGRATIONS[..4] {
            connection.execute_batch(migration).expect("old schema");
        }
        connection
            .pragma_update(None, "user_version", 4)
            .expect("version");
        connection
            .execute_batch(
                "INSERT INTO projects (id, created_at) VALUES ('default', 1);
                 INSERT INTO api_keys (id, project_id, scope, name, hash, created_at)
                     VALUES ('aaaaaaaaaaaa', 'default', 'admin', 'ci', x'01', 2);
                 INSERT INTO web_sessions (token_hash, key_id, csrf_token, created_at, expires_at)
                     VALUES (x'02', 'aaaaaaaaaaaa', 'csrf', 3, 4);",
            )
            .expect("old rows");
        drop(connection);

        let store = MetadataStore::open(dir.path()).expect("migrate");
        let (project, scope, sessions): (String, String, i64) = store
            .connection()
            .query_row(
                "SELECT project_id, scope, (SELECT count(*) FROM web_sessions WHERE key_id = k.id)
                 FROM api_keys k WHERE id = 'aaaaaaaaaaaa'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .expect("key kept");
        assert_eq!(
            (project.as_str(), scope.as_str(), sessions),
            ("default", "admin", 1)
        );
        let deleted = store
            .connection()
            .execute("DELETE FROM api_keys WHERE id = 'aaaaaaaaaaaa'", []);
        assert!(
            deleted.is_err(),
            "web_sessions still reference the rebuilt table"
        );
    }
}
