//! Every replay traced into Sextant like any agent run, so a run's replays can be searched
//! and read in the UI: one trace per example, side and epoch — an `invoke_agent` root
//! named `eval {suite}` under the service `sextant-eval`, tagged `eval.run_id`,
//! `eval.suite`, `eval.example` (the recorded trace it replays), `eval.side`, `eval.epoch`,
//! `eval.score` and `eval.passed` (a failed or void replay has error status) — with a
//! `chat {model}` span per model call (its answer, tokens, latency, divergence) and, in
//! trajectory replay, an `execute_tool` span per tool call it made.
//!
//! The spans are built after the run from its outcomes: they start at the run's start and
//! follow each other by the calls' latencies (a cached answer keeps the latency it had
//! when fresh). Ids are derived from the run, example, side and epoch, so exporting the
//! same run twice gives the same traces.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::otlp_spans::{
    boolean, error_status, export_request, float, id, int, output_messages, provider_name, text,
};
use crate::scoring::outcome::SideOutcome;
use crate::suite::ModelConfig;

/// The service name replays are traced under.
pub const SERVICE_NAME: &str = "sextant-eval";

const KIND_INTERNAL: i32 = 1;
const KIND_CLIENT: i32 = 3;

/// One side's replay of one example in one epoch.
pub struct ReplayedSide<'a> {
    /// The recorded trace the example replays.
    pub example: &'a str,
    /// `candidate` or `baseline`.
    pub side: &'static str,
    pub epoch: u32,
    pub model: &'a ModelConfig,
    pub outcome: &'a SideOutcome,
}

/// What every replay of a run shares.
pub struct RunTags<'a> {
    pub run_id: i64,
    pub suite: &'a str,
    pub dataset: &'a str,
    pub dataset_version: i64,
    pub mode: &'a str,
    pub started_at_ms: i64,
}

/// The spans of one replayed side.
fn side_spans(tags: &RunTags<'_>, replayed: &ReplayedSide<'_>) -> Vec<Span> {
    let run = tags.run_id.to_string();
    let epoch = replayed.epoch.to_string();
    let key = [
        run.as_str(),
        replayed.example,
        replayed.side,
        epoch.as_str(),
    ];
    let trace_id = id(&key, 16);
    let span_id = |index: usize| id(&[&key[..], &[index.to_string().as_str()]].concat(), 8);
    let root_id = span_id(0);
    let model = &replayed.model.model;
    let outcome = replayed.outcome;
    let start_ns = u64::try_from(tags.started_at_ms).unwrap_or(0) * 1_000_000;
    let mut clock = start_ns;
    let mut spans = Vec::new();
    for step in &outcome.steps {
        let duration = (step.latency_ms.max(0.0) * 1e6) as u64;
        let mut attributes = vec![
            text("gen_ai.operation.name", "chat"),
            text(
                "gen_ai.provider.name",
                provider_name(replayed.model.provider),
            ),
            text("gen_ai.request.model", model.clone()),
            text("gen_ai.output.messages", output_messages(&step.replayed)),
            int("eval.step", step.step as i64),
            boolean("eval.cached", step.cached),
        ];
        if let Some(tokens) = step.replayed.input_tokens {
            attributes.push(int("gen_ai.usage.input_tokens", tokens));
        }
        if let Some(tokens) = step.replayed.output_tokens {
            attributes.push(int("gen_ai.usage.output_tokens", tokens));
        }
        if let Some(kind) = &step.divergence {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|kind| kind.as_str().map(str::to_string))
                .unwrap_or_default();
            attributes.push(text("eval.divergence", kind));
        }
        let chat_index = spans.len() + 1;
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: span_id(chat_index),
            parent_span_id: root_id.clone(),
            name: format!("chat {model}"),
            kind: KIND_CLIENT,
            start_time_unix_nano: clock,
            end_time_unix_nano: clock + duration,
            attributes,
            ..Span::default()
        });
        clock += duration;
        if outcome.trajectory.is_some() {
            for call in &step.replayed.tool_calls {
                let tool_index = spans.len() + 1;
                spans.push(Span {
                    trace_id: trace_id.clone(),
                    span_id: span_id(tool_index),
                    parent_span_id: root_id.clone(),
                    name: format!("execute_tool {}", call.name),
                    kind: KIND_INTERNAL,
                    start_time_unix_nano: clock,
                    end_time_unix_nano: clock,
                    attributes: vec![
                        text("gen_ai.operation.name", "execute_tool"),
                        text("gen_ai.tool.name", call.name.clone()),
                        text("gen_ai.tool.call.id", call.id.clone()),
                        text("gen_ai.tool.call.arguments", call.arguments.to_string()),
                    ],
                    ..Span::default()
                });
            }
        }
    }
    let status = match (&outcome.void, outcome.passed) {
        (Some(reason), _) => error_status(format!("void: {reason}")),
        (None, false) => error_status(format!("failed: score {:.3}", outcome.score)),
        (None, true) => None,
    };
    let mut attributes = vec![
        text("gen_ai.operation.name", "invoke_agent"),
        text("gen_ai.agent.name", SERVICE_NAME),
        int("eval.run_id", tags.run_id),
        text("eval.suite", tags.suite),
        text("eval.dataset", tags.dataset),
        int("eval.dataset_version", tags.dataset_version),
        text("eval.mode", tags.mode),
        text("eval.example", replayed.example),
        text("eval.side", replayed.side),
        int("eval.epoch", i64::from(replayed.epoch)),
        float("eval.score", outcome.score),
        boolean("eval.passed", outcome.passed),
    ];
    if let Some(cost) = outcome.cost_usd {
        attributes.push(float("eval.cost_usd", cost));
    }
    spans.insert(
        0,
        Span {
            trace_id: trace_id.clone(),
            span_id: root_id,
            name: format!("eval {}", tags.suite),
            kind: KIND_INTERNAL,
            start_time_unix_nano: start_ns,
            end_time_unix_nano: clock.max(start_ns),
            attributes,
            status,
            ..Span::default()
        },
    );
    spans
}

/// One export request holding every replay of a run.
pub fn replay_traces(tags: &RunTags<'_>, sides: &[ReplayedSide<'_>]) -> ExportTraceServiceRequest {
    let spans = sides
        .iter()
        .flat_map(|replayed| side_spans(tags, replayed))
        .collect();
    export_request(SERVICE_NAME, "sextant-evals", spans)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opentelemetry_proto::tonic::common::v1::any_value;
    use serde_json::json;

    use super::*;
    use crate::messages::ToolCallRequest;
    use crate::messages::Turn;
    use crate::scoring::outcome::StepResult;
    use crate::suite::Provider;

    fn model() -> ModelConfig {
        ModelConfig::new(Provider::Anthropic, "http://127.0.0.1:1", "candidate-1")
    }

    fn step(number: usize, latency_ms: f64, turn: Turn) -> StepResult {
        StepResult {
            step: number,
            recorded: Turn::default(),
            replayed: turn,
            scores: BTreeMap::new(),
            divergence: None,
            latency_ms,
            cached: false,
            judgements: BTreeMap::new(),
        }
    }

    fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a any_value::Value> {
        span.attributes
            .iter()
            .find(|attribute| attribute.key == key)
            .and_then(|attribute| attribute.value.as_ref())
            .and_then(|value| value.value.as_ref())
    }

    #[test]
    fn a_failed_trajectory_replay_is_an_error_run_with_its_model_and_tool_calls() {
        let call = Turn {
            tool_calls: vec![ToolCallRequest {
                id: "c1".into(),
                name: "bash".into(),
                arguments: json!({"command": "cargo test"}),
            }],
            input_tokens: Some(100),
            ..Turn::default()
        };
        let answer = Turn {
            text: "done".into(),
            ..Turn::default()
        };
        let mut outcome = SideOutcome::from_steps(
            vec![step(1, 250.0, call), step(2, 100.0, answer)],
            1.0,
            None,
        );
        outcome.trajectory = Some(Turn::default());
        outcome.score = 0.5;
        outcome.passed = false;
        let tags = RunTags {
            run_id: 7,
            suite: "nightly",
            dataset: "failed-runs",
            dataset_version: 2,
            mode: "trajectory",
            started_at_ms: 1_000,
        };
        let model = model();
        let replayed = ReplayedSide {
            example: "abc",
            side: "candidate",
            epoch: 0,
            model: &model,
            outcome: &outcome,
        };
        let request = replay_traces(&tags, &[replayed]);
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        let names: Vec<&str> = spans.iter().map(|span| span.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "eval nightly",
                "chat candidate-1",
                "execute_tool bash",
                "chat candidate-1"
            ]
        );
        let root = &spans[0];
        assert_eq!(
            attribute(root, "eval.run_id"),
            Some(&any_value::Value::IntValue(7))
        );
        assert_eq!(
            root.status.as_ref().map(|status| status.message.as_str()),
            Some("failed: score 0.500")
        );
        assert_eq!(root.start_time_unix_nano, 1_000_000_000);
        assert_eq!(
            root.end_time_unix_nano,
            1_000_000_000 + 350_000_000,
            "the calls' latencies"
        );
        assert!(
            spans[1..]
                .iter()
                .all(|span| span.parent_span_id == root.span_id && span.trace_id == root.trace_id)
        );
        assert_eq!(
            attribute(&spans[1], "gen_ai.provider.name"),
            Some(&any_value::Value::StringValue("anthropic".into()))
        );
        let again = replay_traces(
            &tags,
            &[ReplayedSide {
                example: "abc",
                side: "candidate",
                epoch: 0,
                model: &model,
                outcome: &outcome,
            }],
        );
        assert_eq!(request, again, "the same run exports the same traces");
    }
}
