//! The `model_responses` table: model answers recorded by eval replays, keyed by the
//! request's hash and the epoch, so a rerun of a suite replays them instead of calling
//! the model again.

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::now_ms;
use crate::schema_change::SchemaChange;

pub(crate) const SCHEMA: &[SchemaChange] = &[SchemaChange {
    version: 3,
    sql: "
CREATE TABLE model_responses (
    request_hash TEXT NOT NULL,
    epoch        INTEGER NOT NULL,
    turn         TEXT NOT NULL,
    latency_ms   REAL NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (request_hash, epoch)
);",
}];

/// The response cache table.
pub struct ResponseCache<'a> {
    connection: &'a Connection,
}

impl<'a> ResponseCache<'a> {
    pub(crate) fn new(connection: &'a Connection) -> ResponseCache<'a> {
        ResponseCache { connection }
    }

    /// The answer (JSON) recorded for a request and epoch, with its latency when fresh.
    pub fn get(&self, request_hash: &str, epoch: u32) -> rusqlite::Result<Option<(String, f64)>> {
        self.connection
            .query_row(
                "SELECT turn, latency_ms FROM model_responses WHERE request_hash = ?1 AND epoch = ?2",
                params![request_hash, epoch],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
    }

    /// Records (or replaces) the answer to a request at an epoch.
    pub fn put(
        &self,
        request_hash: &str,
        epoch: u32,
        answer: &str,
        latency_ms: f64,
    ) -> rusqlite::Result<()> {
        self.connection.execute(
            "INSERT OR REPLACE INTO model_responses (request_hash, epoch, turn, latency_ms, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![request_hash, epoch, answer, latency_ms, now_ms()],
        )?;
        Ok(())
    }
}
