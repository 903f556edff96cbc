//! What an example keeps of a recorded trace, so a replay needs nothing but the example:
//! the first input, every model call (system prompt, messages, tool definitions, output,
//! tokens, cost, latency), every tool call (arguments, result, failure) and the outcome.
//!
//! Built from the trace's spans in tree order (`query::trace::load_trace`). Content
//! columns hold canonical JSON (`[{role, parts}]` messages, tool arguments); text that is
//! not JSON is kept as a string.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::messages::{Message, ToolCallRequest, Turn, conversation, recorded_turn};

/// The recorded run behind one example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    pub trace_id: String,
    /// The root span's name (e.g. `invoke_agent coder`).
    pub root_name: String,
    /// The task the run started from: the root's input, else the first model call's
    /// last user message.
    pub first_input: Option<Value>,
    pub outcome: Outcome,
    pub llm_calls: Vec<LlmCall>,
    pub tool_calls: Vec<ToolCall>,
    /// The repository (and commit) the run worked in, when its telemetry said
    /// (`vcs.repository.url.full` and `vcs.ref.head.revision`, or their aliases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RecordedRepository>,
}

/// Where a recorded run's code came from: agent replay clones it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRepository {
    pub url: String,
    pub revision: Option<String>,
}

/// Attribute keys of the repository URL, most standard first.
const REPOSITORY_URL_KEYS: &[&str] = &[
    "vcs.repository.url.full",
    "vcs.repository.url",
    "git.repository_url",
    "repository.url",
];
/// Attribute keys of the commit.
const REVISION_KEYS: &[&str] = &[
    "vcs.ref.head.revision",
    "vcs.repository.ref.revision",
    "git.commit.sha",
    "git.commit",
];

/// The first of `keys` any span carries, in its attributes or its resource's.
fn first_attribute(spans: &[Map<String, Value>], keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| {
        spans.iter().find_map(|span| {
            ["attributes", "resource_attributes"]
                .iter()
                .find_map(|column| {
                    let attributes: Map<String, Value> =
                        serde_json::from_str(span.get(*column)?.as_str()?).ok()?;
                    attributes.get(*key)?.as_str().map(str::to_string)
                })
        })
    })
}

/// How the recorded run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// True when any span of the run failed.
    pub failed: bool,
    /// The first failing span's message, when it failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmCall {
    pub span_id: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub system_prompt: Option<String>,
    /// The messages sent, as canonical JSON (or text).
    pub messages: Value,
    /// The tools offered (`gen_ai.tool.definitions`), when recorded.
    pub tool_definitions: Option<Value>,
    /// The turn that came back.
    pub output: Value,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub duration_ns: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub span_id: String,
    pub tool_name: String,
    pub call_id: Option<String>,
    pub arguments: Value,
    pub result: Value,
    pub failed: bool,
}

fn text(row: &Map<String, Value>, column: &str) -> Option<String> {
    row.get(column).and_then(Value::as_str).map(str::to_string)
}

fn integer(row: &Map<String, Value>, column: &str) -> Option<i64> {
    row.get(column).and_then(Value::as_i64)
}

/// Content as JSON when it parses, else as a string; `null` when absent.
fn content(row: &Map<String, Value>, column: &str) -> Value {
    match row.get(column).and_then(Value::as_str) {
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into())),
        None => Value::Null,
    }
}

fn failed(row: &Map<String, Value>) -> bool {
    row.get("status_code").and_then(Value::as_str) == Some("error")
}

/// `gen_ai.tool.definitions` from the span's attributes, parsed if sent as JSON text.
fn tool_definitions(row: &Map<String, Value>) -> Option<Value> {
    let attributes: Map<String, Value> =
        serde_json::from_str(row.get("attributes")?.as_str()?).ok()?;
    match attributes.get("gen_ai.tool.definitions")? {
        Value::String(text) => serde_json::from_str(text).ok(),
        other => Some(other.clone()),
    }
}

/// The last user message of a canonical message list.
fn last_user_message(messages: &Value) -> Option<Value> {
    messages
        .as_array()?
        .iter()
        .rev()
        .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .cloned()
}

impl Recording {
    /// Builds the recording of a trace from its spans in tree order (roots first).
    pub fn from_spans(trace_id: &str, spans: &[Map<String, Value>]) -> Recording {
        let root = spans.first();
        let mut llm_calls = Vec::new();
        let mut tool_calls = Vec::new();
        for span in spans {
            let span_id = text(span, "span_id").unwrap_or_default();
            match span.get("span_type").and_then(Value::as_str) {
                Some("llm") => llm_calls.push(LlmCall {
                    span_id,
                    provider: text(span, "provider"),
                    model: text(span, "response_model").or_else(|| text(span, "request_model")),
                    system_prompt: text(span, "system_prompt"),
                    messages: content(span, "input"),
                    tool_definitions: tool_definitions(span),
                    output: content(span, "output"),
                    input_tokens: integer(span, "input_tokens"),
                    output_tokens: integer(span, "output_tokens"),
                    cost_usd: span.get("cost_usd").and_then(Value::as_f64),
                    duration_ns: integer(span, "duration_ns"),
                }),
                Some("tool") => tool_calls.push(ToolCall {
                    span_id,
                    tool_name: text(span, "tool_name")
                        .or_else(|| text(span, "name"))
                        .unwrap_or_default(),
                    call_id: text(span, "tool_call_id"),
                    arguments: content(span, "input"),
                    result: content(span, "output"),
                    failed: failed(span),
                }),
                _ => {}
            }
        }
        let first_input = root
            .map(|root| content(root, "input"))
            .filter(|input| !input.is_null())
            .or_else(|| {
                llm_calls
                    .first()
                    .and_then(|call| last_user_message(&call.messages))
            });
        let first_failure = spans.iter().find(|span| failed(span));
        Recording {
            trace_id: trace_id.to_string(),
            root_name: root.and_then(|root| text(root, "name")).unwrap_or_default(),
            first_input,
            outcome: Outcome {
                failed: first_failure.is_some(),
                error: first_failure.and_then(|span| {
                    text(span, "status_message").or_else(|| text(span, "error_type"))
                }),
            },
            llm_calls,
            tool_calls,
            repository: first_attribute(spans, REPOSITORY_URL_KEYS).map(|url| RecordedRepository {
                url,
                revision: first_attribute(spans, REVISION_KEYS),
            }),
        }
    }
}

/// The whole recorded run as one turn: its tool calls in order, its final answer.
pub fn recorded_trajectory(recording: &Recording) -> Turn {
    let final_text = recording
        .llm_calls
        .last()
        .map(|call| recorded_turn(&call.output).text)
        .unwrap_or_default();
    Turn {
        text: final_text,
        tool_calls: recording
            .tool_calls
            .iter()
            .map(|call| ToolCallRequest {
                id: call.call_id.clone().unwrap_or_default(),
                name: call.tool_name.clone(),
                arguments: call.arguments.clone(),
            })
            .collect(),
        input_tokens: None,
        output_tokens: None,
    }
}

/// The recording's first input as the conversation a replay starts from.
pub fn first_user_message(recording: &Recording) -> Vec<Message> {
    match &recording.first_input {
        Some(Value::Object(_)) => conversation(&Value::Array(vec![
            recording.first_input.clone().unwrap_or(Value::Null),
        ])),
        Some(other) => conversation(other),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("object")
    }

    #[test]
    fn a_trace_becomes_its_calls_input_and_outcome() {
        let spans = vec![
            row(
                json!({"span_id": "a", "span_type": "agent", "name": "invoke_agent coder",
                        "status_code": "error", "status_message": "tests still failing"}),
            ),
            row(
                json!({"span_id": "b", "span_type": "llm", "request_model": "gpt-5",
                        "system_prompt": "be brief",
                        "input": r#"[{"role":"user","parts":[{"type":"text","content":"fix the parser"}]}]"#,
                        "output": r#"[{"role":"assistant","parts":[{"type":"tool_call","name":"bash","arguments":{"command":"cargo test"}}]}]"#,
                        "attributes": r#"{"gen_ai.tool.definitions":"[{\"name\":\"bash\"}]"}"#,
                        "input_tokens": 1200, "cost_usd": 0.01}),
            ),
            row(
                json!({"span_id": "c", "span_type": "tool", "tool_name": "bash",
                        "input": r#"{"command":"cargo test"}"#, "output": "1 failed",
                        "status_code": "error"}),
            ),
        ];
        let recording = Recording::from_spans("t1", &spans);
        assert_eq!(recording.root_name, "invoke_agent coder");
        assert!(recording.outcome.failed);
        assert_eq!(
            recording.outcome.error.as_deref(),
            Some("tests still failing")
        );
        assert_eq!(
            recording.first_input,
            Some(json!({"role":"user","parts":[{"type":"text","content":"fix the parser"}]}))
        );
        let call = &recording.llm_calls[0];
        assert_eq!(call.model.as_deref(), Some("gpt-5"));
        assert_eq!(call.tool_definitions, Some(json!([{"name": "bash"}])));
        assert_eq!(call.input_tokens, Some(1200));
        let tool = &recording.tool_calls[0];
        assert_eq!(tool.arguments, json!({"command": "cargo test"}));
        assert_eq!(tool.result, json!("1 failed"));
        assert!(tool.failed);
    }
}
