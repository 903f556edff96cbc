//! Each call through the gateway recorded as an llm span: the messages the agent sent, the
//! answer, tokens, latency and errors, tagged with the eval run, example and epoch.
//!
//! With the agent's `traceparent` the span joins the agent's own trace (the CLI's spans
//! and the gateway's form one trace per example); without it, the trace id is derived
//! from (run, example, epoch) and the span hangs under the example's root span — the trace
//! agents are started in through their `TRACEPARENT` environment variable (Claude Code
//! reads it), so the CLI's spans and the gateway's still form one trace per example.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

use super::GatewayRequest;
use crate::messages::{Part, Role, Turn};
use crate::otlp_spans::{
    error_status, export_request, id, int, output_messages, provider_name, text,
};

/// The gateway's spans go under this service.
pub const GATEWAY_SERVICE: &str = "sextant-gateway";

/// Which run, example and epoch a call belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTags {
    pub run_id: String,
    pub example: String,
    pub epoch: u32,
}

/// How a call went.
pub struct CallRecord<'a> {
    pub tags: &'a CallTags,
    pub request: &'a GatewayRequest,
    /// The model that answered (the candidate's, or the cassette's recording).
    pub answered_by: &'a str,
    pub outcome: Result<&'a Turn, &'a str>,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The agent's W3C `traceparent` header, if it sent one.
    pub traceparent: Option<&'a str>,
}

/// The trace an example's calls share when the agent sends no `traceparent`; agents that
/// read a `TRACEPARENT` environment variable are started inside it too.
pub fn example_trace_id(tags: &CallTags) -> Vec<u8> {
    id(&[&tags.run_id, &tags.example, &tags.epoch.to_string()], 16)
}

/// The span id of an example run's root span (the agent run as a whole).
pub fn example_root_span_id(tags: &CallTags) -> Vec<u8> {
    id(
        &[
            &tags.run_id,
            &tags.example,
            &tags.epoch.to_string(),
            "agent",
        ],
        8,
    )
}

/// A W3C `traceparent` for the start of an example's run: its trace, its root span.
pub fn example_traceparent(tags: &CallTags) -> String {
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    format!(
        "00-{}-{}-01",
        hex(&example_trace_id(tags)),
        hex(&example_root_span_id(tags))
    )
}

/// The root span of one agent run: the CLI's spans (started from [`example_traceparent`])
/// and the gateway's calls hang under it.
pub fn agent_run_span(
    tags: &CallTags,
    command: &str,
    start_ns: u64,
    end_ns: u64,
    error: Option<String>,
) -> ExportTraceServiceRequest {
    let span = Span {
        trace_id: example_trace_id(tags),
        span_id: example_root_span_id(tags),
        name: format!("invoke_agent {command}"),
        kind: 1,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: end_ns.max(start_ns),
        attributes: vec![
            text("gen_ai.operation.name", "invoke_agent"),
            text("gen_ai.agent.name", command),
            text("eval.run_id", tags.run_id.clone()),
            text("eval.example", tags.example.clone()),
            int("eval.epoch", i64::from(tags.epoch)),
        ],
        status: error.and_then(error_status),
        ..Span::default()
    };
    export(span)
}

/// `(trace id, parent span id)` of a `00-<trace>-<span>-<flags>` header.
pub fn parse_traceparent(header: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut fields = header.trim().split('-');
    let (version, trace, span) = (fields.next()?, fields.next()?, fields.next()?);
    let decode = |hex: &str, bytes: usize| -> Option<Vec<u8>> {
        if hex.len() != bytes * 2 {
            return None;
        }
        (0..bytes)
            .map(|index| u8::from_str_radix(hex.get(index * 2..index * 2 + 2)?, 16).ok())
            .collect()
    };
    let trace = decode(trace, 16).filter(|id| id.iter().any(|byte| *byte != 0))?;
    let span = decode(span, 8).filter(|id| id.iter().any(|byte| *byte != 0))?;
    (version.len() == 2).then_some((trace, span))
}

/// Messages as canonical JSON (`[{role, parts:[{type, …}]}]`).
pub fn canonical_messages(request: &GatewayRequest) -> String {
    let messages: Vec<Value> =
        request
            .request
            .messages
            .iter()
            .map(|message| {
                let role = match message.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                };
                let parts: Vec<Value> = message
                .parts
                .iter()
                .map(|part| match part {
                    Part::Text(content) => json!({"type": "text", "content": content}),
                    Part::ToolCall { id, name, arguments } => {
                        json!({"type": "tool_call", "id": id, "name": name, "arguments": arguments})
                    }
                    Part::ToolResult { id, content } => {
                        json!({"type": "tool_call_response", "id": id, "response": content})
                    }
                })
                .collect();
                json!({"role": role, "parts": parts})
            })
            .collect();
    Value::Array(messages).to_string()
}

/// The export request holding one call's span.
pub fn call_span(record: &CallRecord<'_>) -> ExportTraceServiceRequest {
    let tags = record.tags;
    let epoch = tags.epoch.to_string();
    let call_key = format!("{}:{}", record.start_ns, record.end_ns);
    let (trace_id, parent_span_id) = record
        .traceparent
        .and_then(parse_traceparent)
        .unwrap_or_else(|| (example_trace_id(tags), example_root_span_id(tags)));
    let mut attributes = vec![
        text("gen_ai.operation.name", "chat"),
        text("gen_ai.provider.name", provider_name(record.request.shape)),
        text("gen_ai.request.model", record.request.model.clone()),
        text("gen_ai.response.model", record.answered_by),
        text("gen_ai.input.messages", canonical_messages(record.request)),
        text("eval.run_id", tags.run_id.clone()),
        text("eval.example", tags.example.clone()),
        int("eval.epoch", i64::from(tags.epoch)),
    ];
    if let Some(system) = &record.request.request.system {
        attributes.push(text("gen_ai.system_instructions", system.clone()));
    }
    let mut status = None;
    match record.outcome {
        Ok(turn) => {
            attributes.push(text("gen_ai.output.messages", output_messages(turn)));
            if let Some(tokens) = turn.input_tokens {
                attributes.push(int("gen_ai.usage.input_tokens", tokens));
            }
            if let Some(tokens) = turn.output_tokens {
                attributes.push(int("gen_ai.usage.output_tokens", tokens));
            }
            let finish = if turn.tool_calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            };
            attributes.push(text("gen_ai.response.finish_reasons", finish));
        }
        Err(message) => {
            attributes.push(text("error.type", "gateway_error"));
            status = error_status(message.to_owned());
        }
    }
    let span = Span {
        span_id: id(&[&tags.run_id, &tags.example, &epoch, &call_key], 8),
        trace_id,
        parent_span_id,
        name: format!("chat {}", record.answered_by),
        kind: 3,
        start_time_unix_nano: record.start_ns,
        end_time_unix_nano: record.end_ns.max(record.start_ns),
        attributes,
        status,
        ..Span::default()
    };
    export(span)
}

/// One span as an export request from the gateway's service.
fn export(span: Span) -> ExportTraceServiceRequest {
    export_request(GATEWAY_SERVICE, "sextant-gateway", vec![span])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_gives_the_agents_trace_and_parent() {
        let (trace, span) =
            parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(trace.len(), 16);
        assert_eq!(span, vec![0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31]);
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-zzf7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
    }
}
