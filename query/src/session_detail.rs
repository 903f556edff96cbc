//! Assembles one session (a conversation): its summary, its traces in order with the prompt
//! that started each, and the agent's events grouped per prompt.
//!
//! The per-prompt timeline comes from log events alone, so an agent that exports only logs
//! (Claude Code without trace export, Codex) still gets one: events are ordered by time and
//! sequence, and a new prompt starts at each `…user_prompt` event or change of `prompt_id`.

use std::collections::HashMap;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::context::SessionContext;
use datafusion::functions_aggregate::expr_fn::first_value;
use datafusion::prelude::{DataFrame, Expr, col, lit};
use serde_json::{Map, Value};

use crate::batch_output::batches_to_json_rows;
use crate::error::{QueryError, Result};

/// Most events returned for one session.
pub const MAX_SESSION_EVENTS: usize = 10_000;
/// Most traces returned for one session.
pub const MAX_SESSION_TRACES: usize = 5_000;
/// Characters of a prompt shown per trace.
const PROMPT_PREVIEW_CHARS: usize = 2_000;

#[derive(Debug, serde::Serialize)]
pub struct SessionDetail {
    pub session_id: String,
    /// The session's row of the `sessions` view.
    pub summary: Map<String, Value>,
    /// Rows of the `traces` view, oldest first, each with the `prompt` that started it.
    pub traces: Vec<Map<String, Value>>,
    /// The agent's events, grouped per prompt, oldest first.
    pub prompts: Vec<PromptTimeline>,
    /// True when the session had more events than [`MAX_SESSION_EVENTS`].
    pub events_truncated: bool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct PromptTimeline {
    pub prompt_id: Option<String>,
    pub prompt: Option<String>,
    pub events: Vec<Map<String, Value>>,
}

async fn rows(frame: DataFrame) -> Result<Vec<Map<String, Value>>> {
    let batches: Vec<RecordBatch> = frame.collect().await?;
    batches_to_json_rows(&batches)
}

pub async fn load_session(context: &SessionContext, session_id: &str) -> Result<SessionDetail> {
    if session_id.is_empty() || session_id.len() > 512 {
        return Err(QueryError::InvalidQuery(
            "invalid session id: expected 1 to 512 characters".into(),
        ));
    }
    let summary = rows(
        context
            .table("sessions")
            .await?
            .filter(col("session_id").eq(lit(session_id)))?,
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(|| QueryError::NotFound(format!("session {session_id:?} not found")))?;
    let trace_ids = session_trace_ids(context, session_id).await?;
    let prompts_by_trace = prompts_by_trace(context, session_id, &trace_ids).await?;
    let traces = session_traces(context, trace_ids, &prompts_by_trace).await?;
    let events = session_events(context, session_id).await?;
    let events_truncated = events.len() > MAX_SESSION_EVENTS;
    let prompts = group_by_prompt(events.into_iter().take(MAX_SESSION_EVENTS));
    Ok(SessionDetail {
        session_id: session_id.to_owned(),
        summary,
        traces,
        prompts,
        events_truncated,
    })
}

/// The ids of the session's traces (at most [`MAX_SESSION_TRACES`]), as literals to filter by.
async fn session_trace_ids(context: &SessionContext, session_id: &str) -> Result<Vec<Expr>> {
    Ok(rows(
        context
            .table("spans")
            .await?
            .filter(col("session_id").eq(lit(session_id)))?
            .select_columns(&["trace_id"])?
            .distinct()?,
    )
    .await?
    .into_iter()
    .filter_map(|row| row.get("trace_id").and_then(Value::as_str).map(lit))
    .take(MAX_SESSION_TRACES)
    .collect())
}

/// Each trace's prompt, previewed: its root's input, else the last user message of its
/// first model call.
async fn prompts_by_trace(
    context: &SessionContext,
    session_id: &str,
    trace_ids: &[Expr],
) -> Result<HashMap<String, String>> {
    // Prompts are the roots' input; trace ids first, so the `traces` aggregate is filtered by
    // its group key (pushed below the aggregation) rather than computed for every trace.
    let roots = rows(
        context
            .table("spans")
            .await?
            .filter(
                col("session_id")
                    .eq(lit(session_id))
                    .and(col("parent_span_id").is_null()),
            )?
            .select_columns(&["trace_id", "input"])?,
    )
    .await?;
    let mut prompts_by_trace = HashMap::new();
    for root in &roots {
        if let (Some(Value::String(trace_id)), Some(Value::String(input))) =
            (root.get("trace_id"), root.get("input"))
        {
            prompts_by_trace.insert(trace_id.clone(), preview(&user_text(input)));
        }
    }
    if trace_ids.is_empty() {
        return Ok(prompts_by_trace);
    }
    // Roots without input (most GenAI agent spans): the prompt is the last user message of
    // the trace's first model call, which holds the conversation up to this turn. Selected by
    // trace, not session: agents often tag only the root with the session.
    let first_input = first_value(col("input"), vec![col("start_time").sort(true, false)]);
    let first_calls = rows(
        context
            .table("spans")
            .await?
            .filter(
                col("trace_id")
                    .in_list(trace_ids.to_vec(), false)
                    .and(col("span_type").eq(lit("llm"))),
            )?
            .aggregate(vec![col("trace_id")], vec![first_input.alias("input")])?,
    )
    .await?;
    for call in &first_calls {
        if let (Some(Value::String(trace_id)), Some(Value::String(input))) =
            (call.get("trace_id"), call.get("input"))
        {
            prompts_by_trace
                .entry(trace_id.clone())
                .or_insert_with(|| preview(&user_text(input)));
        }
    }
    Ok(prompts_by_trace)
}

/// The session's rows of `traces`, oldest first, each with its prompt.
async fn session_traces(
    context: &SessionContext,
    trace_ids: Vec<Expr>,
    prompts_by_trace: &HashMap<String, String>,
) -> Result<Vec<Map<String, Value>>> {
    if trace_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut traces = rows(
        context
            .table("traces")
            .await?
            .filter(col("trace_id").in_list(trace_ids, false))?
            .sort(vec![col("start_time").sort(true, true)])?,
    )
    .await?;
    for trace in &mut traces {
        let prompt = trace
            .get("trace_id")
            .and_then(Value::as_str)
            .and_then(|trace_id| prompts_by_trace.get(trace_id).cloned());
        trace.insert("prompt".into(), prompt.map_or(Value::Null, Value::String));
    }
    Ok(traces)
}

/// The session's agent events in order, one more than [`MAX_SESSION_EVENTS`] at most (so
/// the caller can tell it cut them).
async fn session_events(
    context: &SessionContext,
    session_id: &str,
) -> Result<Vec<Map<String, Value>>> {
    rows(
        context
            .table("logs")
            .await?
            .filter(col("session_id").eq(lit(session_id)))?
            .select_columns(&[
                "time",
                "event_name",
                "prompt_id",
                "event_sequence",
                "trace_id",
                "span_id",
                "model",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "cost_usd",
                "cost_source",
                "tool_name",
                "tool_call_id",
                "success",
                "duration_ms",
                "body",
                "attributes",
            ])?
            .sort(vec![
                col("time").sort(true, true),
                col("event_sequence").sort(true, true),
            ])?
            .limit(0, Some(MAX_SESSION_EVENTS + 1))?,
    )
    .await
}

fn preview(text: &str) -> String {
    match text.char_indices().nth(PROMPT_PREVIEW_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The text of the last user message when `input` holds canonical chat messages, else
/// `input` itself (a raw prompt).
fn user_text(input: &str) -> String {
    let Ok(Value::Array(messages)) = serde_json::from_str::<Value>(input) else {
        return input.to_owned();
    };
    messages
        .iter()
        .rev()
        .filter(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|message| {
            let texts: Vec<&str> = message
                .get("parts")?
                .as_array()?
                .iter()
                .filter(|part| part.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|part| part.get("content").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        })
        .unwrap_or_else(|| input.to_owned())
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

/// The prompt text of a `user_prompt` event: its `prompt` attribute (Claude Code, Codex).
fn prompt_text(event: &Map<String, Value>) -> Option<String> {
    let attributes: Map<String, Value> = serde_json::from_str(text(event, "attributes")?).ok()?;
    attributes
        .get("prompt")
        .and_then(Value::as_str)
        .map(preview)
}

/// Splits ordered events into prompts: a new one at each `…user_prompt` event, or when the
/// `prompt_id` changes. Events before the first prompt form a prompt of their own.
fn group_by_prompt(events: impl Iterator<Item = Map<String, Value>>) -> Vec<PromptTimeline> {
    let mut prompts: Vec<PromptTimeline> = Vec::new();
    for event in events {
        let prompt_id = text(&event, "prompt_id").map(str::to_owned);
        let starts_prompt =
            text(&event, "event_name").is_some_and(|name| name.ends_with("user_prompt"));
        let current = prompts.last_mut();
        let continues = match current {
            Some(current) => {
                !starts_prompt
                    && (prompt_id.is_none()
                        || current.prompt_id.is_none()
                        || current.prompt_id == prompt_id)
            }
            None => false,
        };
        if !continues {
            prompts.push(PromptTimeline {
                prompt_id: prompt_id.clone(),
                ..PromptTimeline::default()
            });
        }
        let Some(current) = prompts.last_mut() else {
            continue;
        };
        if current.prompt_id.is_none() {
            current.prompt_id = prompt_id;
        }
        if starts_prompt && current.prompt.is_none() {
            current.prompt = prompt_text(&event);
        }
        current.events.push(event);
    }
    prompts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, prompt_id: Option<&str>, attributes: Value) -> Map<String, Value> {
        let Value::Object(map) = json!({
            "event_name": name,
            "prompt_id": prompt_id,
            "attributes": attributes.to_string(),
        }) else {
            unreachable!("a json object literal")
        };
        map
    }

    #[test]
    fn the_prompt_is_the_last_user_message_or_the_raw_input() {
        let conversation = serde_json::json!([
            {"role": "user", "parts": [{"type": "text", "content": "first ask"}]},
            {"role": "assistant", "parts": [{"type": "text", "content": "done"}]},
            {"role": "user", "parts": [{"type": "text", "content": "now the tests"}]},
        ]);
        assert_eq!(user_text(&conversation.to_string()), "now the tests");
        assert_eq!(user_text("run the otter check"), "run the otter check");
        assert_eq!(user_text("[1, 2]"), "[1, 2]");
    }

    #[test]
    fn events_split_at_each_user_prompt() {
        let events = vec![
            event("codex.conversation_starts", None, json!({})),
            event(
                "codex.user_prompt",
                None,
                json!({"prompt": "fix the build"}),
            ),
            event("codex.api_request", None, json!({})),
            event("codex.user_prompt", None, json!({"prompt": "now the docs"})),
            event("codex.tool_result", None, json!({})),
        ];
        let prompts = group_by_prompt(events.into_iter());
        let shape: Vec<(Option<&str>, usize)> = prompts
            .iter()
            .map(|prompt| (prompt.prompt.as_deref(), prompt.events.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (None, 1),
                (Some("fix the build"), 2),
                (Some("now the docs"), 2)
            ]
        );
    }

    #[test]
    fn a_new_prompt_id_starts_a_new_prompt() {
        let events = vec![
            event("claude_code.api_request", Some("p1"), json!({})),
            event("claude_code.tool_result", Some("p1"), json!({})),
            event("claude_code.api_request", Some("p2"), json!({})),
        ];
        let prompts = group_by_prompt(events.into_iter());
        let ids: Vec<Option<&str>> = prompts.iter().map(|p| p.prompt_id.as_deref()).collect();
        assert_eq!(ids, vec![Some("p1"), Some("p2")]);
    }
}
