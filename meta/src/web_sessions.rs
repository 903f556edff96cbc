//! Web UI sessions: a sign-in with a read or admin key gets a random session token (kept
//! by the browser in an HttpOnly, SameSite=Strict cookie) and a CSRF token for its forms.
//!
//! Only the token's keyed hash is stored. A session lives at most [`SESSION_TTL_MS`], ends
//! on sign-out, and ends with its key: revoking a key deletes its sessions, and a session
//! whose key is revoked is refused anyway.

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::now_ms;
use crate::keys::KeyRecord;
use crate::schema_change::SchemaChange;

/// How long a web session lasts.
pub const SESSION_TTL_MS: i64 = 12 * 60 * 60 * 1000;

pub(crate) const SCHEMA: &[SchemaChange] = &[SchemaChange {
    version: 1,
    sql: "
CREATE TABLE web_sessions (
    token_hash  BLOB PRIMARY KEY,
    key_id      TEXT NOT NULL REFERENCES api_keys(id),
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);",
}];

/// The `web_sessions` table.
pub struct WebSessions<'a> {
    connection: &'a Connection,
}

impl<'a> WebSessions<'a> {
    pub(crate) fn new(connection: &'a Connection) -> WebSessions<'a> {
        WebSessions { connection }
    }

    pub fn insert(
        &self,
        token_hash: &[u8; 32],
        key_id: &str,
        csrf_token: &str,
    ) -> rusqlite::Result<()> {
        let now = now_ms();
        self.connection.execute(
            "DELETE FROM web_sessions WHERE expires_at < ?1",
            params![now],
        )?;
        self.connection.execute(
            "INSERT INTO web_sessions (token_hash, key_id, csrf_token, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &token_hash[..],
                key_id,
                csrf_token,
                now,
                now + SESSION_TTL_MS
            ],
        )?;
        Ok(())
    }

    /// The live session's key id and CSRF token.
    pub fn get(&self, token_hash: &[u8; 32]) -> rusqlite::Result<Option<(String, String)>> {
        self.connection
            .query_row(
                "SELECT key_id, csrf_token FROM web_sessions WHERE token_hash = ?1 AND expires_at > ?2",
                params![&token_hash[..], now_ms()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
    }

    pub fn delete(&self, token_hash: &[u8; 32]) -> rusqlite::Result<()> {
        self.connection.execute(
            "DELETE FROM web_sessions WHERE token_hash = ?1",
            params![&token_hash[..]],
        )?;
        Ok(())
    }
}

/// A signed-in browser: the key it signed in with and its CSRF token.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub key: KeyRecord,
    pub csrf_token: String,
}
