//! Alerts: what a policy (or, later, a monitor) found, with the state people move it
//! through — `open`, `acknowledged`, `resolved`.
//!
//! One alert per (project, policy, session, target): the same file read twice in a session
//! is one alert; `raise` answers whether the alert is new, so notifiers hear of it once.

use rusqlite::{Connection, OptionalExtension, params};

use crate::clock::now_ms;
use crate::schema_change::SchemaChange;

pub(crate) const SCHEMA: &[SchemaChange] = &[SchemaChange {
    version: 6,
    sql: "
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    time        INTEGER NOT NULL,
    project_id  TEXT NOT NULL,
    policy      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    session_id  TEXT NOT NULL DEFAULT '',
    trace_id    TEXT,
    span_id     TEXT,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT,
    state       TEXT NOT NULL DEFAULT 'open',
    updated     INTEGER NOT NULL,
    UNIQUE (project_id, policy, session_id, target)
);
CREATE INDEX alerts_by_project ON alerts (project_id, id);",
}];

/// Open alerts a project may hold; past it new matches raise nothing until some are
/// acknowledged or resolved.
pub const MAX_OPEN_ALERTS: i64 = 10_000;

/// An alert's lifecycle.
pub const STATES: [&str; 3] = ["open", "acknowledged", "resolved"];

/// What a policy matched, to be raised as an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub project_id: String,
    pub policy: String,
    pub severity: String,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// The action's kind and target (`file_read`, `/repo/.env`).
    pub kind: String,
    pub target: String,
    pub detail: Option<String>,
    /// When the action happened (ms since the epoch).
    pub time_ms: i64,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    pub id: i64,
    pub time_ms: i64,
    pub project_id: String,
    pub policy: String,
    pub severity: String,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub kind: String,
    pub target: String,
    pub detail: Option<String>,
    pub state: String,
    pub updated_ms: i64,
}

/// The `alerts` table.
pub struct Alerts<'a> {
    connection: &'a Connection,
}

const COLUMNS: &str = "id, time, project_id, policy, severity, NULLIF(session_id, ''), trace_id, \
                       span_id, kind, target, detail, state, updated";

fn alert_of(row: &rusqlite::Row) -> rusqlite::Result<Alert> {
    Ok(Alert {
        id: row.get(0)?,
        time_ms: row.get(1)?,
        project_id: row.get(2)?,
        policy: row.get(3)?,
        severity: row.get(4)?,
        session_id: row.get(5)?,
        trace_id: row.get(6)?,
        span_id: row.get(7)?,
        kind: row.get(8)?,
        target: row.get(9)?,
        detail: row.get(10)?,
        state: row.get(11)?,
        updated_ms: row.get(12)?,
    })
}

impl<'a> Alerts<'a> {
    pub(crate) fn new(connection: &'a Connection) -> Alerts<'a> {
        Alerts { connection }
    }

    /// Stores `alert` unless its (project, policy, session, target) has one already, or the
    /// project already has [`MAX_OPEN_ALERTS`] open ones (targets come from what agents send:
    /// a run reading a million matching paths must not fill the store); the stored alert
    /// when it is new, `None` when it was a repeat or over the cap.
    pub fn raise(&self, alert: &NewAlert) -> rusqlite::Result<Option<Alert>> {
        // A repeat is found through the unique key; only a new alert pays for the count.
        let repeat = self
            .connection
            .query_row(
                "SELECT 1 FROM alerts WHERE project_id = ?1 AND policy = ?2 AND session_id = ?3 \
                 AND target = ?4",
                params![
                    alert.project_id,
                    alert.policy,
                    alert.session_id.as_deref().unwrap_or_default(),
                    alert.target
                ],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if repeat {
            return Ok(None);
        }
        let open: i64 = self.connection.query_row(
            "SELECT count(*) FROM alerts WHERE project_id = ?1 AND state = 'open'",
            params![alert.project_id],
            |row| row.get(0),
        )?;
        if open >= MAX_OPEN_ALERTS {
            return Ok(None);
        }
        let inserted = self.connection.execute(
            "INSERT OR IGNORE INTO alerts (time, project_id, policy, severity, session_id, \
             trace_id, span_id, kind, target, detail, updated) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                alert.time_ms,
                alert.project_id,
                alert.policy,
                alert.severity,
                alert.session_id.as_deref().unwrap_or_default(),
                alert.trace_id,
                alert.span_id,
                alert.kind,
                alert.target,
                alert.detail,
                now_ms(),
            ],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        self.get(&alert.project_id, self.connection.last_insert_rowid())
    }

    /// One alert of `project_id`.
    pub fn get(&self, project_id: &str, id: i64) -> rusqlite::Result<Option<Alert>> {
        self.connection
            .query_row(
                &format!("SELECT {COLUMNS} FROM alerts WHERE project_id = ?1 AND id = ?2"),
                params![project_id, id],
                alert_of,
            )
            .optional()
    }

    /// The project's alerts newest first, below `before` (an id, for paging), in `state`
    /// when given.
    pub fn list(
        &self,
        project_id: &str,
        state: Option<&str>,
        before: Option<i64>,
        limit: usize,
    ) -> rusqlite::Result<Vec<Alert>> {
        let mut statement = self.connection.prepare(&format!(
            "SELECT {COLUMNS} FROM alerts WHERE project_id = ?1 AND (?2 IS NULL OR state = ?2) \
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ))?;
        let rows =
            statement.query_map(params![project_id, state, before, limit as i64], alert_of)?;
        rows.collect()
    }

    /// Moves an alert of `project_id` to `state`; the alert after, `None` when there is no
    /// such alert. `state` must be one of [`STATES`].
    pub fn set_state(
        &self,
        project_id: &str,
        id: i64,
        state: &str,
    ) -> rusqlite::Result<Option<Alert>> {
        debug_assert!(STATES.contains(&state));
        self.connection.execute(
            "UPDATE alerts SET state = ?3, updated = ?4 WHERE project_id = ?1 AND id = ?2",
            params![project_id, id, state, now_ms()],
        )?;
        self.get(project_id, id)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::MetadataStore;

    use super::*;

    fn new_alert(project: &str, session: &str, target: &str) -> NewAlert {
        NewAlert {
            project_id: project.into(),
            policy: "secrets-read".into(),
            severity: "high".into(),
            session_id: Some(session.into()),
            trace_id: None,
            span_id: None,
            kind: "file_read".into(),
            target: target.into(),
            detail: None,
            time_ms: 1_000,
        }
    }

    #[test]
    fn one_alert_per_policy_session_and_target_and_states_move() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("store");
        let alerts = store.alerts();
        let first = alerts
            .raise(&new_alert("a", "s1", "/r/.env"))
            .expect("raise");
        let first = first.expect("new");
        assert_eq!(first.state, "open");
        assert_eq!(
            alerts
                .raise(&new_alert("a", "s1", "/r/.env"))
                .expect("raise"),
            None
        );
        assert!(
            alerts
                .raise(&new_alert("a", "s2", "/r/.env"))
                .expect("raise")
                .is_some()
        );
        assert!(
            alerts
                .raise(&new_alert("b", "s1", "/r/.env"))
                .expect("raise")
                .is_some()
        );
        assert_eq!(alerts.list("a", None, None, 10).expect("list").len(), 2);
        assert_eq!(alerts.list("b", None, None, 10).expect("list").len(), 1);

        let moved = alerts
            .set_state("a", first.id, "acknowledged")
            .expect("update");
        assert_eq!(
            moved.map(|alert| alert.state).as_deref(),
            Some("acknowledged")
        );
        // Another project's alert cannot be reached by id.
        assert_eq!(
            alerts.set_state("b", first.id, "resolved").expect("update"),
            None
        );
        assert_eq!(
            alerts
                .list("a", Some("open"), None, 10)
                .expect("list")
                .len(),
            1
        );
        let page = alerts.list("a", None, Some(first.id + 1), 1).expect("page");
        assert_eq!(page.len(), 1);
    }

    #[test]
    fn a_project_holds_a_bounded_number_of_open_alerts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = MetadataStore::open(dir.path()).expect("store");
        let alerts = store.alerts();
        for index in 0..MAX_OPEN_ALERTS {
            let raised = alerts.raise(&new_alert("a", "s", &format!("/f{index}")));
            assert!(raised.expect("raise").is_some());
        }
        let over = alerts
            .raise(&new_alert("a", "s", "/one-more"))
            .expect("raise");
        assert_eq!(over, None, "past the cap");
        assert!(
            alerts
                .raise(&new_alert("b", "s", "/f"))
                .expect("raise")
                .is_some()
        );
        alerts.set_state("a", 1, "resolved").expect("resolve");
        assert!(
            alerts
                .raise(&new_alert("a", "s", "/one-more"))
                .expect("raise")
                .is_some()
        );
    }
}
