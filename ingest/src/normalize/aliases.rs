//! The alias tables: which source attribute, event or flattened key feeds which canonical field.
//!
//! Pure data, in priority order (first match wins). Conventions keep moving, so supporting a
//! new emitter should mean adding a row here, not a branch in the normalizer. Every key listed
//! here must also appear in `docs/normalization.md` (a test checks it).

use crate::span::SpanType;

/// A dedicated column filled from a single attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Operation,
    Provider,
    RequestModel,
    ResponseModel,
    InputTokens,
    OutputTokens,
    CacheReadTokens,
    CacheWriteTokens,
    ReasoningTokens,
    CostUsd,
    FinishReason,
    ToolName,
    ToolCallId,
    AgentName,
    SessionId,
    UserId,
    ErrorType,
}

/// How an attribute value is read for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Non-empty text, as sent (numbers rendered as text).
    Text,
    /// Non-empty text, trimmed and lowercased (`"OpenAI"` → `"openai"`).
    LowercaseText,
    /// An integer from an int, an integral double or a numeric string.
    Count,
    /// A float from a double, an int or a numeric string.
    Decimal,
    /// A string, or the first element of a string array.
    FirstOfList,
}

impl Field {
    pub fn kind(self) -> FieldKind {
        match self {
            Field::Provider => FieldKind::LowercaseText,
            Field::InputTokens
            | Field::OutputTokens
            | Field::CacheReadTokens
            | Field::CacheWriteTokens
            | Field::ReasoningTokens => FieldKind::Count,
            Field::CostUsd => FieldKind::Decimal,
            Field::FinishReason => FieldKind::FirstOfList,
            Field::Operation
            | Field::RequestModel
            | Field::ResponseModel
            | Field::ToolName
            | Field::ToolCallId
            | Field::AgentName
            | Field::SessionId
            | Field::UserId
            | Field::ErrorType => FieldKind::Text,
        }
    }
}

/// One source key for a field; `only_on` restricts it to spans a convention already typed.
#[derive(Debug, Clone, Copy)]
pub struct AliasKey {
    pub key: &'static str,
    pub only_on: Option<SpanType>,
}

const fn key(key: &'static str) -> AliasKey {
    AliasKey { key, only_on: None }
}

const fn on(span_type: SpanType, key: &'static str) -> AliasKey {
    AliasKey {
        key,
        only_on: Some(span_type),
    }
}

/// Dedicated columns and their source attributes, highest priority first.
/// G = OTel GenAI, OI = OpenInference, TL = OpenLLMetry/Traceloop, PA = Pydantic AI.
pub static FIELD_ALIASES: &[(Field, &[AliasKey])] = &[
    (
        Field::Operation,
        &[key("gen_ai.operation.name"), key("llm.request.type")],
    ),
    (
        Field::Provider,
        &[
            key("gen_ai.provider.name"), // G
            key("gen_ai.system"),        // G before 1.37, TL
            key("llm.provider"),         // OI
            key("llm.system"),           // OI
            key("ai.model.provider"),    // V
        ],
    ),
    (
        Field::RequestModel,
        &[
            key("gen_ai.request.model"),
            key("llm.request.model_name"),
            key("llm.model_name"),
            key("ai.model.id"),                // V
            on(SpanType::Agent, "model_name"), // PA agent run
        ],
    ),
    (
        Field::ResponseModel,
        &[
            key("gen_ai.response.model"),
            key("llm.response.model_name"),
            key("ai.response.model"), // V
        ],
    ),
    (
        Field::InputTokens,
        &[
            key("gen_ai.usage.input_tokens"),
            key("gen_ai.usage.prompt_tokens"),
            key("llm.token_count.prompt"),
            key("llm.usage.prompt_tokens"),
            key("ai.usage.inputTokens"),       // V 5
            key("ai.usage.promptTokens"),      // V 4
            on(SpanType::Llm, "input_tokens"), // Claude Code: excludes cache tokens
        ],
    ),
    (
        Field::OutputTokens,
        &[
            key("gen_ai.usage.output_tokens"),
            key("gen_ai.usage.completion_tokens"),
            key("llm.token_count.completion"),
            key("llm.usage.completion_tokens"),
            key("ai.usage.outputTokens"),       // V 5
            key("ai.usage.completionTokens"),   // V 4
            on(SpanType::Llm, "output_tokens"), // Claude Code
        ],
    ),
    (
        Field::CacheReadTokens,
        &[
            key("gen_ai.usage.cache_read.input_tokens"),
            key("gen_ai.usage.cache_read_input_tokens"),
            key("llm.token_count.prompt_details.cache_read"),
            key("ai.usage.cachedInputTokens"),      // V
            on(SpanType::Llm, "cache_read_tokens"), // Claude Code
        ],
    ),
    (
        Field::CacheWriteTokens,
        &[
            key("gen_ai.usage.cache_creation.input_tokens"),
            key("gen_ai.usage.cache_write.input_tokens"),
            key("gen_ai.usage.cache_creation_input_tokens"),
            key("llm.token_count.prompt_details.cache_write"),
            on(SpanType::Llm, "cache_creation_tokens"), // Claude Code
        ],
    ),
    (
        Field::ReasoningTokens,
        &[
            key("gen_ai.usage.reasoning.output_tokens"),
            key("gen_ai.usage.reasoning_tokens"),
            key("llm.token_count.completion_details.reasoning"),
            key("ai.usage.reasoningTokens"), // V
        ],
    ),
    (
        Field::CostUsd,
        &[key("llm.cost.total"), key("operation.cost")],
    ),
    (
        Field::FinishReason,
        &[
            key("gen_ai.response.finish_reasons"),
            key("llm.finish_reason"),
            key("ai.response.finishReason"),  // V
            on(SpanType::Llm, "stop_reason"), // Claude Code
        ],
    ),
    (
        Field::ToolName,
        &[
            key("gen_ai.tool.name"),
            key("tool.name"),
            key("tool_call.function.name"),
            on(SpanType::Tool, "traceloop.entity.name"),
            key("ai.toolCall.name"),         // V
            on(SpanType::Tool, "tool_name"), // Claude Code
        ],
    ),
    (
        Field::ToolCallId,
        &[
            key("gen_ai.tool.call.id"),
            key("tool.id"),
            key("tool_call.id"),
            key("ai.toolCall.id"), // V
            key("tool_use_id"),    // Claude Code
        ],
    ),
    (
        Field::AgentName,
        &[
            key("gen_ai.agent.name"),
            key("agent.name"),
            on(SpanType::Agent, "traceloop.entity.name"),
            on(SpanType::Agent, "agent_name"), // PA agent run
            key("ai.telemetry.functionId"),    // V
            key("gen_ai.workflow.name"),
            key("traceloop.workflow.name"),
        ],
    ),
    (
        Field::SessionId,
        &[
            key("gen_ai.conversation.id"),
            key("session.id"),
            key("traceloop.association.properties.session_id"),
            key("ai.telemetry.metadata.sessionId"), // V
        ],
    ),
    (
        Field::UserId,
        &[
            key("user.id"),
            key("enduser.id"),
            key("traceloop.association.properties.user_id"),
            key("ai.telemetry.metadata.userId"), // V
        ],
    ),
    (Field::ErrorType, &[key("error.type")]),
];

/// Span classification: (attribute, value → span type), conventions in priority order.
/// Values compare case-insensitively. Unknown values fall through to the next convention,
/// then to the fallback (model or tokens → llm, tool name → tool, else other).
pub static SPAN_TYPE_RULES: &[(&str, &[(&str, SpanType)])] = &[
    (
        "gen_ai.operation.name",
        &[
            ("chat", SpanType::Llm),
            ("text_completion", SpanType::Llm),
            ("generate_content", SpanType::Llm),
            ("embeddings", SpanType::Embedding),
            ("retrieval", SpanType::Retrieval),
            ("execute_tool", SpanType::Tool),
            ("create_agent", SpanType::Agent),
            ("invoke_agent", SpanType::Agent),
            ("invoke_workflow", SpanType::Chain),
        ],
    ),
    (
        "openinference.span.kind",
        &[
            ("llm", SpanType::Llm),
            ("chain", SpanType::Chain),
            ("tool", SpanType::Tool),
            ("agent", SpanType::Agent),
            ("retriever", SpanType::Retrieval),
            ("embedding", SpanType::Embedding),
            // Reranking is the second half of retrieval; guardrails and evaluators are
            // pipeline steps. The exact kind stays in `attributes`.
            ("reranker", SpanType::Retrieval),
            ("guardrail", SpanType::Chain),
            ("evaluator", SpanType::Chain),
        ],
    ),
    (
        "traceloop.span.kind",
        &[
            ("workflow", SpanType::Chain),
            ("task", SpanType::Chain),
            ("agent", SpanType::Agent),
            ("tool", SpanType::Tool),
        ],
    ),
    (
        "llm.request.type",
        &[
            ("chat", SpanType::Llm),
            ("completion", SpanType::Llm),
            ("embedding", SpanType::Embedding),
            ("rerank", SpanType::Retrieval),
        ],
    ),
    (
        // Vercel AI SDK: the outer call is the agent loop (steps of model calls and tools).
        "ai.operationId",
        &[
            ("ai.generateText", SpanType::Agent),
            ("ai.streamText", SpanType::Agent),
            ("ai.generateText.doGenerate", SpanType::Llm),
            ("ai.streamText.doStream", SpanType::Llm),
            ("ai.generateObject", SpanType::Chain),
            ("ai.streamObject", SpanType::Chain),
            ("ai.generateObject.doGenerate", SpanType::Llm),
            ("ai.streamObject.doStream", SpanType::Llm),
            ("ai.toolCall", SpanType::Tool),
            ("ai.embed", SpanType::Embedding),
            ("ai.embedMany", SpanType::Embedding),
            ("ai.embed.doEmbed", SpanType::Embedding),
            ("ai.embedMany.doEmbed", SpanType::Embedding),
        ],
    ),
    (
        // Claude Code (`claude_code.*` spans). Its tool spans have phases as children
        // (execution, waiting for the user's permission): they are steps, not more tool calls.
        "span.type",
        &[
            ("interaction", SpanType::Agent),
            ("llm_request", SpanType::Llm),
            ("tool", SpanType::Tool),
            ("tool.execution", SpanType::Chain),
            ("tool.blocked_on_user", SpanType::Chain),
            ("hook", SpanType::Chain),
        ],
    ),
];

/// Which side of a model call content belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

impl Direction {
    /// Role given to a message that does not name one.
    pub fn default_role(self) -> &'static str {
        match self {
            Direction::Input => "user",
            Direction::Output => "assistant",
        }
    }
}

/// Where `input` / `output` content can come from.
#[derive(Debug, Clone, Copy)]
pub enum ContentSource {
    /// A message list attribute: JSON text or a structured AnyValue, in GenAI parts form or
    /// OpenAI message form.
    MessagesAttribute(&'static str),
    /// Per-message flattened attributes (`prefix.{i}.…`).
    FlattenedMessages(&'static FlattenedMessages),
    /// Span events in [`MESSAGE_EVENTS`] of this direction, in event order.
    MessageEvents,
    /// A raw value (tool arguments / results, framework input / output): strings verbatim,
    /// structured values as JSON text.
    Raw(&'static str),
}

/// Sources for `input`, highest priority first; the first that yields content wins.
pub static INPUT_SOURCES: &[ContentSource] = &[
    ContentSource::MessagesAttribute("gen_ai.input.messages"),
    ContentSource::FlattenedMessages(&OPENINFERENCE_INPUT_MESSAGES),
    ContentSource::FlattenedMessages(&OPENLLMETRY_PROMPT),
    ContentSource::MessagesAttribute("gen_ai.prompt"),
    ContentSource::MessagesAttribute("ai.prompt.messages"), // V model call
    ContentSource::MessageEvents,
    ContentSource::Raw("gen_ai.tool.call.arguments"),
    ContentSource::Raw("traceloop.entity.input"),
    ContentSource::Raw("input.value"),
    ContentSource::Raw("ai.prompt"), // V outer call: {system, prompt | messages}
    ContentSource::Raw("ai.toolCall.args"), // V
    ContentSource::Raw("tool_arguments"), // PA
    ContentSource::MessagesAttribute("pydantic_ai.all_messages"), // PA agent run
    ContentSource::Raw("user_prompt"), // Claude Code interaction
    ContentSource::Raw("full_command"), // Claude Code Bash tool
];

/// Sources for `output`, highest priority first.
pub static OUTPUT_SOURCES: &[ContentSource] = &[
    ContentSource::MessagesAttribute("gen_ai.output.messages"),
    ContentSource::FlattenedMessages(&OPENINFERENCE_OUTPUT_MESSAGES),
    ContentSource::FlattenedMessages(&OPENLLMETRY_COMPLETION),
    ContentSource::MessagesAttribute("gen_ai.completion"),
    ContentSource::MessageEvents,
    ContentSource::Raw("gen_ai.tool.call.result"),
    ContentSource::Raw("traceloop.entity.output"),
    ContentSource::Raw("output.value"),
    ContentSource::Raw("ai.response.text"),      // V
    ContentSource::Raw("ai.response.toolCalls"), // V, when the model only called tools
    ContentSource::Raw("ai.response.object"),    // V generateObject
    ContentSource::Raw("ai.toolCall.result"),    // V
    ContentSource::Raw("tool_response"),         // PA
    ContentSource::Raw("final_result"),          // PA agent run
];

/// Span classification by exact span name, for emitters that type spans by name only
/// (consulted after [`SPAN_TYPE_RULES`]). PA = Pydantic AI / Logfire defaults.
pub static SPAN_NAME_RULES: &[(&str, SpanType)] = &[
    ("agent run", SpanType::Agent),
    ("running tool", SpanType::Tool),
    ("running tools", SpanType::Chain),
];

/// System prompt attributes (`[{type:"text", content}]` or a string). Without one, the
/// text of the input's `system` messages is used.
pub static SYSTEM_INSTRUCTION_KEYS: &[&str] = &["gen_ai.system_instructions"];

/// Layout of one flattened message convention. Paths are relative to `{prefix}{i}.`;
/// sub-lists (`contents`, `tool_calls`) are relative to `{list_prefix}{j}.`.
#[derive(Debug)]
pub struct FlattenedMessages {
    pub prefix: &'static str,
    pub direction: Direction,
    pub role: &'static str,
    pub content: &'static str,
    pub name: Option<&'static str>,
    pub tool_call_id: &'static str,
    pub finish_reason: Option<&'static str>,
    pub contents: Option<FlattenedContents>,
    pub tool_calls: FlattenedToolCalls,
}

/// Typed content parts of a flattened message (OpenInference `message.contents`).
#[derive(Debug)]
pub struct FlattenedContents {
    pub prefix: &'static str,
    pub kind: &'static str,
    pub text: &'static str,
    pub image_url: &'static str,
}

/// Tool calls of a flattened message.
#[derive(Debug)]
pub struct FlattenedToolCalls {
    pub prefix: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub arguments: &'static str,
}

const OPENINFERENCE_CONTENTS: FlattenedContents = FlattenedContents {
    prefix: "message.contents.",
    kind: "message_content.type",
    text: "message_content.text",
    image_url: "message_content.image.image.url",
};

const OPENINFERENCE_TOOL_CALLS: FlattenedToolCalls = FlattenedToolCalls {
    prefix: "message.tool_calls.",
    id: "tool_call.id",
    name: "tool_call.function.name",
    arguments: "tool_call.function.arguments",
};

const OPENLLMETRY_TOOL_CALLS: FlattenedToolCalls = FlattenedToolCalls {
    prefix: "tool_calls.",
    id: "id",
    name: "name",
    arguments: "arguments",
};

pub static OPENINFERENCE_INPUT_MESSAGES: FlattenedMessages = FlattenedMessages {
    prefix: "llm.input_messages.",
    direction: Direction::Input,
    role: "message.role",
    content: "message.content",
    name: Some("message.name"),
    tool_call_id: "message.tool_call_id",
    finish_reason: None,
    contents: Some(OPENINFERENCE_CONTENTS),
    tool_calls: OPENINFERENCE_TOOL_CALLS,
};

pub static OPENINFERENCE_OUTPUT_MESSAGES: FlattenedMessages = FlattenedMessages {
    prefix: "llm.output_messages.",
    direction: Direction::Output,
    role: "message.role",
    content: "message.content",
    name: Some("message.name"),
    tool_call_id: "message.tool_call_id",
    finish_reason: None,
    contents: Some(OPENINFERENCE_CONTENTS),
    tool_calls: OPENINFERENCE_TOOL_CALLS,
};

pub static OPENLLMETRY_PROMPT: FlattenedMessages = FlattenedMessages {
    prefix: "gen_ai.prompt.",
    direction: Direction::Input,
    role: "role",
    content: "content",
    name: None,
    tool_call_id: "tool_call_id",
    finish_reason: None,
    contents: None,
    tool_calls: OPENLLMETRY_TOOL_CALLS,
};

pub static OPENLLMETRY_COMPLETION: FlattenedMessages = FlattenedMessages {
    prefix: "gen_ai.completion.",
    direction: Direction::Output,
    role: "role",
    content: "content",
    name: None,
    tool_call_id: "tool_call_id",
    finish_reason: Some("finish_reason"),
    contents: None,
    tool_calls: OPENLLMETRY_TOOL_CALLS,
};

/// What one message event carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventShape {
    /// One message (`content`, `tool_calls`, `id`) with the role of the event.
    Message { role: &'static str },
    /// A choice: `{index, finish_reason, message: {role, content, tool_calls}}`.
    Choice,
    /// A whole message list (OpenAI form, JSON text) in one attribute (v1.26).
    MessageList { attribute: &'static str },
}

/// A span event that carries conversation content.
#[derive(Debug)]
pub struct MessageEvent {
    pub name: &'static str,
    pub direction: Direction,
    pub shape: EventShape,
}

/// Span events that carry messages: v1.26 (`gen_ai.content.*`) and v1.27–1.36 (`gen_ai.*.message`,
/// `gen_ai.choice`). All events also stay in the `events` column.
pub static MESSAGE_EVENTS: &[MessageEvent] = &[
    MessageEvent {
        name: "gen_ai.content.prompt",
        direction: Direction::Input,
        shape: EventShape::MessageList {
            attribute: "gen_ai.prompt",
        },
    },
    MessageEvent {
        name: "gen_ai.content.completion",
        direction: Direction::Output,
        shape: EventShape::MessageList {
            attribute: "gen_ai.completion",
        },
    },
    MessageEvent {
        name: "gen_ai.system.message",
        direction: Direction::Input,
        shape: EventShape::Message { role: "system" },
    },
    MessageEvent {
        name: "gen_ai.user.message",
        direction: Direction::Input,
        shape: EventShape::Message { role: "user" },
    },
    MessageEvent {
        name: "gen_ai.assistant.message",
        direction: Direction::Input,
        shape: EventShape::Message { role: "assistant" },
    },
    MessageEvent {
        name: "gen_ai.tool.message",
        direction: Direction::Input,
        shape: EventShape::Message { role: "tool" },
    },
    MessageEvent {
        name: "gen_ai.choice",
        direction: Direction::Output,
        shape: EventShape::Choice,
    },
];

/// Event attributes that hold the event body (the log-record body, when an emitter copies it
/// onto a span event). Without one, the event's attributes themselves are the body.
pub static EVENT_BODY_KEYS: &[&str] = &["body", "event.body"];

/// Where `error_type` comes from when no attribute names it: the first exception event.
pub static EXCEPTION_EVENT: (&str, &str) = ("exception", "exception.type");

/// OTLP `Span.kind` values by enum number.
pub static SPAN_KINDS: &[&str] = &[
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
];

/// Resource attribute naming the service.
pub static SERVICE_NAME_KEY: &str = "service.name";

/// Every attribute key, prefix and event name the tables above mention (for docs and tests).
pub fn all_documented_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Vec::new();
    for (_, aliases) in FIELD_ALIASES {
        keys.extend(aliases.iter().map(|alias| alias.key));
    }
    keys.extend(SPAN_TYPE_RULES.iter().map(|(key, _)| *key));
    keys.extend(SPAN_NAME_RULES.iter().map(|(name, _)| *name));
    for source in INPUT_SOURCES.iter().chain(OUTPUT_SOURCES) {
        match source {
            ContentSource::MessagesAttribute(key) | ContentSource::Raw(key) => keys.push(key),
            ContentSource::FlattenedMessages(layout) => keys.push(layout.prefix),
            ContentSource::MessageEvents => {}
        }
    }
    keys.extend(SYSTEM_INSTRUCTION_KEYS);
    for event in MESSAGE_EVENTS {
        keys.push(event.name);
        if let EventShape::MessageList { attribute } = event.shape {
            keys.push(attribute);
        }
    }
    keys
}
