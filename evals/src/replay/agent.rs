//! The `agent` replay mode: a real agent CLI (Claude Code, Codex, opencode) runs each
//! example's recorded task in a fresh copy of a fixture directory, its model endpoint at
//! Sextant's gateway (which forwards every call to the side's model and records it), and an
//! outcome command (`sh test.sh`, `cargo test`, `pytest -q`) decides pass or fail.
//!
//! Isolation, plainly: each run gets its own copy of the workdir and its own empty HOME,
//! and the CLI starts from a scrubbed environment (only `PATH`, `HOME`, `LANG`, the
//! gateway's URL and token, the OTLP settings and the suite's `env`); it never sees a
//! provider key. It is **not** a sandbox: the CLI runs as the same user on the same
//! machine and can read or write anything that user can, and reach the network. Run agent
//! suites on a machine (or container) you would let the agent loose on.
//!
//! Failures are classified: a run that made no model call, or whose calls the model's
//! provider could not answer, is infra; one past `timeout_secs` is a timeout. Both are
//! retried and, if they persist, void the example — never counted as the model's failure.
//! Otherwise the outcome command's exit status is the model's result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::datasets::Example;
use crate::datasets::recording::Recording;
use crate::datasets::recording::first_user_message;
use crate::error::{EvalError, Result};
use crate::gateway::call_span::{CallTags, agent_run_span, example_traceparent};
use crate::gateway::cassette::{Cassette, CassetteRecorder};
use crate::gateway::registry::{GatewayRegistry, GatewayRun, SpanSink, Upstream};
use crate::messages::Part;
use crate::providers::ProviderClient;
use crate::replay::agent_transcript::{Transcript, parse_transcript};
use crate::scoring::outcome::AgentRunFacts;
use crate::scoring::outcome::SideOutcome;
use crate::suite::repository_policy::RepositoryPolicy;
use crate::suite::{AgentApi, AgentConfig, ModelConfig};

/// Attempts per example and epoch while the failure is infra or a timeout.
const MAX_ATTEMPTS: u32 = 3;
/// The score name of the outcome command's verdict.
pub const OUTCOME_SCORE: &str = "outcome";

/// Where agent runs find the gateway, and where their telemetry goes.
pub struct AgentHost {
    /// `http://127.0.0.1:<port>`: the server serving `/gateway/…`.
    pub gateway_url: String,
    pub registry: Arc<GatewayRegistry>,
    /// The OTLP/HTTP base (a Sextant server) the CLI's own telemetry is sent to, if any.
    pub otlp_endpoint: Option<String>,
    /// The ingest key that server wants, if any.
    pub otlp_key: Option<String>,
    /// Where the gateway's call spans go.
    pub spans: SpanSink,
}

impl AgentHost {
    /// A host whose gateway spans are kept for the caller to export.
    pub fn collecting(
        gateway_url: String,
        registry: Arc<GatewayRegistry>,
        otlp_endpoint: Option<String>,
        otlp_key: Option<String>,
    ) -> AgentHost {
        AgentHost {
            gateway_url,
            registry,
            otlp_endpoint,
            otlp_key,
            spans: SpanSink::Collect(Arc::new(Mutex::new(Vec::new()))),
        }
    }

    /// The collected gateway spans, taken.
    pub fn take_spans(&self) -> Vec<ExportTraceServiceRequest> {
        match &self.spans {
            SpanSink::Collect(spans) => spans
                .lock()
                .map(|mut spans| std::mem::take(&mut *spans))
                .unwrap_or_default(),
            SpanSink::Pipeline => Vec::new(),
        }
    }
}

/// One side of an agent suite (the candidate, or a baseline model), registered with the
/// gateway for the run's lifetime.
pub struct AgentSide<'a> {
    host: &'a AgentHost,
    config: &'a AgentConfig,
    /// The model's name (for the command template and messages).
    model: String,
    run: Arc<GatewayRun>,
    /// The cassette this side records or answers from: its runs then work in folders fixed
    /// by cassette, example and epoch.
    cassette: Option<PathBuf>,
}

/// Where one side's calls are answered.
pub enum SideModel<'a> {
    /// A model, its calls optionally recorded into a cassette file.
    Model {
        config: &'a ModelConfig,
        record_to: Option<&'a Path>,
    },
    /// The answers of a cassette file, byte for byte.
    Cassette(&'a Path),
}

/// What one attempt found.
struct AgentRun {
    transcript: Transcript,
    passed: bool,
    duration: Duration,
    files_changed: Vec<String>,
}

enum AttemptFailure {
    Infra(String),
    Timeout,
    /// The example cannot be run as recorded (a repository the suite does not allow): not
    /// retried, the example is void.
    Refused(String),
}

impl<'a> AgentSide<'a> {
    /// Registers the side under the gateway path segment `run_key`.
    pub fn register(
        host: &'a AgentHost,
        config: &'a AgentConfig,
        side: SideModel<'_>,
        run_key: &str,
        project_id: &str,
    ) -> Result<AgentSide<'a>> {
        let token = sextant_meta::keys::random_token().map_err(|error| {
            EvalError::Invalid(format!("no randomness for a gateway token: {error}"))
        })?;
        let cassette = match &side {
            SideModel::Model { record_to, .. } => record_to.map(Path::to_path_buf),
            SideModel::Cassette(path) => Some(path.to_path_buf()),
        };
        let (upstream, model) = match side {
            SideModel::Model { config, record_to } => (
                Upstream::Candidate {
                    client: ProviderClient::new(config)?,
                    recorder: record_to.map(CassetteRecorder::create).transpose()?,
                },
                config.model.clone(),
            ),
            SideModel::Cassette(path) => (
                Upstream::Cassette(Cassette::load(path)?),
                "cassette".to_owned(),
            ),
        };
        let mut run = GatewayRun::new(run_key, project_id, &token, upstream);
        run.spans = host.spans.clone();
        let run = host.registry.register(run);
        Ok(AgentSide {
            host,
            config,
            model,
            run,
            cassette,
        })
    }

    /// Runs the agent on one example, retrying infra failures and timeouts.
    pub async fn replay(&self, example: &Example, epoch: u32) -> SideOutcome {
        let mut last_failure = String::new();
        for _ in 0..MAX_ATTEMPTS {
            match self.attempt(example, epoch).await {
                Ok(run) => {
                    let facts = AgentRunFacts {
                        turns: run.transcript.turns,
                        tool_calls: run.transcript.run.tool_calls.len(),
                        files_changed: run.files_changed,
                        duration_ms: run.duration.as_secs_f64() * 1000.0,
                    };
                    let mut outcome =
                        agent_outcome(Some(run.transcript), run.passed, run.duration, None);
                    outcome.agent = Some(facts);
                    return outcome;
                }
                Err(AttemptFailure::Infra(message)) => last_failure = format!("infra: {message}"),
                Err(AttemptFailure::Timeout) => {
                    last_failure =
                        format!("timeout: the agent ran past {} s", self.config.timeout_secs)
                }
                Err(AttemptFailure::Refused(message)) => {
                    return agent_outcome(None, false, Duration::ZERO, Some(message));
                }
            }
        }
        agent_outcome(
            None,
            false,
            Duration::ZERO,
            Some(format!("{last_failure} ({MAX_ATTEMPTS} attempts)")),
        )
    }

    fn base_url(&self, example: &str, epoch: u32) -> String {
        let family = match self.config.api {
            AgentApi::Anthropic => "anthropic",
            AgentApi::Openai => "openai",
        };
        format!(
            "{}/gateway/{}/{example}/{epoch}/{family}",
            self.host.gateway_url, self.run.run_id
        )
    }

    /// The suite's agent command, rendered for this run (`shell` quotes a value).
    fn command(
        &self,
        prompt: &str,
        base_url: &str,
        workdir: &Path,
    ) -> std::result::Result<String, AttemptFailure> {
        let mut templates = minijinja::Environment::new();
        templates.add_filter("shell", shell_quote);
        templates
            .render_str(
                &self.config.command,
                minijinja::context! {
                    prompt => prompt,
                    model => self.model,
                    base_url => base_url,
                    token => self.run.token,
                    otlp_endpoint => self.host.otlp_endpoint.clone().unwrap_or_default(),
                    workdir => workdir.display().to_string(),
                },
            )
            .map_err(|error| AttemptFailure::Infra(format!("agent.command: {error}")))
    }

    /// The agent's whole environment: nothing inherited but `PATH`; the gateway as its
    /// model API (the run's token as the key), the example's trace context, OTLP export
    /// to Sextant when the host collects it, then the suite's `[agent] env`.
    fn environment(
        &self,
        tags: &CallTags,
        prompt: &str,
        base_url: &str,
        home: &Path,
    ) -> BTreeMap<String, String> {
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("PATH".into(), std::env::var("PATH").unwrap_or_default());
        env.insert("HOME".into(), home.display().to_string());
        env.insert("LANG".into(), "C.UTF-8".into());
        env.insert("SEXTANT_PROMPT".into(), prompt.to_owned());
        env.insert("TRACEPARENT".into(), example_traceparent(tags));
        env.insert("SEXTANT_GATEWAY_URL".into(), base_url.to_owned());
        env.insert("SEXTANT_GATEWAY_TOKEN".into(), self.run.token.clone());
        match self.config.api {
            AgentApi::Anthropic => {
                env.insert("ANTHROPIC_BASE_URL".into(), base_url.to_owned());
                env.insert("ANTHROPIC_API_KEY".into(), self.run.token.clone());
            }
            AgentApi::Openai => {
                env.insert("OPENAI_BASE_URL".into(), format!("{base_url}/v1"));
                env.insert("OPENAI_API_KEY".into(), self.run.token.clone());
            }
        }
        if let Some(endpoint) = &self.host.otlp_endpoint {
            env.insert("CLAUDE_CODE_ENABLE_TELEMETRY".into(), "1".into());
            env.insert("OTEL_TRACES_EXPORTER".into(), "otlp".into());
            env.insert("OTEL_LOGS_EXPORTER".into(), "otlp".into());
            env.insert("OTEL_METRICS_EXPORTER".into(), "otlp".into());
            env.insert("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into());
            env.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint.clone());
            env.insert(
                "OTEL_RESOURCE_ATTRIBUTES".into(),
                format!(
                    "eval.run_id={},eval.example={},eval.epoch={}",
                    tags.run_id, tags.example, tags.epoch
                ),
            );
            if let Some(key) = &self.host.otlp_key {
                env.insert(
                    "OTEL_EXPORTER_OTLP_HEADERS".into(),
                    format!("Authorization=Bearer {key}"),
                );
            }
        }
        env.extend(self.config.env.clone());
        env
    }

    async fn attempt(
        &self,
        example: &Example,
        epoch: u32,
    ) -> std::result::Result<AgentRun, AttemptFailure> {
        let infra = |what: &str, error: &dyn std::fmt::Display| {
            AttemptFailure::Infra(format!("{what}: {error}"))
        };
        let scratch = Scratch::create(self.cassette.as_deref(), &example.trace_id, epoch)
            .await
            .map_err(|error| infra("scratch dir", &error))?;
        let workdir = scratch.path.join("work");
        let home = scratch.path.join("home");
        prepare_workdir(self.config, &example.recording, &workdir).await?;
        std::fs::create_dir_all(&home).map_err(|error| infra("creating HOME", &error))?;
        let before = snapshot(&workdir).map_err(|error| infra("reading the workdir", &error))?;
        let base_url = self.base_url(&example.trace_id, epoch);
        let prompt = task_text(&example.recording);
        let command = self.command(&prompt, &base_url, &workdir)?;
        let tags = CallTags {
            run_id: self.run.run_id.clone(),
            example: example.trace_id.clone(),
            epoch,
        };
        let env = self.environment(&tags, &prompt, &base_url, &home);

        let timeout = Duration::from_secs(self.config.timeout_secs);
        let start_ns = now_ns();
        let calls_before = self.run.calls.load(Ordering::Relaxed);
        let failures_before = self.run.upstream_failures.load(Ordering::Relaxed);
        let started = Instant::now();
        let output = run_shell(&command, &workdir, &env, timeout)
            .await
            .map_err(|error| infra("starting the agent", &error))?
            .ok_or(AttemptFailure::Timeout)?;
        let duration = started.elapsed();
        let calls = self.run.calls.load(Ordering::Relaxed) - calls_before;
        let upstream_failures =
            self.run.upstream_failures.load(Ordering::Relaxed) - failures_before;
        if calls == 0 {
            return Err(AttemptFailure::Infra(format!(
                "the agent made no model call ({}): {} {}",
                output.status,
                tail(&output.stderr),
                tail(&output.stdout)
            )));
        }
        if upstream_failures > 0 {
            return Err(AttemptFailure::Infra(format!(
                "{upstream_failures} of the agent's model calls could not be answered by {}",
                self.model
            )));
        }
        let transcript = parse_transcript(&String::from_utf8_lossy(&output.stdout));
        let outcome = run_shell(&self.config.outcome, &workdir, &env, timeout)
            .await
            .map_err(|error| infra("starting the outcome command", &error))?
            .ok_or(AttemptFailure::Timeout)?;
        let passed = outcome.status.success();
        let after = snapshot(&workdir).map_err(|error| infra("reading the workdir", &error))?;
        let files_changed = changed_files(&before, &after);
        let failure = (!passed).then(|| format!("the outcome command failed ({})", outcome.status));
        self.record_span(agent_run_span(
            &tags,
            &self.config.command_name(),
            start_ns,
            now_ns(),
            failure,
        ));
        Ok(AgentRun {
            transcript,
            passed,
            duration,
            files_changed,
        })
    }
}

impl AgentSide<'_> {
    fn record_span(&self, span: ExportTraceServiceRequest) {
        if let SpanSink::Collect(spans) = &self.host.spans
            && let Ok(mut spans) = spans.lock()
        {
            spans.push(span);
        }
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

impl Drop for AgentSide<'_> {
    fn drop(&mut self) {
        self.host.registry.remove(&self.run.run_id);
    }
}

/// A run's scratch folder (its workdir and HOME). Agents put their working directory into
/// their prompts, so a side that records or answers from a cassette works at a path fixed
/// by the cassette, example and epoch — the same prompts from one run to the next — held
/// under an exclusive lock while the run lasts; any other run gets a fresh temporary folder.
struct Scratch {
    path: PathBuf,
    /// The fixed folder's lock, held while the run lasts.
    lock: Option<std::fs::File>,
    /// The temporary folder, removed when dropped.
    _temporary: Option<tempfile::TempDir>,
}

impl Scratch {
    async fn create(
        cassette: Option<&Path>,
        example: &str,
        epoch: u32,
    ) -> std::io::Result<Scratch> {
        let Some(cassette) = cassette else {
            let temporary = tempfile::tempdir()?;
            return Ok(Scratch {
                path: temporary.path().to_path_buf(),
                lock: None,
                _temporary: Some(temporary),
            });
        };
        let cassette = std::fs::canonicalize(cassette).unwrap_or_else(|_| cassette.to_path_buf());
        let key = blake3::hash(format!("{}\0{example}\0{epoch}", cassette.display()).as_bytes());
        let root = private_scratch_root()?;
        let path = root.join(&key.to_hex()[..24]);
        let lock = std::fs::File::create(path.with_extension("lock"))?;
        // Another run of the same cassette, example and epoch waits its turn.
        let lock = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
            .await
            .map_err(std::io::Error::other)??;
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Scratch {
            path,
            lock: Some(lock),
            _temporary: None,
        })
    }
}

/// `$TMPDIR/sextant-agent-<uid>`: made 0700 by this user, or refused. In a shared `/tmp`
/// another user could otherwise plant the fixed lock or scratch names as symlinks and have
/// a run truncate or delete what they point to.
fn private_scratch_root() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // The owner of a file this process just made is this process's user.
    let uid = tempfile::tempfile()?.metadata()?.uid();
    let root = std::env::temp_dir().join(format!("sextant-agent-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&root) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error),
    }
    let metadata = std::fs::symlink_metadata(&root)?;
    if !metadata.is_dir() || metadata.uid() != uid || metadata.permissions().mode() & 0o077 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a private folder of this user (a symlink, another owner, or open to others): remove it",
                root.display()
            ),
        ));
    }
    Ok(root)
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The fixed folder is emptied before the lock goes (with the file, on drop).
        if self.lock.is_some() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// An agent side's result as the gate reads it: the outcome command's verdict as the
/// score, the transcript's calls and answer as the run.
fn agent_outcome(
    transcript: Option<Transcript>,
    passed: bool,
    duration: Duration,
    void: Option<String>,
) -> SideOutcome {
    let score = if passed { 1.0 } else { 0.0 };
    SideOutcome {
        steps: Vec::new(),
        scores: BTreeMap::from([(OUTCOME_SCORE.to_owned(), score)]),
        score,
        passed,
        void,
        cost_usd: transcript
            .as_ref()
            .and_then(|transcript| transcript.cost_usd),
        latencies_ms: if duration.is_zero() {
            Vec::new()
        } else {
            vec![duration.as_secs_f64() * 1000.0]
        },
        trajectory: transcript.map(|transcript| transcript.run),
        agent: None,
    }
}

/// The recording as the baseline of an agent suite: passed when the recorded run did not fail.
pub fn recorded_agent_side(recording: &Recording) -> SideOutcome {
    agent_outcome(None, !recording.outcome.failed, Duration::ZERO, None)
}

/// The task an agent is given: the recorded run's first user message, as text.
pub fn task_text(recording: &Recording) -> String {
    first_user_message(recording)
        .iter()
        .flat_map(|message| &message.parts)
        .filter_map(|part| match part {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `sh -c command` in `dir` with exactly `env`; `None` past `timeout` (killed).
async fn run_shell(
    command: &str,
    dir: &Path,
    env: &BTreeMap<String, String>,
    timeout: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(output) => output.map(Some),
        Err(_) => Ok(None),
    }
}

/// `text` as one single-quoted shell word (the `shell` filter of `agent.command`).
fn shell_quote(text: String) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The last lines of a stream, for a failure message.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

/// Every file under `root` (relative path → content hash), `.git` left out.
fn snapshot(root: &Path) -> std::io::Result<BTreeMap<String, blake3::Hash>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|name| name == ".git") {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.insert(
                    relative.display().to_string(),
                    blake3::hash(&std::fs::read(&path)?),
                );
            }
        }
    }
    Ok(files)
}

/// Paths added, changed or removed between two snapshots, sorted.
fn changed_files(
    before: &BTreeMap<String, blake3::Hash>,
    after: &BTreeMap<String, blake3::Hash>,
) -> Vec<String> {
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(path, hash)| before.get(*path) != Some(hash))
        .map(|(path, _)| path.clone())
        .chain(
            before
                .keys()
                .filter(|path| !after.contains_key(*path))
                .cloned(),
        )
        .collect();
    changed.sort();
    changed
}

/// Fills `workdir` for one run: a copy of the suite's fixture directory, else a clone of
/// the recorded repository at the recorded commit, if `[agent] repositories` allows it.
async fn prepare_workdir(
    config: &AgentConfig,
    recording: &Recording,
    workdir: &Path,
) -> std::result::Result<(), AttemptFailure> {
    if let Some(fixture) = &config.workdir {
        return copy_dir(fixture, workdir)
            .map_err(|error| AttemptFailure::Infra(format!("copying the workdir: {error}")));
    }
    let Some(repository) = &recording.repository else {
        return Err(AttemptFailure::Refused(
            "no workdir: set agent.workdir, or record vcs.repository.url.full (and vcs.ref.head.revision) with the runs".into(),
        ));
    };
    let allowed = RepositoryPolicy::parse(&config.repositories)
        .map_err(|error| AttemptFailure::Refused(error.to_string()))?
        .check(&repository.url)
        .map_err(AttemptFailure::Refused)?;
    if let Some(revision) = &repository.revision
        && !is_plain_revision(revision)
    {
        return Err(AttemptFailure::Refused(format!(
            "refusing the recorded revision {revision:?} of {}: not a commit id or ref name",
            repository.url
        )));
    }
    // Only the allowed URL's protocol, also for redirects and submodules; `--` and
    // `--end-of-options` so neither URL nor revision can be read as an option.
    let git = |args: Vec<String>| {
        let scheme = allowed.scheme.clone();
        async move {
            let output = tokio::process::Command::new("git")
                .args(["-c", "protocol.allow=never", "-c"])
                .arg(format!("protocol.{scheme}.allow=always"))
                .args(&args)
                .env("GIT_TERMINAL_PROMPT", "0")
                .env("GIT_ALLOW_PROTOCOL", &scheme)
                .stdin(Stdio::null())
                .output()
                .await
                .map_err(|error| AttemptFailure::Infra(format!("running git: {error}")))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(AttemptFailure::Infra(format!(
                    "git {}: {}",
                    args.first().map(String::as_str).unwrap_or_default(),
                    tail(&output.stderr)
                )))
            }
        }
    };
    let target = workdir.display().to_string();
    git(vec![
        "clone".into(),
        "--quiet".into(),
        "--no-recurse-submodules".into(),
        "--".into(),
        allowed.url.clone(),
        target.clone(),
    ])
    .await?;
    if let Some(revision) = &repository.revision {
        git(vec![
            "-C".into(),
            target,
            "checkout".into(),
            "--quiet".into(),
            "--detach".into(),
            "--end-of-options".into(),
            revision.clone(),
            "--".into(),
        ])
        .await?;
    }
    Ok(())
}

/// A commit id or a ref name: no option, no revision expression, no path.
fn is_plain_revision(revision: &str) -> bool {
    !revision.is_empty()
        && !revision.starts_with('-')
        && !revision.contains("..")
        && revision
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '-'))
}

/// Copies a directory tree (files and folders; symlinks copied as the files they point to).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target: PathBuf = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_as_one_shell_word() {
        assert_eq!(shell_quote("fix it".into()), "'fix it'");
        assert_eq!(shell_quote("it's $HOME".into()), "'it'\\''s $HOME'");
    }

    #[test]
    fn changed_files_are_added_modified_and_removed_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("calc.sh"), "a - b").unwrap();
        std::fs::write(dir.path().join("keep.txt"), "same").unwrap();
        std::fs::write(dir.path().join("gone.txt"), "bye").unwrap();
        let before = snapshot(dir.path()).unwrap();
        std::fs::write(dir.path().join("calc.sh"), "a + b").unwrap();
        std::fs::remove_file(dir.path().join("gone.txt")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/new.rs"), "fn main() {}").unwrap();
        let after = snapshot(dir.path()).unwrap();
        assert_eq!(
            changed_files(&before, &after),
            ["calc.sh", "gone.txt", "src/new.rs"]
        );
    }

    #[test]
    fn the_scratch_root_is_private_to_this_user() {
        use std::os::unix::fs::PermissionsExt;
        let root = private_scratch_root().expect("scratch root");
        let mode = std::fs::symlink_metadata(&root)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{}", root.display());
    }

    #[test]
    fn plain_revisions_only() {
        for good in ["0123abcd", "main", "release/1.2", "v1.0-rc1"] {
            assert!(is_plain_revision(good), "{good}");
        }
        for bad in [
            "",
            "--orphan=x",
            "-b",
            "HEAD~1..main",
            "a b",
            "x;y",
            "@{-1}",
        ] {
            assert!(!is_plain_revision(bad), "{bad}");
        }
    }

    #[test]
    fn a_missing_fixture_is_an_infra_failure_not_a_panic() {
        let missing = Path::new("/nonexistent/sextant-fixture");
        assert!(copy_dir(missing, &std::env::temp_dir().join("sextant-copy-test")).is_err());
    }
}
