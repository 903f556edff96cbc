//! Loads one trace and orders its spans as a tree (depth-first, children by start time).
//!
//! The tree is returned flat, each span with its `depth`, so arbitrarily deep traces
//! serialize without recursion and a UI can page through them.

use std::collections::HashMap;

use datafusion::execution::context::SessionContext;
use serde_json::{Map, Value};

use crate::batch_output::batches_to_json_rows;
use crate::error::{QueryError, Result};
use crate::event_costs::{attach_event_costs, cost_events};
use crate::sql::{SqlLimits, run_read_only_sql};
use crate::trace_days::{day_filter, trace_days};

/// Spans of a trace in tree order, each with a `depth` field.
#[derive(Debug, serde::Serialize)]
pub struct TraceTree {
    pub trace_id: String,
    pub span_count: usize,
    pub spans: Vec<Map<String, Value>>,
    /// The days the partition indexes place the trace's spans in (`None`: not known for
    /// sure), so a span of it can be loaded without asking the indexes again.
    #[serde(skip)]
    pub span_days: Option<Vec<String>>,
}

pub fn is_valid_trace_id(trace_id: &str) -> bool {
    trace_id.len() == 32 && trace_id.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Columns of a span in the skeleton: enough to draw the tree and waterfall and roll up
/// tokens and cost, without the (large) content columns.
const SKELETON_COLUMNS: &str = "trace_id, span_id, parent_span_id, name, kind, span_type, \
    operation, status_code, status_message, error_type, start_time, \
    arrow_cast(start_time, 'Int64') AS start_ns, duration_ns, service_name, agent_name, \
    provider, request_model, response_model, tool_name, input_tokens, output_tokens, \
    cache_read_tokens, cache_write_tokens, cost_usd, cost_source, \
    CASE WHEN span_type = 'llm' THEN attributes END AS attributes";

fn validated_trace_id(trace_id: &str) -> Result<String> {
    if !is_valid_trace_id(trace_id) {
        return Err(QueryError::InvalidQuery(format!(
            "invalid trace id {trace_id:?}: expected 32 hex characters"
        )));
    }
    Ok(trace_id.to_ascii_lowercase())
}

/// The whole trace, every column of every span.
pub async fn load_trace(context: &SessionContext, trace_id: &str) -> Result<TraceTree> {
    load_trace_columns(context, trace_id, "*").await
}

/// The trace's skeleton: every span, without content (`input`, `output`, `system_prompt`,
/// events), so a 30k-span trace's tree is small and fast; fetch content per span with
/// [`load_span`].
pub async fn load_trace_skeleton(context: &SessionContext, trace_id: &str) -> Result<TraceTree> {
    load_trace_columns(context, trace_id, SKELETON_COLUMNS).await
}

async fn load_trace_columns(
    context: &SessionContext,
    trace_id: &str,
    columns: &str,
) -> Result<TraceTree> {
    let trace_id = validated_trace_id(trace_id)?;
    // Only the days the partition indexes place the trace in (all of them when unsure).
    let (span_days, log_days) = match trace_days(context, &trace_id) {
        Some(days) => (Some(days.spans), Some(days.logs)),
        None => (None, None),
    };
    // The id is validated hex and the days well-formed dates, so neither can inject SQL.
    let sql = format!(
        "SELECT {columns} FROM spans WHERE trace_id = '{trace_id}'{} ORDER BY start_time, span_id",
        day_filter(span_days.as_deref())
    );
    // The cost events are read on another task, beside the spans (the two scans overlap);
    // not at all when the indexes know the trace and it has no log rows.
    let known = span_days.as_ref().is_some_and(|days| !days.is_empty());
    let events = match &log_days {
        Some(days) if days.is_empty() && known => None,
        _ => Some(tokio::spawn({
            let (context, trace_id) = (context.clone(), trace_id.clone());
            async move { cost_events(&context, &trace_id, log_days.as_deref()).await }
        })),
    };
    let output = run_read_only_sql(context, &sql, SqlLimits::rows(usize::MAX)).await?;
    let rows = batches_to_json_rows(&output.batches)?;
    let events = match events {
        Some(task) => task
            .await
            .map_err(|error| QueryError::Internal(format!("cost events task: {error}")))??,
        None => Vec::new(),
    };
    if rows.is_empty() {
        return Err(QueryError::NotFound(format!("trace {trace_id} not found")));
    }
    let mut spans = order_as_tree(rows);
    attach_event_costs(&events, &mut spans);
    Ok(TraceTree {
        trace_id,
        span_count: spans.len(),
        spans,
        span_days,
    })
}

/// One span with every column.
pub async fn load_span(
    context: &SessionContext,
    trace_id: &str,
    span_id: &str,
) -> Result<Map<String, Value>> {
    let days = trace_days(context, &validated_trace_id(trace_id)?).map(|days| days.spans);
    load_span_on_days(context, trace_id, span_id, days.as_deref()).await
}

/// One span of a loaded trace, read from the days its tree was found on.
pub async fn load_span_of(
    context: &SessionContext,
    tree: &TraceTree,
    span_id: &str,
) -> Result<Map<String, Value>> {
    load_span_on_days(context, &tree.trace_id, span_id, tree.span_days.as_deref()).await
}

async fn load_span_on_days(
    context: &SessionContext,
    trace_id: &str,
    span_id: &str,
    days: Option<&[String]>,
) -> Result<Map<String, Value>> {
    let trace_id = validated_trace_id(trace_id)?;
    let valid_span_id = span_id.len() == 16 && span_id.bytes().all(|byte| byte.is_ascii_hexdigit());
    if !valid_span_id {
        return Err(QueryError::InvalidQuery(format!(
            "invalid span id {span_id:?}: expected 16 hex characters"
        )));
    }
    let span_id = span_id.to_ascii_lowercase();
    let sql = format!(
        "SELECT * FROM spans WHERE trace_id = '{trace_id}' AND span_id = '{span_id}'{} LIMIT 1",
        day_filter(days)
    );
    let output = run_read_only_sql(context, &sql, SqlLimits::rows(1)).await?;
    batches_to_json_rows(&output.batches)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            QueryError::NotFound(format!("span {span_id} not found in trace {trace_id}"))
        })
}

fn text_field<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

/// Depth-first order from the roots (spans whose parent is absent from the trace). Spans are
/// linked by position, so a 30k-span trace is ordered without copying an id.
fn order_as_tree(rows: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    let position_of: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(position, row)| Some((text_field(row, "span_id")?, position)))
        .collect();
    // Children in row order, which is start order: each child list is sorted already.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut roots = Vec::new();
    for (position, row) in rows.iter().enumerate() {
        let parent = text_field(row, "parent_span_id")
            .and_then(|parent| position_of.get(parent))
            .filter(|&&parent| parent != position);
        match parent {
            Some(&parent) => children[parent].push(position),
            None => roots.push(position),
        }
    }
    drop(position_of);
    let mut ordered = Vec::with_capacity(rows.len());
    let mut slots: Vec<Option<Map<String, Value>>> = rows.into_iter().map(Some).collect();
    let mut stack: Vec<(usize, u64)> = roots.iter().rev().map(|&root| (root, 0)).collect();
    while let Some((position, depth)) = stack.pop() {
        let Some(mut row) = slots[position].take() else {
            continue;
        };
        stack.extend(children[position].iter().rev().map(|&kid| (kid, depth + 1)));
        row.insert("depth".into(), Value::from(depth));
        ordered.push(row);
    }
    // Spans in a parent cycle are unreachable from a root: append them rather than lose them.
    ordered.extend(slots.into_iter().flatten().map(|mut row| {
        row.insert("depth".into(), Value::from(0));
        row
    }));
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(span_id: &str, parent: Option<&str>) -> Map<String, Value> {
        let mut row = Map::new();
        row.insert("span_id".into(), Value::from(span_id));
        row.insert(
            "parent_span_id".into(),
            parent.map_or(Value::Null, Value::from),
        );
        row
    }

    #[test]
    fn spans_come_out_depth_first_with_depths() {
        let rows = vec![
            row("root", None),
            row("llm1", Some("root")),
            row("tool1", Some("llm1")),
            row("llm2", Some("root")),
            row("orphan", Some("missing")),
        ];
        let ordered = order_as_tree(rows);
        let summary: Vec<(String, u64)> = ordered
            .iter()
            .map(|row| {
                (
                    row["span_id"].as_str().unwrap_or_default().to_string(),
                    row["depth"].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        let expected = [
            ("root", 0),
            ("llm1", 1),
            ("tool1", 2),
            ("llm2", 1),
            ("orphan", 0),
        ];
        let expected: Vec<(String, u64)> = expected
            .iter()
            .map(|(id, depth)| (id.to_string(), *depth))
            .collect();
        assert_eq!(summary, expected);
    }

    #[test]
    fn cycles_do_not_lose_spans() {
        let ordered = order_as_tree(vec![row("a", Some("b")), row("b", Some("a"))]);
        assert_eq!(ordered.len(), 2);
    }
}
