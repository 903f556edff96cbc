//! What the generator makes: the mix of conventions, outcomes, models, agents and sizes.
//! The defaults look like a small team's coding agents; tests and benchmarks change them.

/// How a run is reported over OTLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Convention {
    /// OTel GenAI semantic conventions (current): `gen_ai.*` attributes, JSON messages.
    GenAi,
    /// OpenInference: `openinference.span.kind`, `llm.*`, flattened messages.
    OpenInference,
    /// Claude Code's own spans: `claude_code.interaction`, `llm_request`, `tool`.
    ClaudeCode,
}

impl Convention {
    pub const ALL: [Convention; 3] = [
        Convention::GenAi,
        Convention::OpenInference,
        Convention::ClaudeCode,
    ];

    /// How this convention names one of the generator's tools (Claude Code capitalises
    /// its own: `Read`, `Bash`, …).
    pub fn tool_name(self, generic: &'static str) -> &'static str {
        if self != Convention::ClaudeCode {
            return generic;
        }
        match generic {
            "read_file" => "Read",
            "grep" => "Grep",
            "edit_file" => "Edit",
            "bash" => "Bash",
            "web_fetch" => "WebFetch",
            "task" => "Task",
            other => other,
        }
    }
}

/// Why a failed run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// A tool call failed and the agent gave up.
    ToolError,
    /// The agent finished but the tests still fail.
    TestsFailing,
    /// The agent ran out of turns.
    MaxTurns,
    /// The model API kept failing (overloaded, 5xx) after retries.
    ApiError,
    /// A command ran past its time limit.
    Timeout,
}

impl FailureKind {
    pub const ALL: [FailureKind; 5] = [
        FailureKind::ToolError,
        FailureKind::TestsFailing,
        FailureKind::MaxTurns,
        FailureKind::ApiError,
        FailureKind::Timeout,
    ];

    /// The `error.type` a failed run's root carries.
    pub fn error_type(self) -> &'static str {
        match self {
            FailureKind::ToolError => "tool_error",
            FailureKind::TestsFailing => "tests_failing",
            FailureKind::MaxTurns => "max_turns",
            FailureKind::ApiError => "api_error",
            FailureKind::Timeout => "timeout",
        }
    }
}

/// A model the agents use, and how often.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelChoice {
    pub provider: &'static str,
    pub model: &'static str,
    pub weight: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Share of runs that fail, in percent; the kinds are equally likely.
    pub failure_percent: u64,
    /// Weights of the conventions runs are reported in.
    pub conventions: Vec<(Convention, u64)>,
    /// Models and their weights (Claude Code runs use the Anthropic ones).
    pub models: Vec<ModelChoice>,
    pub services: Vec<&'static str>,
    pub agents: Vec<&'static str>,
    /// Distinct users.
    pub users: u64,
    /// Model turns of an ordinary run (inclusive range).
    pub turns: (u64, u64),
    /// Share of runs, in percent, that are long (many turns, context compacted).
    pub long_run_percent: u64,
    /// Model turns of a long run.
    pub long_run_turns: (u64, u64),
    /// Share of runs, in percent, that hand a task to a sub-agent.
    pub sub_agent_percent: u64,
    /// Share of model calls, in percent, first refused with 429 or overloaded and retried.
    pub retry_percent: u64,
    /// Prompts (traces) per session (inclusive range).
    pub traces_per_session: (u64, u64),
    /// Largest file a `read_file` returns, in bytes.
    pub max_file_bytes: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            failure_percent: 15,
            conventions: vec![
                (Convention::GenAi, 70),
                (Convention::OpenInference, 15),
                (Convention::ClaudeCode, 15),
            ],
            models: vec![
                ModelChoice {
                    provider: "anthropic",
                    model: "claude-sonnet-4-5",
                    weight: 35,
                },
                ModelChoice {
                    provider: "anthropic",
                    model: "claude-haiku-4-5",
                    weight: 15,
                },
                ModelChoice {
                    provider: "anthropic",
                    model: "claude-opus-4-1",
                    weight: 5,
                },
                ModelChoice {
                    provider: "openai",
                    model: "gpt-5",
                    weight: 30,
                },
                ModelChoice {
                    provider: "openai",
                    model: "gpt-5-mini",
                    weight: 15,
                },
            ],
            services: vec!["pr-review-bot", "nightly-fixer", "issue-triage"],
            agents: vec!["coder", "reviewer", "triager"],
            users: 7,
            turns: (2, 9),
            long_run_percent: 1,
            long_run_turns: (30, 80),
            sub_agent_percent: 10,
            retry_percent: 3,
            traces_per_session: (1, 5),
            max_file_bytes: 50_000,
        }
    }
}

impl GeneratorConfig {
    /// Small outputs and short runs: for tests that generate many traces in debug builds.
    pub fn small() -> GeneratorConfig {
        GeneratorConfig {
            long_run_turns: (20, 40),
            max_file_bytes: 2_000,
            ..GeneratorConfig::default()
        }
    }
}
