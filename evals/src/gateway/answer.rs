//! One call through the gateway: read the agent's request, answer it from the run's
//! upstream in the agent's shape, and record it as a span.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{Value, json};

use super::call_span::{CallRecord, CallTags, call_span};
use super::cassette::{CassetteEntry, canonical_request, request_key};
use super::registry::{GatewayRun, Upstream};
use super::{GatewayRequest, parse_request, render_response, render_stream};
use crate::messages::Turn;
use crate::providers::{ProviderError, anthropic, json_params, openai_chat, openai_responses, sse};
use crate::suite::Provider;

/// What goes back to the agent, and the span that records the call (none when the body
/// could not even be read).
pub struct GatewayReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub span: Option<ExportTraceServiceRequest>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64)
}

/// An error body in the shape the agent speaks, so its CLI shows the message.
pub fn error_body(shape: Provider, status: u16, message: &str) -> String {
    match shape {
        Provider::Anthropic => {
            let kind = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                404 => "not_found_error",
                529 | 503 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message}})
        }
        _ => {
            let kind = match status {
                400 | 404 => "invalid_request_error",
                401 => "authentication_error",
                _ => "server_error",
            };
            json!({"error": {"message": message, "type": kind, "code": Value::Null}})
        }
    }
    .to_string()
}

fn refused(shape: Provider, status: u16, message: &str) -> GatewayReply {
    GatewayReply {
        status,
        content_type: "application/json",
        body: error_body(shape, status, message),
        span: None,
    }
}

/// A recorded answer read back as a turn, for its span.
fn recorded_turn(shape: Provider, entry: &CassetteEntry) -> Option<Turn> {
    if entry.content_type.starts_with("text/event-stream") {
        let events = sse::events(&entry.body);
        return match shape {
            Provider::Anthropic => anthropic::parse_stream(&events).ok(),
            Provider::OpenaiChat => openai_chat::parse_stream(&events).ok(),
            Provider::OpenaiResponses => openai_responses::parse_stream(&events).ok(),
        };
    }
    let body: Value = serde_json::from_str(&entry.body).ok()?;
    match shape {
        Provider::Anthropic => anthropic::parse(&body).ok(),
        Provider::OpenaiChat => openai_chat::parse(&body).ok(),
        Provider::OpenaiResponses => openai_responses::parse(&body).ok(),
    }
}

/// Answers one model call of `run`'s agent.
pub async fn answer_call(
    run: &GatewayRun,
    shape: Provider,
    tags: &CallTags,
    body: &[u8],
    traceparent: Option<&str>,
) -> GatewayReply {
    let started = now_ns();
    let json: Value = match serde_json::from_slice(body) {
        Ok(json) => json,
        Err(error) => {
            return refused(
                shape,
                400,
                &format!("the request body is not JSON: {error}"),
            );
        }
    };
    let request: GatewayRequest = match parse_request(shape, &json) {
        Ok(request) => request,
        Err(message) => return refused(shape, 400, &message),
    };
    let id = blake3::hash(
        format!("{}:{}:{}:{started}", tags.run_id, tags.example, tags.epoch).as_bytes(),
    )
    .to_hex()[..24]
        .to_string();
    let (status, content_type, reply_body, answered_by, outcome): (
        u16,
        &'static str,
        String,
        String,
        Result<Turn, String>,
    ) = match &run.upstream {
        Upstream::Candidate { client, recorder } => {
            let model = client.config().model.clone();
            // The suite's parameters win over the agent's (a CLI's 32k max_tokens may
            // be past what the candidate allows).
            let mut model_request = request.request.clone();
            model_request
                .params
                .extend(json_params(&client.config().params));
            match client.complete(&model_request).await {
                Ok(answer) => {
                    let (content_type, reply) = if request.stream {
                        (
                            "text/event-stream",
                            render_stream(&request, &answer.turn, &id),
                        )
                    } else {
                        (
                            "application/json",
                            render_response(&request, &answer.turn, &id).to_string(),
                        )
                    };
                    if let Some(recorder) = recorder {
                        let entry = CassetteEntry {
                            key: request_key(&request),
                            request: canonical_request(&request),
                            status: 200,
                            content_type: content_type.to_owned(),
                            body: reply.clone(),
                        };
                        if let Err(error) = recorder.record(&entry) {
                            tracing::error!(%error, run = %tags.run_id, "cannot record the call in the cassette");
                        }
                    }
                    (200, content_type, reply, model, Ok(answer.turn))
                }
                Err(error) => {
                    let status = match error {
                        ProviderError::Unavailable { .. } => 503,
                        ProviderError::Rejected(_) => 400,
                    };
                    let message = format!("the candidate model {model}: {error}");
                    (
                        status,
                        "application/json",
                        error_body(shape, status, &message),
                        model,
                        Err(message),
                    )
                }
            }
        }
        Upstream::Cassette(cassette) => match cassette.answer(&request) {
            Ok(entry) => {
                let turn = recorded_turn(shape, entry)
                    .ok_or_else(|| "the recorded answer cannot be read".to_owned());
                let content_type = if entry.content_type.starts_with("text/event-stream") {
                    "text/event-stream"
                } else {
                    "application/json"
                };
                (
                    entry.status,
                    content_type,
                    entry.body.clone(),
                    "cassette".to_owned(),
                    turn,
                )
            }
            Err(message) => (
                400,
                "application/json",
                error_body(shape, 400, &message),
                "cassette".to_owned(),
                Err(message),
            ),
        },
    };
    run.calls.fetch_add(1, Ordering::Relaxed);
    let span = call_span(&CallRecord {
        tags,
        request: &request,
        answered_by: &answered_by,
        outcome: outcome.as_ref().map_err(String::as_str),
        start_ns: started,
        end_ns: now_ns(),
        traceparent,
    });
    GatewayReply {
        status,
        content_type,
        body: reply_body,
        span: Some(span),
    }
}
