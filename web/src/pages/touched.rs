//! The "touched" panel of the session and trace pages: what that run did to the world —
//! files, commands, hosts, decisions, secrets — from `agent_actions`, oldest first.

use serde_json::{Map, Value};
use sextant_query::QueryError;
use sextant_query::SessionContext;
use sextant_query::agent_actions::listing::{
    ActionFilters, COLUMNS, actions_sql, session_actions_sql,
};
use sextant_query::batch_output::batches_to_json_rows;
use sextant_query::sql::{SqlLimits, run_read_only_sql};

/// Actions a panel shows at most.
const SHOWN: usize = 200;

/// The actions of one trace, oldest first.
pub async fn trace_touched(
    context: &SessionContext,
    trace_id: &str,
) -> Result<Vec<Map<String, Value>>, QueryError> {
    let filters = ActionFilters {
        trace_id: Some(trace_id.to_string()),
        ..ActionFilters::default()
    };
    let newest_first = actions_sql(&filters, SHOWN, 0);
    rows_of(
        context,
        &format!("SELECT {COLUMNS} FROM ({newest_first}) ORDER BY time, kind, program"),
    )
    .await
}

/// The actions of one session and its traces, oldest first.
pub async fn session_touched(
    context: &SessionContext,
    session_id: &str,
    trace_ids: &[String],
) -> Result<Vec<Map<String, Value>>, QueryError> {
    rows_of(context, &session_actions_sql(session_id, trace_ids, SHOWN)).await
}

async fn rows_of(
    context: &SessionContext,
    sql: &str,
) -> Result<Vec<Map<String, Value>>, QueryError> {
    let output = run_read_only_sql(context, sql, SqlLimits::rows(SHOWN)).await?;
    batches_to_json_rows(&output.batches)
}
