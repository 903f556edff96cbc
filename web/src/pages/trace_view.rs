//! The trace page's tree and waterfall: each span's row with its depth, bar geometry on the
//! trace's timeline and the tokens and cost of its whole subtree; paged so a 30k-span trace
//! draws only the rows in view.

use serde::Serialize;
use serde_json::{Map, Value};
use sextant_query::trace::TraceTree;

/// Spans drawn per page of the tree.
pub const TREE_PAGE_SPANS: usize = 500;

#[derive(Debug, Serialize)]
pub struct TraceView {
    pub trace_id: String,
    pub span_count: usize,
    pub root_name: String,
    pub service_name: Option<String>,
    pub session_id: Option<String>,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub error_count: usize,
    pub llm_calls: usize,
    pub tool_calls: usize,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub models: Vec<String>,
    /// Rows of the current page, in tree order.
    pub rows: Vec<SpanRow>,
    pub page: usize,
    pub page_count: usize,
    pub page_size: usize,
}

#[derive(Debug, Serialize)]
pub struct SpanRow {
    pub span_id: String,
    pub name: String,
    pub depth: u64,
    pub span_type: String,
    pub is_error: bool,
    /// Model for llm spans, tool name for tools.
    pub detail: Option<String>,
    pub duration_ns: i64,
    /// Bar start and width as percentages of the trace's duration.
    pub offset_pct: f64,
    pub width_pct: f64,
    /// Input + output tokens of the span's llm calls, itself and below.
    pub subtree_tokens: i64,
    pub subtree_cost_usd: f64,
    pub child_count: usize,
}

fn text(row: &Map<String, Value>, key: &str) -> Option<String> {
    row.get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

fn integer(row: &Map<String, Value>, key: &str) -> i64 {
    row.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn is_llm(row: &Map<String, Value>) -> bool {
    row.get("span_type").and_then(Value::as_str) == Some("llm")
}

/// Own tokens and cost of a span: tokens count only on llm spans (an agent span may repeat
/// its children's totals); cost wherever it was sent or priced.
fn own_usage(row: &Map<String, Value>) -> (i64, f64) {
    let tokens = if is_llm(row) {
        integer(row, "input_tokens") + integer(row, "output_tokens")
    } else {
        0
    };
    let cost = row.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0);
    (tokens, cost)
}

/// Per span (tree order): (subtree tokens, subtree cost, direct children).
///
/// One pass from the end: in depth-first order, when a span is reached every entry left on
/// the stack deeper than it is one of its children, already holding its own subtree's sums.
fn subtree_rollups(spans: &[Map<String, Value>]) -> Vec<(i64, f64, usize)> {
    let mut rollups = vec![(0, 0.0, 0); spans.len()];
    let mut pending: Vec<(u64, i64, f64)> = Vec::new();
    for (position, span) in spans.iter().enumerate().rev() {
        let depth = span.get("depth").and_then(Value::as_u64).unwrap_or(0);
        let (mut tokens, mut cost) = own_usage(span);
        let mut children = 0;
        while let Some(&(child_depth, child_tokens, child_cost)) = pending.last() {
            if child_depth <= depth {
                break;
            }
            pending.pop();
            tokens += child_tokens;
            cost += child_cost;
            children += 1;
        }
        rollups[position] = (tokens, cost, children);
        pending.push((depth, tokens, cost));
    }
    rollups
}

/// The view of `tree` (a skeleton with `start_ns`) showing page `page` (0-based) of its rows.
pub fn trace_view(tree: &TraceTree, page: usize) -> TraceView {
    let spans = &tree.spans;
    let start_ns = spans
        .iter()
        .map(|span| integer(span, "start_ns"))
        .min()
        .unwrap_or(0);
    let end_ns = spans
        .iter()
        .map(|span| integer(span, "start_ns") + integer(span, "duration_ns"))
        .max()
        .unwrap_or(start_ns);
    let duration_ns = (end_ns - start_ns).max(1);
    let rollups = subtree_rollups(spans);
    let page_count = spans.len().div_ceil(TREE_PAGE_SPANS).max(1);
    let page = page.min(page_count - 1);
    let first = page * TREE_PAGE_SPANS;
    let rows = spans
        .iter()
        .zip(&rollups)
        .skip(first)
        .take(TREE_PAGE_SPANS)
        .map(|(span, &(subtree_tokens, subtree_cost_usd, child_count))| {
            let span_start = integer(span, "start_ns");
            let span_duration = integer(span, "duration_ns");
            let span_type = text(span, "span_type").unwrap_or_else(|| "other".into());
            let name = text(span, "name").unwrap_or_default();
            let detail = match span_type.as_str() {
                "llm" => text(span, "response_model").or_else(|| text(span, "request_model")),
                "tool" => text(span, "tool_name"),
                _ => None,
            }
            // `chat gpt-5` needs no second `gpt-5`.
            .filter(|detail| !name.contains(detail.as_str()));
            SpanRow {
                span_id: text(span, "span_id").unwrap_or_default(),
                name,
                depth: span.get("depth").and_then(Value::as_u64).unwrap_or(0),
                is_error: text(span, "status_code").as_deref() == Some("error"),
                detail,
                span_type,
                duration_ns: span_duration,
                offset_pct: (span_start - start_ns) as f64 * 100.0 / duration_ns as f64,
                width_pct: (span_duration as f64 * 100.0 / duration_ns as f64).max(0.3),
                subtree_tokens,
                subtree_cost_usd,
                child_count,
            }
        })
        .collect();

    let mut models: Vec<String> = spans
        .iter()
        .filter(|span| is_llm(span))
        .filter_map(|span| text(span, "response_model").or_else(|| text(span, "request_model")))
        .collect();
    models.sort();
    models.dedup();
    let root = spans.first();
    let llm_spans = spans.iter().filter(|span| is_llm(span));
    TraceView {
        trace_id: tree.trace_id.clone(),
        span_count: tree.span_count,
        root_name: root.and_then(|root| text(root, "name")).unwrap_or_default(),
        service_name: root.and_then(|root| text(root, "service_name")),
        session_id: spans.iter().find_map(|span| text(span, "session_id")),
        start_ns,
        duration_ns: end_ns - start_ns,
        error_count: spans
            .iter()
            .filter(|span| text(span, "status_code").as_deref() == Some("error"))
            .count(),
        llm_calls: llm_spans.clone().count(),
        tool_calls: spans
            .iter()
            .filter(|span| span.get("span_type").and_then(Value::as_str) == Some("tool"))
            .count(),
        input_tokens: llm_spans
            .clone()
            .map(|span| integer(span, "input_tokens"))
            .sum(),
        output_tokens: llm_spans.map(|span| integer(span, "output_tokens")).sum(),
        cost_usd: rollups
            .iter()
            .zip(spans)
            .filter(|(_, span)| span.get("depth").and_then(Value::as_u64) == Some(0))
            .map(|(rollup, _)| rollup.1)
            .sum(),
        models,
        rows,
        page,
        page_count,
        page_size: TREE_PAGE_SPANS,
    }
}

/// The page of the tree that holds `span_id`, so a link to a deep span opens on its page.
pub fn page_of_span(tree: &TraceTree, span_id: &str) -> Option<usize> {
    tree.spans
        .iter()
        .position(|span| span.get("span_id").and_then(Value::as_str) == Some(span_id))
        .map(|position| position / TREE_PAGE_SPANS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(
        id: &str,
        depth: u64,
        span_type: &str,
        start: i64,
        duration: i64,
        tokens: i64,
        cost: f64,
    ) -> Map<String, Value> {
        json!({
            "span_id": id, "name": id, "depth": depth, "span_type": span_type,
            "start_ns": start, "duration_ns": duration,
            "input_tokens": tokens, "output_tokens": 0, "cost_usd": cost,
            "status_code": if id == "bad" { "error" } else { "ok" },
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn tree(spans: Vec<Map<String, Value>>) -> TraceTree {
        TraceTree {
            trace_id: "t".into(),
            span_count: spans.len(),
            spans,
            span_days: None,
        }
    }

    #[test]
    fn subtrees_roll_up_tokens_and_cost_and_bars_sit_on_the_timeline() {
        let trace = tree(vec![
            span("root", 0, "agent", 0, 100, 999, 0.0),
            span("llm1", 1, "llm", 0, 40, 10, 0.5),
            span("bad", 2, "tool", 10, 20, 0, 0.0),
            span("llm2", 1, "llm", 50, 50, 5, 0.25),
        ]);
        let view = trace_view(&trace, 0);
        let summary: Vec<(&str, i64, f64, usize)> = view
            .rows
            .iter()
            .map(|row| {
                (
                    row.span_id.as_str(),
                    row.subtree_tokens,
                    row.subtree_cost_usd,
                    row.child_count,
                )
            })
            .collect();
        // The agent span's own 999 tokens are not counted: only llm spans carry tokens.
        assert_eq!(
            summary,
            [
                ("root", 15, 0.75, 2),
                ("llm1", 10, 0.5, 1),
                ("bad", 0, 0.0, 0),
                ("llm2", 5, 0.25, 0)
            ]
        );
        assert_eq!(view.rows[3].offset_pct, 50.0);
        assert_eq!(view.rows[3].width_pct, 50.0);
        assert_eq!(view.error_count, 1);
        assert_eq!(view.cost_usd, 0.75);
        assert_eq!(view.input_tokens, 15);
    }

    #[test]
    fn big_trees_page_and_a_span_link_finds_its_page() {
        let spans = (0..1_200)
            .map(|index| {
                span(
                    &format!("s{index}"),
                    u64::from(index > 0),
                    "tool",
                    index,
                    1,
                    0,
                    0.0,
                )
            })
            .collect();
        let trace = tree(spans);
        let view = trace_view(&trace, 2);
        assert_eq!(view.page_count, 3);
        assert_eq!(view.rows.len(), 200);
        assert_eq!(view.rows[0].span_id, "s1000");
        assert_eq!(page_of_span(&trace, "s600"), Some(1));
        assert_eq!(trace_view(&trace, 99).page, 2);
    }
}
