//! One call through the gateway: read the agent's request, answer it from the run's
//! upstream in the agent's shape, and record it as a span.

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{Value, json};

use super::call_span::{CallRecord, CallTags, call_span};
use super::cassette::{Cassette, CassetteEntry, CassetteRecorder, canonical_request, request_key};
use super::registry::{GatewayRun, Upstream};
use super::{GatewayRequest, parse_request, render_response, render_stream};
use crate::messages::Turn;
use crate::providers::{
    ProviderClient, ProviderError, anthropic, json_params, openai_chat, openai_responses, sse,
};
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
    let answer = match &run.upstream {
        Upstream::Candidate { client, recorder } => {
            ask_candidate(client, recorder.as_ref(), &request, shape, &id, tags).await
        }
        Upstream::Cassette(cassette) => answer_from_cassette(cassette, &request, shape),
    };
    run.calls.fetch_add(1, Ordering::Relaxed);
    let span = call_span(&CallRecord {
        tags,
        request: &request,
        answered_by: &answer.answered_by,
        outcome: answer.outcome.as_ref().map_err(String::as_str),
        start_ns: started,
        end_ns: now_ns(),
        traceparent,
    });
    GatewayReply {
        status: answer.status,
        content_type: answer.content_type,
        body: answer.body,
        span: Some(span),
    }
}

/// What the upstream (the candidate or a cassette) answered, in the agent's shape, and
/// the turn it means (or why there is none).
struct UpstreamAnswer {
    status: u16,
    content_type: &'static str,
    body: String,
    /// The candidate's model, or `cassette`.
    answered_by: String,
    outcome: Result<Turn, String>,
}

/// Asks the candidate model, with the suite's parameters over the agent's, and records
/// the answer in the cassette when the run records one.
async fn ask_candidate(
    client: &ProviderClient,
    recorder: Option<&CassetteRecorder>,
    request: &GatewayRequest,
    shape: Provider,
    id: &str,
    tags: &CallTags,
) -> UpstreamAnswer {
    let model = client.config().model.clone();
    // The suite's parameters win over the agent's (a CLI's 32k max_tokens may be past what
    // the candidate allows).
    let mut model_request = request.request.clone();
    model_request
        .params
        .extend(json_params(&client.config().params));
    match client.complete(&model_request).await {
        Ok(answer) => {
            let (content_type, reply) = if request.stream {
                (
                    "text/event-stream",
                    render_stream(request, &answer.turn, id),
                )
            } else {
                (
                    "application/json",
                    render_response(request, &answer.turn, id).to_string(),
                )
            };
            if let Some(recorder) = recorder {
                let entry = CassetteEntry {
                    key: request_key(request),
                    request: canonical_request(request),
                    status: 200,
                    content_type: content_type.to_owned(),
                    body: reply.clone(),
                };
                if let Err(error) = recorder.record(&entry) {
                    tracing::error!(%error, run = %tags.run_id, "cannot record the call in the cassette");
                }
            }
            UpstreamAnswer {
                status: 200,
                content_type,
                body: reply,
                answered_by: model,
                outcome: Ok(answer.turn),
            }
        }
        Err(error) => {
            let status = match error {
                ProviderError::Unavailable { .. } => 503,
                ProviderError::Rejected(_) => 400,
            };
            let message = format!("the candidate model {model}: {error}");
            UpstreamAnswer {
                status,
                content_type: "application/json",
                body: error_body(shape, status, &message),
                answered_by: model,
                outcome: Err(message),
            }
        }
    }
}

/// The cassette's recorded answer to the request, byte for byte, or a 400 naming the miss.
fn answer_from_cassette(
    cassette: &Cassette,
    request: &GatewayRequest,
    shape: Provider,
) -> UpstreamAnswer {
    match cassette.answer(request) {
        Ok(entry) => UpstreamAnswer {
            status: entry.status,
            content_type: if entry.content_type.starts_with("text/event-stream") {
                "text/event-stream"
            } else {
                "application/json"
            },
            body: entry.body.clone(),
            answered_by: "cassette".to_owned(),
            outcome: recorded_turn(shape, entry)
                .ok_or_else(|| "the recorded answer cannot be read".to_owned()),
        },
        Err(message) => UpstreamAnswer {
            status: 400,
            content_type: "application/json",
            body: error_body(shape, 400, &message),
            answered_by: "cassette".to_owned(),
            outcome: Err(message),
        },
    }
}
