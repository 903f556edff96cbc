//! The metadata store: one SQLite database per data dir (`<data-dir>/metadata.sqlite`).
//!
//! It holds what is small and relational — projects, API keys, web sessions, the audit
//! log, eval datasets, eval runs and the model response cache — never spans. Each table
//! belongs to one repository (a module of this crate: [`crate::projects`], [`crate::keys`],
//! …), which declares its schema changes as [`SchemaChange`]s numbered in one sequence;
//! [`MetadataStore::open`] runs those the database has not had. Nothing outside this crate
//! sees the SQLite connection: callers use the repositories' typed methods.
//!
//! The server and the CLI (`sextant keys create` while the server runs) open it at the
//! same time: WAL journal mode lets them, and `PRAGMA data_version` tells the server when
//! another process changed it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use crate::DEFAULT_PROJECT;
use crate::clock::now_ms;
use crate::schema_change::SchemaChange;

/// Every repository's schema changes: the database's history, in any order.
fn schema_changes() -> impl Iterator<Item = &'static SchemaChange> {
    [
        crate::projects::SCHEMA,
        crate::keys::SCHEMA,
        crate::web_sessions::SCHEMA,
        crate::audit::SCHEMA,
        crate::datasets::SCHEMA,
        crate::eval_runs::SCHEMA,
        crate::response_cache::SCHEMA,
        crate::alerts::SCHEMA,
    ]
    .into_iter()
    .flatten()
}

/// The statements of each version, oldest first: entry `n` brings a database from
/// version `n` to `n + 1`.
fn migrations() -> Vec<String> {
    let newest = schema_changes()
        .map(|change| change.version)
        .max()
        .unwrap_or(0);
    (1..=newest)
        .map(|version| {
            schema_changes()
                .filter(|change| change.version == version)
                .map(|change| change.sql)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

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

    #[cfg(test)]
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// A number that changes whenever another connection commits a change.
    pub fn data_version(&self) -> rusqlite::Result<i64> {
        self.connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
    }

    /// The projects and their retention.
    pub fn projects(&self) -> crate::projects::Projects<'_> {
        crate::projects::Projects::new(&self.connection)
    }

    /// API keys.
    pub fn keys(&self) -> crate::keys::Keys<'_> {
        crate::keys::Keys::new(&self.connection)
    }

    /// Browser sign-in sessions.
    pub fn web_sessions(&self) -> crate::web_sessions::WebSessions<'_> {
        crate::web_sessions::WebSessions::new(&self.connection)
    }

    /// The audit log.
    pub fn audit(&self) -> crate::audit::Audit<'_> {
        crate::audit::Audit::new(&self.connection)
    }

    /// Eval datasets: versions of recorded examples.
    pub fn datasets(&self) -> crate::datasets::Datasets<'_> {
        crate::datasets::Datasets::new(&self.connection)
    }

    /// Finished eval runs and their reports.
    pub fn eval_runs(&self) -> crate::eval_runs::EvalRuns<'_> {
        crate::eval_runs::EvalRuns::new(&self.connection)
    }

    /// Alerts raised by policies, and their states.
    pub fn alerts(&self) -> crate::alerts::Alerts<'_> {
        crate::alerts::Alerts::new(&self.connection)
    }

    /// Model answers recorded by eval replays, by request.
    pub fn response_cache(&self) -> crate::response_cache::ResponseCache<'_> {
        crate::response_cache::ResponseCache::new(&self.connection)
    }
}

/// One metadata store shared by the threads of a process (the server's handlers, the
/// eval scheduler): each use holds the lock for the length of `with`'s body.
#[derive(Clone)]
pub struct SharedMetadata {
    store: Arc<Mutex<MetadataStore>>,
}

impl SharedMetadata {
    pub fn new(store: MetadataStore) -> SharedMetadata {
        SharedMetadata {
            store: Arc::new(Mutex::new(store)),
        }
    }

    /// Runs `body` on the store.
    pub fn with<T>(&self, body: impl FnOnce(&MetadataStore) -> T) -> T {
        let guard = self
            .store
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        body(&guard)
    }
}

/// Runs the migrations the database has not had, each in its own transaction, with
/// foreign keys off (a rebuilt table is briefly missing) and checked before each commit.
fn migrate(connection: &mut Connection) -> rusqlite::Result<()> {
    connection.pragma_update(None, "foreign_keys", false)?;
    let version: usize =
        connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    for (index, migration) in migrations().iter().enumerate().skip(version) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_migrates_once_and_keeps_projects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("open");
        assert!(store.projects().create("team-a").expect("create"));
        assert!(!store.projects().create("team-a").expect("create again"));
        drop(store);
        let store = MetadataStore::open(dir.path()).expect("reopen");
        let ids: Vec<String> = store
            .projects()
            .list()
            .expect("list")
            .into_iter()
            .map(|project| project.id)
            .collect();
        assert_eq!(ids, ["default", "team-a"]);
    }

    #[test]
    fn schema_versions_run_from_one_without_gaps() {
        let versions: std::collections::BTreeSet<u32> =
            schema_changes().map(|change| change.version).collect();
        let newest = *versions.last().expect("a schema");
        assert_eq!(
            versions,
            (1..=newest).collect(),
            "every version has a change"
        );
    }

    #[test]
    fn rebuilding_the_keys_table_keeps_keys_and_their_web_sessions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(MetadataStore::FILE_NAME);
        let connection = Connection::open(&path).expect("open");
        for migration in &migrations()[..4] {
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
