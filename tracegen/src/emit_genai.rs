//! A run in the OTel GenAI convention (current): an `invoke_agent {agent}` root, `chat
//! {model}` client spans with `gen_ai.*` usage and JSON messages, `execute_tool {tool}`
//! spans with arguments and results, a sub-agent's `invoke_agent` under the tool call
//! that started it. A refused model call is an error span (`error.type` = the status).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::json;

use crate::emit_steps::{At, StepShapes, root_span, walk};
use crate::otlp::{KIND_CLIENT, KIND_INTERNAL, SpanStart, error, export, int, text, texts};
use crate::run_plan::{LlmCall, RunPlan, SubAgentRun, ToolCall};

/// The run as one export request.
pub fn export_run(plan: &RunPlan) -> ExportTraceServiceRequest {
    let mut spans = Vec::new();
    let shared = vec![
        text("gen_ai.conversation.id", plan.session_id.clone()),
        text("user.id", plan.user.clone()),
    ];
    let mut root = vec![
        text("gen_ai.operation.name", "invoke_agent"),
        text("gen_ai.agent.name", plan.agent),
        text("gen_ai.provider.name", plan.model.provider),
        text("gen_ai.request.model", plan.model.model),
        text(
            "gen_ai.input.messages",
            json!([{"role": "user", "parts": [{"type": "text", "content": plan.prompt}]}])
                .to_string(),
        ),
    ];
    if let Some(answer) = &plan.answer {
        root.push(text(
            "gen_ai.output.messages",
            json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}])
                .to_string(),
        ));
    }
    if let Some((kind, _)) = &plan.failure {
        root.push(text("error.type", kind.error_type()));
    }
    root.extend(shared.iter().cloned());
    spans.push(root_span(
        plan,
        format!("invoke_agent {}", plan.agent),
        root,
    ));
    let shapes = GenAi {
        plan,
        shared: &shared,
    };
    walk(&shapes, &plan.steps, &plan.root_span_id, false, &mut spans);
    export(
        vec![
            text("service.name", plan.service),
            text("service.version", "1.4.2"),
        ],
        "sextant.datasets.agent",
        "",
        spans,
    )
}

struct GenAi<'a> {
    plan: &'a RunPlan,
    shared: &'a [KeyValue],
}

impl StepShapes for GenAi<'_> {
    fn llm(&self, call: &LlmCall, at: &At<'_>) -> Span {
        llm_span(self.plan, call, at.parent, self.shared)
    }

    fn tool(&self, call: &ToolCall, at: &At<'_>, spans: &mut Vec<Span>) {
        spans.push(tool_span(self.plan, call, at.parent, self.shared));
    }

    fn sub_agent(&self, sub: &SubAgentRun, at: &At<'_>) -> Option<Span> {
        Some(sub_agent_span(self.plan, sub, at.parent, self.shared))
    }
}

fn llm_span(plan: &RunPlan, call: &LlmCall, parent: &[u8], shared: &[KeyValue]) -> Span {
    let model = plan.model.model;
    let mut attributes = vec![
        text("gen_ai.operation.name", "chat"),
        text("gen_ai.provider.name", plan.model.provider),
        text("gen_ai.request.model", model),
        text(
            "gen_ai.system_instructions",
            json!([{"type": "text", "content": plan.system_prompt}]).to_string(),
        ),
        text(
            "gen_ai.input.messages",
            serde_json::Value::Array(call.input.clone()).to_string(),
        ),
    ];
    attributes.extend(shared.iter().cloned());
    let status = match &call.failure {
        Some(failure) => {
            attributes.push(text("error.type", failure.status.to_string()));
            error(format!("{} {}", failure.status, failure.kind))
        }
        None => {
            let usage = call.usage;
            attributes.extend([
                text("gen_ai.response.model", model),
                texts("gen_ai.response.finish_reasons", &[call.finish_reason]),
                int("gen_ai.usage.input_tokens", usage.input),
                int("gen_ai.usage.output_tokens", usage.output),
                int("gen_ai.usage.cache_read.input_tokens", usage.cache_read),
                text(
                    "gen_ai.output.messages",
                    serde_json::Value::Array(vec![call.output.clone()]).to_string(),
                ),
            ]);
            if usage.cache_write > 0 {
                attributes.push(int(
                    "gen_ai.usage.cache_creation.input_tokens",
                    usage.cache_write,
                ));
            }
            if usage.reasoning > 0 {
                attributes.push(int("gen_ai.usage.reasoning.output_tokens", usage.reasoning));
            }
            None
        }
    };
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &call.span_id,
        parent: Some(parent),
        name: format!("chat {model}"),
        kind: KIND_CLIENT,
        start_ns: call.start_ns,
        end_ns: call.end_ns,
    }
    .with(attributes, status)
}

fn tool_span(plan: &RunPlan, call: &ToolCall, parent: &[u8], shared: &[KeyValue]) -> Span {
    let mut attributes = vec![
        text("gen_ai.operation.name", "execute_tool"),
        text("gen_ai.tool.name", call.name),
        text("gen_ai.tool.call.id", call.call_id.clone()),
        text("gen_ai.tool.call.arguments", call.arguments.to_string()),
        text("gen_ai.tool.call.result", call.result.clone()),
    ];
    attributes.extend(shared.iter().cloned());
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &call.span_id,
        parent: Some(parent),
        name: format!("execute_tool {}", call.name),
        kind: KIND_INTERNAL,
        start_ns: call.start_ns,
        end_ns: call.end_ns,
    }
    .with(attributes, call.error.clone().and_then(error))
}

fn sub_agent_span(plan: &RunPlan, sub: &SubAgentRun, parent: &[u8], shared: &[KeyValue]) -> Span {
    let mut attributes = vec![
        text("gen_ai.operation.name", "invoke_agent"),
        text("gen_ai.agent.name", sub.agent),
    ];
    attributes.extend(shared.iter().cloned());
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &sub.span_id,
        parent: Some(parent),
        name: format!("invoke_agent {}", sub.agent),
        kind: KIND_INTERNAL,
        start_ns: sub.start_ns,
        end_ns: sub.end_ns,
    }
    .with(attributes, None)
}
