//! API keys: their format, scopes, and how they are stored.
//!
//! A key is `sxt_<id>_<secret>`: `id` (12 hex characters) is public — it names the key in
//! `keys list`, `keys revoke` and the audit log — and `secret` is 256 random bits. Only a
//! keyed BLAKE3 hash of the whole key is stored, under a random 32-byte pepper kept in
//! `<data-dir>/secret.key` (mode 0600). A key this random cannot be guessed from its hash,
//! so a slow password hash (argon2) would only cost every request its latency; the pepper
//! means a copy of `metadata.sqlite` alone cannot even check a guess. Hashes are compared
//! in constant time (`blake3::Hash`'s `==`).

use std::fmt;
use std::io::Write;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::now_ms;
use crate::projects::Projects;
use crate::schema_change::SchemaChange;

/// What a key may do. `admin` includes everything `read` and `ingest` may; `operator` is
/// the instance's own key, of no project, and includes nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send OTLP traces, logs and metrics to the key's project. Cannot read.
    Ingest,
    /// Read the project: API, SQL, search, the web UI.
    Read,
    /// Read and ingest, see the audit log, and administer the project.
    Admin,
    /// Of no project: see every project's usage per day (model calls, errors, tokens,
    /// cost) and nothing of any project's content — no spans, search, SQL or ingest.
    Operator,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Admin => "admin",
            Scope::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "admin" => Some(Scope::Admin),
            "operator" => Some(Scope::Operator),
            _ => None,
        }
    }

    /// True when a key of this scope may do what `needed` guards.
    pub fn allows(self, needed: Scope) -> bool {
        self == needed || (self == Scope::Admin && needed != Scope::Operator)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The `project_id` an operator key reads as. It belongs to no project, and `*` can never
/// name one (`is_valid_project_id`), so no project's data is reachable through it.
pub const NO_PROJECT: &str = "*";

const KEY_PREFIX: &str = "sxt_";
const ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// The id part of a well-formed key, `None` for anything else.
pub fn key_id_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let is_hex = |text: &str, bytes: usize| {
        text.len() == bytes * 2 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
    };
    (is_hex(id, ID_BYTES) && is_hex(secret, SECRET_BYTES)).then_some(id)
}

/// The pepper of a data dir, created on first use.
pub fn load_or_create_pepper(data_dir_root: &Path) -> std::io::Result<[u8; 32]> {
    let path = data_dir_root.join("secret.key");
    match std::fs::read(&path) {
        Ok(bytes) => bytes.try_into().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not 32 bytes", path.display()),
            )
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let pepper: [u8; 32] = random_bytes()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut file) => {
                    file.write_all(&pepper)?;
                    file.sync_all()?;
                    Ok(pepper)
                }
                // Another process created it first: use theirs.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_create_pepper(data_dir_root)
                }
                Err(error) => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| std::io::Error::other(error.to_string()))?;
    Ok(bytes)
}

/// A random token of `bytes` bytes as hex (web session tokens, CSRF tokens).
pub fn random_token() -> std::io::Result<String> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// The stored hash of a key or token.
pub fn keyed_hash(pepper: &[u8; 32], secret: &str) -> blake3::Hash {
    blake3::keyed_hash(pepper, secret.as_bytes())
}

/// A key as stored (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    pub id: String,
    pub project_id: String,
    pub scope: Scope,
    pub name: Option<String>,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    #[serde(skip)]
    pub hash: [u8; 32],
}

/// A newly created key: the only time its text exists outside the client.
#[derive(Debug)]
pub struct CreatedKey {
    pub record: KeyRecord,
    pub key: String,
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no project {0:?}; create it first with `sextant projects create {0}`")]
    NoSuchProject(String),
    #[error("an operator key belongs to no project; create it without --project")]
    OperatorOfProject,
    #[error("no key with id {0:?}; `sextant keys list` shows the ids")]
    NoSuchKey(String),
    #[error("metadata store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("cannot make a random key: {0}")]
    Random(#[from] std::io::Error),
}

pub(crate) const SCHEMA: &[SchemaChange] = &[
    SchemaChange {
        version: 1,
        sql: "
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects(id),
    scope       TEXT NOT NULL CHECK (scope IN ('ingest', 'read', 'admin')),
    name        TEXT,
    hash        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);",
    },
    // Operator keys: of no project (NULL), the only keys without one. SQLite cannot change
    // a CHECK in place, so the table is rebuilt (foreign keys are off while migrating).
    SchemaChange {
        version: 5,
        sql: "
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
ALTER TABLE api_keys_next RENAME TO api_keys;",
    },
];

/// The `api_keys` table.
pub struct Keys<'a> {
    connection: &'a Connection,
}

impl<'a> Keys<'a> {
    pub(crate) fn new(connection: &'a Connection) -> Keys<'a> {
        Keys { connection }
    }

    /// Creates a key for an existing project, or an operator key (project [`NO_PROJECT`]).
    pub fn create(
        &self,
        pepper: &[u8; 32],
        project_id: &str,
        scope: Scope,
        name: Option<&str>,
    ) -> Result<CreatedKey, KeyError> {
        let stored_project_id = match (scope, project_id) {
            (Scope::Operator, NO_PROJECT) => None,
            (Scope::Operator, _) => return Err(KeyError::OperatorOfProject),
            (_, project_id) if Projects::new(self.connection).exists(project_id)? => {
                Some(project_id)
            }
            (_, project_id) => return Err(KeyError::NoSuchProject(project_id.to_string())),
        };
        let id = hex::encode(random_bytes::<ID_BYTES>()?);
        let key = format!(
            "{KEY_PREFIX}{id}_{}",
            hex::encode(random_bytes::<SECRET_BYTES>()?)
        );
        let hash = *keyed_hash(pepper, &key).as_bytes();
        let created_at_ms = now_ms();
        self.connection.execute(
            "INSERT INTO api_keys (id, project_id, scope, name, hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                stored_project_id,
                scope.as_str(),
                name,
                &hash[..],
                created_at_ms
            ],
        )?;
        Ok(CreatedKey {
            record: KeyRecord {
                id,
                project_id: project_id.to_string(),
                scope,
                name: name.map(str::to_string),
                created_at_ms,
                revoked_at_ms: None,
                hash,
            },
            key,
        })
    }

    /// Revokes a key; its web sessions end with it. Revoking twice is not an error.
    pub fn revoke(&self, key_id: &str) -> Result<KeyRecord, KeyError> {
        self.connection.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![key_id, now_ms()],
        )?;
        self.connection.execute(
            "DELETE FROM web_sessions WHERE key_id = ?1",
            params![key_id],
        )?;
        self.get(key_id)?
            .ok_or_else(|| KeyError::NoSuchKey(key_id.to_string()))
    }

    /// One key by id.
    pub fn get(&self, key_id: &str) -> rusqlite::Result<Option<KeyRecord>> {
        self.connection
            .query_row(
                &format!("{KEY_COLUMNS} WHERE id = ?1"),
                params![key_id],
                key_record,
            )
            .optional()
    }

    /// Every key (revoked ones too), oldest first; of one project when given.
    pub fn list(&self, project_id: Option<&str>) -> rusqlite::Result<Vec<KeyRecord>> {
        let mut statement = self.connection.prepare(&format!(
            "{KEY_COLUMNS} WHERE ?1 IS NULL OR COALESCE(project_id, '{NO_PROJECT}') = ?1 \
             ORDER BY created_at, id"
        ))?;
        let rows = statement.query_map(params![project_id], key_record)?;
        rows.collect()
    }

    /// Keys ever created, revoked ones included: zero means open local mode.
    pub fn count(&self) -> rusqlite::Result<i64> {
        self.connection
            .query_row("SELECT count(*) FROM api_keys", [], |row| row.get(0))
    }
}

/// `'*'` is [`NO_PROJECT`]: an operator key's NULL project.
const KEY_COLUMNS: &str =
    "SELECT id, COALESCE(project_id, '*'), scope, name, created_at, revoked_at, hash FROM api_keys";

fn key_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRecord> {
    let scope: String = row.get(2)?;
    let hash: Vec<u8> = row.get(6)?;
    Ok(KeyRecord {
        id: row.get(0)?,
        project_id: row.get(1)?,
        scope: Scope::parse(&scope).unwrap_or(Scope::Read),
        name: row.get(3)?,
        created_at_ms: row.get(4)?,
        revoked_at_ms: row.get(5)?,
        hash: hash.try_into().unwrap_or([0; 32]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MetadataStore;

    #[test]
    fn keys_are_well_formed_hashed_and_revocable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("open");
        let pepper = load_or_create_pepper(dir.path()).expect("pepper");
        assert_eq!(load_or_create_pepper(dir.path()).expect("again"), pepper);
        assert!(matches!(
            store.keys().create(&pepper, "nope", Scope::Read, None),
            Err(KeyError::NoSuchProject(_))
        ));
        let created = store
            .keys()
            .create(&pepper, "default", Scope::Ingest, Some("ci"))
            .expect("create");
        assert_eq!(key_id_of(&created.key), Some(created.record.id.as_str()));
        let stored = store
            .keys()
            .get(&created.record.id)
            .expect("read")
            .expect("found");
        assert_eq!(stored.hash, *keyed_hash(&pepper, &created.key).as_bytes());
        assert_ne!(
            &stored.hash[..],
            created.key.as_bytes(),
            "the key itself is not stored"
        );
        let revoked = store.keys().revoke(&created.record.id).expect("revoke");
        assert!(revoked.revoked_at_ms.is_some());
        assert_eq!(store.keys().count().expect("count"), 1);
        assert!(matches!(
            store.keys().revoke("000000000000"),
            Err(KeyError::NoSuchKey(_))
        ));
    }

    #[test]
    fn malformed_keys_have_no_id() {
        for text in [
            "",
            "sxt_",
            "sxt_abc_def",
            "Bearer x",
            &format!("sxt_{}_{}", "g".repeat(12), "0".repeat(64)),
        ] {
            assert_eq!(key_id_of(text), None, "{text:?}");
        }
        let good = format!("sxt_{}_{}", "a".repeat(12), "0".repeat(64));
        assert_eq!(key_id_of(&good), Some("aaaaaaaaaaaa"));
    }

    #[test]
    fn admin_includes_every_project_scope_and_the_others_only_their_own() {
        assert!(Scope::Admin.allows(Scope::Ingest) && Scope::Admin.allows(Scope::Read));
        assert!(
            !Scope::Admin.allows(Scope::Operator),
            "a project's admin is no operator"
        );
        assert!(!Scope::Ingest.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Ingest));
        assert!(!Scope::Read.allows(Scope::Admin));
        for project_scope in [Scope::Ingest, Scope::Read, Scope::Admin] {
            assert!(!Scope::Operator.allows(project_scope), "{project_scope}");
        }
        assert!(Scope::Operator.allows(Scope::Operator));
        assert_eq!(Scope::parse("operator"), Some(Scope::Operator));
    }

    #[test]
    fn operator_keys_belong_to_no_project_and_project_keys_to_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("open");
        let pepper = load_or_create_pepper(dir.path()).expect("pepper");
        assert!(matches!(
            store
                .keys()
                .create(&pepper, "default", Scope::Operator, None),
            Err(KeyError::OperatorOfProject)
        ));
        assert!(matches!(
            store.keys().create(&pepper, NO_PROJECT, Scope::Admin, None),
            Err(KeyError::NoSuchProject(_))
        ));
        let operator = store
            .keys()
            .create(&pepper, NO_PROJECT, Scope::Operator, Some("finance"))
            .expect("operator key");
        let project = store
            .keys()
            .create(&pepper, "default", Scope::Read, None)
            .expect("project key");
        let stored = store
            .keys()
            .get(&operator.record.id)
            .expect("read")
            .expect("found");
        assert_eq!(
            (stored.project_id.as_str(), stored.scope),
            (NO_PROJECT, Scope::Operator)
        );
        let stored_project: Option<String> = store
            .connection()
            .query_row(
                "SELECT project_id FROM api_keys WHERE id = ?1",
                params![operator.record.id],
                |row| row.get(0),
            )
            .expect("row");
        assert_eq!(
            stored_project, None,
            "stored as no project, not as a project named *"
        );
        let listed = |project: Option<&str>| -> Vec<String> {
            let keys = store.keys().list(project).expect("list");
            keys.into_iter().map(|key| key.id).collect()
        };
        assert_eq!(listed(Some(NO_PROJECT)), [operator.record.id.as_str()]);
        assert_eq!(listed(Some("default")), [project.record.id.as_str()]);
        assert_eq!(listed(None).len(), 2);
        let inserted = store.connection().execute(
            "INSERT INTO api_keys (id, project_id, scope, hash, created_at)
             VALUES ('x', 'default', 'operator', x'00', 0)",
            [],
        );
        assert!(
            inserted.is_err(),
            "an operator key of a project is refused by the schema"
        );
    }
}
