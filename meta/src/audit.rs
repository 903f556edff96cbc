//! The audit log: key creation and revocation, sign-ins and sign-outs, failed
//! authentication (rate-limited), and other admin actions, in the metadata store.
//!
//! Admins read their project's entries through `GET /api/audit`; `sextant audit` reads all.

use rusqlite::{Connection, params};

use crate::clock::now_ms;
use crate::schema_change::SchemaChange;

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub time_ms: i64,
    /// The project acted on; `None` when unknown (a failed sign-in with an unknown key).
    pub project_id: Option<String>,
    /// `cli`, `key:<id>`, or `anonymous`.
    pub actor: String,
    /// `key.create`, `key.revoke`, `project.create`, `auth.failed`, `web.sign_in`, …
    pub action: String,
    /// `ok` or `denied`.
    pub outcome: String,
    pub detail: String,
}

impl AuditEntry {
    pub fn now(
        project_id: Option<&str>,
        actor: impl Into<String>,
        action: &str,
        outcome: &str,
        detail: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            time_ms: now_ms(),
            project_id: project_id.map(str::to_string),
            actor: actor.into(),
            action: action.to_string(),
            outcome: outcome.to_string(),
            detail: detail.into(),
        }
    }
}

pub(crate) const SCHEMA: &[SchemaChange] = &[SchemaChange {
    version: 1,
    sql: "
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    project_id  TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_log_by_project ON audit_log (project_id, time);",
}];

/// The `audit_log` table.
pub struct Audit<'a> {
    connection: &'a Connection,
}

impl<'a> Audit<'a> {
    pub(crate) fn new(connection: &'a Connection) -> Audit<'a> {
        Audit { connection }
    }

    pub fn append(&self, entry: &AuditEntry) -> rusqlite::Result<()> {
        self.connection.execute(
            "INSERT INTO audit_log (time, project_id, actor, action, outcome, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                entry.time_ms,
                entry.project_id,
                entry.actor,
                entry.action,
                entry.outcome,
                entry.detail
            ],
        )?;
        Ok(())
    }

    /// The newest `limit` entries, newest first; of one project when given.
    pub fn list(
        &self,
        project_id: Option<&str>,
        limit: usize,
    ) -> rusqlite::Result<Vec<AuditEntry>> {
        let mut statement = self.connection.prepare(
            "SELECT time, project_id, actor, action, outcome, detail FROM audit_log
             WHERE ?1 IS NULL OR project_id = ?1 ORDER BY time DESC, id DESC LIMIT ?2",
        )?;
        let rows = statement.query_map(params![project_id, limit as i64], |row| {
            Ok(AuditEntry {
                time_ms: row.get(0)?,
                project_id: row.get(1)?,
                actor: row.get(2)?,
                action: row.get(3)?,
                outcome: row.get(4)?,
                detail: row.get(5)?,
            })
        })?;
        rows.collect()
    }
}

/// Keeps a flood of bad keys from flooding the audit log: at most `PER_MINUTE` failed
/// attempts are written per minute, then one entry saying how many were left out.
#[derive(Debug, Default)]
pub struct FailedAuthThrottle {
    window_start_ms: i64,
    written: u32,
    suppressed: u64,
}

impl FailedAuthThrottle {
    const PER_MINUTE: u32 = 20;

    /// What to write for one more failure at `now_ms`: the entry itself unless throttled,
    /// and first a summary of those suppressed in the window that just ended.
    pub fn admit(&mut self, now_ms: i64) -> (Option<u64>, bool) {
        let mut summary = None;
        if now_ms - self.window_start_ms >= 60_000 {
            if self.suppressed > 0 {
                summary = Some(self.suppressed);
            }
            self.window_start_ms = now_ms;
            self.written = 0;
            self.suppressed = 0;
        }
        if self.written < Self::PER_MINUTE {
            self.written += 1;
            (summary, true)
        } else {
            self.suppressed += 1;
            (summary, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MetadataStore;

    #[test]
    fn failed_attempts_are_written_up_to_a_rate_then_summarized() {
        let mut throttle = FailedAuthThrottle::default();
        let start = 1_000_000;
        let written = (0..25).filter(|_| throttle.admit(start).1).count();
        assert_eq!(written, 20);
        assert_eq!(throttle.admit(start + 61_000), (Some(5), true));
    }

    #[test]
    fn entries_list_newest_first_per_project() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("open");
        for (time, project) in [(1, Some("a")), (2, Some("b")), (3, None), (4, Some("a"))] {
            let mut entry = AuditEntry::now(project, "cli", "key.create", "ok", "");
            entry.time_ms = time;
            store.audit().append(&entry).expect("append");
        }
        let times = |project| -> Vec<i64> {
            store
                .audit()
                .list(project, 10)
                .expect("list")
                .into_iter()
                .map(|entry| entry.time_ms)
                .collect()
        };
        assert_eq!(times(Some("a")), [4, 1]);
        assert_eq!(times(None), [4, 3, 2, 1]);
    }
}
