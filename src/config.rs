//! Server configuration: defaults, then the TOML file, then `SEXTANT_*` env and flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use sextant_ingest::pipeline::PipelineConfig;
use sextant_ingest::redact::{CustomPattern, Redactor};
use sextant_ingest::time_window::TimeWindow;
use sextant_meta::limits::LimitsConfig;
use sextant_query::agent_actions::policy::PolicyConfig;
use sextant_web::alerts::Rules;
use sextant_web::alerts::notifier::NotifierConfig;
use sextant_web::public_url::PublicUrl;
use sextant_web::query_slots::SqlSettings;

use crate::tls::TlsFiles;

/// The TOML config file. Every key is optional; unknown keys are an error naming the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data_dir: Option<PathBuf>,
    pub http_addr: Option<SocketAddr>,
    pub grpc_addr: Option<SocketAddr>,
    /// The URL browsers reach the server at, when not a loopback address (e.g. behind a
    /// reverse proxy): while no key exists, only it and loopback names are answered.
    pub public_url: Option<PublicUrl>,
    #[serde(default)]
    pub ingest: IngestSection,
    /// Per-project rate limits (`[limits]`, `[limits.projects.<id>]`).
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub evals: EvalsSection,
    #[serde(default)]
    pub query: QuerySection,
    #[serde(default)]
    pub redaction: RedactionSection,
    /// Rules over the governance ledger that raise alerts (`[[policies]]`).
    #[serde(default)]
    pub policies: Vec<PolicyConfig>,
    /// Where alerts are sent (`[[notifiers]]`), named by policies.
    #[serde(default)]
    pub notifiers: Vec<NotifierConfig>,
}

impl ConfigFile {
    /// The policies and notifiers, compiled and checked.
    pub fn alert_rules(&self) -> anyhow::Result<Rules> {
        Rules::compile(&self.policies, &self.notifiers).map_err(anyhow::Error::msg)
    }
}

/// `[redaction]`: credentials replaced at ingest, before anything is written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionSection {
    /// On by default; `false` stores secrets as agents sent them.
    #[serde(default = "redaction_on")]
    pub enabled: bool,
    /// The operator's own secret formats, applied after the built-in ones.
    #[serde(default)]
    pub patterns: Vec<CustomPattern>,
}

fn redaction_on() -> bool {
    true
}

impl Default for RedactionSection {
    fn default() -> Self {
        RedactionSection {
            enabled: true,
            patterns: Vec::new(),
        }
    }
}

impl RedactionSection {
    /// The redactor ingest applies, `None` when turned off.
    pub fn redactor(&self) -> anyhow::Result<Option<Arc<Redactor>>> {
        if !self.enabled {
            return Ok(None);
        }
        Ok(Some(Arc::new(Redactor::with_patterns(&self.patterns)?)))
    }
}

/// `[query]`: limits on users' SQL (`/api/sql`, the console, datasets from SQL, `sextant sql`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySection {
    /// Size of an answer (MiB, as Arrow holds its rows) past which it is cut off (`truncated`).
    pub max_result_mib: Option<usize>,
    /// Longest a statement may run, in seconds.
    pub time_limit_secs: Option<u64>,
    /// Statements running at once over all projects.
    pub max_concurrent: Option<usize>,
    /// Statements running at once for one project.
    pub max_concurrent_per_project: Option<usize>,
    /// How long a statement waits for a slot before it gets 503 + Retry-After (ms).
    pub queue_wait_ms: Option<u64>,
}

/// Longest time limit: files superseded by compaction stay this much longer than any query
/// (`READER_GRACE`), so no query loses a file it listed.
const MAX_TIME_LIMIT_SECS: u64 = sextant_ingest::compaction::READER_GRACE.as_secs() * 2 / 3;

impl QuerySection {
    /// The settings, defaults where unset; zero counts and sizes are raised to one.
    pub fn settings(&self) -> anyhow::Result<SqlSettings> {
        let defaults = SqlSettings::default();
        let time_limit_secs = self
            .time_limit_secs
            .unwrap_or(defaults.time_limit.as_secs())
            .max(1);
        if time_limit_secs > MAX_TIME_LIMIT_SECS {
            anyhow::bail!(
                "query.time_limit_secs = {time_limit_secs} is too long; the most is {MAX_TIME_LIMIT_SECS} (files replaced by compaction are kept only a while for running queries)"
            );
        }
        Ok(SqlSettings {
            max_result_bytes: self
                .max_result_mib
                .map_or(defaults.max_result_bytes, |mib| mib.max(1) * 1024 * 1024),
            time_limit: Duration::from_secs(time_limit_secs),
            max_concurrent: self
                .max_concurrent
                .unwrap_or(defaults.max_concurrent)
                .max(1),
            max_concurrent_per_project: self
                .max_concurrent_per_project
                .unwrap_or(defaults.max_concurrent_per_project)
                .max(1),
            queue_wait: self
                .queue_wait_ms
                .map_or(defaults.queue_wait, Duration::from_millis),
        })
    }
}

/// `[evals]`: suite files whose `schedule` runs inside the server.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalsSection {
    #[serde(default)]
    pub suites: Vec<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSection {
    /// Longest time an acknowledged span waits before it is flushed and queryable.
    pub flush_interval_ms: Option<u64>,
    /// Unflushed data (MiB) past which exports get 503 + Retry-After.
    pub max_pending_mib: Option<usize>,
    /// Largest OTLP request body (MiB), before and after decompression.
    pub body_limit_mib: Option<usize>,
    /// Request bytes (MiB, raw and inflated) all requests together may hold while they are
    /// read and decoded; past it, 503 + Retry-After.
    pub request_budget_mib: Option<usize>,
    /// Spans, logs and points older than this many days are rejected (`partial_success`),
    /// so a client cannot make a partition per day it names [default: 400; 0 = any age].
    pub accept_past_days: Option<u64>,
    /// … and those more than this many hours ahead of the server's clock [default: 24;
    /// 0 = any future time].
    pub accept_future_hours: Option<u64>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> anyhow::Result<ConfigFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }
}

/// Everything `serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub pipeline: PipelineConfig,
    pub body_limit_bytes: usize,
    /// In-flight request bytes of all OTLP and gateway requests together.
    pub request_budget_bytes: usize,
    /// Serve a non-loopback address with no keys (everything open): only when asked.
    pub insecure_open: bool,
    pub limits: LimitsConfig,
    /// Serve HTTP and gRPC over TLS with these PEM files.
    pub tls: Option<TlsFiles>,
    /// Suite files to run on their schedules.
    pub eval_suites: Vec<PathBuf>,
    /// Limits on users' SQL.
    pub sql: SqlSettings,
    /// The URL browsers reach the server at (its host is answered in open local mode).
    pub public_url: Option<PublicUrl>,
    /// Policies and notifiers at start-up.
    pub alert_rules: Rules,
    /// The config file, watched for changes to the policies and notifiers.
    pub config_path: Option<PathBuf>,
}

/// What the command line (and `SEXTANT_*` env) says about serving.
#[derive(Debug, Clone, Default)]
pub struct ServeFlags {
    /// `--config`, watched for policy changes while serving.
    pub config_path: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub http_addr: Option<SocketAddr>,
    pub grpc_addr: Option<SocketAddr>,
    pub insecure_open: bool,
    pub tls: Option<TlsFiles>,
    pub public_url: Option<PublicUrl>,
}

pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
pub const DEFAULT_DATA_DIR: &str = "./sextant-data";
/// Largest allowed body limit: a request is one WAL record, and records are capped.
const MAX_BODY_LIMIT_MIB: usize = sextant_ingest::wal::MAX_RECORD_BYTES / (1024 * 1024) / 2;

impl ServeConfig {
    /// Flags and env (already merged by clap) win over the file, which wins over defaults.
    pub fn resolve(file: ConfigFile, flags: ServeFlags) -> anyhow::Result<ServeConfig> {
        let mut pipeline = PipelineConfig::default();
        if let Some(millis) = file.ingest.flush_interval_ms {
            pipeline.flush_interval = Duration::from_millis(millis.max(10));
        }
        if let Some(mib) = file.ingest.max_pending_mib {
            pipeline.max_pending_bytes = mib.max(1) * 1024 * 1024;
        }
        let defaults = TimeWindow::server_default();
        pipeline.time_window = TimeWindow {
            max_age: match file.ingest.accept_past_days {
                Some(0) => None,
                Some(days) => Some(Duration::from_secs(days.saturating_mul(86_400))),
                None => defaults.max_age,
            },
            max_ahead: match file.ingest.accept_future_hours {
                Some(0) => None,
                Some(hours) => Some(Duration::from_secs(hours.saturating_mul(3_600))),
                None => defaults.max_ahead,
            },
        };
        let body_limit_mib = file.ingest.body_limit_mib.unwrap_or(64).max(1);
        if body_limit_mib > MAX_BODY_LIMIT_MIB {
            anyhow::bail!(
                "ingest.body_limit_mib = {body_limit_mib} is too large; the most is {MAX_BODY_LIMIT_MIB} (a request must fit in one write-ahead log record)"
            );
        }
        let body_limit_bytes = body_limit_mib * 1024 * 1024;
        let request_budget_bytes = match file.ingest.request_budget_mib {
            Some(mib) => mib.max(1) * 1024 * 1024,
            None => sextant_ingest::request_budget::DEFAULT_REQUEST_BUDGET_BYTES,
        };
        if request_budget_bytes < 2 * body_limit_bytes {
            anyhow::bail!(
                "ingest.request_budget_mib must be at least twice ingest.body_limit_mib ({} MiB): one compressed request may hold its body and its inflated copy",
                2 * body_limit_mib
            );
        }
        pipeline.redactor = file.redaction.redactor()?;
        let alert_rules = file.alert_rules()?;
        let sql = file.query.settings()?;
        Ok(ServeConfig {
            data_dir: flags
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            http_addr: flags
                .http_addr
                .or(file.http_addr)
                .unwrap_or(DEFAULT_HTTP_ADDR.parse()?),
            grpc_addr: flags
                .grpc_addr
                .or(file.grpc_addr)
                .unwrap_or(DEFAULT_GRPC_ADDR.parse()?),
            pipeline,
            body_limit_bytes,
            request_budget_bytes,
            insecure_open: flags.insecure_open,
            limits: file.limits,
            tls: flags.tls,
            eval_suites: file.evals.suites,
            sql,
            public_url: flags.public_url.or(file.public_url),
            alert_rules,
            config_path: flags.config_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_is_on_unless_turned_off_and_custom_patterns_are_checked() {
        let config = ServeConfig::resolve(ConfigFile::default(), ServeFlags::default())
            .expect("defaults resolve");
        assert!(config.pipeline.redactor.is_some());
        let file: ConfigFile = toml::from_str("[redaction]\nenabled = false").expect("valid");
        let config = ServeConfig::resolve(file, ServeFlags::default()).expect("resolves");
        assert!(config.pipeline.redactor.is_none());
        let file: ConfigFile =
            toml::from_str("[[redaction.patterns]]\nname = 'acme'\nregex = 'acme_[0-9]{8}'")
                .expect("valid");
        let config = ServeConfig::resolve(file, ServeFlags::default()).expect("resolves");
        let mut tally = Default::default();
        let redacted = config
            .pipeline
            .redactor
            .expect("on")
            .redact("id acme_12345678", &mut tally);
        assert_eq!(redacted.as_deref(), Some("id [REDACTED:acme]"));
        let file: ConfigFile =
            toml::from_str("[[redaction.patterns]]\nname = 'x'\nregex = '('").expect("valid");
        let error = ServeConfig::resolve(file, ServeFlags::default()).expect_err("bad regex");
        assert!(error.to_string().contains("\"x\""), "{error}");
    }

    #[test]
    fn unknown_keys_are_named() {
        let error = toml::from_str::<ConfigFile>("data_dir = 'x'\nhttp_adr = '127.0.0.1:1'")
            .expect_err("unknown key");
        assert!(error.to_string().contains("http_adr"), "{error}");
    }

    #[test]
    fn a_public_url_is_read_and_checked() {
        let file: ConfigFile =
            toml::from_str("public_url = 'https://traces.example.com'").expect("valid");
        let config = ServeConfig::resolve(file, ServeFlags::default()).expect("resolves");
        let public_url = config.public_url.expect("public url");
        assert_eq!(public_url.host(), "traces.example.com");
        let error = toml::from_str::<ConfigFile>("public_url = 'traces.example.com'")
            .expect_err("no scheme");
        assert!(error.to_string().contains("public_url"), "{error}");
    }

    #[test]
    fn body_limits_past_a_wal_record_are_refused() {
        let file: ConfigFile =
            toml::from_str("[ingest]\nbody_limit_mib = 300").expect("valid toml");
        let error = ServeConfig::resolve(file, ServeFlags::default()).expect_err("too large");
        assert!(error.to_string().contains("body_limit_mib"), "{error}");
    }

    #[test]
    fn limits_are_read_per_project() {
        let file: ConfigFile = toml::from_str(
            "[limits]\napi_requests_per_second = 20\n[limits.projects.ci]\ningest_spans_per_second = 5000",
        )
        .expect("valid");
        let config = ServeConfig::resolve(file, ServeFlags::default()).expect("resolves");
        assert_eq!(config.limits.api_requests_per_second, Some(20.0));
        assert_eq!(
            config.limits.projects["ci"].ingest_spans_per_second,
            Some(5000.0)
        );
    }

    #[test]
    fn query_limits_are_read_and_checked() {
        let file: ConfigFile = toml::from_str(
            "[query]\nmax_result_mib = 8\nmax_concurrent = 2\nmax_concurrent_per_project = 1\nqueue_wait_ms = 50",
        )
        .expect("valid");
        let config = ServeConfig::resolve(file, ServeFlags::default()).expect("resolves");
        assert_eq!(config.sql.max_result_bytes, 8 * 1024 * 1024);
        assert_eq!(config.sql.max_concurrent, 2);
        assert_eq!(config.sql.max_concurrent_per_project, 1);
        assert_eq!(config.sql.queue_wait, Duration::from_millis(50));
        assert_eq!(config.sql.time_limit, SqlSettings::default().time_limit);

        let file: ConfigFile =
            toml::from_str("[query]\ntime_limit_secs = 600").expect("valid toml");
        let error = ServeConfig::resolve(file, ServeFlags::default()).expect_err("too long");
        assert!(error.to_string().contains("time_limit_secs"), "{error}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let file: ConfigFile =
            toml::from_str("data_dir = 'from-file'\n[ingest]\nflush_interval_ms = 250")
                .expect("valid");
        let flags = ServeFlags {
            data_dir: Some("from-flag".into()),
            ..ServeFlags::default()
        };
        let config = ServeConfig::resolve(file, flags).expect("resolves");
        assert_eq!(config.data_dir, PathBuf::from("from-flag"));
        assert_eq!(config.pipeline.flush_interval, Duration::from_millis(250));
        assert_eq!(config.http_addr.to_string(), DEFAULT_HTTP_ADDR);
    }
}
