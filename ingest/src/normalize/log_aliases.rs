//! Alias tables for the dedicated columns of the `logs` table, highest priority first.
//!
//! Pure data, like `aliases.rs` for spans: supporting another agent's events should mean a
//! new key here. CC = Claude Code events, CX = Codex CLI events, G = OTel GenAI.

/// A dedicated `logs` column filled from a single attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogField {
    EventName,
    SessionId,
    PromptId,
    EventSequence,
    RequestId,
    Model,
    ToolName,
    ToolCallId,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    CostUsd,
    DurationMs,
    Success,
    UserId,
}

pub static LOG_FIELD_ALIASES: &[(LogField, &[&str])] = &[
    (LogField::EventName, &["event.name"]),
    (
        LogField::SessionId,
        &["session.id", "conversation.id", "gen_ai.conversation.id"],
    ),
    (LogField::PromptId, &["prompt.id"]),
    (LogField::EventSequence, &["event.sequence"]),
    (
        LogField::RequestId,
        &["request_id", "request.id", "gen_ai.response.id"],
    ),
    (
        LogField::Model,
        &["model", "gen_ai.response.model", "gen_ai.request.model"],
    ),
    (LogField::ToolName, &["tool_name", "gen_ai.tool.name"]),
    (
        LogField::ToolCallId,
        &["tool_use_id", "call_id", "gen_ai.tool.call.id"],
    ),
    (
        LogField::InputTokens,
        &[
            "input_tokens",              // CC: excludes cache reads and writes
            "input_token_count",         // CX
            "gen_ai.usage.input_tokens", // G
        ],
    ),
    (
        LogField::OutputTokens,
        &[
            "output_tokens",
            "output_token_count",
            "gen_ai.usage.output_tokens",
        ],
    ),
    (
        LogField::CacheReadTokens,
        &[
            "cache_read_tokens",
            "cached_token_count",
            "gen_ai.usage.cache_read.input_tokens",
        ],
    ),
    (
        LogField::CacheWriteTokens,
        &[
            "cache_creation_tokens",
            "gen_ai.usage.cache_creation.input_tokens",
        ],
    ),
    (
        LogField::ReasoningTokens,
        &[
            "reasoning_token_count",
            "gen_ai.usage.reasoning.output_tokens",
        ],
    ),
    (LogField::CostUsd, &["cost_usd", "operation.cost"]),
    (LogField::DurationMs, &["duration_ms"]),
    (LogField::Success, &["success"]),
    (LogField::UserId, &["user.id", "enduser.id"]),
];

/// Metric point attributes copied into dedicated `metrics` columns.
pub static METRIC_SESSION_KEYS: &[&str] =
    &["session.id", "conversation.id", "gen_ai.conversation.id"];
pub static METRIC_MODEL_KEYS: &[&str] = &["model", "gen_ai.request.model", "gen_ai.response.model"];

/// Every key the log and metric tables above read (for docs and tests).
pub fn all_documented_log_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = LOG_FIELD_ALIASES
        .iter()
        .flat_map(|(_, keys)| keys.iter().copied())
        .collect();
    keys.extend(METRIC_SESSION_KEYS);
    keys.extend(METRIC_MODEL_KEYS);
    keys
}
