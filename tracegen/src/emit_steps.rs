//! What the three emitters share: a run's root span, and the walk over its steps — in
//! order, a refused model call's retry counted as the next attempt, a sub-agent's steps
//! under the span of its run (or, where a convention has none, under the tool call that
//! started it). Each convention says how one step looks through [`StepShapes`].

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::otlp::{KIND_INTERNAL, SpanStart, error};
use crate::run_plan::{LlmCall, RunPlan, Step, SubAgentRun, ToolCall};

/// Where a step sits.
pub struct At<'a> {
    pub parent: &'a [u8],
    /// 1, or one more than the refused calls just before this one.
    pub attempt: i64,
    /// The step belongs to a sub-agent's run.
    pub in_sub_agent: bool,
}

/// How a convention shapes each kind of step.
pub trait StepShapes {
    fn llm(&self, call: &LlmCall, at: &At<'_>) -> Span;
    /// A tool call's span (and any children it has).
    fn tool(&self, call: &ToolCall, at: &At<'_>, spans: &mut Vec<Span>);
    /// The span of a sub-agent's run, when the convention has one.
    fn sub_agent(&self, sub: &SubAgentRun, at: &At<'_>) -> Option<Span>;
}

/// The spans of `steps`, appended to `spans`.
pub fn walk(
    shapes: &impl StepShapes,
    steps: &[Step],
    parent: &[u8],
    in_sub_agent: bool,
    spans: &mut Vec<Span>,
) {
    let mut last_tool: Option<&[u8]> = None;
    let mut attempt = 1;
    for step in steps {
        let at = |parent, attempt| At {
            parent,
            attempt,
            in_sub_agent,
        };
        match step {
            Step::Llm(call) => {
                spans.push(shapes.llm(call, &at(parent, attempt)));
                attempt = if call.failure.is_some() {
                    attempt + 1
                } else {
                    1
                };
            }
            Step::Tool(call) => {
                shapes.tool(call, &at(parent, 1), spans);
                last_tool = Some(&call.span_id);
            }
            Step::SubAgent(sub) => {
                let under = last_tool.unwrap_or(parent);
                match shapes.sub_agent(sub, &at(under, 1)) {
                    Some(span) => {
                        spans.push(span);
                        walk(shapes, &sub.steps, &sub.span_id, true, spans);
                    }
                    None => walk(shapes, &sub.steps, under, true, spans),
                }
            }
        }
    }
}

/// The run's root span: its whole duration, an error with the failure's message when it
/// failed.
pub fn root_span(plan: &RunPlan, name: String, attributes: Vec<KeyValue>) -> Span {
    SpanStart {
        trace_id: &plan.trace_id,
        span_id: &plan.root_span_id,
        parent: None,
        name,
        kind: KIND_INTERNAL,
        start_ns: plan.start_ns,
        end_ns: plan.end_ns,
    }
    .with(
        attributes,
        plan.failure
            .as_ref()
            .and_then(|(_, message)| error(message.clone())),
    )
}
