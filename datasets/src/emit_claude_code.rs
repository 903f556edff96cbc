//! A run as Claude Code reports it (scope `com.anthropic.claude_code.tracing`, service
//! `claude-code`; shapes from the capture in `fixtures/`): a `claude_code.interaction` root
//! per prompt, `claude_code.llm_request` spans whose `input_tokens` exclude the cache reads
//! and writes (counted apart) and that carry no messages, `claude_code.tool` spans named
//! the Claude Code way (`Read`, `Bash`, …) with a `claude_code.tool.execution` child.
//! Every span carries `span.type`, `session.id`, `gen_ai.conversation.id` and `user.id`.
//! A sub-agent's requests and tools sit under the `Task` tool call that started them.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::config::Convention;
use crate::otlp::{KIND_INTERNAL, SpanStart, boolean, error, export, int, text};
use crate::run_plan::{LlmCall, RunPlan, Step, ToolCall};

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
    let mut spans = vec![
        SpanStart {
            trace_id: &plan.trace_id,
            span_id: &plan.root_span_id,
            parent: None,
            name: "claude_code.interaction".into(),
            kind: KIND_INTERNAL,
            start_ns: plan.start_ns,
            end_ns: plan.end_ns,
        }
        .with(
            root,
            plan.failure
                .as_ref()
                .and_then(|(_, message)| error(message.clone())),
        ),
    ];
    steps(
        plan,
        &plan.steps,
        &plan.root_span_id,
        "interaction",
        &shared,
        &mut spans,
    );
    export(
        vec![
            text("service.name", "claude-code"),
            text("service.version", "2.1.328"),
            text("os.type", "linux"),
        ],
        "com.anthropic.claude_code.tracing",
        "1.0.0",
        spans,
    )
}

fn steps(
    plan: &RunPlan,
    steps: &[Step],
    parent: &[u8],
    context: &str,
    shared: &[KeyValue],
    spans: &mut Vec<Span>,
) {
    let mut last_tool: Option<&[u8]> = None;
    let mut attempt = 1;
    for step in steps {
        match step {
            Step::Llm(call) => {
                spans.push(llm_span(plan, call, parent, context, attempt, shared));
                attempt = if call.failure.is_some() {
                    attempt + 1
                } else {
                    1
                };
            }
            Step::Tool(call) => {
                tool_spans(plan, call, parent, shared, spans);
                last_tool = Some(&call.span_id);
            }
            Step::SubAgent(sub) => {
                self::steps(
                    plan,
                    &sub.steps,
                    last_tool.unwrap_or(parent),
                    "subagent",
                    shared,
                    spans,
                );
            }
        }
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
        text("model", model),
        text("gen_ai.system", "anthropic"),
        text("gen_ai.request.model", model),
        text("llm_request.context", context),
        int("duration_ms", ((call.end_ns - call.start_ns) / MS) as i64),
        int("attempt", attempt),
        boolean("success", call.failure.is_none()),
        // Claude Code counts input without the cached tokens.
        int(
            "input_tokens",
            usage.input - usage.cache_read - usage.cache_write,
        ),
        int("output_tokens", usage.output),
        int("cache_read_tokens", usage.cache_read),
        int("cache_creation_tokens", usage.cache_write),
    ];
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
