//! A deterministic generator of coding-agent traces in the OTel GenAI convention.
//!
//! One trace = an `invoke_agent` root → turns of `chat {model}` LLM spans whose input is the
//! whole conversation so far (resent every turn, as real agent loops do) → `execute_tool`
//! spans that read files, grep, edit with a unified diff, or run the tests. About one run in
//! seven ends with the tests still failing (status error).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use serde_json::{Value, json};

use crate::random::SplitMix64;
use crate::text::TextGenerator;

const MODELS: &[(&str, &str)] = &[
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-haiku-4-5"),
    ("openai", "gpt-5"),
    ("openai", "gpt-5-mini"),
];
const SERVICES: &[&str] = &["pr-review-bot", "nightly-fixer", "issue-triage"];
const TOOLS: &[&str] = &["read_file", "grep", "edit_file", "bash"];

/// Span kinds as OTLP integers.
const KIND_INTERNAL: i32 = 1;
const KIND_CLIENT: i32 = 3;

#[derive(Debug)]
pub struct GeneratedTrace {
    pub request: ExportTraceServiceRequest,
    pub span_count: usize,
}

#[derive(Debug)]
pub struct AgentTraceGenerator {
    random: SplitMix64,
    text: TextGenerator,
    system_prompts: Vec<String>,
    traces: u64,
}

fn string_value(value: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(value.into())),
    })
}

fn attribute(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: string_value(value),
        ..KeyValue::default()
    }
}

fn int_attribute(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

impl AgentTraceGenerator {
    pub fn new(seed: u64) -> AgentTraceGenerator {
        let mut random = SplitMix64::new(seed);
        let text = TextGenerator::new(seed, 20_000);
        let system_prompts = (0..3)
            .map(|_| {
                let sentences = random.between(20, 60);
                format!(
                    "You are a careful coding agent. {}",
                    text.paragraph(&mut random, sentences)
                )
            })
            .collect();
        AgentTraceGenerator {
            random,
            text,
            system_prompts,
            traces: 0,
        }
    }

    fn id(&mut self, bytes: usize) -> Vec<u8> {
        let mut id = Vec::with_capacity(bytes);
        while id.len() < bytes {
            id.extend_from_slice(&self.random.next_u64().to_be_bytes());
        }
        id.truncate(bytes);
        id
    }

    /// One agent run starting at `start_ns`, as one export request.
    pub fn trace(&mut self, start_ns: u64) -> GeneratedTrace {
        self.traces += 1;
        let random = &mut self.random;
        let (provider, model) = *random.pick(MODELS);
        let service = *random.pick(SERVICES);
        let session = format!("session-{}", self.traces / 4);
        let system_prompt = random.pick(&self.system_prompts).clone();
        let module = self.text.word(random).to_string();
        let user_prompt = format!(
            "Fix the failing test in {module}: {}",
            self.text.sentence(random)
        );
        let failed = random.chance(15);
        let turns = random.between(2, 9);

        let trace_id = self.id(16);
        let root_id = self.id(8);
        let mut spans = Vec::new();
        let mut history: Vec<Value> =
            vec![json!({"role": "user", "parts": [{"type": "text", "content": user_prompt}]})];
        let mut clock = start_ns;
        let mut total_input = 0;
        let mut total_output = 0;
        for turn in 0..turns {
            let last = turn + 1 == turns;
            let random = &mut self.random;
            let tool = *random.pick(TOOLS);
            let call_id = format!("call_{}", random.next_u64() % 1_000_000_000);
            let (arguments, result) = self.tool_call(tool, &module, failed && last);
            let random = &mut self.random;
            let sentences = random.between(1, 4);
            let thought = self.text.paragraph(random, sentences);
            let output = if last {
                json!([{"role": "assistant", "parts": [{"type": "text", "content": thought}], "finish_reason": "stop"}])
            } else {
                json!([{"role": "assistant", "parts": [
                    {"type": "text", "content": thought},
                    {"type": "tool_call", "id": call_id, "name": tool, "arguments": arguments}
                ], "finish_reason": "tool_calls"}])
            };
            let input_text = serde_json::to_string(&history).unwrap_or_default();
            let input_tokens = (input_text.len() + system_prompt.len()) as i64 / 4;
            let output_tokens = output.to_string().len() as i64 / 4;
            total_input += input_tokens;
            total_output += output_tokens;
            let llm_duration = random.between(800, 9_000) * 1_000_000;
            let llm_id = self.id(8);
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: llm_id,
                parent_span_id: root_id.clone(),
                name: format!("chat {model}"),
                kind: KIND_CLIENT,
                start_time_unix_nano: clock,
                end_time_unix_nano: clock + llm_duration,
                attributes: vec![
                    attribute("gen_ai.operation.name", "chat"),
                    attribute("gen_ai.provider.name", provider),
                    attribute("gen_ai.request.model", model),
                    attribute("gen_ai.response.model", model),
                    attribute("gen_ai.conversation.id", &session),
                    int_attribute("gen_ai.usage.input_tokens", input_tokens),
                    int_attribute("gen_ai.usage.output_tokens", output_tokens),
                    int_attribute("gen_ai.usage.cache_read.input_tokens", input_tokens * 3 / 4),
                    attribute(
                        "gen_ai.system_instructions",
                        json!([{"type": "text", "content": system_prompt}]).to_string(),
                    ),
                    attribute("gen_ai.input.messages", input_text),
                    attribute("gen_ai.output.messages", output.to_string()),
                ],
                ..Span::default()
            });
            clock += llm_duration;
            if let Some(message) = output.get(0) {
                history.push(message.clone());
            }
            if last {
                break;
            }
            let random = &mut self.random;
            let tool_duration = random.between(5, 20_000) * 1_000_000;
            let tool_failed = tool == "bash" && result.contains("FAILED");
            let tool_id = self.id(8);
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: tool_id,
                parent_span_id: root_id.clone(),
                name: format!("execute_tool {tool}"),
                kind: KIND_INTERNAL,
                start_time_unix_nano: clock,
                end_time_unix_nano: clock + tool_duration,
                attributes: vec![
                    attribute("gen_ai.operation.name", "execute_tool"),
                    attribute("gen_ai.tool.name", tool),
                    attribute("gen_ai.tool.call.id", &call_id),
                    attribute("gen_ai.tool.call.arguments", arguments.to_string()),
                    attribute("gen_ai.tool.call.result", &result),
                ],
                status: tool_failed.then(|| Status {
                    message: "exit status 101".into(),
                    code: status::StatusCode::Error as i32,
                }),
                ..Span::default()
            });
            clock += tool_duration;
            history.push(json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": call_id, "response": result}]}));
        }
        spans.insert(
            0,
            Span {
                trace_id: trace_id.clone(),
                span_id: root_id,
                name: "invoke_agent coder".into(),
                kind: KIND_INTERNAL,
                start_time_unix_nano: start_ns,
                end_time_unix_nano: clock,
                attributes: vec![
                    attribute("gen_ai.operation.name", "invoke_agent"),
                    attribute("gen_ai.agent.name", "coder"),
                    attribute("gen_ai.conversation.id", &session),
                    attribute("user.id", format!("user-{}", self.traces % 7)),
                    int_attribute("gen_ai.usage.input_tokens", total_input),
                    int_attribute("gen_ai.usage.output_tokens", total_output),
                ],
                status: failed.then(|| Status {
                    message: format!("tests still failing in {module}"),
                    code: status::StatusCode::Error as i32,
                }),
                ..Span::default()
            },
        );
        let span_count = spans.len();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![
                        attribute("service.name", service),
                        attribute("service.version", "1.4.2"),
                    ],
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "sextant.datasets.agent".into(),
                        ..InstrumentationScope::default()
                    }),
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        GeneratedTrace {
            request,
            span_count,
        }
    }

    /// Arguments and result of one tool call.
    fn tool_call(&mut self, tool: &str, module: &str, tests_fail: bool) -> (Value, String) {
        let random = &mut self.random;
        let path = format!("src/{module}/{}.rs", self.text.word(random));
        match tool {
            "read_file" => {
                let bytes = random.between(1_000, 50_000) as usize;
                (json!({"path": path}), self.text.source_file(random, bytes))
            }
            "grep" => {
                let pattern = self.text.identifier(random);
                let output = self.text.grep_output(random, &pattern);
                (json!({"pattern": pattern, "path": "src/"}), output)
            }
            "edit_file" => {
                let diff = self.text.unified_diff(random, &path);
                (
                    json!({"path": path, "diff": diff}),
                    format!("applied 1 hunk to {path}"),
                )
            }
            _ => {
                let failing = if tests_fail || random.chance(30) {
                    random.between(1, 3)
                } else {
                    0
                };
                (
                    json!({"command": format!("cargo test -p {module}")}),
                    self.text.test_output(random, module, failing),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_traces() {
        let first = AgentTraceGenerator::new(1).trace(1_000);
        let second = AgentTraceGenerator::new(1).trace(1_000);
        assert_eq!(first.request, second.request);
        assert!(first.span_count >= 3);
    }

    #[test]
    fn conversation_history_grows_turn_by_turn() {
        let mut generator = AgentTraceGenerator::new(3);
        let trace = (0..20)
            .map(|_| generator.trace(0))
            .find(|trace| trace.span_count >= 5)
            .expect("a multi-turn trace");
        let spans = &trace.request.resource_spans[0].scope_spans[0].spans;
        let input_lengths: Vec<usize> = spans
            .iter()
            .filter(|span| span.name.starts_with("chat "))
            .filter_map(|span| {
                span.attributes
                    .iter()
                    .find(|kv| kv.key == "gen_ai.input.messages")
            })
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(text) => Some(text.len()),
                _ => None,
            })
            .collect();
        assert!(
            input_lengths.windows(2).all(|pair| pair[0] < pair[1]),
            "{input_lengths:?}"
        );
    }
}
