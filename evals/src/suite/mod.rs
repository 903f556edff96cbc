//! A suite file (TOML), as users write it: the dataset, the candidate (and optionally a
//! baseline model; without one the recording is the baseline), the replay mode, scorers,
//! epochs, the gate, and an optional schedule and webhook. Every table denies unknown
//! keys, so a typo is an error that names the key. See docs/design.md ("Evals").

pub mod repository_policy;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use serde::Deserialize;

use crate::error::{EvalError, Result};
use crate::suite::repository_policy::RepositoryPolicy;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    /// The project whose dataset and runs these are (`default` when absent; a CLI
    /// `--project` wins).
    pub project: Option<String>,
    /// A dataset name of the suite's project.
    pub dataset: String,
    /// Pins a dataset version; the newest when absent.
    pub dataset_version: Option<i64>,
    pub mode: ReplayMode,
    #[serde(default = "one")]
    pub epochs: u32,
    /// A cron expression; the suite then runs inside `sextant serve`.
    pub schedule: Option<String>,
    /// POSTed a JSON summary when a run regresses.
    pub webhook: Option<String>,
    pub candidate: ModelConfig,
    /// Another model to compare with; the recording when absent.
    pub baseline: Option<ModelConfig>,
    /// What trajectory replay does at the first divergence.
    #[serde(default)]
    pub on_divergence: DivergencePolicy,
    #[serde(default)]
    pub scorers: Vec<ScorerConfig>,
    #[serde(default)]
    pub gate: GateConfig,
    /// How `mode = "agent"` runs the agent CLI (required in that mode, refused otherwise).
    pub agent: Option<AgentConfig>,
}

/// The wire family an agent CLI speaks to its model endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentApi {
    /// Anthropic Messages (Claude Code): `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`.
    Anthropic,
    /// OpenAI Chat Completions or Responses (Codex, opencode): `OPENAI_BASE_URL`,
    /// `OPENAI_API_KEY`.
    Openai,
}

/// `[agent]`: a real agent CLI run per example against the model gateway.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The command, a minijinja template run by `sh -c` in the example's workdir, with
    /// `prompt` (the recorded task), `model`, `base_url`, `token`, `workdir` and
    /// `otlp_endpoint` (where the agent's telemetry should go; empty when nowhere), and a
    /// `shell` filter that quotes a value as one shell word (`{{ prompt | shell }}`); the
    /// task is also in `$SEXTANT_PROMPT`.
    pub command: String,
    pub api: AgentApi,
    /// A fixture directory (relative to the suite) copied afresh for every run; without it,
    /// each run clones the repository its recording names (`vcs.repository.url.full`) at
    /// the recorded commit (`vcs.ref.head.revision`).
    pub workdir: Option<PathBuf>,
    /// The repositories a run may clone when there is no `workdir` (URL patterns:
    /// `https://github.com/acme/*`, `*.acme.com` hosts; `file://` or local paths only when
    /// listed). A recording names its repository, and whoever can ingest can write that
    /// name: anything not listed here is refused and voids the example.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Run in the workdir after the agent: exit status 0 means the example passed.
    pub outcome: String,
    /// Longest an agent may run (the outcome command gets the same again).
    #[serde(default = "default_agent_timeout")]
    pub timeout_secs: u64,
    /// Extra environment for the agent, over the scrubbed one.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Record the candidate's answers into this cassette (relative to the suite).
    pub record_cassette: Option<PathBuf>,
    /// Answer the baseline from this cassette, byte for byte: a deterministic baseline
    /// (instead of `[baseline]` or the recording).
    pub baseline_cassette: Option<PathBuf>,
}

impl AgentConfig {
    /// The program the command runs (`claude`, `codex`), for span names.
    pub fn command_name(&self) -> String {
        let program = self
            .command
            .split_whitespace()
            .next()
            .unwrap_or("agent")
            .trim_matches(|c| c == '\'' || c == '"');
        Path::new(program)
            .file_name()
            .map_or("agent".into(), |name| name.to_string_lossy().into_owned())
    }
}

fn default_agent_timeout() -> u64 {
    600
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplayMode {
    /// Each recorded model call's messages go to the candidate; its turn is compared.
    Step,
    /// Sextant's agent loop runs the candidate; tools answer from the recording.
    Trajectory,
    /// A real agent CLI runs against Sextant's model gateway.
    Agent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergencePolicy {
    /// End the replay at the first tool call the recording cannot answer.
    #[default]
    Stop,
    /// Answer it with an error result and let the candidate go on.
    ErrorResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    OpenaiChat,
    OpenaiResponses,
    Anthropic,
}

/// A model endpoint and how to call it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: Provider,
    pub base_url: String,
    pub model: String,
    /// The environment variable holding the API key (the key itself never goes in a file).
    pub api_key_env: Option<String>,
    /// A file (relative to the suite) whose text replaces the recorded system prompt.
    pub system_prompt_file: Option<PathBuf>,
    /// Request parameters sent as given (`temperature`, `max_tokens`, …).
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    /// Ask for a streamed answer (server-sent events), as agents do.
    #[serde(default)]
    pub stream: bool,
    /// A PEM file (relative to the suite) of the only CAs trusted for `base_url` — a
    /// private gateway's; the system's roots when absent.
    pub ca_file: Option<PathBuf>,
    /// The system prompt read from `system_prompt_file` when the suite is loaded.
    #[serde(skip)]
    pub system_prompt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArgsMode {
    #[default]
    Exact,
    Subset,
    Superset,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrajectoryMode {
    #[default]
    Strict,
    Unordered,
    Subset,
    Superset,
}

/// One scorer (`[[scorers]]`, chosen by `type`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScorerConfig {
    /// The candidate's turn does the same kind of thing (tool call vs answer, same tool).
    ActionMatch,
    /// F1 of tool names over multisets.
    ToolNameF1,
    ArgsMatch {
        #[serde(default)]
        mode: ArgsMode,
        #[serde(default)]
        ignore_keys: Vec<String>,
        /// Keys ignored for one tool only.
        #[serde(default)]
        tool_ignore_keys: BTreeMap<String, Vec<String>>,
    },
    TrajectoryMatch {
        #[serde(default)]
        mode: TrajectoryMode,
    },
    /// Tool arguments validate against the tool's JSON schema.
    SchemaValidity,
    Contains {
        text: String,
    },
    Regex {
        pattern: String,
    },
    Json,
    JsonSchema {
        schema: PathBuf,
    },
    Judge {
        /// The judge's name in reports (`judge` when absent; two judges need names).
        name: Option<String>,
        /// A minijinja template, relative to the suite.
        template: PathBuf,
        judge: ModelConfig,
        /// Verdict words and the score each maps to; pass/fail when absent.
        #[serde(default)]
        choices: BTreeMap<String, f64>,
    },
    /// min(1, recorded cost ÷ replayed cost): 1 when the replay costs no more.
    CostRatio,
    /// min(1, recorded ÷ replayed total model latency).
    LatencyRatio,
    /// min(1, recorded ÷ replayed model calls); always 1 in step replay.
    TurnRatio,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// δ: the smallest drop that counts as a regression.
    #[serde(default = "default_min_effect")]
    pub min_effect: f64,
    /// Significance level of the tests.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// The mean score at which an example counts as passed (1: every scorer on every step).
    #[serde(default = "default_pass_score")]
    pub pass_score: f64,
    /// Candidate cost over baseline cost past which the gate fails.
    pub max_cost_ratio: Option<f64>,
    /// Candidate p95 latency over baseline p95 past which the gate fails.
    pub max_p95_latency_ratio: Option<f64>,
}

fn default_min_effect() -> f64 {
    0.02
}

fn default_alpha() -> f64 {
    0.05
}

fn default_pass_score() -> f64 {
    1.0
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            min_effect: default_min_effect(),
            alpha: default_alpha(),
            pass_score: default_pass_score(),
            max_cost_ratio: None,
            max_p95_latency_ratio: None,
        }
    }
}

impl Suite {
    /// Parses a suite file, reads the files it names (relative to it) and checks values.
    pub fn load(path: &Path) -> Result<Suite> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            EvalError::Invalid(format!("cannot read suite {}: {error}", path.display()))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Suite::parse(&text, base)
            .map_err(|error| EvalError::Invalid(format!("suite {}: {error}", path.display())))
    }

    /// Parses suite text; `base` resolves the files it names.
    pub fn parse(text: &str, base: &Path) -> Result<Suite> {
        let mut suite: Suite =
            toml::from_str(text).map_err(|error| EvalError::Invalid(error.to_string()))?;
        if !(1..=100).contains(&suite.epochs) {
            return Err(EvalError::Invalid(format!(
                "epochs = {} is out of range; use 1 to 100",
                suite.epochs
            )));
        }
        if let Some(webhook) = &suite.webhook
            && !(webhook.starts_with("http://") || webhook.starts_with("https://"))
        {
            return Err(EvalError::Invalid(format!(
                "webhook {webhook:?} must be an http:// or https:// URL"
            )));
        }
        if let Some(schedule) = &suite.schedule {
            croner::Cron::from_str(schedule).map_err(|error| {
                EvalError::Invalid(format!(
                    "schedule {schedule:?} is not a cron expression: {error}"
                ))
            })?;
        }
        match (suite.mode, &mut suite.agent) {
            (ReplayMode::Agent, None) => {
                return Err(EvalError::Invalid(
                    "mode = \"agent\" needs an [agent] table (command, api, workdir, outcome)"
                        .into(),
                ));
            }
            (ReplayMode::Agent, Some(agent)) => {
                RepositoryPolicy::parse(&agent.repositories)?;
                if let Some(workdir) = &mut agent.workdir {
                    *workdir = base.join(&*workdir);
                    if !workdir.is_dir() {
                        return Err(EvalError::Invalid(format!(
                            "agent.workdir {} is not a directory",
                            workdir.display()
                        )));
                    }
                }
                for cassette in [&mut agent.record_cassette, &mut agent.baseline_cassette]
                    .into_iter()
                    .flatten()
                {
                    *cassette = base.join(&*cassette);
                }
                if agent.baseline_cassette.is_some() && suite.baseline.is_some() {
                    return Err(EvalError::Invalid(
                        "agent.baseline_cassette answers the baseline: remove [baseline], or the cassette".into(),
                    ));
                }
                minijinja::Environment::new()
                    .template_from_str(&agent.command)
                    .map_err(|error| {
                        EvalError::Invalid(format!(
                            "agent.command is not a valid template: {error}"
                        ))
                    })?;
            }
            (_, Some(_)) => {
                return Err(EvalError::Invalid(
                    "[agent] is only used with mode = \"agent\"".into(),
                ));
            }
            (_, None) => {}
        }
        let gate = &suite.gate;
        if !(0.0..1.0).contains(&gate.min_effect) || !(0.0..0.5).contains(&gate.alpha) {
            return Err(EvalError::Invalid(
                "gate.min_effect must be in [0, 1) and gate.alpha in (0, 0.5)".into(),
            ));
        }
        for (role, model) in [
            ("candidate", Some(&mut suite.candidate)),
            ("baseline", suite.baseline.as_mut()),
        ] {
            let Some(model) = model else { continue };
            model.resolve_files(base, role)?;
        }
        // Files scorers name are relative to the suite, like its rules files.
        for scorer in &mut suite.scorers {
            match scorer {
                ScorerConfig::JsonSchema { schema: file } => *file = base.join(&*file),
                ScorerConfig::Judge {
                    template, judge, ..
                } => {
                    *template = base.join(&*template);
                    judge.resolve_files(base, "judge")?;
                }
                _ => {}
            }
        }
        Ok(suite)
    }
}

impl ModelConfig {
    /// A model called as the provider expects, with nothing else set (no key, rules
    /// file, parameters or streaming).
    pub fn new(provider: Provider, base_url: &str, model: &str) -> ModelConfig {
        ModelConfig {
            provider,
            base_url: base_url.to_string(),
            model: model.to_string(),
            api_key_env: None,
            system_prompt_file: None,
            params: BTreeMap::new(),
            stream: false,
            ca_file: None,
            system_prompt: None,
        }
    }

    /// Checks the URL, reads the rules file and resolves `ca_file` against the suite's
    /// folder.
    fn resolve_files(&mut self, base: &Path, role: &str) -> Result<()> {
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return Err(EvalError::Invalid(format!(
                "{role}.base_url {:?} must be an http:// or https:// URL",
                self.base_url
            )));
        }
        if let Some(file) = &self.system_prompt_file {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path).map_err(|error| {
                EvalError::Invalid(format!(
                    "{role}.system_prompt_file {}: {error}",
                    path.display()
                ))
            })?;
            self.system_prompt = Some(text);
        }
        if let Some(ca_file) = &mut self.ca_file {
            *ca_file = base.join(&*ca_file);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUITE: &str = r#"
name = "claude-to-candidate"
dataset = "failed-runs"
dataset_version = 3
mode = "step"
epochs = 3
schedule = "0 3 * * *"
webhook = "https://hooks.example/eval"

[candidate]
provider = "openai-chat"
base_url = "http://127.0.0.1:8089/v1"
model = "smollm2"
api_key_env = "OPENAI_API_KEY"
system_prompt_file = "rules/v2.md"
ca_file = "certs/gateway-ca.pem"
params = { temperature = 0.0, max_tokens = 1024 }

[[scorers]]
type = "tool_name_f1"
[[scorers]]
type = "args_match"
mode = "subset"
ignore_keys = ["description"]
[[scorers]]
type = "judge"
template = "judges/factuality.txt.j2"
judge = { provider = "anthropic", base_url = "http://127.0.0.1:9", model = "judge-1" }

[gate]
min_effect = 0.02
max_cost_ratio = 1.2
max_p95_latency_ratio = 1.3
"#;

    fn base_with_rules() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
        std::fs::write(dir.path().join("rules/v2.md"), "Always run the tests.").expect("write");
        dir
    }

    #[test]
    fn the_design_example_parses_and_reads_its_rules_file() {
        let dir = base_with_rules();
        let suite = Suite::parse(SUITE, dir.path()).expect("valid suite");
        assert_eq!(suite.mode, ReplayMode::Step);
        assert_eq!(suite.epochs, 3);
        assert_eq!(suite.dataset_version, Some(3));
        assert_eq!(suite.candidate.provider, Provider::OpenaiChat);
        assert_eq!(
            suite.candidate.system_prompt.as_deref(),
            Some("Always run the tests.")
        );
        assert!(suite.baseline.is_none(), "the recording is the baseline");
        assert_eq!(suite.scorers.len(), 3);
        assert!(matches!(
            &suite.scorers[1],
            ScorerConfig::ArgsMatch { mode: ArgsMode::Subset, ignore_keys, .. } if ignore_keys == &["description"]
        ));
        assert_eq!(suite.gate.max_cost_ratio, Some(1.2));
        assert_eq!(
            suite.candidate.ca_file,
            Some(dir.path().join("certs/gateway-ca.pem")),
            "files are relative to the suite"
        );
        assert!(matches!(
            &suite.scorers[2],
            ScorerConfig::Judge { template, .. } if *template == dir.path().join("judges/factuality.txt.j2")
        ));
        assert_eq!(suite.on_divergence, DivergencePolicy::Stop);
    }

    #[test]
    fn an_agent_suite_needs_its_agent_table_and_a_real_workdir() {
        let dir = base_with_rules();
        std::fs::create_dir_all(dir.path().join("repo")).expect("mkdir");
        let agent = SUITE.replace("mode = \"step\"", "mode = \"agent\"")
            + "\n[agent]\napi = \"anthropic\"\ncommand = \"'/opt/claude' -p {{ prompt | shell }}\"\nworkdir = \"repo\"\noutcome = \"sh test.sh\"\n";
        let suite = Suite::parse(&agent, dir.path()).expect("valid agent suite");
        let config = suite.agent.expect("agent table");
        assert_eq!(
            config.workdir,
            Some(dir.path().join("repo")),
            "relative to the suite"
        );
        assert_eq!(config.timeout_secs, 600);
        assert_eq!(config.command_name(), "claude");
        for (bad, words) in [
            (agent.replace("[agent]", "[agentx]"), "agentx"),
            (
                agent.replace("workdir = \"repo\"", "workdir = \"nowhere\""),
                "agent.workdir",
            ),
            (
                agent.replace("{{ prompt | shell }}", "{{ prompt "),
                "agent.command",
            ),
            (
                agent.replace("mode = \"agent\"", "mode = \"step\""),
                "only used with mode",
            ),
        ] {
            let error = Suite::parse(&bad, dir.path()).expect_err("invalid");
            assert!(error.to_string().contains(words), "{words}: {error}");
        }
        let without = SUITE.replace("mode = \"step\"", "mode = \"agent\"");
        let error = Suite::parse(&without, dir.path()).expect_err("no [agent]");
        assert!(error.to_string().contains("[agent]"), "{error}");
    }

    #[test]
    fn the_shipped_agent_suites_parse() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/agent-suites");
        let mut parsed = 0;
        for entry in std::fs::read_dir(&shipped).expect("docs/agent-suites") {
            let path = entry.expect("entry").path();
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::create_dir_all(dir.path().join("repo-fixture")).expect("mkdir");
            let text = std::fs::read_to_string(&path).expect("suite");
            let suite = Suite::parse(&text, dir.path())
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            assert_eq!(suite.mode, ReplayMode::Agent, "{}", path.display());
            parsed += 1;
        }
        assert_eq!(parsed, 3, "claude-code, codex, opencode");
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let dir = base_with_rules();
        for (typo, key) in [
            (SUITE.replace("epochs = 3", "epoch = 3"), "epoch"),
            (SUITE.replace("api_key_env", "api_key"), "api_key"),
            (
                SUITE.replace("max_cost_ratio", "max_costs_ratio"),
                "max_costs_ratio",
            ),
            (SUITE.replace("ignore_keys", "ignored_keys"), "ignored_keys"),
        ] {
            let error = Suite::parse(&typo, dir.path()).expect_err("unknown key");
            assert!(error.to_string().contains(key), "{key}: {error}");
        }
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        let dir = base_with_rules();
        for (bad, words) in [
            (SUITE.replace("\"step\"", "\"replay\""), "replay"),
            (SUITE.replace("openai-chat", "openai"), "openai"),
            (SUITE.replace("epochs = 3", "epochs = 0"), "epochs"),
            (
                SUITE.replace("rules/v2.md", "rules/missing.md"),
                "system_prompt_file",
            ),
            (
                SUITE.replace("https://hooks.example/eval", "hooks.example"),
                "webhook",
            ),
        ] {
            let error = Suite::parse(&bad, dir.path()).expect_err("invalid");
            assert!(error.to_string().contains(words), "{words}: {error}");
        }
    }
}

#[cfg(test)]
mod fuzz_tests {
    use bolero::check;
    use sextant_tracegen::fuzz_input::{case_input, fuzz_time};

    use super::*;

    /// Any suite text loads into a suite or an `Invalid` error naming what to fix, never a
    /// panic: mutations of the shipped agent suites and a step suite, and raw text.
    #[test]
    fn fuzz_suite_toml_loader() {
        let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/agent-suites");
        let mut seeds: Vec<Vec<u8>> = ["claude-code.toml", "codex.toml", "opencode.toml"]
            .iter()
            .map(|name| std::fs::read(format!("{docs}/{name}")).expect("shipped suite"))
            .collect();
        seeds.push(
            br#"name = "s"
dataset = "d"
mode = "step"
epochs = 3
schedule = "0 3 * * *"
[candidate]
provider = "openai-chat"
base_url = "http://127.0.0.1:1/v1"
model = "m"
params = { temperature = 0.0, max_tokens = 1024 }
[[scorers]]
type = "args_match"
mode = "subset"
ignore_keys = ["description"]
[[scorers]]
type = "regex"
pattern = "a+(b|c)*"
[gate]
min_effect = 0.02
max_cost_ratio = 1.2
"#
            .to_vec(),
        );
        let base = tempfile::tempdir().expect("tempdir");
        check!()
            .with_type::<(u8, bool, Vec<u8>)>()
            .with_iterations(usize::MAX)
            .with_test_time(fuzz_time())
            .for_each(|case| {
                let text = String::from_utf8_lossy(&case_input(&seeds, case)).into_owned();
                match Suite::parse(&text, base.path()) {
                    Ok(_) | Err(EvalError::Invalid(_)) => {}
                    Err(other) => panic!("{text:?}: unexpected error kind {other}"),
                }
            });
    }
}
