//! The governance ledger's rows: what an agent touched. One tool call becomes zero or more
//! [`AgentAction`]s — files read, written or deleted, commands run (one row per program of a
//! pipeline), hosts reached, MCP tools called, permission decisions, secrets it handled.
//!
//! The `agent_actions` view (`views.rs`) computes them at query time from the stored spans
//! and log events through the `tool_actions(…)` function (`udf.rs`), so every row Sextant
//! ever stored has its actions, and a better reading of a tool applies to old data too.
//! Sources, by convention (`docs/governance.md`):
//! - Claude Code: `tool_result` events (`tool_name`, `tool_input`/`tool_parameters`,
//!   `success`) and `tool_decision` events (`decision`, `source`); its tool spans repeat the
//!   events and are not read.
//! - Codex: `codex.tool_result` (`tool_name`, `arguments`, `output`, `success`, `mcp_server`)
//!   and `codex.tool_decision` (`decision`, `source`).
//! - Any other agent: tool spans (`span_type = 'tool'`) by tool name and arguments (`input`).

mod command_line;
pub mod listing;
pub mod overview;
mod paths;
pub mod policy;
mod tool_map;
pub mod udf;

use serde_json::Value;

pub use command_line::{HostContact, ProgramCall, deleted_files, hosts, programs, url_host};
pub use paths::normalize_path;
pub use tool_map::{ToolRole, tool_role};

/// What kind of thing an action touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    FileRead,
    FileWrite,
    FileDelete,
    Command,
    Network,
    Mcp,
    Decision,
    SecretExposed,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::FileRead => "file_read",
            ActionKind::FileWrite => "file_write",
            ActionKind::FileDelete => "file_delete",
            ActionKind::Command => "command",
            ActionKind::Network => "network",
            ActionKind::Mcp => "mcp",
            ActionKind::Decision => "decision",
            ActionKind::SecretExposed => "secret_exposed",
        }
    }
}

/// One row of `agent_actions`, without the columns its span or event supplies (time, ids,
/// agent, user).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentAction {
    pub kind: ActionKind,
    /// A path, the full command line, a host, `server/tool`, the tool decided on, or where a
    /// secret was seen.
    pub target: String,
    /// The program of a `command` row (`curl`), for grouping and matching.
    pub program: Option<String>,
    /// Lines changed, the URL, the search query, the kind of secret…
    pub detail: Option<String>,
    /// `accept`, `reject` or `ask` (decision rows).
    pub decision: Option<String>,
    /// Who decided: `config`, `user`, `hook`, … (decision rows).
    pub decision_source: Option<String>,
    pub success: Option<bool>,
}

impl AgentAction {
    fn new(kind: ActionKind, target: impl Into<String>) -> AgentAction {
        AgentAction {
            kind,
            target: target.into(),
            program: None,
            detail: None,
            decision: None,
            decision_source: None,
            success: None,
        }
    }

    fn detail(mut self, detail: Option<String>) -> AgentAction {
        self.detail = detail;
        self
    }
}

/// A finished tool call, as a span or an event reports it.
#[derive(Debug, Clone, Default)]
pub struct ToolCall<'a> {
    pub tool_name: &'a str,
    /// The arguments, parsed when they are JSON (a string otherwise).
    pub arguments: Option<Value>,
    pub success: Option<bool>,
    /// The agent's working directory, when it said.
    pub cwd: Option<&'a str>,
    /// The MCP server the tool belongs to, when the agent names it apart from the tool.
    pub mcp_server: Option<&'a str>,
}

/// The arguments text as JSON when it parses, else as a string value.
pub fn parse_arguments(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The actions one finished tool call took.
pub fn actions_of_call(call: &ToolCall) -> Vec<AgentAction> {
    let arguments = call.arguments.as_ref().unwrap_or(&Value::Null);
    let cwd = call
        .cwd
        .or_else(|| first_text(arguments, &["workdir", "cwd"]));
    let mut actions = match (
        call.mcp_server.filter(|s| !s.is_empty()),
        tool_role(call.tool_name),
    ) {
        (Some(server), _) => vec![AgentAction::new(
            ActionKind::Mcp,
            format!("{server}/{}", call.tool_name),
        )],
        (None, ToolRole::Mcp) => vec![mcp_action(call.tool_name)],
        (None, ToolRole::ReadsFiles) => file_actions(ActionKind::FileRead, arguments, cwd, None),
        (None, ToolRole::WritesFiles) => file_actions(
            ActionKind::FileWrite,
            arguments,
            cwd,
            lines_changed(arguments),
        ),
        (None, ToolRole::AppliesPatch) => patch_actions(arguments, cwd),
        (None, ToolRole::RunsCommands) => command_text(arguments)
            .map(|command| command_actions(&command, cwd))
            .unwrap_or_default(),
        (None, ToolRole::FetchesUrls) => first_text(arguments, &["url", "uri", "href"])
            .and_then(|url| {
                let host = url_host(url)?;
                Some(vec![
                    AgentAction::new(ActionKind::Network, host).detail(Some(url.to_string())),
                ])
            })
            .unwrap_or_default(),
        (None, ToolRole::SearchesWeb) => vec![
            AgentAction::new(ActionKind::Network, "web-search")
                .detail(first_text(arguments, &["query", "q"]).map(str::to_string)),
        ],
        (None, ToolRole::Other) => Vec::new(),
    };
    for action in &mut actions {
        action.success = call.success;
    }
    actions
}

/// A permission decision on a tool call.
pub fn decision_action(
    tool_name: &str,
    arguments: Option<&Value>,
    decision: &str,
    source: Option<&str>,
) -> AgentAction {
    let decision = match decision.to_ascii_lowercase().as_str() {
        "accept" | "accepted" | "approved" | "approve" | "allow" | "allowed" | "yes" => "accept",
        "reject" | "rejected" | "denied" | "deny" | "abort" | "aborted" | "no" | "blocked" => {
            "reject"
        }
        "ask" | "prompt" | "pending" => "ask",
        other => other,
    }
    .to_string();
    let what = arguments.and_then(|arguments| {
        command_text(arguments)
            .or_else(|| first_text(arguments, FILE_KEYS).map(str::to_string))
            .or_else(|| first_text(arguments, &["url"]).map(str::to_string))
    });
    AgentAction {
        decision: Some(decision),
        decision_source: source.map(|source| source.to_ascii_lowercase()),
        ..AgentAction::new(ActionKind::Decision, tool_name).detail(what)
    }
}

/// A `secret_exposed` row per `[REDACTED:<kind>]` marker in `text` (the value never reached
/// storage; the marker says what it was). `field` names where it was seen.
pub fn secret_actions(text: &str, field: &str) -> Vec<AgentAction> {
    const PREFIX: &str = sextant_ingest::redact::MARKER_PREFIX;
    let mut actions = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let after = &rest[at + PREFIX.len()..];
        let Some(end) = after.find(']') else { break };
        let kind = &after[..end];
        if !kind.is_empty()
            && kind.len() <= 40
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            actions.push(
                AgentAction::new(ActionKind::SecretExposed, field).detail(Some(kind.to_string())),
            );
        }
        rest = &after[end..];
    }
    actions
}

const FILE_KEYS: &[&str] = &[
    "file_path",
    "path",
    "notebook_path",
    "filename",
    "file",
    "target_file",
    "filePath",
];

fn first_text<'v>(value: &'v Value, keys: &[&str]) -> Option<&'v str> {
    keys.iter()
        .find_map(|key| value.get(key).and_then(Value::as_str))
        .filter(|text| !text.is_empty())
}

fn file_actions(
    kind: ActionKind,
    arguments: &Value,
    cwd: Option<&str>,
    detail: Option<String>,
) -> Vec<AgentAction> {
    let path = first_text(arguments, FILE_KEYS)
        .or_else(|| arguments.as_str())
        .or_else(|| first_text(arguments, &["pattern", "glob"]));
    match path {
        Some(path) => vec![AgentAction::new(kind, normalize_path(path, cwd)).detail(detail)],
        None if kind == ActionKind::FileRead => {
            vec![AgentAction::new(
                kind,
                cwd.map_or_else(|| ".".into(), |cwd| normalize_path(".", Some(cwd))),
            )]
        }
        None => Vec::new(),
    }
}

/// `+added -removed` lines of an edit, from its old and new text.
fn lines_changed(arguments: &Value) -> Option<String> {
    let lines = |key: &str| -> Option<usize> {
        arguments
            .get(key)
            .and_then(Value::as_str)
            .map(|text| text.lines().count())
    };
    if let Some(edits) = arguments.get("edits").and_then(Value::as_array) {
        let (added, removed) = edits.iter().fold((0, 0), |(added, removed), edit| {
            let count = |key: &str| {
                edit.get(key)
                    .and_then(Value::as_str)
                    .map_or(0, |t| t.lines().count())
            };
            (added + count("new_string"), removed + count("old_string"))
        });
        return Some(format!("+{added} -{removed}"));
    }
    match (
        lines("new_string")
            .or(lines("content"))
            .or(lines("new_source")),
        lines("old_string"),
    ) {
        (Some(added), removed) => Some(format!("+{added} -{}", removed.unwrap_or(0))),
        (None, _) => None,
    }
}

/// The files a patch in Codex's `apply_patch` format adds, updates, moves or deletes.
fn patch_actions(arguments: &Value, cwd: Option<&str>) -> Vec<AgentAction> {
    let text = first_text(arguments, &["input", "patch"])
        .or_else(|| arguments.as_str())
        .or_else(|| {
            arguments
                .get("command")
                .and_then(Value::as_array)
                .and_then(|parts| parts.last())
                .and_then(Value::as_str)
        })
        .unwrap_or_default();
    let mut actions = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (kind, path) = if let Some(path) = line.strip_prefix("*** Delete File:") {
            (ActionKind::FileDelete, path)
        } else if let Some(path) = line
            .strip_prefix("*** Add File:")
            .or_else(|| line.strip_prefix("*** Update File:"))
            .or_else(|| line.strip_prefix("*** Move to:"))
        {
            (ActionKind::FileWrite, path)
        } else {
            continue;
        };
        actions.push(AgentAction::new(kind, normalize_path(path, cwd)));
    }
    actions
}

/// The command line of a shell tool's arguments: `command`/`cmd` as text, or an argv list
/// (`["bash", "-lc", "…"]` is the script it runs).
fn command_text(arguments: &Value) -> Option<String> {
    if let Some(text) = first_text(
        arguments,
        &["command", "cmd", "full_command", "script", "bash_command"],
    ) {
        return Some(text.to_string());
    }
    if let Some(text) = arguments.as_str().filter(|text| !text.is_empty()) {
        return Some(text.to_string());
    }
    let argv: Vec<&str> = arguments
        .get("command")
        .or_else(|| arguments.get("cmd"))
        .or_else(|| arguments.get("argv"))
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match argv.as_slice() {
        [shell, flag, script] if matches!(*flag, "-c" | "-lc" | "-ic") && shell.ends_with("sh") => {
            Some((*script).to_string())
        }
        [] => None,
        parts => Some(parts.join(" ")),
    }
}

/// A `command` row per program the line runs, then the hosts they reach and the files
/// they delete.
fn command_actions(command: &str, cwd: Option<&str>) -> Vec<AgentAction> {
    let calls = programs(command);
    let mut actions: Vec<AgentAction> = calls
        .iter()
        .map(|call| AgentAction {
            program: Some(call.program.clone()),
            ..AgentAction::new(ActionKind::Command, command)
        })
        .collect();
    if calls.is_empty() && !command.trim().is_empty() {
        actions.push(AgentAction::new(ActionKind::Command, command));
    }
    // `apply_patch <<'EOF' … EOF` through the shell (Codex applies it itself): its files.
    if calls.iter().any(|call| call.program == "apply_patch") {
        actions.extend(patch_actions(&Value::String(command.to_string()), cwd));
    }
    for call in &calls {
        for contact in hosts(call) {
            actions.push(AgentAction {
                program: Some(call.program.clone()),
                ..AgentAction::new(ActionKind::Network, contact.host).detail(Some(contact.detail))
            });
        }
        for path in deleted_files(call) {
            actions.push(AgentAction {
                program: Some(call.program.clone()),
                ..AgentAction::new(ActionKind::FileDelete, normalize_path(&path, cwd))
            });
        }
    }
    actions
}

/// `mcp__server__tool` → `server/tool`.
fn mcp_action(tool_name: &str) -> AgentAction {
    let rest = tool_name.trim_start_matches("mcp__");
    let target = match rest.split_once("__") {
        Some((server, tool)) => format!("{server}/{tool}"),
        None => rest.to_string(),
    };
    AgentAction::new(ActionKind::Mcp, target)
}

#[cfg(test)]
mod tests;
