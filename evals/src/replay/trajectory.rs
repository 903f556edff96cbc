//! Trajectory replay: Sextant's own agent loop runs the model from the recorded run's
//! first input, with the recorded tools offered. Each tool call it makes is answered from
//! the recording:
//!
//! 1. exact: an unused recorded call of the same tool with canonically equal arguments;
//! 2. fuzzy: else the earliest unused recorded call of the same tool (aligned by order),
//!    flagged as an `arguments` divergence;
//! 3. else a divergence (`tool`: a tool the recording did not call next; `extra`: the
//!    recording had no calls left), handled by the suite's policy — `stop` ends the run,
//!    `error_result` answers with an error and lets the model go on.
//!
//! The run ends at a text answer (a recording's unused calls are then a `missing`
//! divergence) or after [`MAX_TURNS`]. Scorers compare the whole trajectories: every tool
//! call in order, and the final answer.

use serde_json::Value;

use crate::datasets::recording::{Recording, ToolCall, first_user_message, recorded_trajectory};
use crate::messages::{Message, Part, Role, ToolCallRequest, Turn};
use crate::providers::{ModelRequest, json_params};
use crate::replay::step::{ModelSide, scores, tool_definitions};
use crate::scoring::outcome::{SideOutcome, StepResult};
use crate::scoring::scorers::{DivergenceKind, ToolDefinition};
use crate::suite::DivergencePolicy;

/// Most model calls one replayed run may make.
pub const MAX_TURNS: usize = 50;

/// Every tool any recorded model call was offered, each once (first definition wins).
pub fn offered_tools(recording: &Recording) -> Vec<ToolDefinition> {
    let mut tools: Vec<ToolDefinition> = Vec::new();
    for call in &recording.llm_calls {
        for definition in tool_definitions(call.tool_definitions.as_ref()) {
            if !tools.iter().any(|(name, _, _)| *name == definition.0) {
                tools.push(definition);
            }
        }
    }
    tools
}

/// The recorded result of a tool call, as text.
fn result_text(call: &ToolCall) -> String {
    match &call.result {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Which recorded call answers a tool call, and how it matched.
fn answer_from_recording(
    recorded: &[ToolCall],
    used: &[bool],
    call: &ToolCallRequest,
) -> Option<(usize, Option<DivergenceKind>)> {
    let unused = |index: &usize| !used[*index];
    let same_tool = |index: &usize| recorded[*index].tool_name == call.name;
    let exact = (0..recorded.len())
        .filter(unused)
        .filter(same_tool)
        .find(|&index| recorded[index].arguments == call.arguments);
    if let Some(index) = exact {
        return Some((index, None));
    }
    (0..recorded.len())
        .filter(unused)
        .find(same_tool)
        .map(|index| (index, Some(DivergenceKind::Arguments)))
}

impl ModelSide<'_> {
    /// Runs the agent loop on `recording`'s task, tools answered from the recording.
    pub async fn replay_trajectory(
        &self,
        recording: &Recording,
        epoch: u32,
        policy: DivergencePolicy,
    ) -> SideOutcome {
        let first_call = recording.llm_calls.first();
        let system = self.system_prompt(first_call.and_then(|call| call.system_prompt.as_ref()));
        let tools = offered_tools(recording);
        let mut messages = first_user_message(recording);
        if messages.is_empty() {
            return SideOutcome::void("the recording has no first input to start from".into());
        }
        let params = json_params(&self.client.config().params);
        let mut used = vec![false; recording.tool_calls.len()];
        let mut steps = Vec::new();
        let mut trajectory = Turn::default();
        let mut cost = Some(0.0);
        let mut first_divergence: Option<(usize, DivergenceKind)> = None;
        for turn_number in 1..=MAX_TURNS {
            let request = ModelRequest {
                system: system.clone(),
                messages: messages.clone(),
                tools: tools.clone(),
                params: params.clone(),
            };
            let asked = match self.ask(&request, epoch).await {
                Ok(asked) => asked,
                Err(error) => return SideOutcome::void(format!("turn {turn_number}: {error}")),
            };
            cost = cost.zip(asked.cost_usd).map(|(total, call)| total + call);
            let turn = asked.turn;
            let recorded_turn = recording
                .llm_calls
                .get(turn_number - 1)
                .map(|call| crate::messages::recorded_turn(&call.output))
                .unwrap_or_default();
            let mut step_divergence = None;
            let mut assistant = Vec::new();
            if !turn.text.is_empty() {
                assistant.push(Part::Text(turn.text.clone()));
            }
            let mut results = Vec::new();
            let mut stop = false;
            for call in &turn.tool_calls {
                assistant.push(Part::ToolCall {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                });
                trajectory.tool_calls.push(call.clone());
                let content = match answer_from_recording(&recording.tool_calls, &used, call) {
                    Some((index, kind)) => {
                        used[index] = true;
                        step_divergence = step_divergence.or(kind);
                        result_text(&recording.tool_calls[index])
                    }
                    None => {
                        let kind = if used.iter().all(|used| *used) {
                            DivergenceKind::Extra
                        } else {
                            DivergenceKind::Tool
                        };
                        step_divergence = step_divergence.or(Some(kind));
                        if policy == DivergencePolicy::Stop {
                            stop = true;
                        }
                        format!("error: the recording has no result for {} here", call.name)
                    }
                };
                results.push(Part::ToolResult {
                    id: call.id.clone(),
                    content,
                });
            }
            if let Some(kind) = &step_divergence {
                first_divergence.get_or_insert((turn_number, kind.clone()));
            }
            let answered = turn.tool_calls.is_empty();
            if answered {
                trajectory.text = turn.text.clone();
            }
            steps.push(StepResult {
                step: turn_number,
                recorded: recorded_turn,
                replayed: turn,
                scores: Default::default(),
                divergence: step_divergence,
                latency_ms: asked.latency_ms,
                cached: asked.cached,
                judgements: Default::default(),
            });
            if answered || stop {
                break;
            }
            messages.push(Message {
                role: Role::Assistant,
                parts: assistant,
            });
            messages.push(Message {
                role: Role::Tool,
                parts: results,
            });
        }
        if first_divergence.is_none()
            && used.iter().any(|used| !used)
            && let Some(last) = steps.last_mut()
        {
            last.divergence = Some(DivergenceKind::Missing);
        }
        let recorded = recorded_trajectory(recording);
        let mut outcome = SideOutcome::from_steps(steps, self.pass_score, cost);
        outcome.scores = scores(self.scorers, &recorded, &trajectory, &tools);
        outcome.trajectory = Some(trajectory);
        outcome.settle(self.pass_score);
        outcome
    }
}

/// The recording as a trajectory side: its own run scored against itself.
pub fn recorded_trajectory_side(
    recording: &Recording,
    scorers: &[(String, crate::scoring::scorers::Scorer)],
    pass_score: f64,
) -> SideOutcome {
    let mut outcome = crate::replay::step::recorded_side(recording, scorers, pass_score);
    let trajectory = recorded_trajectory(recording);
    outcome.scores = scores(scorers, &trajectory, &trajectory, &offered_tools(recording));
    outcome.trajectory = Some(trajectory);
    outcome.settle(pass_score);
    outcome
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn recorded(name: &str, arguments: Value) -> ToolCall {
        ToolCall {
            span_id: String::new(),
            tool_name: name.into(),
            call_id: None,
            arguments,
            result: json!("ok"),
            failed: false,
        }
    }

    fn asked(name: &str, arguments: Value) -> ToolCallRequest {
        ToolCallRequest {
            id: "x".into(),
            name: name.into(),
            arguments,
        }
    }

    #[test]
    fn tool_calls_match_exactly_then_by_order_else_diverge() {
        let calls = [
            recorded("read", json!({"path": "a.rs"})),
            recorded("read", json!({"path": "b.rs"})),
            recorded("bash", json!({"command": "cargo test"})),
        ];
        let none_used = [false, false, false];
        assert_eq!(
            answer_from_recording(&calls, &none_used, &asked("read", json!({"path": "b.rs"}))),
            Some((1, None)),
            "exact match, even out of order"
        );
        assert_eq!(
            answer_from_recording(&calls, &none_used, &asked("read", json!({"path": "c.rs"}))),
            Some((0, Some(DivergenceKind::Arguments))),
            "fuzzy: the earliest unused read"
        );
        assert_eq!(
            answer_from_recording(&calls, &none_used, &asked("grep", json!({}))),
            None
        );
        assert_eq!(
            answer_from_recording(
                &calls,
                &[true, true, false],
                &asked("read", json!({"path": "a.rs"}))
            ),
            None,
            "both reads used up"
        );
    }
}
