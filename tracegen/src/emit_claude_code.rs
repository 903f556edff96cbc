//! A run as Claude Code reports it (scope `com.anthropic.claude_code.tracing`, service
//! `claude-code`; shapes from the capture in `fixtures/`): a `claude_code.interaction` root
//! per prompt, `claude_code.llm_request` spans whose `input_tokens` exclude the cache reads
//! and writes (counted apart) and that carry no messages, `claude_code.tool` spans named
//! the Claude Code way (`Read`, `Bash`, …) with a `claude_code.tool.execution` child.
//! Every span carries `span.type`, `session.id`, `gen_ai.conversation.id` and `user.id`.
//! A sub-agent's requests and tools sit under the `Task` tool call that started them.
//!
//! Claude Code also logs events (scope `com.anthropic.claude_code.events`, body
//! `claude_code.<name>`, `event.name`, `event.sequence`, `prompt.id`): [`export_events`]
//! writes `user_prompt`, an `api_request` per answered model call (tokens, `cost_usd` —
//! the only place Claude Code reports cost — and the `request_id` its span carries too),
//! `api_error` per refused call, `tool_result` per tool call and `assistant_response`.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::config::Convention;
use crate::emit_steps::{At, StepShapes, root_span, walk};
use crate::otlp::{KIND_INTERNAL, SpanStart, boolean, error, export, float, int, text};
use crate::run_plan::{LlmCall, RunPlan, Step, SubAgentRun, ToolCall, Usage};

const MS: u64 = 1_000_000;

pub fn export_run(plan: &RunPlan) -> ExportTraceServiceRequest {
    let shared = vec![
        text("user.id", plan.user.clone()),
        text("session.id", plan.session_id.clone()),
        text("gen_ai.conversation.id", plan.session_id.clone()),
        text("gen_ai.provider.name", "anthropic"),
        text("terminal.type", "non-interactive"),
    ];
    let mut root = vec![
        text("span.type", "interaction"),
        text("gen_ai.operation.name", "invoke_agent"),
        text("user_prompt", plan.prompt.clone()),
        int("user_prompt_length", plan.prompt.len() as i64),
        int("interaction.sequence", plan.sequence as i64),
        int(
            "interaction.duration_ms",
            ((plan.end_ns - plan.start_ns) / MS) as i64,
        ),
    ];
    root.extend(shared.iter().cloned());
    let mut spans = vec![root_span(plan, "claude_code.interaction".into(), root)];
    let shapes = ClaudeCode {
        plan,
        shared: &shared,
    };
    walk(&shapes, &plan.steps, &plan.root_span_id, false, &mut spans);
    export(
        resource(),
        "com.anthropic.claude_code.tracing",
        "1.0.0",
        spans,
    )
}

fn resource() -> Vec<KeyValue> {
    vec![
        text("service.name", "claude-code"),
        text("service.version", "2.1.328"),
        text("os.type", "linux"),
    ]
}

/// The request id Claude Code's API call and its `api_request` event share.
fn request_id(call: &LlmCall) -> String {
    let hex: String = call
        .span_id
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("req_011C{hex}")
}

/// USD per million tokens (input, output) of the Anthropic models the generator uses;
/// cache reads cost a tenth of input, cache writes a quarter more.
fn price(model: &str) -> (f64, f64) {
    if model.contains("opus") {
        (15.0, 75.0)
    } else if model.contains("haiku") {
        (1.0, 5.0)
    } else {
        (3.0, 15.0)
    }
}

/// What Claude Code reports a call cost.
fn cost_usd(model: &str, call: &LlmCall) -> f64 {
    let (input, output) = price(model);
    let usage = call.usage;
    let fresh = usage.fresh_input() as f64;
    (fresh * input
        + usage.cache_read as f64 * input * 0.1
        + usage.cache_write as f64 * input * 1.25
        + usage.output as f64 * output)
        / 1e6
}

/// Token counts as Claude Code reports them, on its spans and its `api_request` events:
/// input without the cached tokens, which are counted apart.
fn token_attributes(usage: Usage) -> [KeyValue; 4] {
    [
        int("input_tokens", usage.fresh_input()),
        int("output_tokens", usage.output),
        int("cache_read_tokens", usage.cache_read),
        int("cache_creation_tokens", usage.cache_write),
    ]
}

/// The run's log events, in order, as one export request.
pub fn export_events(plan: &RunPlan) -> ExportLogsServiceRequest {
    let prompt_id = format!("{}-prompt-{}", plan.session_id, plan.sequence);
    let mut records = Vec::new();
    let mut event = |name: &str, time_ns: u64, span: &[u8], mut attributes: Vec<KeyValue>| {
        let mut shared = vec![
            text("user.id", plan.user.clone()),
            text("session.id", plan.session_id.clone()),
            text("terminal.type", "non-interactive"),
            text("event.name", name),
            int("event.sequence", records.len() as i64),
            text("prompt.id", prompt_id.clone()),
        ];
        shared.append(&mut attributes);
        records.push(LogRecord {
            time_unix_nano: time_ns,
            observed_time_unix_nano: time_ns,
            trace_id: plan.trace_id.clone(),
            span_id: span.to_vec(),
            flags: 1,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(format!("claude_code.{name}"))),
            }),
            attributes: shared,
            ..LogRecord::default()
        });
    };
    let root = plan.root_span_id.as_slice();
    event(
        "user_prompt",
        plan.start_ns,
        root,
        vec![
            text("prompt", plan.prompt.clone()),
            text("prompt_length", plan.prompt.len().to_string()),
        ],
    );
    let model = plan.model.model;
    let mut attempt = 1;
    for step in plan.all_steps() {
        match step {
            Step::Llm(call) => match &call.failure {
                None => {
                    let usage = call.usage;
                    event(
                        "api_request",
                        call.end_ns,
                        root,
                        [
                            text("model", model),
                            text("request_id", request_id(call)),
                            float("cost_usd", cost_usd(model, call)),
                            int("duration_ms", ((call.end_ns - call.start_ns) / MS) as i64),
                        ]
                        .into_iter()
                        .chain(token_attributes(usage))
                        .collect(),
                    );
                    attempt = 1;
                }
                Some(failure) => {
                    event(
                        "api_error",
                        call.end_ns,
                        root,
                        vec![
                            text("model", model),
                            text("error", failure.kind),
                            text("status_code", failure.status.to_string()),
                            int("attempt", attempt),
                            int("duration_ms", ((call.end_ns - call.start_ns) / MS) as i64),
                        ],
                    );
                    attempt += 1;
                }
            },
            Step::Tool(call) => event(
                "tool_result",
                call.end_ns,
                root,
                vec![
                    text("tool_name", Convention::ClaudeCode.tool_name(call.name)),
                    text("tool_use_id", call.call_id.clone()),
                    text("success", (call.error.is_none()).to_string()),
                    text(
                        "duration_ms",
                        ((call.end_ns - call.start_ns) / MS).to_string(),
                    ),
                    text("tool_input", call.arguments.to_string()),
                ],
            ),
            Step::SubAgent(_) => {}
        }
    }
    if let Some(answer) = &plan.answer {
        event(
            "assistant_response",
            plan.end_ns,
            root,
            vec![
                text("response", answer.clone()),
                int("response_length", answer.len() as i64),
                text("model", model),
            ],
        );
    }
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource(),
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "com.anthropic.claude_code.events".into(),
                    version: "2.1.328".into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

struct ClaudeCode<'a> {
    plan: &'a RunPlan,
    shared: &'a [KeyValue],
}

impl StepShapes for ClaudeCode<'_> {
    fn llm(&self, call: &LlmCall, at: &At<'_>) -> Span {
        let context = if at.in_sub_agent {
            "subagent"
        } else {
            "interaction"
        };
        llm_span(self.plan, call, at.parent, context, at.attempt, self.shared)
    }

    fn tool(&self, call: &ToolCall, at: &At<'_>, spans: &mut Vec<Span>) {
        tool_spans(self.plan, call, at.parent, self.shared, spans);
    }

    /// Claude Code has no span of its own for a sub-agent: its requests and tools sit
    /// under the `Task` tool call.
    fn sub_agent(&self, _sub: &SubAgentRun, _at: &At<'_>) -> Option<Span> {
        None
    }
}

fn llm_span(
    plan: &RunPlan,
    call: &LlmCall,
    parent: &[u8],
    context: &str,
    attempt: i64,
    shared: &[KeyValue],
) -> Span {
    let model = plan.model.model;
    let usage = call.usage;
    let mut attributes = vec![
        text("span.type", "llm_request"),
        text("request_id", request_id(call)),
        text("model", model),
        text("gen_ai.system", "anthropic"),
        text("gen_ai.request.model", model),
        text("llm_request.context", context),
        int("duration_ms", ((call.end_ns - call.start_ns) / MS) as i64),
        int("attempt", attempt),
        boolean("success", call.failure.is_none()),
    ];
    attributes.extend(token_attributes(usage));
    let status = match &call.failure {
        Some(failure) => {
            attributes.push(int("status_code", i64::from(failure.status)));
            error(format!("{} {}", failure.status, failure.kind))
        }
        None => {
            let stop_reason = if call.finish_reason == "tool_calls" {
                "tool_use"
            } else {
                "end_turn"
            };
            attributes.push(text("stop_reason", stop_reason));
            attributes.push(int(
                "ttft_ms",
                ((call.end_ns - call.start_ns) / MS / 5) as i64,
            ));
            None
        }
    };
    attributes.extend(shared.iter().cloned());
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &call.span_id,
        parent: Some(parent),
        name: "claude_code.llm_request".into(),
        kind: KIND_INTERNAL,
        start_ns: call.start_ns,
        end_ns: call.end_ns,
    }
    .with(attributes, status)
}

fn tool_spans(
    plan: &RunPlan,
    call: &ToolCall,
    parent: &[u8],
    shared: &[KeyValue],
    spans: &mut Vec<Span>,
) {
    let name = Convention::ClaudeCode.tool_name(call.name);
    let duration_ms = ((call.end_ns - call.start_ns) / MS) as i64;
    let mut attributes = vec![
        text("span.type", "tool"),
        text("tool_name", name),
        text("gen_ai.operation.name", "execute_tool"),
        text("gen_ai.tool.name", name),
        text("tool_use_id", call.call_id.clone()),
        text("gen_ai.tool.call.id", call.call_id.clone()),
        int("duration_ms", duration_ms),
    ];
    if let Some(command) = call.arguments["command"].as_str() {
        attributes.push(text("full_command", command));
    }
    attributes.extend(shared.iter().cloned());
    spans.push(
        SpanStart {
            trace_id: &plan.trace_id,
            span_id: &call.span_id,
            parent: Some(parent),
            name: "claude_code.tool".into(),
            kind: KIND_INTERNAL,
            start_ns: call.start_ns,
            end_ns: call.end_ns,
        }
        .with(attributes, call.error.clone().and_then(error)),
    );
    // The execution phase, as a child; its id is derived from the tool span's.
    let mut execution_id = call.span_id.clone();
    execution_id[0] ^= 0xff;
    let mut attributes = vec![
        text("span.type", "tool.execution"),
        text("tool_use_id", call.call_id.clone()),
        int("duration_ms", duration_ms),
        boolean("success", call.error.is_none()),
    ];
    attributes.extend(shared.iter().cloned());
    spans.push(
        SpanStart {
            trace_id: &plan.trace_id,
            span_id: &execution_id,
            parent: Some(&call.span_id),
            name: "claude_code.tool.execution".into(),
            kind: KIND_INTERNAL,
            start_ns: call.start_ns,
            end_ns: call.end_ns,
        }
        .with(attributes, call.error.clone().and_then(error)),
    );
}
