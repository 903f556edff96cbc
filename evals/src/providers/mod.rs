//! Model providers: one request shape in ([`ModelRequest`]), one [`Turn`] out, over the
//! three wire shapes agents use — OpenAI Chat Completions (`openai_chat.rs`; also vLLM,
//! llama.cpp, Ollama and gateways), OpenAI Responses (`openai_responses.rs`) and
//! Anthropic Messages (`anthropic.rs`).
//!
//! Infra failures (connection errors, timeouts, 429, 5xx) are retried with exponential
//! backoff, honouring `Retry-After`; if they persist the call is [`ProviderError::Unavailable`]
//! and the example is void — never counted as the model's failure.
//!
//! With `stream = true` in the model's config the request asks for server-sent events
//! (`sse.rs`) and each shape assembles its deltas into the same [`Turn`]; an error event
//! mid-stream (Anthropic's `overloaded_error`, OpenAI's `error`) is retried like a 5xx.

pub(crate) mod anthropic;
pub mod http;
pub(crate) mod openai_chat;
pub(crate) mod openai_responses;
pub mod response_cache;
pub mod sse;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{EvalError, Result};
use crate::messages::{Message, ToolCallRequest, Turn};
use crate::suite::{ModelConfig, Provider};

/// One model call, provider-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    pub system: Option<String>,
    pub messages: Vec<Message>,
    /// (name, description, JSON schema of the parameters)
    pub tools: Vec<(String, String, Value)>,
    pub params: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// The provider could not be reached or kept failing (5xx, 429) after retries.
    #[error("provider unavailable after {attempts} attempts: {message}")]
    Unavailable { attempts: u32, message: String },
    /// The provider refused the request (4xx other than 429) or answered nonsense.
    #[error("provider rejected the request: {0}")]
    Rejected(String),
}

/// A configured endpoint.
pub struct ProviderClient {
    config: ModelConfig,
    api_key: Option<String>,
    http: reqwest::Client,
    max_attempts: u32,
    first_backoff: Duration,
}

/// A call's answer and how long the provider took.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub turn: Turn,
    pub latency: Duration,
}

impl ProviderClient {
    /// Reads the key from the environment variable the config names.
    pub fn new(config: &ModelConfig) -> Result<ProviderClient> {
        let api_key = match &config.api_key_env {
            Some(variable) => Some(std::env::var(variable).map_err(|_| {
                EvalError::Invalid(format!(
                    "the environment variable {variable} (api_key_env of model {}) is not set",
                    config.model
                ))
            })?),
            None => None,
        };
        let http =
            crate::providers::http::client(Duration::from_secs(300), config.ca_file.as_deref())?;
        Ok(ProviderClient {
            config: config.clone(),
            api_key,
            http,
            max_attempts: 4,
            first_backoff: Duration::from_millis(200),
        })
    }

    /// Shortens the backoff (tests of the retry path).
    pub fn with_backoff(mut self, first_backoff: Duration) -> ProviderClient {
        self.first_backoff = first_backoff;
        self
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The endpoint and JSON body a request becomes, for this provider.
    pub fn wire_request(&self, request: &ModelRequest) -> (String, Value) {
        let base = self.config.base_url.trim_end_matches('/');
        let model = &self.config.model;
        let stream = self.config.stream;
        match self.config.provider {
            Provider::OpenaiChat => (
                format!("{base}/chat/completions"),
                openai_chat::body(model, request, stream),
            ),
            Provider::OpenaiResponses => (
                format!("{base}/responses"),
                openai_responses::body(model, request, stream),
            ),
            Provider::Anthropic => (
                format!("{base}/messages"),
                anthropic::body(model, request, stream),
            ),
        }
    }

    /// A successful response's body as a turn: JSON, or a stream of events.
    fn parse(&self, text: &str, streamed: bool) -> std::result::Result<Turn, StreamFailure> {
        if streamed {
            let events = sse::events(text);
            return match self.config.provider {
                Provider::OpenaiChat => openai_chat::parse_stream(&events),
                Provider::OpenaiResponses => openai_responses::parse_stream(&events),
                Provider::Anthropic => anthropic::parse_stream(&events),
            };
        }
        let json: Value = serde_json::from_str(text)
            .map_err(|error| StreamFailure::Malformed(format!("response is not JSON: {error}")))?;
        match self.config.provider {
            Provider::OpenaiChat => openai_chat::parse(&json),
            Provider::OpenaiResponses => openai_responses::parse(&json),
            Provider::Anthropic => anthropic::parse(&json),
        }
        .map_err(StreamFailure::Malformed)
    }

    /// Sends the request, retrying infra failures.
    pub async fn complete(
        &self,
        request: &ModelRequest,
    ) -> std::result::Result<Answer, ProviderError> {
        let (url, body) = self.wire_request(request);
        let mut last_error = String::new();
        for attempt in 1..=self.max_attempts {
            let mut wait = self.first_backoff * 2u32.pow(attempt - 1);
            match self.attempt(&url, &body).await {
                Attempt::Answered(answer) => return Ok(answer),
                Attempt::Refused(message) => return Err(ProviderError::Rejected(message)),
                Attempt::Failed { error, retry_after } => {
                    last_error = error;
                    wait = retry_after.unwrap_or(wait);
                }
            }
            if attempt < self.max_attempts {
                tokio::time::sleep(wait).await;
            }
        }
        Err(ProviderError::Unavailable {
            attempts: self.max_attempts,
            message: last_error,
        })
    }

    /// One try: the answer, a refusal (4xx other than 429, not the provider's shape), or
    /// an infra failure to retry (no connection, 429, 5xx, a body or stream cut short).
    async fn attempt(&self, url: &str, body: &Value) -> Attempt {
        let started = Instant::now();
        let mut call = self.http.post(url).json(body);
        if let Some(key) = &self.api_key {
            call = match self.config.provider {
                Provider::Anthropic => call.header("x-api-key", key),
                _ => call.bearer_auth(key),
            };
        }
        if self.config.provider == Provider::Anthropic {
            call = call.header("anthropic-version", "2023-06-01");
        }
        let failed = |error: String, retry_after| Attempt::Failed { error, retry_after };
        let response = match call.send().await {
            Ok(response) => response,
            Err(error) => return failed(error.to_string(), None),
        };
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header("retry-after")
            .and_then(|value| value.parse::<u64>().ok())
            .map(|seconds| Duration::from_secs(seconds.min(10)));
        let streamed =
            header("content-type").is_some_and(|value| value.starts_with("text/event-stream"));
        let text = match response.text().await {
            Ok(text) => text,
            Err(error) => return failed(format!("reading the response: {error}"), retry_after),
        };
        if !status.is_success() {
            let snippet: String = text.chars().take(300).collect();
            if status.as_u16() != 429 && !status.is_server_error() {
                return Attempt::Refused(format!("{status}: {snippet}"));
            }
            return failed(format!("{status}: {snippet}"), retry_after);
        }
        let latency = started.elapsed();
        match self.parse(&text, streamed) {
            Ok(turn) => Attempt::Answered(Answer { turn, latency }),
            Err(StreamFailure::Malformed(message)) => Attempt::Refused(message),
            Err(StreamFailure::Interrupted(message)) => {
                failed(format!("the stream failed: {message}"), retry_after)
            }
        }
    }
}

enum Attempt {
    Answered(Answer),
    Refused(String),
    Failed {
        error: String,
        retry_after: Option<Duration>,
    },
}

/// Why a successful response held no turn.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamFailure {
    /// An error event mid-stream (overloaded, server error): retried.
    Interrupted(String),
    /// Not the provider's shape: the request is refused, not retried.
    Malformed(String),
}

impl From<String> for StreamFailure {
    fn from(message: String) -> Self {
        StreamFailure::Malformed(message)
    }
}

/// A streamed tool call as its pieces arrive: id and name once, arguments in fragments.
#[derive(Debug, Clone, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

impl PartialCall {
    fn add(&mut self, id: Option<&str>, name: Option<&str>, arguments: Option<&str>) {
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            self.id = id.to_string();
        }
        if let Some(name) = name.filter(|name| !name.is_empty()) {
            self.name = name.to_string();
        }
        self.arguments.push_str(arguments.unwrap_or_default());
    }

    fn finish(self) -> ToolCallRequest {
        ToolCallRequest {
            id: self.id,
            name: self.name,
            arguments: if self.arguments.trim().is_empty() {
                Value::Object(Default::default())
            } else {
                decode_arguments(&self.arguments)
            },
        }
    }
}

/// Suite `params` as JSON values.
pub fn json_params(params: &BTreeMap<String, toml::Value>) -> BTreeMap<String, Value> {
    params
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), serde_json::to_value(value).ok()?)))
        .collect()
}

/// Adds `params` to a request body (they win over nothing: the body's own keys stay).
fn with_params(mut body: Value, params: &BTreeMap<String, Value>) -> Value {
    if let Value::Object(fields) = &mut body {
        for (key, value) in params {
            fields.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    body
}

/// Tool arguments as JSON text (OpenAI shapes carry them as strings).
pub(crate) fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Tool arguments sent as JSON text, decoded.
pub(crate) fn decode_arguments(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::messages::{Part, Role};

    pub(super) fn sample_request() -> ModelRequest {
        ModelRequest {
            system: Some("be brief".into()),
            messages: vec![
                Message {
                    role: Role::User,
                    parts: vec![Part::Text("fix it".into())],
                },
                Message {
                    role: Role::Assistant,
                    parts: vec![Part::ToolCall {
                        id: "c1".into(),
                        name: "bash".into(),
                        arguments: json!({"command": "ls"}),
                    }],
                },
                Message {
                    role: Role::Tool,
                    parts: vec![Part::ToolResult {
                        id: "c1".into(),
                        content: "a.rs".into(),
                    }],
                },
            ],
            tools: vec![(
                "bash".into(),
                "run a command".into(),
                json!({"type": "object"}),
            )],
            params: [("temperature".to_string(), json!(0.0))]
                .into_iter()
                .collect(),
        }
    }

    fn client(provider: Provider) -> ProviderClient {
        ProviderClient::new(&ModelConfig::new(provider, "http://127.0.0.1:1/v1/", "m"))
            .expect("client")
    }

    #[test]
    fn each_provider_has_its_endpoint() {
        let request = sample_request();
        let url = |provider| client(provider).wire_request(&request).0;
        assert_eq!(
            url(Provider::OpenaiChat),
            "http://127.0.0.1:1/v1/chat/completions"
        );
        assert_eq!(
            url(Provider::OpenaiResponses),
            "http://127.0.0.1:1/v1/responses"
        );
        assert_eq!(url(Provider::Anthropic), "http://127.0.0.1:1/v1/messages");
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_unavailable_after_retries() {
        let client = client(Provider::OpenaiChat).with_backoff(Duration::from_millis(1));
        let error = client
            .complete(&sample_request())
            .await
            .expect_err("nothing listens");
        assert!(
            matches!(error, ProviderError::Unavailable { attempts: 4, .. }),
            "{error}"
        );
    }
}
