//! Joins an agent's cost events to the model-call spans they describe.
//!
//! Claude Code puts no cost on its `claude_code.llm_request` spans; it sends the cost it
//! computed in an `api_request` log event instead. Each event is matched to one llm span of
//! the same trace: by `request_id` when both carry it, otherwise by order among the llm spans
//! under the event's span (the interaction) — both are emitted once per model call, in call
//! order. A matched span's `cost_usd` becomes the event's, with `cost_source = "event"`.

use datafusion::execution::context::SessionContext;
use datafusion::prelude::{col, lit};
use serde_json::{Map, Value};

use crate::batch_output::batches_to_json_rows;
use crate::error::Result;

/// The cost events of one trace (on `days` when given), oldest first.
pub async fn cost_events(
    context: &SessionContext,
    trace_id: &str,
    days: Option<&[String]>,
) -> Result<Vec<Map<String, Value>>> {
    let mut filter = col("trace_id")
        .eq(lit(trace_id))
        .and(col("cost_source").eq(lit("sent")))
        .and(col("event_name").like(lit("%api_request")));
    if let Some(days) = days.filter(|days| !days.is_empty()) {
        let days = days.iter().map(|day| lit(day.as_str())).collect();
        filter = filter.and(col("day").in_list(days, false));
    }
    let frame = context
        .table("logs")
        .await?
        .filter(filter)?
        .select_columns(&[
            "span_id",
            "request_id",
            "cost_usd",
            "time",
            "event_sequence",
        ])?
        .sort(vec![
            col("time").sort(true, true),
            col("event_sequence").sort(true, true),
        ])?;
    batches_to_json_rows(&frame.collect().await?)
}

/// Sets `cost_usd` / `cost_source` on the llm spans (tree order) that cost `events` (from
/// [`cost_events`]) describe.
pub fn attach_event_costs(events: &[Map<String, Value>], spans: &mut [Map<String, Value>]) {
    let is_llm =
        |span: &Map<String, Value>| span.get("span_type").and_then(Value::as_str) == Some("llm");
    if events.is_empty() {
        return;
    }
    // Each llm span's request id, parsed from its attributes once (not once per event).
    let request_ids: Vec<Option<String>> = spans
        .iter()
        .map(|span| is_llm(span).then(|| span_request_id(span)).flatten())
        .collect();
    let mut matched = vec![false; spans.len()];
    for event in events {
        let Some(cost) = event.get("cost_usd").filter(|cost| cost.is_number()) else {
            continue;
        };
        let target = match text(event, "request_id") {
            Some(request_id) => (0..spans.len()).position(|position| {
                !matched[position] && request_ids[position].as_deref() == Some(request_id)
            }),
            None => None,
        }
        .or_else(|| {
            let parent = text(event, "span_id");
            spans.iter().enumerate().position(|(position, span)| {
                !matched[position]
                    && is_llm(span)
                    && (parent.is_none() || text(span, "parent_span_id") == parent)
            })
        });
        if let Some(position) = target {
            matched[position] = true;
            spans[position].insert("cost_usd".into(), cost.clone());
            spans[position].insert("cost_source".into(), Value::from("event"));
        }
    }
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

/// `request_id` from a span's attributes JSON text, when the API sent one.
fn span_request_id(span: &Map<String, Value>) -> Option<String> {
    let attributes: Map<String, Value> = serde_json::from_str(text(span, "attributes")?).ok()?;
    attributes
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
