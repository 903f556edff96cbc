//! What the trace page shows of one span's content: chat messages per role, tool arguments
//! and results, unified diffs as diffs, long text folded, raw JSON on demand.
//!
//! Pure functions from a stored span row (JSON map) to a serializable view the `span.html`
//! template draws; all text stays text (the template escapes it).

use serde::Serialize;
use serde_json::{Map, Value};

/// Text longer than this many lines (or characters) starts folded.
const FOLD_LINES: usize = 24;
const FOLD_CHARS: usize = 3_000;
/// Text beyond this many characters is cut in the page (the API has all of it).
const MAX_SHOWN_CHARS: usize = 200_000;

#[derive(Debug, Serialize)]
pub struct SpanView {
    pub span: Map<String, Value>,
    /// Instructions the model was given.
    pub system_prompt: Option<TextBlock>,
    /// What went in: chat messages for model calls, arguments for tools.
    pub input: Vec<ContentSection>,
    /// What came out.
    pub output: Vec<ContentSection>,
    /// Raw JSON of the remaining columns, pretty-printed.
    pub raw: Vec<(String, String)>,
}

/// One labelled piece of content: a chat message, a tool argument, a result.
#[derive(Debug, Serialize)]
pub struct ContentSection {
    /// `user`, `assistant`, `system`, `tool`, or an argument name.
    pub label: String,
    /// Whether `label` is a chat role (drawn as a message bubble).
    pub is_message: bool,
    pub parts: Vec<ContentPart>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ContentPart {
    Text(TextBlock),
    ToolCall {
        name: String,
        id: Option<String>,
        arguments: TextBlock,
    },
    ToolResult {
        id: Option<String>,
        result: TextBlock,
    },
    Reasoning(TextBlock),
    /// Anything else, as pretty JSON.
    Other(TextBlock),
}

#[derive(Debug, Serialize)]
pub struct TextBlock {
    pub text: String,
    pub line_count: usize,
    /// Long text starts folded.
    pub folded: bool,
    /// Set when the text was longer than the page shows.
    pub truncated: bool,
    /// The text's lines with their diff role, when the text is a unified diff.
    pub diff: Option<Vec<DiffLine>>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct DiffLine {
    /// `add`, `del`, `hunk`, `meta` or `context`.
    pub kind: &'static str,
    pub text: String,
}

impl ContentPart {
    fn unfold(&mut self) {
        match self {
            ContentPart::Text(block)
            | ContentPart::Reasoning(block)
            | ContentPart::Other(block) => {
                block.folded = false;
            }
            ContentPart::ToolCall { arguments, .. } => arguments.folded = false,
            ContentPart::ToolResult { result, .. } => result.folded = false,
        }
    }
}

impl TextBlock {
    pub fn new(text: &str) -> TextBlock {
        let truncated = text.len() > MAX_SHOWN_CHARS;
        let shown = if truncated {
            let mut end = MAX_SHOWN_CHARS;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        } else {
            text
        };
        let line_count = shown.lines().count();
        TextBlock {
            folded: line_count > FOLD_LINES || shown.len() > FOLD_CHARS,
            truncated,
            diff: parse_unified_diff(shown),
            line_count,
            text: shown.to_owned(),
        }
    }

    fn json(value: &Value) -> TextBlock {
        match value {
            Value::String(text) => TextBlock::new(text),
            other => TextBlock::new(&serde_json::to_string_pretty(other).unwrap_or_default()),
        }
    }
}

/// The lines of `text` with their roles, when it reads as a unified diff: a `@@` hunk header
/// and at least one added or removed line.
pub fn parse_unified_diff(text: &str) -> Option<Vec<DiffLine>> {
    let has_hunk = text.lines().any(|line| line.starts_with("@@ "));
    if !has_hunk {
        return None;
    }
    let lines: Vec<DiffLine> = text
        .lines()
        .map(|line| {
            let kind = if line.starts_with("+++ ")
                || line.starts_with("--- ")
                || line.starts_with("diff ")
                || line.starts_with("index ")
            {
                "meta"
            } else if line.starts_with("@@") {
                "hunk"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else {
                "context"
            };
            DiffLine {
                kind,
                text: line.to_owned(),
            }
        })
        .collect();
    let changes = lines
        .iter()
        .any(|line| line.kind == "add" || line.kind == "del");
    changes.then_some(lines)
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    row.get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// Columns drawn elsewhere on the page, left out of the raw view.
const CONTENT_COLUMNS: &[&str] = &["input", "output", "system_prompt"];
/// Columns holding JSON text, shown parsed and pretty in the raw view.
const JSON_COLUMNS: &[&str] = &["attributes", "resource_attributes", "events", "links"];

pub fn span_view(span: Map<String, Value>) -> SpanView {
    let span_type = text(&span, "span_type").unwrap_or("other");
    let input = text(&span, "input").map(|input| content_sections(input, span_type, "arguments"));
    let mut output =
        text(&span, "output").map(|output| content_sections(output, span_type, "result"));
    // A failed span's output is what a person opened it for: never fold it away.
    if text(&span, "status_code") == Some("error") {
        for part in output
            .iter_mut()
            .flatten()
            .flat_map(|section| section.parts.iter_mut())
        {
            part.unfold();
        }
    }
    let raw = JSON_COLUMNS
        .iter()
        .filter_map(|column| {
            let stored = text(&span, column)?;
            let parsed: Value = serde_json::from_str(stored).unwrap_or(Value::from(stored));
            let empty = matches!(&parsed, Value::Object(map) if map.is_empty())
                || matches!(&parsed, Value::Array(list) if list.is_empty());
            (!empty).then(|| {
                let pretty = serde_json::to_string_pretty(&parsed).unwrap_or_default();
                (column.to_string(), pretty)
            })
        })
        .collect();
    let system_prompt = text(&span, "system_prompt").map(TextBlock::new);
    let mut summary = span;
    for column in CONTENT_COLUMNS.iter().chain(JSON_COLUMNS) {
        summary.remove(*column);
    }
    SpanView {
        span: summary,
        system_prompt,
        input: input.unwrap_or_default(),
        output: output.unwrap_or_default(),
        raw,
    }
}

/// Content of an `input`/`output` column: canonical chat messages when it holds them,
/// else the fields of a JSON object (tool arguments), else plain text.
fn content_sections(stored: &str, span_type: &str, plain_label: &str) -> Vec<ContentSection> {
    let parsed: Option<Value> = serde_json::from_str(stored).ok();
    if let Some(Value::Array(items)) = &parsed
        && !items.is_empty()
        && items.iter().all(is_canonical_message)
    {
        return items.iter().map(message_section).collect();
    }
    if let Some(Value::Object(fields)) = &parsed
        && span_type != "llm"
    {
        return fields
            .iter()
            .map(|(key, value)| ContentSection {
                label: key.clone(),
                is_message: false,
                parts: vec![ContentPart::Text(TextBlock::json(value))],
            })
            .collect();
    }
    let block = match &parsed {
        Some(value @ (Value::Object(_) | Value::Array(_))) => TextBlock::json(value),
        _ => TextBlock::new(stored),
    };
    vec![ContentSection {
        label: plain_label.into(),
        is_message: false,
        parts: vec![ContentPart::Text(block)],
    }]
}

fn is_canonical_message(item: &Value) -> bool {
    item.get("role").is_some_and(Value::is_string) && item.get("parts").is_some_and(Value::is_array)
}

fn message_section(message: &Value) -> ContentSection {
    let role = message
        .get("role")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let parts = message
        .get("parts")
        .and_then(Value::as_array)
        .map(|parts| parts.iter().map(message_part).collect())
        .unwrap_or_default();
    ContentSection {
        label: role.to_owned(),
        is_message: true,
        parts,
    }
}

fn message_part(part: &Value) -> ContentPart {
    let field = |key: &str| part.get(key).and_then(Value::as_str).map(str::to_owned);
    let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => ContentPart::Text(TextBlock::json(part.get("content").unwrap_or(&Value::Null))),
        "reasoning" => {
            ContentPart::Reasoning(TextBlock::json(part.get("content").unwrap_or(&Value::Null)))
        }
        "tool_call" => ContentPart::ToolCall {
            name: field("name").unwrap_or_else(|| "tool".into()),
            id: field("id"),
            arguments: TextBlock::json(part.get("arguments").unwrap_or(&Value::Null)),
        },
        "tool_call_response" => ContentPart::ToolResult {
            id: field("id"),
            result: TextBlock::json(part.get("response").unwrap_or(&Value::Null)),
        },
        _ => ContentPart::Other(TextBlock::json(part)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(fields: Value) -> Map<String, Value> {
        fields.as_object().unwrap().clone()
    }

    #[test]
    fn chat_messages_become_role_sections_with_typed_parts() {
        let input = json!([
            {"role": "user", "parts": [{"type": "text", "content": "fix the test"}]},
            {"role": "assistant", "parts": [
                {"type": "reasoning", "content": "look first"},
                {"type": "tool_call", "id": "c1", "name": "bash", "arguments": {"command": "cargo test"}}
            ]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "1 failed"}]}
        ]);
        let view = span_view(span(
            json!({"span_type": "llm", "input": input.to_string()}),
        ));
        let roles: Vec<&str> = view.input.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "tool"]);
        assert!(view.input.iter().all(|section| section.is_message));
        match &view.input[1].parts[1] {
            ContentPart::ToolCall {
                name, arguments, ..
            } => {
                assert_eq!(name, "bash");
                assert!(arguments.text.contains("cargo test"));
            }
            other => panic!("expected a tool call, got {other:?}"),
        }
        assert!(
            matches!(&view.input[2].parts[0], ContentPart::ToolResult { result, .. } if result.text == "1 failed")
        );
    }

    #[test]
    fn tool_arguments_show_per_field_and_a_diff_field_renders_as_a_diff() {
        let arguments = json!({"path": "src/lib.rs", "diff": "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,2 +1,2 @@\n fn main() {\n-    old();\n+    new();\n"});
        let view = span_view(span(
            json!({"span_type": "tool", "input": arguments.to_string(), "output": "ok"}),
        ));
        assert_eq!(view.input.len(), 2);
        let diff_section = view.input.iter().find(|s| s.label == "diff").unwrap();
        let ContentPart::Text(block) = &diff_section.parts[0] else {
            panic!("diff field is not text");
        };
        let kinds: Vec<&str> = block
            .diff
            .as_ref()
            .unwrap()
            .iter()
            .map(|line| line.kind)
            .collect();
        assert_eq!(kinds, ["meta", "meta", "hunk", "context", "del", "add"]);
        assert_eq!(view.output[0].label, "result");
    }

    #[test]
    fn a_failed_spans_long_output_is_not_folded() {
        let long = "FAILED\n".repeat(100);
        let failed = span_view(span(
            json!({"span_type": "tool", "status_code": "error", "output": long}),
        ));
        let ContentPart::Text(block) = &failed.output[0].parts[0] else {
            panic!("output is not text");
        };
        assert!(!block.folded);
        let passed = span_view(span(
            json!({"span_type": "tool", "status_code": "ok", "output": long}),
        ));
        let ContentPart::Text(block) = &passed.output[0].parts[0] else {
            panic!("output is not text");
        };
        assert!(block.folded);
    }

    #[test]
    fn text_without_a_hunk_is_not_a_diff_and_long_text_folds() {
        assert!(parse_unified_diff("- a list item\n+ another").is_none());
        let long = "line\n".repeat(100);
        let block = TextBlock::new(&long);
        assert!(block.folded);
        assert_eq!(block.line_count, 100);
        assert!(!TextBlock::new("short").folded);
    }

    #[test]
    fn raw_json_columns_are_pretty_and_content_columns_leave_the_summary() {
        let view = span_view(span(json!({
            "span_id": "00f067aa0ba902b7",
            "input": "x",
            "attributes": "{\"a\":1}",
            "events": "[]"
        })));
        assert_eq!(
            view.raw,
            vec![("attributes".to_string(), "{\n  \"a\": 1\n}".to_string())]
        );
        assert!(!view.span.contains_key("input"));
        assert!(!view.span.contains_key("attributes"));
        assert_eq!(view.span["span_id"], "00f067aa0ba902b7");
    }
}
