//! The alerts engine: policies checked against each tool call as it is ingested, alerts
//! stored in the metadata store (`meta::alerts`) and sent to notifiers. The monitors issue
//! will raise alerts through the same store and notifiers.
//!
//! Flow: the ingest pipeline shows the engine the tool rows of each acknowledged request
//! ([`AcknowledgedRows`]); they wait in a bounded queue (full: dropped and counted, ingest
//! never waits) for one task that reads their actions (`query::agent_actions`, the same
//! reading as the `agent_actions` view), matches every policy of the row's project, raises
//! an alert per (policy, session, target) and queues new ones for the policy's notifiers.
//! Policies and notifiers can be replaced while the server runs (`replace`; `serve` reloads
//! them when the config file changes).

pub mod notifier;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sextant_ingest::log_row::CanonicalLog;
use sextant_ingest::normalized_rows::NormalizedRows;
use sextant_ingest::row_observer::AcknowledgedRows;
use sextant_ingest::span::{CanonicalSpan, StatusCode};
use sextant_meta::alerts::NewAlert;
use sextant_meta::store::SharedMetadata;
use sextant_query::agent_actions::AgentAction;
use sextant_query::agent_actions::policy::{Policy, PolicyConfig};
use sextant_query::agent_actions::udf::row_actions;
use tokio::sync::mpsc;

use self::notifier::{Notifier, NotifierConfig};

/// Acknowledged requests whose tool rows wait for the policy check, at most.
const QUEUE_DEPTH: usize = 4096;

/// The policies and notifiers in force.
#[derive(Debug, Default, Clone)]
pub struct Rules {
    pub policies: Vec<Policy>,
    pub notifiers: Vec<NotifierConfig>,
}

impl Rules {
    /// Compiles the config's policies; every name a policy notifies must be a notifier.
    pub fn compile(
        policies: &[PolicyConfig],
        notifiers: &[NotifierConfig],
    ) -> Result<Rules, String> {
        for notifier in notifiers {
            notifier.check()?;
        }
        let policies = policies
            .iter()
            .map(Policy::compile)
            .collect::<Result<Vec<_>, _>>()?;
        for policy in &policies {
            for name in &policy.notify {
                if !notifiers.iter().any(|notifier| &notifier.name == name) {
                    return Err(format!(
                        "policy {:?} notifies {name:?}, which no [[notifiers]] entry names",
                        policy.name
                    ));
                }
            }
        }
        Ok(Rules {
            policies,
            notifiers: notifiers.to_vec(),
        })
    }
}

impl Rules {
    /// Where an alert of `policy` in `project` goes: the notifiers the policy names, then
    /// those declared for the project (`projects = [...]` on a notifier), each once.
    pub fn recipients<'a>(&'a self, policy: &Policy, project: &str) -> Vec<&'a NotifierConfig> {
        self.notifiers
            .iter()
            .filter(|notifier| {
                policy.notify.contains(&notifier.name)
                    || notifier.projects.iter().any(|name| name == project)
            })
            .collect()
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct AlertStats {
    pub raised: AtomicU64,
    /// Requests whose tool rows were not checked because the queue was full.
    pub unchecked: AtomicU64,
}

/// The engine: the rules, the queue into the checking task, the notifier.
pub struct AlertsEngine {
    rules: RwLock<Arc<Rules>>,
    queue: mpsc::Sender<(String, NormalizedRows)>,
    pub stats: AlertStats,
    pub notifier: Notifier,
}

impl AlertsEngine {
    /// Starts the checking task and the notifier on the current runtime.
    pub fn start(rules: Rules, metadata: SharedMetadata) -> Arc<AlertsEngine> {
        let (queue, mut receiver) = mpsc::channel(QUEUE_DEPTH);
        let engine = Arc::new(AlertsEngine {
            rules: RwLock::new(Arc::new(rules)),
            queue,
            stats: AlertStats::default(),
            notifier: Notifier::start(),
        });
        let checker = engine.clone();
        tokio::spawn(async move {
            while let Some((project, rows)) = receiver.recv().await {
                let engine = checker.clone();
                let metadata = metadata.clone();
                let checked =
                    tokio::task::spawn_blocking(move || engine.check(&project, &rows, &metadata))
                        .await;
                if let Err(error) = checked {
                    tracing::error!(%error, "policy check failed");
                }
            }
        });
        engine
    }

    /// Puts `rules` in force for the requests checked from now on.
    pub fn replace(&self, rules: Rules) {
        *self
            .rules
            .write()
            .unwrap_or_else(|poison| poison.into_inner()) = Arc::new(rules);
    }

    fn rules(&self) -> Arc<Rules> {
        self.rules
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Checks one request's tool rows against the project's policies.
    fn check(&self, project: &str, rows: &NormalizedRows, metadata: &SharedMetadata) {
        let rules = self.rules();
        if rules.policies.is_empty() {
            return;
        }
        let mut found = Vec::new();
        for span in &rows.spans {
            for action in span_actions(span) {
                found.push((Origin::of_span(span), action));
            }
        }
        for log in &rows.logs {
            for action in log_actions(log) {
                found.push((Origin::of_log(log), action));
            }
        }
        for (origin, action) in &found {
            for policy in rules.policies.iter().filter(|p| p.matches(project, action)) {
                let alert = NewAlert {
                    project_id: project.to_string(),
                    policy: policy.name.clone(),
                    severity: policy.severity.as_str().to_string(),
                    session_id: origin.session_id.clone(),
                    trace_id: origin.trace_id.clone(),
                    span_id: origin.span_id.clone(),
                    kind: action.kind.as_str().to_string(),
                    target: action.target.clone(),
                    detail: action.detail.clone(),
                    time_ms: origin.time_ns / 1_000_000,
                };
                let raised = metadata.with(|store| store.alerts().raise(&alert));
                match raised {
                    Ok(Some(alert)) => {
                        self.stats.raised.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(
                            project,
                            policy = policy.name,
                            alert = alert.id,
                            target = alert.target,
                            "alert raised"
                        );
                        for target in rules.recipients(policy, project) {
                            self.notifier.send(alert.clone(), target.clone());
                        }
                    }
                    Ok(None) => {}
                    Err(error) => tracing::error!(%error, "alert not stored"),
                }
            }
        }
    }
}

impl AcknowledgedRows for AlertsEngine {
    fn acknowledged(&self, project_id: &str, rows: NormalizedRows) {
        if self.queue.try_send((project_id.to_string(), rows)).is_err() {
            self.stats.unchecked.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Where an action came from.
struct Origin {
    session_id: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
    time_ns: i64,
}

impl Origin {
    fn of_span(span: &CanonicalSpan) -> Origin {
        Origin {
            session_id: span.session_id.clone(),
            trace_id: Some(span.trace_id.clone()),
            span_id: Some(span.span_id.clone()),
            time_ns: span.start_time,
        }
    }

    fn of_log(log: &CanonicalLog) -> Origin {
        Origin {
            session_id: log.session_id.clone(),
            trace_id: log.trace_id.clone(),
            span_id: log.span_id.clone(),
            time_ns: log.time,
        }
    }
}

/// A tool span's actions, as the `agent_actions` view reads them (Claude Code's tool spans
/// repeat its events and are skipped there too).
fn span_actions(span: &CanonicalSpan) -> Vec<AgentAction> {
    if span
        .scope_name
        .as_deref()
        .is_some_and(|scope| scope.starts_with("com.anthropic.claude_code"))
    {
        return Vec::new();
    }
    row_actions(
        "span",
        span.tool_name.as_deref().unwrap_or_default(),
        span.input.as_deref(),
        span.output.as_deref(),
        Some(&span.attributes),
        Some(span.status_code != StatusCode::Error),
    )
}

/// A tool event's actions, as the `agent_actions` view reads them.
fn log_actions(log: &CanonicalLog) -> Vec<AgentAction> {
    let Some(event) = log.event_name.as_deref() else {
        return Vec::new();
    };
    row_actions(
        event,
        log.tool_name.as_deref().unwrap_or_default(),
        None,
        None,
        Some(&log.attributes),
        log.success,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_go_to_the_policy_s_notifiers_and_the_project_s() {
        let notifiers: Vec<NotifierConfig> = toml::from_str::<toml::Table>(
            r#"
[[notifiers]]
name = "sec-team"
url = "https://hooks.example.com/sec"
[[notifiers]]
name = "payments-oncall"
url = "https://hooks.example.com/pay"
format = "slack"
projects = ["payments"]
"#,
        )
        .expect("toml")["notifiers"]
            .clone()
            .try_into()
            .expect("notifiers");
        let policies: Vec<PolicyConfig> = vec![
            toml::from_str("name = 'secrets-read'\nnotify = ['sec-team']").expect("policy"),
            toml::from_str("name = 'quiet'").expect("policy"),
        ];
        let rules = Rules::compile(&policies, &notifiers).expect("rules");
        let names = |policy: usize, project: &str| -> Vec<&str> {
            rules
                .recipients(&rules.policies[policy], project)
                .into_iter()
                .map(|notifier| notifier.name.as_str())
                .collect()
        };
        assert_eq!(names(0, "payments"), ["sec-team", "payments-oncall"]);
        assert_eq!(names(0, "web"), ["sec-team"]);
        assert_eq!(names(1, "payments"), ["payments-oncall"]);
        assert!(names(1, "web").is_empty());
        let unknown = vec![
            toml::from_str::<PolicyConfig>("name = 'x'\nnotify = ['nobody']").expect("policy"),
        ];
        let error = Rules::compile(&unknown, &notifiers).expect_err("unknown notifier");
        assert!(error.contains("nobody"), "{error}");
    }
}
