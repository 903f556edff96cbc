//! The ledger as a list: filters, newest first, paged by time — the SQL behind
//! `GET /api/actions` and `sextant actions`, run through the same read-only path as users'
//! SQL so one project's session sees one project's actions.

/// Which actions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionFilters {
    /// Only actions at or after this time (ns since the epoch).
    pub from_ns: Option<i64>,
    /// Only actions at or before this time (ns): where a page starts.
    pub until_ns: Option<i64>,
    pub kind: Option<String>,
    pub session_id: Option<String>,
    pub trace_id: Option<String>,
    pub user: Option<String>,
    pub agent: Option<String>,
}

/// The columns listed, in order.
pub const COLUMNS: &str = "time, session_id, trace_id, span_id, agent, \"user\", repository, \
                           branch, kind, target, program, detail, decision, decision_source, success";

/// The order of a listing: newest first, then a total order among actions of one instant
/// (a pipeline's programs share their event's time), so `OFFSET` pages are stable.
pub const NEWEST_FIRST: &str =
    "time DESC, session_id, trace_id, span_id, kind, program, target, detail, decision";

/// `SELECT … FROM agent_actions WHERE … ORDER BY` [`NEWEST_FIRST`] `LIMIT limit OFFSET skip`.
pub fn actions_sql(filters: &ActionFilters, limit: usize, skip: usize) -> String {
    let mut conditions = Vec::new();
    if let Some(from) = filters.from_ns {
        conditions.push(format!("time >= to_timestamp_nanos({from})"));
    }
    if let Some(until) = filters.until_ns {
        conditions.push(format!("time <= to_timestamp_nanos({until})"));
    }
    for (column, value) in [
        ("kind", &filters.kind),
        ("session_id", &filters.session_id),
        ("trace_id", &filters.trace_id),
        ("\"user\"", &filters.user),
        ("agent", &filters.agent),
    ] {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", literal(value)));
        }
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT {COLUMNS} FROM agent_actions{filter} ORDER BY {NEWEST_FIRST} LIMIT {limit} OFFSET {skip}"
    )
}

/// The actions of a session, oldest first: those naming it, and those of its traces (a
/// tool span need not carry the session its agent span names).
pub fn session_actions_sql(session_id: &str, trace_ids: &[String], limit: usize) -> String {
    let mut condition = format!("session_id = {}", literal(session_id));
    if !trace_ids.is_empty() {
        let traces: Vec<String> = trace_ids.iter().map(|id| literal(id)).collect();
        condition = format!("{condition} OR trace_id IN ({})", traces.join(", "));
    }
    format!(
        "SELECT {COLUMNS} FROM agent_actions WHERE {condition} \
         ORDER BY time, span_id, kind, program, target LIMIT {limit}"
    )
}

/// A SQL string literal holding `value`.
fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_conditions_and_quotes_are_escaped() {
        let sql = actions_sql(
            &ActionFilters {
                from_ns: Some(10),
                kind: Some("network".into()),
                user: Some("o'brien@acme.dev' OR '1'='1".into()),
                ..ActionFilters::default()
            },
            50,
            0,
        );
        assert!(sql.contains("time >= to_timestamp_nanos(10)"), "{sql}");
        assert!(sql.contains("kind = 'network'"), "{sql}");
        assert!(
            sql.contains("\"user\" = 'o''brien@acme.dev'' OR ''1''=''1'"),
            "{sql}"
        );
        assert!(sql.ends_with("LIMIT 50 OFFSET 0"), "{sql}");
        assert!(!actions_sql(&ActionFilters::default(), 1, 0).contains("WHERE"));
    }
}
