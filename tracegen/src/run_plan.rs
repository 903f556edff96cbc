//! One agent run as the generator plans it, before any convention shapes it into spans:
//! who ran it, with which model, every model call (its messages, answer, tokens, a 429 or
//! overloaded refusal first), every tool call (arguments, result, failure), sub-agents, and
//! how it ended. The emitters (`emit_*.rs`) turn a plan into OTLP spans; the plan's
//! [`RunPlan::summary`] is what tests expect to read back after ingest.

use serde_json::{Value, json};

use crate::config::{Convention, FailureKind, GeneratorConfig, ModelChoice};
use crate::random::SplitMix64;
use crate::text::TextGenerator;

/// Tokens of one model call, as the provider counts them: `input` includes the cached
/// tokens (`cache_read`, `cache_write`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    pub reasoning: i64,
}

impl Usage {
    /// Input tokens that were neither read from nor written to the cache.
    pub fn fresh_input(&self) -> i64 {
        self.input - self.cache_read - self.cache_write
    }
}

/// A model call refused by the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    /// HTTP status: 429, 500, 529.
    pub status: u16,
    /// The API's error type (`rate_limit_error`, `overloaded_error`, `server_error`).
    pub kind: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LlmCall {
    pub span_id: Vec<u8>,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The conversation sent (canonical messages), system prompt apart.
    pub input: Vec<Value>,
    /// The assistant message that came back (`null` when the call failed).
    pub output: Value,
    pub finish_reason: &'static str,
    pub usage: Usage,
    pub failure: Option<ApiFailure>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub span_id: Vec<u8>,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Sextant's generic tool name (`read_file`, `grep`, `edit_file`, `bash`, `web_fetch`,
    /// `task`); conventions may spell it their own way.
    pub name: &'static str,
    pub call_id: String,
    pub arguments: Value,
    pub result: String,
    /// Why it failed (`exit status 101`, …), when it did.
    pub error: Option<String>,
}

/// A task handed to a sub-agent: its own model and tool calls.
#[derive(Debug, Clone, PartialEq)]
pub struct SubAgentRun {
    pub span_id: Vec<u8>,
    pub start_ns: u64,
    pub end_ns: u64,
    pub agent: &'static str,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Llm(LlmCall),
    Tool(ToolCall),
    /// Inside the `task` tool call that precedes it.
    SubAgent(SubAgentRun),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub convention: Convention,
    pub trace_id: Vec<u8>,
    pub root_span_id: Vec<u8>,
    pub session_id: String,
    /// Position of this prompt in its session (1-based).
    pub sequence: u64,
    pub user: String,
    pub service: &'static str,
    pub agent: &'static str,
    pub model: ModelChoice,
    pub start_ns: u64,
    pub end_ns: u64,
    pub system_prompt: String,
    pub prompt: String,
    /// The final answer, when the run got one.
    pub answer: Option<String>,
    pub steps: Vec<Step>,
    /// How it failed: the kind and the root's status message.
    pub failure: Option<(FailureKind, String)>,
}

/// What a run should read back as after ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub convention: Convention,
    pub trace_id: String,
    pub session_id: String,
    pub model: &'static str,
    pub failure: Option<FailureKind>,
    /// Model calls, refused ones included.
    pub llm_calls: usize,
    /// Output tokens of the answered model calls.
    pub output_tokens: i64,
    /// Every tool call's name as the convention spells it, sub-agents' included, in order.
    pub tools: Vec<&'static str>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl RunPlan {
    /// Every step, sub-agents' steps included, depth first.
    pub fn all_steps(&self) -> Vec<&Step> {
        fn walk<'a>(steps: &'a [Step], out: &mut Vec<&'a Step>) {
            for step in steps {
                out.push(step);
                if let Step::SubAgent(sub) = step {
                    walk(&sub.steps, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.steps, &mut out);
        out
    }

    pub fn summary(&self) -> RunSummary {
        let steps = self.all_steps();
        RunSummary {
            convention: self.convention,
            trace_id: hex(&self.trace_id),
            session_id: self.session_id.clone(),
            model: self.model.model,
            failure: self.failure.as_ref().map(|(kind, _)| *kind),
            llm_calls: steps
                .iter()
                .filter(|step| matches!(step, Step::Llm(_)))
                .count(),
            output_tokens: steps
                .iter()
                .filter_map(|step| match step {
                    Step::Llm(call) if call.failure.is_none() => Some(call.usage.output),
                    _ => None,
                })
                .sum(),
            tools: steps
                .iter()
                .filter_map(|step| match step {
                    Step::Tool(call) => Some(self.convention.tool_name(call.name)),
                    _ => None,
                })
                .collect(),
        }
    }
}

/// Who runs a prompt: the session's shared facts.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub session_id: String,
    pub sequence: u64,
    pub user: String,
    pub service: &'static str,
    pub agent: &'static str,
    pub convention: Convention,
    pub model: ModelChoice,
    pub system_prompt: String,
}

/// Messages resent to the model at most (older ones are compacted away), as agents do
/// on long runs.
const CONTEXT_MESSAGES: usize = 20;

/// Makes plans: the random choices of one run.
#[derive(Debug)]
pub struct Planner<'a> {
    pub random: &'a mut SplitMix64,
    pub text: &'a TextGenerator,
    pub config: &'a GeneratorConfig,
}

/// Whether a test run passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tests {
    Pass,
    Fail,
    Either,
}

/// How a tool call should turn out.
#[derive(Debug, Clone, Copy)]
struct ToolOutcome {
    /// It is the failure that ends the run.
    breaks: bool,
    /// That failure is a timeout.
    timeout: bool,
    tests: Tests,
}

struct Clock(u64);

impl Clock {
    fn span(&mut self, duration_ns: u64) -> (u64, u64) {
        let start = self.0;
        self.0 += duration_ns;
        (start, self.0)
    }
}

const MS: u64 = 1_000_000;

impl Planner<'_> {
    fn id(&mut self, bytes: usize) -> Vec<u8> {
        let mut id = Vec::with_capacity(bytes);
        while id.len() < bytes {
            id.extend_from_slice(&self.random.next_u64().to_be_bytes());
        }
        id.truncate(bytes);
        id
    }

    /// Picks an item by weight.
    pub fn weighted<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let total: u64 = items.iter().map(|(_, weight)| weight).sum();
        let mut ticket = self.random.below(total.max(1));
        for (item, weight) in items {
            if ticket < *weight {
                return *item;
            }
            ticket -= weight;
        }
        items[0].0
    }

    /// One run of `turns` model turns (a given number: long traces), or as the config says.
    pub fn plan(&mut self, facts: &SessionFacts, start_ns: u64, turns: Option<u64>) -> RunPlan {
        let config = self.config;
        let failure = self
            .random
            .chance(config.failure_percent)
            .then(|| *self.random.pick(&FailureKind::ALL));
        let long = turns.is_some() || self.random.chance(config.long_run_percent);
        let turns = turns.unwrap_or_else(|| {
            let (low, high) = if long {
                config.long_run_turns
            } else {
                config.turns
            };
            self.random.between(low, high)
        });
        let module = self.text.word(self.random).to_string();
        let prompt = format!(
            "Fix the failing test in {module}: {}",
            self.text.sentence(self.random)
        );
        let trace_id = self.id(16);
        let root_span_id = self.id(8);
        let mut clock = Clock(start_ns + self.random.between(1, 50) * MS);
        let mut history =
            vec![json!({"role": "user", "parts": [{"type": "text", "content": prompt}]})];
        let mut steps = Vec::new();
        // Where a tool failure or timeout happens (the run ends after it), and where a
        // sub-agent gets a task (never on the breaking turn).
        let breaking_turn = matches!(
            failure,
            Some(FailureKind::ToolError) | Some(FailureKind::Timeout)
        )
        .then(|| self.random.between(0, turns.saturating_sub(2)));
        let sub_agent_turn = self
            .random
            .chance(config.sub_agent_percent)
            .then(|| self.random.between(0, turns.saturating_sub(2)))
            .filter(|turn| Some(*turn) != breaking_turn);
        let mut answer = None;
        let mut failure_message = None;
        let mut turn = 0;
        loop {
            let last = turn + 1 >= turns;
            if failure == Some(FailureKind::ApiError) && last {
                // The model API stays down: three refused attempts, no answer.
                for _ in 0..3 {
                    let refused = self.refused_call(&history, &mut clock, 529);
                    steps.push(Step::Llm(refused));
                    clock.span(self.random.between(500, 4_000) * MS);
                }
                failure_message =
                    Some("model API error: 529 overloaded_error after 3 attempts".to_string());
                break;
            }
            if self.random.chance(config.retry_percent) {
                let status = if facts.model.provider == "anthropic" {
                    529
                } else {
                    429
                };
                steps.push(Step::Llm(self.refused_call(&history, &mut clock, status)));
                clock.span(self.random.between(1_000, 4_000) * MS);
            }
            let gives_answer = last && failure != Some(FailureKind::MaxTurns);
            let breaks_here = breaking_turn == Some(turn);
            // The last tool call before the answer runs the tests.
            let final_check = turn + 2 == turns;
            let tool = self.choose_tool(TurnRole {
                gives_answer,
                breaks_here,
                final_check,
                sub_agent: sub_agent_turn == Some(turn),
                failure,
            });
            let thought = {
                let sentences = self.random.between(1, 4);
                self.text.paragraph(self.random, sentences)
            };
            let call_id = format!("call_{:016x}", self.random.next_u64());
            let arguments = tool.map(|tool| self.arguments(tool, &module));
            let output = match (tool, &arguments) {
                (Some(tool), Some(arguments)) => json!({"role": "assistant", "parts": [
                    {"type": "text", "content": thought},
                    {"type": "tool_call", "id": call_id, "name": tool, "arguments": arguments}]}),
                _ => {
                    let text = final_answer(failure, &module, &thought);
                    answer = Some(text.clone());
                    json!({"role": "assistant", "parts": [{"type": "text", "content": text}]})
                }
            };
            steps.push(Step::Llm(self.answered_call(
                facts,
                &history,
                output.clone(),
                &mut clock,
            )));
            history.push(output);
            let (Some(tool), Some(arguments)) = (tool, arguments) else {
                break;
            };
            let tests = if final_check && failure == Some(FailureKind::TestsFailing) {
                Tests::Fail
            } else if final_check {
                Tests::Pass
            } else {
                Tests::Either
            };
            let outcome = ToolOutcome {
                breaks: breaks_here,
                timeout: failure == Some(FailureKind::Timeout),
                tests,
            };
            let mut call = self.tool_call(
                tool,
                call_id.clone(),
                arguments,
                &module,
                &mut clock,
                outcome,
            );
            if tool == "task" {
                let sub = self.sub_agent(facts, &module, &mut clock);
                call.end_ns = clock.0;
                call.result = format!(
                    "The {} sub-agent reports: {}",
                    sub.agent,
                    self.text.sentence(self.random)
                );
                steps.push(Step::Tool(call.clone()));
                steps.push(Step::SubAgent(sub));
            } else {
                steps.push(Step::Tool(call.clone()));
            }
            history.push(json!({"role": "tool", "parts": [
                {"type": "tool_call_response", "id": call.call_id, "response": call.result}]}));
            if history.len() > CONTEXT_MESSAGES + 1 {
                history.drain(1..history.len() - CONTEXT_MESSAGES);
            }
            if breaks_here {
                let error = call.error.clone().unwrap_or_default();
                failure_message = Some(match failure {
                    Some(FailureKind::Timeout) => format!("timeout: {}", call.result),
                    _ => format!("tool {tool} failed: {error}"),
                });
                // The model reads the failure and gives up.
                let text = format!(
                    "I cannot continue: {tool} failed. {}",
                    self.text.sentence(self.random)
                );
                let output =
                    json!({"role": "assistant", "parts": [{"type": "text", "content": text}]});
                steps.push(Step::Llm(
                    self.answered_call(facts, &history, output, &mut clock),
                ));
                answer = Some(text);
                break;
            }
            turn += 1;
            if turn >= turns {
                break;
            }
        }
        let failure = failure.map(|kind| {
            let message = failure_message.unwrap_or_else(|| match kind {
                FailureKind::TestsFailing => format!("tests still failing in {module}"),
                FailureKind::MaxTurns => format!("max turns ({turns}) reached"),
                other => other.error_type().to_string(),
            });
            (kind, message)
        });
        RunPlan {
            convention: facts.convention,
            trace_id,
            root_span_id,
            session_id: facts.session_id.clone(),
            sequence: facts.sequence,
            user: facts.user.clone(),
            service: facts.service,
            agent: facts.agent,
            model: facts.model,
            start_ns,
            end_ns: clock.0 + self.random.between(1, 30) * MS,
            system_prompt: facts.system_prompt.clone(),
            prompt,
            answer,
            steps,
            failure,
        }
    }

    /// The tool a turn calls (`None`: the turn answers): the breaking tool on the turn a
    /// tool failure or timeout ends the run, the tests before the answer, the sub-agent's
    /// task on its turn, else a mix of reads, greps, edits, shell and fetches.
    fn choose_tool(&mut self, role: TurnRole) -> Option<&'static str> {
        if role.gives_answer {
            None
        } else if role.breaks_here && role.failure == Some(FailureKind::ToolError) {
            Some(*self.random.pick(&["read_file", "edit_file"]))
        } else if role.breaks_here || role.final_check {
            Some("bash")
        } else if role.sub_agent {
            Some("task")
        } else {
            Some(*self.random.pick(&[
                "read_file",
                "read_file",
                "grep",
                "edit_file",
                "bash",
                "web_fetch",
            ]))
        }
    }

    fn usage(&mut self, facts: &SessionFacts, input: &[Value], output: &Value) -> Usage {
        let input_chars: usize = input.iter().map(|message| message.to_string().len()).sum();
        let input_tokens = ((input_chars + facts.system_prompt.len()) / 4) as i64;
        let output_tokens = (output.to_string().len() / 4).max(1) as i64;
        let cached = input.len() > 1;
        let reasoning = if facts.model.model.starts_with("gpt-5") {
            output_tokens * self.random.between(0, 3) as i64
        } else {
            0
        };
        Usage {
            input: input_tokens,
            output: output_tokens + reasoning,
            cache_read: if cached { input_tokens * 3 / 4 } else { 0 },
            cache_write: if facts.model.provider == "anthropic" {
                input_tokens / 5
            } else {
                0
            },
            reasoning,
        }
    }

    fn answered_call(
        &mut self,
        facts: &SessionFacts,
        history: &[Value],
        output: Value,
        clock: &mut Clock,
    ) -> LlmCall {
        let usage = self.usage(facts, history, &output);
        let (start_ns, end_ns) = clock.span(self.random.between(800, 9_000) * MS);
        let calls_tool = output["parts"]
            .as_array()
            .is_some_and(|parts| parts.iter().any(|part| part["type"] == "tool_call"));
        LlmCall {
            span_id: self.id(8),
            start_ns,
            end_ns,
            input: history.to_vec(),
            output,
            finish_reason: if calls_tool { "tool_calls" } else { "stop" },
            usage,
            failure: None,
        }
    }

    fn refused_call(&mut self, history: &[Value], clock: &mut Clock, status: u16) -> LlmCall {
        let (start_ns, end_ns) = clock.span(self.random.between(150, 900) * MS);
        let kind = match status {
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "server_error",
        };
        LlmCall {
            span_id: self.id(8),
            start_ns,
            end_ns,
            input: history.to_vec(),
            output: Value::Null,
            finish_reason: "error",
            usage: Usage::default(),
            failure: Some(ApiFailure { status, kind }),
        }
    }

    fn arguments(&mut self, tool: &str, module: &str) -> Value {
        let path = format!("src/{module}/{}.rs", self.text.word(self.random));
        match tool {
            "read_file" => json!({"path": path}),
            "grep" => json!({"pattern": self.text.identifier(self.random), "path": "src/"}),
            "edit_file" => {
                json!({"path": path, "diff": self.text.unified_diff(self.random, &path)})
            }
            "web_fetch" => {
                json!({"url": format!("https://docs.rs/{}/latest/", self.text.word(self.random))})
            }
            "task" => json!({"description": format!("Find where {module} is used"),
                "prompt": self.text.sentence(self.random)}),
            _ => json!({"command": format!("cargo test -p {module}")}),
        }
    }

    /// A tool call, failing or timing out as `outcome` says.
    fn tool_call(
        &mut self,
        name: &'static str,
        call_id: String,
        arguments: Value,
        module: &str,
        clock: &mut Clock,
        outcome: ToolOutcome,
    ) -> ToolCall {
        let ToolOutcome {
            breaks,
            timeout,
            tests,
        } = outcome;
        let path = arguments["path"].as_str().unwrap_or_default().to_string();
        let mut duration = self.random.between(5, 20_000) * MS;
        let (result, error) = match name {
            "read_file" if breaks => (
                format!("error: {path}: No such file or directory (os error 2)"),
                Some("No such file or directory (os error 2)".to_string()),
            ),
            "edit_file" if breaks => (
                format!("error: patch does not apply to {path}"),
                Some("patch does not apply".to_string()),
            ),
            "bash" if breaks && timeout => {
                duration = 600_000 * MS;
                (
                    format!("cargo test -p {module} ran past 600s and was killed"),
                    Some("command timed out after 600s".to_string()),
                )
            }
            "read_file" => {
                let bytes = self.random.between(
                    1_000.min(self.config.max_file_bytes as u64),
                    self.config.max_file_bytes as u64,
                ) as usize;
                (self.text.source_file(self.random, bytes), None)
            }
            "grep" => {
                let pattern = arguments["pattern"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (self.text.grep_output(self.random, &pattern), None)
            }
            "edit_file" => (format!("applied 1 hunk to {path}"), None),
            "web_fetch" => (self.text.paragraph(self.random, 6), None),
            "task" => (String::new(), None),
            _ => {
                let fails = match tests {
                    Tests::Fail => true,
                    Tests::Pass => false,
                    Tests::Either => self.random.chance(25),
                };
                let failing = if fails { self.random.between(1, 3) } else { 0 };
                let output = self.text.test_output(self.random, module, failing);
                let error = (failing > 0).then(|| "exit status 101".to_string());
                (output, error)
            }
        };
        let (start_ns, end_ns) = clock.span(duration);
        ToolCall {
            span_id: self.id(8),
            start_ns,
            end_ns,
            name,
            call_id,
            arguments,
            result,
            error,
        }
    }

    /// A sub-agent's short run: it reads and greps, then reports.
    fn sub_agent(&mut self, facts: &SessionFacts, module: &str, clock: &mut Clock) -> SubAgentRun {
        let span_id = self.id(8);
        let start_ns = clock.0;
        let mut history = vec![json!({"role": "user", "parts": [{"type": "text",
            "content": format!("Find where {module} is used and report back.")}]})];
        let mut steps = Vec::new();
        for _ in 0..self.random.between(1, 3) {
            let tool = *self.random.pick(&["read_file", "grep"]);
            let call_id = format!("call_{:016x}", self.random.next_u64());
            let arguments = self.arguments(tool, module);
            let output = json!({"role": "assistant", "parts": [
                {"type": "tool_call", "id": call_id, "name": tool, "arguments": arguments}]});
            steps.push(Step::Llm(self.answered_call(
                facts,
                &history,
                output.clone(),
                clock,
            )));
            history.push(output);
            let outcome = ToolOutcome {
                breaks: false,
                timeout: false,
                tests: Tests::Either,
            };
            let call = self.tool_call(tool, call_id, arguments, module, clock, outcome);
            history.push(json!({"role": "tool", "parts": [
                {"type": "tool_call_response", "id": call.call_id, "response": call.result}]}));
            steps.push(Step::Tool(call));
        }
        let report = format!("{module} is used in {} places.", self.random.between(1, 9));
        let output = json!({"role": "assistant", "parts": [{"type": "text", "content": report}]});
        steps.push(Step::Llm(
            self.answered_call(facts, &history, output, clock),
        ));
        SubAgentRun {
            span_id,
            start_ns,
            end_ns: clock.0,
            agent: "explorer",
            steps,
        }
    }
}

/// A model for a convention: Claude Code only runs Anthropic models.
pub fn model_for(
    config: &GeneratorConfig,
    convention: Convention,
    planner_pick: u64,
) -> ModelChoice {
    let candidates: Vec<ModelChoice> = config
        .models
        .iter()
        .copied()
        .filter(|model| convention != Convention::ClaudeCode || model.provider == "anthropic")
        .collect();
    let candidates = if candidates.is_empty() {
        config.models.clone()
    } else {
        candidates
    };
    let total: u64 = candidates.iter().map(|model| model.weight).sum();
    let mut ticket = planner_pick % total.max(1);
    for model in &candidates {
        if ticket < model.weight {
            return *model;
        }
        ticket -= model.weight;
    }
    candidates[0]
}

/// What a turn is for, by its place in the run.
#[derive(Debug, Clone, Copy)]
struct TurnRole {
    /// The run's last turn, and it ends with an answer (not at max turns).
    gives_answer: bool,
    /// The turn the run's tool failure or timeout happens on.
    breaks_here: bool,
    /// The turn before the answer: the tests run.
    final_check: bool,
    /// The turn a sub-agent gets its task.
    sub_agent: bool,
    failure: Option<FailureKind>,
}

/// The model's final answer, as the run's failure (or success) has it.
fn final_answer(failure: Option<FailureKind>, module: &str, thought: &str) -> String {
    match failure {
        Some(FailureKind::TestsFailing) => {
            format!("I could not get the tests in {module} to pass. {thought}")
        }
        Some(FailureKind::ToolError) => {
            format!("I cannot continue: the last tool call failed. {thought}")
        }
        _ => format!("Fixed {module}; the tests pass now. {thought}"),
    }
}
