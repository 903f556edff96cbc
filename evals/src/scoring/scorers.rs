//! Scorers of one replayed step: the candidate's turn against the recorded one, each a
//! score in [0, 1].
//!
//! Available now: `action_match`, `tool_name_f1`, `args_match` (exact, subset, superset,
//! ignore; ignored keys overall and per tool), `trajectory_match` (strict, unordered,
//! subset, superset), `schema_validity` (the candidate's tool arguments against the
//! offered tools' JSON schemas), and the text checks `contains`, `regex`, `json`,
//! `json_schema`. The scorers that need more than two turns — the LLM judge and the cost,
//! latency and turn ratios — are in `judge.rs` and `scoring.rs`. In trajectory replay the
//! turns compared are whole runs: every tool call in order, and the final answer.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{EvalError, Result};
use crate::messages::{ToolCallRequest, Turn};
use crate::suite::{ArgsMode, ScorerConfig, TrajectoryMode};

/// A scorer ready to run (regexes compiled).
#[derive(Debug, Clone)]
pub enum Scorer {
    ActionMatch,
    ToolNameF1,
    ArgsMatch {
        mode: ArgsMode,
        ignore_keys: Vec<String>,
        tool_ignore_keys: std::collections::BTreeMap<String, Vec<String>>,
    },
    TrajectoryMatch(TrajectoryMode),
    Contains(String),
    Regex(regex::Regex),
    Json,
    SchemaValidity,
    JsonSchema(std::sync::Arc<jsonschema::Validator>),
}

/// A tool the model was offered: name, description, JSON schema of its arguments.
pub type ToolDefinition = (String, String, Value);

impl Scorer {
    /// Prepares one turn scorer; `None` for the scorers of whole examples (judge, ratios).
    pub fn from_config(config: &ScorerConfig) -> Result<Option<(String, Scorer)>> {
        Ok(Some(match config {
            ScorerConfig::ActionMatch => ("action_match".into(), Scorer::ActionMatch),
            ScorerConfig::ToolNameF1 => ("tool_name_f1".into(), Scorer::ToolNameF1),
            ScorerConfig::ArgsMatch {
                mode,
                ignore_keys,
                tool_ignore_keys,
            } => (
                "args_match".into(),
                Scorer::ArgsMatch {
                    mode: *mode,
                    ignore_keys: ignore_keys.clone(),
                    tool_ignore_keys: tool_ignore_keys.clone(),
                },
            ),
            ScorerConfig::Contains { text } => ("contains".into(), Scorer::Contains(text.clone())),
            ScorerConfig::Regex { pattern } => (
                "regex".into(),
                Scorer::Regex(regex::Regex::new(pattern).map_err(|error| {
                    EvalError::Invalid(format!("scorer regex {pattern:?}: {error}"))
                })?),
            ),
            ScorerConfig::Json => ("json".into(), Scorer::Json),
            ScorerConfig::SchemaValidity => ("schema_validity".into(), Scorer::SchemaValidity),
            ScorerConfig::JsonSchema { schema } => (
                "json_schema".into(),
                Scorer::JsonSchema(std::sync::Arc::new(load_schema(schema)?)),
            ),
            ScorerConfig::TrajectoryMatch { mode } => {
                ("trajectory_match".into(), Scorer::TrajectoryMatch(*mode))
            }
            ScorerConfig::Judge { .. }
            | ScorerConfig::CostRatio
            | ScorerConfig::LatencyRatio
            | ScorerConfig::TurnRatio => return Ok(None),
        }))
    }

    /// The candidate's score for one step, given the tools it was offered.
    pub fn score(&self, recorded: &Turn, candidate: &Turn, tools: &[ToolDefinition]) -> f64 {
        match self {
            Scorer::ActionMatch => f64::from(u8::from(same_action(recorded, candidate))),
            Scorer::ToolNameF1 => tool_name_f1(&recorded.tool_calls, &candidate.tool_calls),
            Scorer::ArgsMatch {
                mode,
                ignore_keys,
                tool_ignore_keys,
            } => args_match(recorded, candidate, *mode, ignore_keys, tool_ignore_keys),
            Scorer::TrajectoryMatch(mode) => f64::from(u8::from(trajectory_match(
                &recorded.tool_calls,
                &candidate.tool_calls,
                *mode,
            ))),
            Scorer::Contains(text) => f64::from(u8::from(candidate.text.contains(text.as_str()))),
            Scorer::Regex(pattern) => f64::from(u8::from(pattern.is_match(&candidate.text))),
            Scorer::Json => f64::from(u8::from(
                serde_json::from_str::<Value>(candidate.text.trim()).is_ok(),
            )),
            Scorer::SchemaValidity => schema_validity(&candidate.tool_calls, tools),
            Scorer::JsonSchema(validator) => f64::from(u8::from(
                serde_json::from_str::<Value>(candidate.text.trim())
                    .is_ok_and(|value| validator.is_valid(&value)),
            )),
        }
    }
}

/// Reads and compiles a JSON schema file (draft detected from `$schema`, 2020-12 otherwise).
fn load_schema(path: &std::path::Path) -> Result<jsonschema::Validator> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        EvalError::Invalid(format!("json_schema scorer: {}: {error}", path.display()))
    })?;
    let schema: Value = serde_json::from_str(&text).map_err(|error| {
        EvalError::Invalid(format!(
            "json_schema scorer: {} is not JSON: {error}",
            path.display()
        ))
    })?;
    jsonschema::validator_for(&schema).map_err(|error| {
        EvalError::Invalid(format!(
            "json_schema scorer: {} is not a valid schema: {error}",
            path.display()
        ))
    })
}

/// The share of tool calls whose arguments are valid for a tool that was offered. A call of
/// a tool not offered is invalid; a tool whose own schema does not compile validates
/// anything (the recording's fault, not the candidate's). No calls: 1.
pub fn schema_validity(calls: &[ToolCallRequest], tools: &[ToolDefinition]) -> f64 {
    if calls.is_empty() {
        return 1.0;
    }
    let valid = calls
        .iter()
        .filter(|call| {
            tools
                .iter()
                .find(|(name, _, _)| *name == call.name)
                .is_some_and(|(_, _, schema)| match jsonschema::validator_for(schema) {
                    Ok(validator) => validator.is_valid(&call.arguments),
                    Err(_) => true,
                })
        })
        .count();
    valid as f64 / calls.len() as f64
}

fn sorted_names(calls: &[ToolCallRequest]) -> Vec<&str> {
    let mut names: Vec<&str> = calls.iter().map(|call| call.name.as_str()).collect();
    names.sort_unstable();
    names
}

/// Both answered in text, or both called the same tools.
pub fn same_action(recorded: &Turn, candidate: &Turn) -> bool {
    sorted_names(&recorded.tool_calls) == sorted_names(&candidate.tool_calls)
}

/// True when `small`'s names are a sub-multiset of `large`'s.
fn is_sub_multiset(small: &[&str], large: &[&str]) -> bool {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for name in large {
        *counts.entry(name).or_default() += 1;
    }
    small.iter().all(|name| {
        let count = counts.entry(name).or_default();
        *count -= 1;
        *count >= 0
    })
}

/// The candidate's tool calls against the recorded ones: `strict` the same names in the
/// same order, `unordered` the same multiset, `subset` no call the recording did not make,
/// `superset` every recorded call made.
pub fn trajectory_match(
    recorded: &[ToolCallRequest],
    candidate: &[ToolCallRequest],
    mode: TrajectoryMode,
) -> bool {
    let names = |calls: &[ToolCallRequest]| -> Vec<String> {
        calls.iter().map(|call| call.name.clone()).collect()
    };
    let (recorded, candidate) = (names(recorded), names(candidate));
    let recorded: Vec<&str> = recorded.iter().map(String::as_str).collect();
    let candidate: Vec<&str> = candidate.iter().map(String::as_str).collect();
    match mode {
        TrajectoryMode::Strict => recorded == candidate,
        TrajectoryMode::Unordered => {
            is_sub_multiset(&recorded, &candidate) && recorded.len() == candidate.len()
        }
        TrajectoryMode::Subset => is_sub_multiset(&candidate, &recorded),
        TrajectoryMode::Superset => is_sub_multiset(&recorded, &candidate),
    }
}

/// F1 of the tool-name multisets (1 when both call nothing).
pub fn tool_name_f1(recorded: &[ToolCallRequest], candidate: &[ToolCallRequest]) -> f64 {
    if recorded.is_empty() && candidate.is_empty() {
        return 1.0;
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for call in recorded {
        *counts.entry(call.name.as_str()).or_default() += 1;
    }
    let mut overlap = 0;
    for call in candidate {
        if let Some(count) = counts.get_mut(call.name.as_str())
            && *count > 0
        {
            *count -= 1;
            overlap += 1;
        }
    }
    if overlap == 0 {
        return 0.0;
    }
    let precision = overlap as f64 / candidate.len() as f64;
    let recall = overlap as f64 / recorded.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

fn without_keys(arguments: &Value, ignored: &[&str]) -> Value {
    match arguments {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .filter(|(key, _)| !ignored.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// True when every key of `small` is in `large` with an equal value.
fn is_subset(small: &Value, large: &Value) -> bool {
    match (small, large) {
        (Value::Object(small), Value::Object(large)) => small
            .iter()
            .all(|(key, value)| large.get(key) == Some(value)),
        _ => small == large,
    }
}

/// The share of calls whose arguments match: calls are paired by name in order.
fn args_match(
    recorded: &Turn,
    candidate: &Turn,
    mode: ArgsMode,
    ignore_keys: &[String],
    tool_ignore_keys: &std::collections::BTreeMap<String, Vec<String>>,
) -> f64 {
    let total = recorded.tool_calls.len().max(candidate.tool_calls.len());
    if total == 0 {
        return 1.0;
    }
    let mut used = vec![false; candidate.tool_calls.len()];
    let mut matched = 0;
    for expected in &recorded.tool_calls {
        let Some(position) = candidate
            .tool_calls
            .iter()
            .enumerate()
            .position(|(index, call)| !used[index] && call.name == expected.name)
        else {
            continue;
        };
        used[position] = true;
        let mut ignored: Vec<&str> = ignore_keys.iter().map(String::as_str).collect();
        if let Some(keys) = tool_ignore_keys.get(&expected.name) {
            ignored.extend(keys.iter().map(String::as_str));
        }
        let want = without_keys(&expected.arguments, &ignored);
        let got = without_keys(&candidate.tool_calls[position].arguments, &ignored);
        let equal = match mode {
            ArgsMode::Exact => want == got,
            ArgsMode::Subset => is_subset(&got, &want),
            ArgsMode::Superset => is_subset(&want, &got),
            ArgsMode::Ignore => true,
        };
        matched += usize::from(equal);
    }
    matched as f64 / total as f64
}

/// How a candidate's turn first departs from the recording.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceKind {
    /// It called other tools than the recording.
    Tool,
    /// Same tools, other arguments.
    Arguments,
    /// It called a tool where the recording answered.
    Extra,
    /// It answered where the recording called a tool.
    Missing,
}

/// The divergence of one step, if any.
pub fn divergence(recorded: &Turn, candidate: &Turn) -> Option<DivergenceKind> {
    match (
        recorded.tool_calls.is_empty(),
        candidate.tool_calls.is_empty(),
    ) {
        (true, true) => None,
        (true, false) => Some(DivergenceKind::Extra),
        (false, true) => Some(DivergenceKind::Missing),
        (false, false) if !same_action(recorded, candidate) => Some(DivergenceKind::Tool),
        (false, false) => {
            let exact = args_match(
                recorded,
                candidate,
                ArgsMode::Exact,
                &[],
                &Default::default(),
            );
            (exact < 1.0).then_some(DivergenceKind::Arguments)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(name: &str, arguments: Value) -> ToolCallRequest {
        ToolCallRequest {
            id: String::new(),
            name: name.into(),
            arguments,
        }
    }

    fn turn(calls: Vec<ToolCallRequest>) -> Turn {
        Turn {
            tool_calls: calls,
            ..Turn::default()
        }
    }

    #[test]
    fn tool_name_f1_counts_multisets() {
        let recorded = [
            call("read", json!({})),
            call("read", json!({})),
            call("bash", json!({})),
        ];
        let candidate = [call("read", json!({})), call("grep", json!({}))];
        // overlap 1: precision 1/2, recall 1/3 → F1 0.4
        assert!((tool_name_f1(&recorded, &candidate) - 0.4).abs() < 1e-9);
        assert_eq!(tool_name_f1(&[], &[]), 1.0);
        assert_eq!(tool_name_f1(&recorded, &[]), 0.0);
    }

    #[test]
    fn argument_modes_and_ignored_keys() {
        let recorded = turn(vec![call(
            "bash",
            json!({"command": "cargo test", "description": "run"}),
        )]);
        let fewer = turn(vec![call("bash", json!({"command": "cargo test"}))]);
        let exact = |mode, ignore: &[&str]| {
            let ignore: Vec<String> = ignore.iter().map(|key| key.to_string()).collect();
            args_match(&recorded, &fewer, mode, &ignore, &Default::default())
        };
        assert_eq!(exact(ArgsMode::Exact, &[]), 0.0);
        assert_eq!(exact(ArgsMode::Exact, &["description"]), 1.0);
        assert_eq!(
            exact(ArgsMode::Subset, &[]),
            1.0,
            "the candidate's keys are all recorded"
        );
        assert_eq!(exact(ArgsMode::Superset, &[]), 0.0);
        assert_eq!(exact(ArgsMode::Ignore, &[]), 1.0);
        let per_tool = [("bash".to_string(), vec!["description".to_string()])]
            .into_iter()
            .collect();
        assert_eq!(
            args_match(&recorded, &fewer, ArgsMode::Exact, &[], &per_tool),
            1.0
        );
    }

    #[test]
    fn trajectory_modes() {
        let recorded = [
            call("read", json!({})),
            call("edit", json!({})),
            call("bash", json!({})),
        ];
        let reordered = [
            call("edit", json!({})),
            call("read", json!({})),
            call("bash", json!({})),
        ];
        let fewer = [call("read", json!({})), call("bash", json!({}))];
        assert!(trajectory_match(
            &recorded,
            &recorded,
            TrajectoryMode::Strict
        ));
        assert!(!trajectory_match(
            &recorded,
            &reordered,
            TrajectoryMode::Strict
        ));
        assert!(trajectory_match(
            &recorded,
            &reordered,
            TrajectoryMode::Unordered
        ));
        assert!(trajectory_match(&recorded, &fewer, TrajectoryMode::Subset));
        assert!(!trajectory_match(
            &recorded,
            &fewer,
            TrajectoryMode::Superset
        ));
        assert!(trajectory_match(
            &fewer,
            &recorded,
            TrajectoryMode::Superset
        ));
    }

    #[test]
    fn divergence_kinds() {
        let bash = turn(vec![call("bash", json!({"command": "ls"}))]);
        let answer = Turn::default();
        assert_eq!(divergence(&bash, &bash), None);
        assert_eq!(divergence(&answer, &bash), Some(DivergenceKind::Extra));
        assert_eq!(divergence(&bash, &answer), Some(DivergenceKind::Missing));
        assert_eq!(
            divergence(&bash, &turn(vec![call("grep", json!({}))])),
            Some(DivergenceKind::Tool)
        );
        assert_eq!(
            divergence(&bash, &turn(vec![call("bash", json!({"command": "pwd"}))])),
            Some(DivergenceKind::Arguments)
        );
    }

    #[test]
    fn tool_arguments_are_checked_against_the_offered_schemas() {
        let bash_schema = json!({"type": "object", "properties": {"command": {"type": "string"}},
            "required": ["command"]});
        let tools = vec![
            ("bash".to_string(), "run".to_string(), bash_schema),
            ("broken".to_string(), String::new(), json!({"type": 12})),
        ];
        let valid = call("bash", json!({"command": "ls"}));
        let wrong_type = call("bash", json!({"command": 3}));
        let missing = call("bash", json!({}));
        let unknown_tool = call("grep", json!({"pattern": "x"}));
        assert_eq!(schema_validity(std::slice::from_ref(&valid), &tools), 1.0);
        assert_eq!(schema_validity(&[valid.clone(), wrong_type], &tools), 0.5);
        assert_eq!(schema_validity(&[missing], &tools), 0.0);
        assert_eq!(schema_validity(&[unknown_tool], &tools), 0.0);
        assert_eq!(schema_validity(&[], &tools), 1.0);
        // A schema that does not compile is the recording's problem: anything passes.
        assert_eq!(
            schema_validity(&[call("broken", json!({"a": 1}))], &tools),
            1.0
        );
        let scorer = Scorer::SchemaValidity;
        assert_eq!(
            scorer.score(&Turn::default(), &turn(vec![valid]), &tools),
            1.0
        );
    }

    #[test]
    fn json_schema_scores_the_answer_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("answer.schema.json");
        std::fs::write(
            &path,
            r#"{"type": "object", "properties": {"fixed": {"type": "boolean"}}, "required": ["fixed"]}"#,
        )
        .expect("write schema");
        let config = ScorerConfig::JsonSchema {
            schema: path.clone(),
        };
        let (name, scorer) = Scorer::from_config(&config)
            .expect("schema compiles")
            .expect("a turn scorer");
        assert_eq!(name, "json_schema");
        let answer = |text: &str| Turn {
            text: text.into(),
            ..Turn::default()
        };
        let recorded = Turn::default();
        assert_eq!(
            scorer.score(&recorded, &answer(r#" {"fixed": true} "#), &[]),
            1.0
        );
        assert_eq!(
            scorer.score(&recorded, &answer(r#"{"fixed": "yes"}"#), &[]),
            0.0
        );
        assert_eq!(scorer.score(&recorded, &answer("fixed it"), &[]), 0.0);

        std::fs::write(&path, r#"{"type": 12}"#).expect("write schema");
        let error = Scorer::from_config(&config).expect_err("invalid schema");
        assert!(error.to_string().contains("not a valid schema"), "{error}");
        let missing = ScorerConfig::JsonSchema {
            schema: dir.path().join("absent.json"),
        };
        let error = Scorer::from_config(&missing).expect_err("missing file");
        assert!(error.to_string().contains("absent.json"), "{error}");
    }
}
