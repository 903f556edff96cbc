//! A run in the OpenInference convention: `openinference.span.kind` AGENT, LLM and TOOL
//! spans; `llm.*` model names and token counts; messages flattened into
//! `llm.input_messages.{i}.message.*` and `llm.output_messages.{i}.message.*` attributes
//! (tool calls as `message.tool_calls.{j}.tool_call.*`); tool input and output as
//! `input.value` / `output.value`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

use crate::emit_steps::{At, StepShapes, root_span, walk};
use crate::otlp::{KIND_CLIENT, KIND_INTERNAL, SpanStart, error, export, int, text};
use crate::run_plan::{LlmCall, RunPlan, SubAgentRun, ToolCall};

pub fn export_run(plan: &RunPlan) -> ExportTraceServiceRequest {
    let shared = vec![
        text("session.id", plan.session_id.clone()),
        text("user.id", plan.user.clone()),
    ];
    let mut root = vec![
        text("openinference.span.kind", "AGENT"),
        text("agent.name", plan.agent),
        text("input.value", plan.prompt.clone()),
        text("input.mime_type", "text/plain"),
    ];
    if let Some(answer) = &plan.answer {
        root.push(text("output.value", answer.clone()));
    }
    root.extend(shared.iter().cloned());
    let mut spans = vec![root_span(plan, plan.agent.to_string(), root)];
    let shapes = OpenInference {
        plan,
        shared: &shared,
    };
    walk(&shapes, &plan.steps, &plan.root_span_id, false, &mut spans);
    export(
        vec![
            text("service.name", plan.service),
            text("openinference.project.name", plan.service),
        ],
        "openinference.instrumentation.agents",
        "0.1.0",
        spans,
    )
}

struct OpenInference<'a> {
    plan: &'a RunPlan,
    shared: &'a [KeyValue],
}

impl StepShapes for OpenInference<'_> {
    fn llm(&self, call: &LlmCall, at: &At<'_>) -> Span {
        llm_span(self.plan, call, at.parent, self.shared)
    }

    fn tool(&self, call: &ToolCall, at: &At<'_>, spans: &mut Vec<Span>) {
        spans.push(tool_span(self.plan, call, at.parent, self.shared));
    }

    fn sub_agent(&self, sub: &SubAgentRun, at: &At<'_>) -> Option<Span> {
        let mut attributes = vec![
            text("openinference.span.kind", "AGENT"),
            text("agent.name", sub.agent),
        ];
        attributes.extend(self.shared.iter().cloned());
        Some(
            SpanStart {
                trace_id: &self.plan.trace_id,
                span_id: &sub.span_id,
                parent: Some(at.parent),
                name: sub.agent.to_string(),
                kind: KIND_INTERNAL,
                start_ns: sub.start_ns,
                end_ns: sub.end_ns,
            }
            .with(attributes, None),
        )
    }
}

/// The text parts of a canonical message, joined.
fn message_text(message: &Value) -> String {
    message["parts"]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|part| match part["type"].as_str() {
                    Some("text") => part["content"].as_str().map(str::to_string),
                    Some("tool_call_response") => part["response"].as_str().map(str::to_string),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// One message as flattened attributes under `prefix` (`llm.input_messages.3.`).
fn flattened(prefix: &str, message: &Value, attributes: &mut Vec<KeyValue>) {
    let role = message["role"].as_str().unwrap_or("user");
    attributes.push(text(&format!("{prefix}message.role"), role));
    let content = message_text(message);
    if !content.is_empty() {
        attributes.push(text(&format!("{prefix}message.content"), content));
    }
    let parts = message["parts"].as_array().cloned().unwrap_or_default();
    let mut calls = 0;
    for part in &parts {
        match part["type"].as_str() {
            Some("tool_call") => {
                let call = format!("{prefix}message.tool_calls.{calls}.tool_call.");
                attributes.push(text(
                    &format!("{call}id"),
                    part["id"].as_str().unwrap_or_default(),
                ));
                attributes.push(text(
                    &format!("{call}function.name"),
                    part["name"].as_str().unwrap_or_default(),
                ));
                attributes.push(text(
                    &format!("{call}function.arguments"),
                    part["arguments"].to_string(),
                ));
                calls += 1;
            }
            Some("tool_call_response") => attributes.push(text(
                &format!("{prefix}message.tool_call_id"),
                part["id"].as_str().unwrap_or_default(),
            )),
            _ => {}
        }
    }
}

fn llm_span(plan: &RunPlan, call: &LlmCall, parent: &[u8], shared: &[KeyValue]) -> Span {
    let model = plan.model.model;
    let mut attributes = vec![
        text("openinference.span.kind", "LLM"),
        text("llm.provider", plan.model.provider),
        text("llm.system", plan.model.provider),
        text("llm.model_name", model),
        text(
            "llm.invocation_parameters",
            json!({"temperature": 0.2, "max_tokens": 8192}).to_string(),
        ),
    ];
    let system =
        json!({"role": "system", "parts": [{"type": "text", "content": plan.system_prompt}]});
    for (index, message) in std::iter::once(&system).chain(&call.input).enumerate() {
        flattened(
            &format!("llm.input_messages.{index}."),
            message,
            &mut attributes,
        );
    }
    attributes.extend(shared.iter().cloned());
    let status = match &call.failure {
        Some(failure) => error(format!("{} {}", failure.status, failure.kind)),
        None => {
            let usage = call.usage;
            flattened("llm.output_messages.0.", &call.output, &mut attributes);
            attributes.extend([
                int("llm.token_count.prompt", usage.input),
                int("llm.token_count.completion", usage.output),
                int("llm.token_count.total", usage.input + usage.output),
                int(
                    "llm.token_count.prompt_details.cache_read",
                    usage.cache_read,
                ),
                text("llm.finish_reason", call.finish_reason),
            ]);
            if usage.cache_write > 0 {
                attributes.push(int(
                    "llm.token_count.prompt_details.cache_write",
                    usage.cache_write,
                ));
            }
            if usage.reasoning > 0 {
                attributes.push(int(
                    "llm.token_count.completion_details.reasoning",
                    usage.reasoning,
                ));
            }
            None
        }
    };
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &call.span_id,
        parent: Some(parent),
        name: if plan.model.provider == "anthropic" {
            "Messages".into()
        } else {
            "ChatCompletion".into()
        },
        kind: KIND_CLIENT,
        start_ns: call.start_ns,
        end_ns: call.end_ns,
    }
    .with(attributes, status)
}

fn tool_span(plan: &RunPlan, call: &ToolCall, parent: &[u8], shared: &[KeyValue]) -> Span {
    let mut attributes = vec![
        text("openinference.span.kind", "TOOL"),
        text("tool.name", call.name),
        text("tool.id", call.call_id.clone()),
        text("input.value", call.arguments.to_string()),
        text("input.mime_type", "application/json"),
        text("output.value", call.result.clone()),
    ];
    attributes.extend(shared.iter().cloned());
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &call.span_id,
        parent: Some(parent),
        name: call.name.to_string(),
        kind: KIND_INTERNAL,
        start_ns: call.start_ns,
        end_ns: call.end_ns,
    }
    .with(attributes, call.error.clone().and_then(error))
}
