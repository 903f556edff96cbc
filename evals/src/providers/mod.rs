//! Model providers: one request shape in ([`ModelRequest`]), one [`Turn`] out, over the
//! three wire shapes agents use — OpenAI Chat Completions (`openai_chat.rs`; also vLLM,
//! llama.cpp, Ollama and gateways), OpenAI Responses (`openai_responses.rs`) and
//! Anthropic Messages (`anthropic.rs`).
//!
//! Infra failures (connection errors, timeouts, 429, 5xx) are retried with exponential
//! backoff, honouring `Retry-After`; if they persist the call is [`ProviderError::Unavailable`]
//! and the example is void — never counted as the model's failure. Non-streaming calls
//! for now.

mod anthropic;
mod openai_chat;
mod openai_responses;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{EvalError, Result};
use crate::messages::{Message, Turn};
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
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|error| EvalError::Invalid(format!("http client: {error}")))?;
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
        match self.config.provider {
            Provider::OpenaiChat => (
                format!("{base}/chat/completions"),
                openai_chat::body(model, request),
            ),
            Provider::OpenaiResponses => (
                format!("{base}/responses"),
                openai_responses::body(model, request),
            ),
            Provider::Anthropic => (format!("{base}/messages"), anthropic::body(model, request)),
        }
    }

    fn parse(&self, body: &Value) -> std::result::Result<Turn, String> {
        match self.config.provider {
            Provider::OpenaiChat => openai_chat::parse(body),
            Provider::OpenaiResponses => openai_responses::parse(body),
            Provider::Anthropic => anthropic::parse(body),
        }
    }

    /// Sends the request, retrying infra failures.
    pub async fn complete(
        &self,
        request: &ModelRequest,
    ) -> std::result::Result<Answer, ProviderError> {
        let (url, body) = self.wire_request(request);
        let mut last_error = String::new();
        for attempt in 1..=self.max_attempts {
            let started = Instant::now();
            let mut call = self.http.post(&url).json(&body);
            if let Some(key) = &self.api_key {
                call = match self.config.provider {
                    Provider::Anthropic => call.header("x-api-key", key),
                    _ => call.bearer_auth(key),
                };
            }
            if self.config.provider == Provider::Anthropic {
                call = call.header("anthropic-version", "2023-06-01");
            }
            let mut wait = self.first_backoff * 2u32.pow(attempt - 1);
            match call.send().await {
                Ok(response) => {
                    let status = response.status();
                    if let Some(seconds) = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.parse::<u64>().ok())
                    {
                        wait = Duration::from_secs(seconds.min(10));
                    }
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        let latency = started.elapsed();
                        let json: Value = serde_json::from_str(&text).map_err(|error| {
                            ProviderError::Rejected(format!("response is not JSON: {error}"))
                        })?;
                        let turn = self.parse(&json).map_err(ProviderError::Rejected)?;
                        return Ok(Answer { turn, latency });
                    }
                    let snippet: String = text.chars().take(300).collect();
                    if status.as_u16() != 429 && !status.is_server_error() {
                        return Err(ProviderError::Rejected(format!("{status}: {snippet}")));
                    }
                    last_error = format!("{status}: {snippet}");
                }
                Err(error) => last_error = error.to_string(),
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
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Tool arguments sent as JSON text, decoded.
fn decode_arguments(text: &str) -> Value {
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
        ProviderClient::new(&ModelConfig {
            provider,
            base_url: "http://127.0.0.1:1/v1/".into(),
            model: "m".into(),
            api_key_env: None,
            system_prompt_file: None,
            params: BTreeMap::new(),
            system_prompt: None,
        })
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
