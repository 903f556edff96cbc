//! Notifiers: where alerts are sent. `[[notifiers]]` are declared once in the server config
//! and named by policies (`notify = ["sec-team"]`):
//!
//! ```toml
//! [[notifiers]]
//! name = "sec-team"
//! url = "https://hooks.example.com/…"   # a JSON POST of the alert
//! format = "slack"                      # or "json" (default): Slack's incoming-webhook body
//! projects = ["payments"]               # optional: every alert of these projects too
//! ```
//!
//! Sending never blocks ingest or the policy check: alerts wait in a bounded queue (the
//! oldest are dropped, and counted, when it is full) for one sender task that retries each
//! POST with backoff. No redirects are followed, and URLs are logged by origin only (a
//! webhook's path is its secret).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sextant_evals::providers::http::{client, loggable_origin};
use sextant_meta::alerts::Alert;
use tokio::sync::Notify;

/// `[[notifiers]]` as written in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierConfig {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub format: NotifierFormat,
    /// Projects whose every alert this notifier gets, besides those of policies naming it.
    #[serde(default)]
    pub projects: Vec<String>,
}

/// The body a notifier gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierFormat {
    /// `{"alert": {…}}`.
    #[default]
    Json,
    /// `{"text": "…"}`, what a Slack incoming webhook takes.
    Slack,
}

impl NotifierConfig {
    pub fn check(&self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "notifier {:?}: url must be an http:// or https:// URL",
                self.name
            ));
        }
        Ok(())
    }
}

/// Alerts waiting to be sent at most; past it the oldest are dropped.
const QUEUE_LIMIT: usize = 1024;
/// Tries per alert and notifier, and the wait before the first retry (doubled each time).
const ATTEMPTS: u32 = 4;
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// The queue of alerts to send and its sender task.
#[derive(Clone)]
pub struct Notifier {
    queue: Arc<Mutex<VecDeque<(Alert, NotifierConfig)>>>,
    wake: Arc<Notify>,
    /// Alerts dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
    /// Alerts whose every try failed.
    pub failed: Arc<AtomicU64>,
    /// Alerts delivered.
    pub sent: Arc<AtomicU64>,
}

impl Notifier {
    /// Starts the sender task on the current runtime.
    pub fn start() -> Notifier {
        let notifier = Notifier {
            queue: Arc::default(),
            wake: Arc::default(),
            dropped: Arc::default(),
            failed: Arc::default(),
            sent: Arc::default(),
        };
        let sender = notifier.clone();
        tokio::spawn(async move { sender.run().await });
        notifier
    }

    /// Queues `alert` for `target`; never waits.
    pub fn send(&self, alert: Alert, target: NotifierConfig) {
        let mut queue = self
            .queue
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if queue.len() >= QUEUE_LIMIT {
            queue.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queue.push_back((alert, target));
        drop(queue);
        self.wake.notify_one();
    }

    async fn run(self) {
        let http = match client(Duration::from_secs(10), None) {
            Ok(http) => http,
            Err(error) => {
                tracing::error!(%error, "alert notifier: no HTTP client; alerts are stored, not sent");
                return;
            }
        };
        loop {
            let next = self
                .queue
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .pop_front();
            let Some((alert, target)) = next else {
                self.wake.notified().await;
                continue;
            };
            if deliver(&http, &alert, &target).await {
                self.sent.fetch_add(1, Ordering::Relaxed);
            } else {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

async fn deliver(http: &reqwest::Client, alert: &Alert, target: &NotifierConfig) -> bool {
    let body = body_of(alert, target.format);
    let mut wait = FIRST_RETRY;
    for attempt in 1..=ATTEMPTS {
        match http.post(&target.url).json(&body).send().await {
            Ok(response) if response.status().is_success() => return true,
            Ok(response) => tracing::warn!(
                notifier = target.name,
                url = loggable_origin(&target.url),
                status = %response.status(),
                attempt,
                "alert not accepted"
            ),
            Err(error) => tracing::warn!(
                notifier = target.name,
                url = loggable_origin(&target.url),
                %error,
                attempt,
                "alert not sent"
            ),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
    false
}

/// What a notifier receives for `alert`.
pub fn body_of(alert: &Alert, format: NotifierFormat) -> Value {
    match format {
        NotifierFormat::Json => json!({ "alert": alert }),
        NotifierFormat::Slack => {
            let session = alert
                .session_id
                .as_deref()
                .map(|session| format!(", session {session}"))
                .unwrap_or_default();
            json!({
                "text": format!(
                    "[{}] {}: {} {} (project {}{session})",
                    alert.severity, alert.policy, alert.kind, alert.target, alert.project_id
                )
            })
        }
    }
}
