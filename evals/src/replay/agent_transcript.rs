//! What an agent CLI's JSON output says it did: its tool calls, final answer, turns and
//! cost. Read leniently — a line that is not JSON, or an event this version does not know,
//! is skipped — from Claude Code's `--output-format stream-json` and Codex's `exec --json`.

use serde_json::{Value, json};

use crate::messages::{ToolCallRequest, Turn};

/// One agent run as its transcript tells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transcript {
    /// Every tool call and the last text, as one turn.
    pub run: Turn,
    /// Model turns (Claude Code's `num_turns`; Codex's completed turns).
    pub turns: usize,
    /// The agent's own cost figure, when it gives one.
    pub cost_usd: Option<f64>,
    /// The agent said it ended in error.
    pub reported_error: bool,
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Reads a transcript (one JSON event per line).
pub fn parse_transcript(output: &str) -> Transcript {
    let mut transcript = Transcript::default();
    let mut assistant_messages = 0;
    for line in output.lines() {
        let Ok(event) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        match event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            // Claude Code.
            "assistant" => {
                assistant_messages += 1;
                let blocks = event
                    .pointer("/message/content")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for block in blocks {
                    match block.get("type").and_then(Value::as_str) {
                        Some("tool_use") => transcript.run.tool_calls.push(ToolCallRequest {
                            id: text(&block, "id"),
                            name: text(&block, "name"),
                            arguments: block.get("input").cloned().unwrap_or(Value::Null),
                        }),
                        Some("text") => transcript.run.text = text(&block, "text"),
                        _ => {}
                    }
                }
            }
            "result" => {
                transcript.turns = event
                    .get("num_turns")
                    .and_then(Value::as_u64)
                    .map_or(assistant_messages, |turns| turns as usize);
                transcript.cost_usd = event.get("total_cost_usd").and_then(Value::as_f64);
                transcript.reported_error = event
                    .get("is_error")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if let Some(result) = event.get("result").and_then(Value::as_str) {
                    transcript.run.text = result.to_owned();
                }
            }
            // Codex.
            "item.completed" => {
                let item = event.get("item").cloned().unwrap_or(Value::Null);
                match item.get("type").and_then(Value::as_str) {
                    Some("agent_message") => transcript.run.text = text(&item, "text"),
                    Some("command_execution") => transcript.run.tool_calls.push(ToolCallRequest {
                        id: text(&item, "id"),
                        name: "exec_command".into(),
                        arguments: json!({"command": item.get("command").cloned().unwrap_or(Value::Null)}),
                    }),
                    Some("file_change") => transcript.run.tool_calls.push(ToolCallRequest {
                        id: text(&item, "id"),
                        name: "apply_patch".into(),
                        arguments: json!({"changes": item.get("changes").cloned().unwrap_or(Value::Null)}),
                    }),
                    Some("mcp_tool_call") => transcript.run.tool_calls.push(ToolCallRequest {
                        id: text(&item, "id"),
                        name: text(&item, "tool"),
                        arguments: item.get("arguments").cloned().unwrap_or(Value::Null),
                    }),
                    _ => {}
                }
            }
            "turn.completed" => {
                transcript.turns += 1;
                let usage = event.get("usage");
                let tokens = |field: &str| {
                    usage
                        .and_then(|usage| usage.get(field))
                        .and_then(Value::as_i64)
                };
                if let Some(input) = tokens("input_tokens") {
                    *transcript.run.input_tokens.get_or_insert(0) += input;
                }
                if let Some(output) = tokens("output_tokens") {
                    *transcript.run.output_tokens.get_or_insert(0) += output;
                }
            }
            "turn.failed" | "error" => transcript.reported_error = true,
            _ => {}
        }
    }
    if transcript.turns == 0 {
        transcript.turns = assistant_messages;
    }
    transcript
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_stream_json() {
        let output = [
            json!({"type": "system", "subtype": "init", "model": "claude-sonnet-4-5"}),
            json!({"type": "assistant", "message": {"content": [
                {"type": "text", "text": "Fixing it."},
                {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "sed -i s/-/+/ calc.sh"}}]}}),
            json!({"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": ""}]}}),
            json!({"type": "assistant", "message": {"content": [{"type": "text", "text": "Done."}]}}),
            json!({"type": "result", "subtype": "success", "is_error": false, "num_turns": 2,
                   "result": "Done.", "total_cost_usd": 0.0123}),
        ]
        .map(|event| event.to_string())
        .join("\n");
        let transcript = parse_transcript(&format!("not json\n{output}\n"));
        assert_eq!(transcript.turns, 2);
        assert_eq!(transcript.cost_usd, Some(0.0123));
        assert!(!transcript.reported_error);
        assert_eq!(transcript.run.text, "Done.");
        assert_eq!(transcript.run.tool_calls.len(), 1);
        assert_eq!(transcript.run.tool_calls[0].name, "Bash");
    }

    #[test]
    fn codex_exec_json() {
        let output = [
            json!({"type": "thread.started", "thread_id": "x"}),
            json!({"type": "item.completed", "item": {"id": "i1", "type": "command_execution",
                   "command": "bash -lc 'sed -i s/-/+/ calc.sh'", "exit_code": 0}}),
            json!({"type": "item.completed", "item": {"id": "i2", "type": "agent_message", "text": "Fixed."}}),
            json!({"type": "turn.completed", "usage": {"input_tokens": 900, "output_tokens": 40}}),
        ]
        .map(|event| event.to_string())
        .join("\n");
        let transcript = parse_transcript(&output);
        assert_eq!(transcript.turns, 1);
        assert_eq!(transcript.run.text, "Fixed.");
        assert_eq!(transcript.run.tool_calls[0].name, "exec_command");
        assert_eq!(transcript.run.input_tokens, Some(900));
    }
}
