//! The LLM judge scorer: a pinned model reads a minijinja template rendered with the
//! task, the conversation so far, the recorded turn and the replayed one, reasons, and
//! ends with one verdict from a closed set of choices, each mapped to a score.
//!
//! The harness appends the answer format to every rendered prompt — reasoning first, then
//! a last line `VERDICT: <choice>` — so the judge commits to a verdict only after its
//! reasoning, and a template cannot forget to ask for one. The judge runs at temperature
//! 0, its model must be a pinned name (never a `latest` alias), and its answers go
//! through the response cache like the replayed model's, so a re-run costs nothing.
//!
//! Template variables: `task` (the run's first input), `conversation` (the messages the
//! step was given, as `role: text` lines), `recorded` and `candidate` (each `{text,
//! tool_calls: [{name, arguments}], summary}`), `choices` (the verdict words) and
//! `outcome` (`{failed, error}` of the recorded run). An unknown variable is an error when
//! the suite loads, not at the first judged step.

use std::collections::BTreeMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior, context};
use serde::Serialize;
use serde_json::Value;
use sextant_meta::SharedMetadata;

use crate::datasets::recording::Outcome;
use crate::error::{EvalError, Result};
use crate::messages::{Message, Part, Role, Turn};
use crate::providers::response_cache;
use crate::providers::{ModelRequest, ProviderClient, json_params};
use crate::suite::ModelConfig;

/// A judge ready to run: its template checked, its model client made.
pub struct Judge {
    pub name: String,
    template: String,
    choices: BTreeMap<String, f64>,
    client: ProviderClient,
}

/// What the judge decided about one turn (or one whole run in trajectory replay).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub choice: String,
    pub score: f64,
    /// What the judge wrote before its verdict.
    pub reasoning: String,
}

/// What a judge looks at.
pub struct JudgeInput<'a> {
    pub task: &'a str,
    pub conversation: &'a [Message],
    pub recorded: &'a Turn,
    pub candidate: &'a Turn,
    pub outcome: &'a Outcome,
}

/// The verdict words when a suite names none.
fn pass_fail() -> BTreeMap<String, f64> {
    [("pass".to_string(), 1.0), ("fail".to_string(), 0.0)]
        .into_iter()
        .collect()
}

fn environment() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment
}

impl Judge {
    /// Reads the template, checks it renders with every variable a judge gets, and checks
    /// the judge model is pinned and deterministic.
    pub fn new(
        name: &str,
        template_path: &Path,
        config: &ModelConfig,
        choices: &BTreeMap<String, f64>,
    ) -> Result<Judge> {
        let invalid = |message: String| EvalError::Invalid(format!("judge {name}: {message}"));
        if config.model.to_ascii_lowercase().contains("latest") {
            return Err(invalid(format!(
                "model {:?} is an alias; pin the judge to a dated model name so verdicts stay comparable over time",
                config.model
            )));
        }
        if let Some(temperature) = config.params.get("temperature")
            && temperature
                .as_float()
                .or(temperature.as_integer().map(|t| t as f64))
                != Some(0.0)
        {
            return Err(invalid(format!(
                "temperature = {temperature} ; a judge runs at temperature 0 (leave it out)"
            )));
        }
        let choices = if choices.is_empty() {
            pass_fail()
        } else {
            choices.clone()
        };
        if let Some((word, score)) = choices.iter().find(|(word, score)| {
            !(0.0..=1.0).contains(*score) || word.split_whitespace().count() != 1
        }) {
            return Err(invalid(format!(
                "choice {word:?} = {score}: choices are single words scored in [0, 1]"
            )));
        }
        let template = std::fs::read_to_string(template_path)
            .map_err(|error| invalid(format!("template {}: {error}", template_path.display())))?;
        check_variables(&template).map_err(|message| {
            invalid(format!("template {}: {message}", template_path.display()))
        })?;
        let judge = Judge {
            name: name.to_string(),
            template,
            choices,
            client: ProviderClient::new(config)?,
        };
        let sample = Turn::default();
        judge
            .prompt(&JudgeInput {
                task: "",
                conversation: &[],
                recorded: &sample,
                candidate: &sample,
                outcome: &Outcome {
                    failed: false,
                    error: None,
                },
            })
            .map_err(|error| invalid(format!("template {}: {error}", template_path.display())))?;
        Ok(judge)
    }

    pub fn model(&self) -> &str {
        &self.client.config().model
    }

    /// The rendered template followed by the answer format.
    pub fn prompt(&self, input: &JudgeInput<'_>) -> std::result::Result<String, minijinja::Error> {
        let choices: Vec<&str> = self.choices.keys().map(String::as_str).collect();
        let rendered = environment().render_str(
            &self.template,
            context! {
                task => input.task,
                conversation => conversation_text(input.conversation),
                recorded => turn_value(input.recorded),
                candidate => turn_value(input.candidate),
                choices => choices,
                outcome => context! {
                    failed => input.outcome.failed,
                    error => input.outcome.error,
                },
            },
        )?;
        Ok(format!(
            "{}\n\n---\nFirst explain your reasoning step by step. Then end with one last line, exactly:\nVERDICT: <choice>\nwhere <choice> is one of: {}.",
            rendered.trim_end(),
            choices.join(", ")
        ))
    }

    /// Asks the judge (through the response cache) and reads its verdict.
    pub async fn judge(
        &self,
        metadata: &SharedMetadata,
        input: &JudgeInput<'_>,
        epoch: u32,
    ) -> std::result::Result<Judgement, String> {
        let prompt = self
            .prompt(input)
            .map_err(|error| format!("judge {}: template: {error}", self.name))?;
        let mut params = json_params(&self.client.config().params);
        params.insert("temperature".into(), Value::from(0.0));
        let request = ModelRequest {
            system: self.client.config().system_prompt.clone(),
            messages: vec![Message {
                role: Role::User,
                parts: vec![Part::Text(prompt)],
            }],
            tools: Vec::new(),
            params,
        };
        let answer = response_cache::ask(metadata, &self.client, &request, epoch)
            .await
            .map_err(|error| format!("judge {}: {error}", self.name))?;
        parse_verdict(&answer.turn.text, &self.choices).ok_or_else(|| {
            let last = answer.turn.text.trim().lines().last().unwrap_or_default();
            format!(
                "judge {} gave no verdict among {:?}; its last line: {last:?}",
                self.name,
                self.choices.keys().collect::<Vec<_>>()
            )
        })
    }
}

/// The variables a judge's template may use.
pub const TEMPLATE_VARIABLES: [&str; 6] = [
    "task",
    "conversation",
    "recorded",
    "candidate",
    "choices",
    "outcome",
];

/// Compiles a template and names any variable it uses that a judge does not get.
fn check_variables(source: &str) -> std::result::Result<(), String> {
    let environment = environment();
    let template = environment
        .template_from_str(source)
        .map_err(|error| error.to_string())?;
    let globals: Vec<&str> = environment.globals().map(|(name, _)| name).collect();
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| {
            !TEMPLATE_VARIABLES.contains(&name.as_str()) && !globals.contains(&name.as_str())
        })
        .collect();
    unknown.sort();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unknown variable(s) {}; a judge's template gets {}",
            unknown.join(", "),
            TEMPLATE_VARIABLES.join(", ")
        ))
    }
}

/// The last `VERDICT: <choice>` line of a judge's answer (markdown emphasis, case and
/// trailing punctuation tolerated) and the reasoning before it; `None` when there is no
/// such line or its word is not one of the choices.
pub fn parse_verdict(answer: &str, choices: &BTreeMap<String, f64>) -> Option<Judgement> {
    let lines: Vec<&str> = answer.lines().collect();
    let (index, word) = lines.iter().enumerate().rev().find_map(|(index, line)| {
        let plain: String = line
            .chars()
            .filter(|c| !matches!(c, '*' | '#' | '_' | '`'))
            .collect();
        let plain = plain.trim();
        let (label, rest) = plain.split_once(':')?;
        label.trim().eq_ignore_ascii_case("verdict").then(|| {
            (
                index,
                rest.trim()
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .to_string(),
            )
        })
    })?;
    let (choice, score) = choices
        .iter()
        .find(|(choice, _)| choice.eq_ignore_ascii_case(&word))?;
    Some(Judgement {
        choice: choice.clone(),
        score: *score,
        reasoning: lines[..index].join("\n").trim().to_string(),
    })
}

/// Messages as `role: text` lines; tool calls and results spelled out.
pub fn conversation_text(messages: &[Message]) -> String {
    let mut lines = Vec::new();
    for message in messages {
        let role = match message.role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        for part in &message.parts {
            lines.push(match part {
                Part::Text(text) => format!("{role}: {text}"),
                Part::ToolCall {
                    name, arguments, ..
                } => format!("{role}: calls {name}({arguments})"),
                Part::ToolResult { content, .. } => format!("{role}: result: {content}"),
            });
        }
    }
    lines.join("\n")
}

fn turn_value(turn: &Turn) -> minijinja::Value {
    let tool_calls: Vec<minijinja::Value> = turn
        .tool_calls
        .iter()
        .map(|call| {
            context! {
                name => call.name,
                arguments => minijinja::Value::from_serialize(&call.arguments),
            }
        })
        .collect();
    let mut summary: Vec<String> = turn
        .tool_calls
        .iter()
        .map(|call| format!("calls {}({})", call.name, call.arguments))
        .collect();
    if !turn.text.is_empty() {
        summary.push(turn.text.clone());
    }
    context! {
        text => turn.text,
        tool_calls => tool_calls,
        summary => summary.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Provider;

    fn choices() -> BTreeMap<String, f64> {
        [("good", 1.0), ("partial", 0.5), ("bad", 0.0)]
            .into_iter()
            .map(|(word, score)| (word.to_string(), score))
            .collect()
    }

    #[test]
    fn the_verdict_is_the_last_verdict_line_after_the_reasoning() {
        let judged = parse_verdict(
            "The answer runs the tests.\nIt misses one file.\n**Verdict:** Partial.\n",
            &choices(),
        )
        .expect("a verdict");
        assert_eq!(judged.choice, "partial");
        assert_eq!(judged.score, 0.5);
        assert_eq!(
            judged.reasoning,
            "The answer runs the tests.\nIt misses one file."
        );

        let changed_its_mind = parse_verdict(
            "VERDICT: bad\nOn reflection it is fine.\nVERDICT: good",
            &choices(),
        )
        .expect("a verdict");
        assert_eq!(changed_its_mind.choice, "good");
    }

    #[test]
    fn an_answer_outside_the_closed_set_is_no_verdict() {
        assert_eq!(parse_verdict("VERDICT: excellent", &choices()), None);
        assert_eq!(parse_verdict("It is good.", &choices()), None);
        assert_eq!(parse_verdict("", &pass_fail()), None);
    }

    fn judge_config(model: &str) -> ModelConfig {
        ModelConfig::new(Provider::OpenaiChat, "http://127.0.0.1:1/v1", model)
    }

    fn template(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn the_prompt_renders_both_turns_and_asks_for_reasoning_then_a_verdict() {
        let file = template(
            "Task: {{ task }}\nExpected: {{ recorded.summary }}\nGot: {% for call in candidate.tool_calls %}{{ call.name }} {{ call.arguments.path }}{% endfor %}",
        );
        let judge = Judge::new(
            "quality",
            file.path(),
            &judge_config("judge-2025-01-01"),
            &choices(),
        )
        .expect("judge");
        let recorded = Turn {
            text: "done".into(),
            ..Turn::default()
        };
        let candidate = Turn {
            tool_calls: vec![crate::messages::ToolCallRequest {
                id: "1".into(),
                name: "read".into(),
                arguments: serde_json::json!({"path": "a.rs"}),
            }],
            ..Turn::default()
        };
        let prompt = judge
            .prompt(&JudgeInput {
                task: "fix the bug",
                conversation: &[],
                recorded: &recorded,
                candidate: &candidate,
                outcome: &Outcome {
                    failed: false,
                    error: None,
                },
            })
            .expect("renders");
        assert!(
            prompt.starts_with("Task: fix the bug\nExpected: done\nGot: read a.rs"),
            "{prompt}"
        );
        assert!(
            prompt.ends_with("VERDICT: <choice>\nwhere <choice> is one of: bad, good, partial."),
            "{prompt}"
        );
    }

    #[test]
    fn bad_judges_are_refused_when_the_suite_loads() {
        let good = template("{{ candidate.text }}");
        let typo = template("{{ candidat.text }}");
        let nested_typo = template("{{ candidate.txt }}");
        let broken = template("{% if %}");
        let error = |path: &Path, config: ModelConfig, choices: &BTreeMap<String, f64>| {
            Judge::new("j", path, &config, choices)
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default()
        };
        let typo_error = error(typo.path(), judge_config("m-1"), &choices());
        assert!(typo_error.contains("candidat"), "{typo_error}");
        assert!(error(nested_typo.path(), judge_config("m-1"), &choices()).contains("undefined"));
        assert!(error(broken.path(), judge_config("m-1"), &choices()).contains("template"));
        assert!(error(good.path(), judge_config("gpt-latest"), &choices()).contains("pin"));
        let mut warm = judge_config("m-1");
        warm.params
            .insert("temperature".into(), toml::Value::Float(0.7));
        assert!(error(good.path(), warm, &choices()).contains("temperature 0"));
        let bad_score = [("good".to_string(), 2.0)].into_iter().collect();
        assert!(error(good.path(), judge_config("m-1"), &bad_score).contains("[0, 1]"));
        assert!(Judge::new("j", good.path(), &judge_config("m-1"), &BTreeMap::new()).is_ok());
    }
}
