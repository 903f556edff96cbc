//! The conversation a replay sends and the turn it gets back, independent of any
//! provider's wire shape.
//!
//! Recordings hold canonical messages (`[{role, parts:[{type: text|tool_call|
//! tool_call_response|reasoning, …}]}]`, see docs/normalization.md); [`conversation`]
//! reads them, each provider module writes them in its own shape, and every provider's
//! answer comes back as a [`Turn`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// Tool results (OpenAI's `role: tool`; Anthropic puts them in a user message).
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Part {
    Text(String),
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
    ToolResult {
        id: String,
        content: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRequest {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// What a model answered in one call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Turn {
    pub text: String,
    pub tool_calls: Vec<ToolCallRequest>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

impl Turn {
    /// `tool <names>` or `answer`, for reports.
    pub fn describe(&self) -> String {
        if self.tool_calls.is_empty() {
            "answer".to_string()
        } else {
            let names: Vec<&str> = self
                .tool_calls
                .iter()
                .map(|call| call.name.as_str())
                .collect();
            format!("tool {}", names.join(", "))
        }
    }
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Tool arguments as an object when they were sent as JSON text.
fn decoded(arguments: &Value) -> Value {
    match arguments {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| arguments.clone()),
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    }
}

fn part(value: &Value) -> Option<Part> {
    let field = |key: &str| value.get(key).cloned().unwrap_or(Value::Null);
    match value.get("type").and_then(Value::as_str) {
        Some("text") => Some(Part::Text(as_text(&field("content")))),
        Some("tool_call") => Some(Part::ToolCall {
            id: as_text(&field("id")),
            name: as_text(&field("name")),
            arguments: decoded(&field("arguments")),
        }),
        Some("tool_call_response") => Some(Part::ToolResult {
            id: as_text(&field("id")),
            content: as_text(&field("response")),
        }),
        // Reasoning is the model's own; it is not sent back.
        _ => None,
    }
}

fn role(value: &Value) -> Role {
    match value.get("role").and_then(Value::as_str) {
        Some("system") | Some("developer") => Role::System,
        Some("assistant") | Some("model") => Role::Assistant,
        Some("tool") => Role::Tool,
        _ => Role::User,
    }
}

/// The messages of a recorded model call; text that is not a message list is one user
/// message.
pub fn conversation(messages: &Value) -> Vec<Message> {
    match messages {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let parts: Vec<Part> = item
                    .get("parts")
                    .and_then(Value::as_array)
                    .map(|parts| parts.iter().filter_map(part).collect())
                    .unwrap_or_default();
                let role = if parts
                    .iter()
                    .all(|part| matches!(part, Part::ToolResult { .. }))
                    && !parts.is_empty()
                {
                    Role::Tool
                } else {
                    role(item)
                };
                Message { role, parts }
            })
            .filter(|message| !message.parts.is_empty())
            .collect(),
        Value::Null => Vec::new(),
        other => vec![Message {
            role: Role::User,
            parts: vec![Part::Text(as_text(other))],
        }],
    }
}

/// The turn a recorded model call produced: its (last) assistant message.
pub fn recorded_turn(output: &Value) -> Turn {
    let messages = conversation(output);
    let mut turn = Turn::default();
    if let Some(message) = messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant)
        .or(messages.last())
    {
        for part in &message.parts {
            match part {
                Part::Text(text) => turn.text.push_str(text),
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => turn.tool_calls.push(ToolCallRequest {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
                Part::ToolResult { .. } => {}
            }
        }
    }
    turn
}

/// A recorded tool definition as (name, description, JSON schema of the parameters);
/// accepts the GenAI shape and OpenAI's `{type: function, function: {…}}`.
pub fn tool_definition(value: &Value) -> Option<(String, String, Value)> {
    let inner = value.get("function").unwrap_or(value);
    let name = inner.get("name")?.as_str()?.to_string();
    let description = inner
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let parameters = inner
        .get("parameters")
        .or_else(|| inner.get("input_schema"))
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    Some((name, description, parameters))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_messages_become_a_conversation_and_a_turn() {
        let messages = json!([
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {"role": "user", "parts": [{"type": "text", "content": "fix it"}]},
            {"role": "assistant", "parts": [
                {"type": "reasoning", "content": "hmm"},
                {"type": "tool_call", "id": "c1", "name": "bash", "arguments": "{\"command\":\"ls\"}"}]},
            {"role": "user", "parts": [{"type": "tool_call_response", "id": "c1", "response": "a.rs"}]}
        ]);
        let conversation = conversation(&messages);
        assert_eq!(conversation.len(), 4);
        assert_eq!(conversation[0].role, Role::System);
        assert_eq!(
            conversation[2].parts,
            [Part::ToolCall {
                id: "c1".into(),
                name: "bash".into(),
                arguments: json!({"command": "ls"})
            }]
        );
        assert_eq!(
            conversation[3].role,
            Role::Tool,
            "a message of tool results is a tool message"
        );

        let turn = recorded_turn(&json!([{"role": "assistant", "parts": [
            {"type": "text", "content": "running"},
            {"type": "tool_call", "id": "c2", "name": "edit", "arguments": {"path": "a.rs"}}]}]));
        assert_eq!(turn.text, "running");
        assert_eq!(turn.describe(), "tool edit");
    }

    #[test]
    fn tool_definitions_in_either_shape() {
        let genai = json!({"type": "function", "name": "bash", "parameters": {"type": "object"}});
        let openai = json!({"type": "function", "function": {"name": "bash", "description": "run", "parameters": {"type": "object"}}});
        assert_eq!(tool_definition(&genai).map(|d| d.0), Some("bash".into()));
        assert_eq!(tool_definition(&openai).map(|d| d.1), Some("run".into()));
    }
}
