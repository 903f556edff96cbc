//! The governance page's figures over `agent_actions`: totals, the files agents wrote, the
//! commands they ran by program, the hosts they reached, the permission decisions by who
//! made them, the secrets they handled — each a [`Figure`] with the SQL that made it, so
//! every number on the page is one query away.

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use serde::Serialize;

use crate::dashboard::{Figure, figure};
use crate::error::Result;
use crate::sql::{SqlLimits, run_read_only_sql};

/// The window and filters of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OverviewRequest {
    pub from_ns: i64,
    pub to_ns: i64,
    pub user: Option<String>,
    pub agent: Option<String>,
    pub repository: Option<String>,
}

/// The page's figures.
#[derive(Debug, Serialize)]
pub struct Overview {
    /// actions, sessions, files_written, commands, hosts, rejected, secrets.
    pub totals: Figure,
    /// target, writes, sessions.
    pub files_written: Figure,
    /// program, runs, failed, sessions.
    pub commands: Figure,
    /// host, calls, sessions, programs.
    pub hosts: Figure,
    /// decision, decision_source, decisions.
    pub decisions: Figure,
    /// secret, times, sessions.
    pub secrets: Figure,
    /// user, agent, repository choices for the filters.
    pub choices: Figure,
    /// The window held more actions than a page reads: the figures count the newest part.
    pub truncated: bool,
}

/// Rows listed per table.
const TOP: usize = 20;

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn conditions(request: &OverviewRequest) -> String {
    let mut conditions = vec![format!(
        "time >= to_timestamp_nanos({}) AND time < to_timestamp_nanos({})",
        request.from_ns, request.to_ns
    )];
    for (column, value) in [
        ("\"user\"", &request.user),
        ("agent", &request.agent),
        ("repository", &request.repository),
    ] {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", literal(value)));
        }
    }
    conditions.join(" AND ")
}

/// The window's actions are read once into a table of the request's own session
/// (`page_actions`); each figure is computed from it, and shows the SQL that gives the same
/// rows from `agent_actions`.
const PAGE_TABLE: &str = "page_actions";

/// Most actions one page reads, in rows and in bytes (targets are agent-written text).
const MAX_PAGE_ACTIONS: usize = 1_000_000;
const MAX_PAGE_BYTES: usize = 256 * 1024 * 1024;

pub async fn load_overview(
    context: &SessionContext,
    request: &OverviewRequest,
) -> Result<Overview> {
    let filter = conditions(request);
    let window_only = conditions(&OverviewRequest {
        from_ns: request.from_ns,
        to_ns: request.to_ns,
        ..OverviewRequest::default()
    });
    // The filter choices come from the whole window; the figures from the filtered rows.
    let choices = figure(
        context,
        format!(
            "SELECT DISTINCT \"user\", agent, repository FROM agent_actions \
             WHERE {window_only} ORDER BY 1, 2, 3 LIMIT 500"
        ),
    )
    .await?;
    let rows = run_read_only_sql(
        context,
        &format!("SELECT * FROM agent_actions WHERE {filter} ORDER BY time DESC"),
        SqlLimits::rows(MAX_PAGE_ACTIONS).with_max_bytes(MAX_PAGE_BYTES),
    )
    .await?;
    let truncated = rows.truncated.is_some();
    let table = MemTable::try_new(rows.schema.clone(), vec![rows.batches])?;
    context.register_table(PAGE_TABLE, Arc::new(table))?;
    // `{rows}`: the filtered actions; the SQL shown reads them from `agent_actions`.
    let figure_of = |template: &str| {
        let shown = template.replace("{rows}", &format!("agent_actions WHERE {filter} AND"));
        let run = template.replace("{rows}", &format!("{PAGE_TABLE} WHERE"));
        async move {
            let mut computed = figure(context, run).await?;
            computed.sql = shown;
            Ok::<_, crate::error::QueryError>(computed)
        }
    };
    Ok(Overview {
        totals: figure_of(
            "SELECT count(*) AS actions, count(DISTINCT session_id) AS sessions, \
             count(*) FILTER (WHERE kind = 'file_write') AS files_written, \
             count(*) FILTER (WHERE kind = 'command') AS commands, \
             count(DISTINCT target) FILTER (WHERE kind = 'network') AS hosts, \
             count(*) FILTER (WHERE kind = 'decision' AND decision = 'reject') AS rejected, \
             count(*) FILTER (WHERE kind = 'secret_exposed') AS secrets \
             FROM {rows} true",
        )
        .await?,
        files_written: figure_of(&format!(
            "SELECT target, count(*) AS writes, count(DISTINCT session_id) AS sessions \
             FROM {{rows}} kind = 'file_write' \
             GROUP BY target ORDER BY writes DESC, target LIMIT {TOP}"
        ))
        .await?,
        commands: figure_of(&format!(
            "SELECT program, count(*) AS runs, count(*) FILTER (WHERE NOT success) AS failed, \
             count(DISTINCT session_id) AS sessions FROM {{rows}} kind = 'command' \
             GROUP BY program ORDER BY runs DESC, program LIMIT {TOP}"
        ))
        .await?,
        hosts: figure_of(&format!(
            "SELECT target AS host, count(*) AS calls, count(DISTINCT session_id) AS sessions, \
             string_agg(DISTINCT program, ', ') AS programs FROM {{rows}} kind = 'network' \
             GROUP BY target ORDER BY calls DESC, host LIMIT {TOP}"
        ))
        .await?,
        decisions: figure_of(
            "SELECT decision, decision_source, count(*) AS decisions \
             FROM {rows} kind = 'decision' \
             GROUP BY decision, decision_source ORDER BY decision, decisions DESC",
        )
        .await?,
        secrets: figure_of(
            "SELECT detail AS secret, count(*) AS times, count(DISTINCT session_id) AS sessions \
             FROM {rows} kind = 'secret_exposed' GROUP BY detail ORDER BY times DESC, secret",
        )
        .await?,
        choices,
        truncated,
    })
}
