//! The model gateway's HTTP face: `/gateway/{run}/{example}/{epoch}/{anthropic|openai}/…`.
//!
//! An agent CLI in an eval's `agent` replay has its model endpoint set to such a base path
//! (`ANTHROPIC_BASE_URL`, Codex's `base_url`) and the run's token as its API key. Model
//! calls (`v1/messages`, `v1/chat/completions`, `v1/responses`) are answered by
//! [`sextant_evals::gateway::answer::answer_call`] and recorded as spans in the run's
//! project; the side requests CLIs make (a `HEAD` probe, the model list, token counting,
//! Codex's analytics posts) get small answers of their own. The run's token is checked
//! before the body is read, and the body's bytes come from the server's request budget.

use axum::Router;
use std::sync::Arc;

use crate::otlp::http::read_body_capped;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use sextant_evals::gateway::answer::{GatewayReply, answer_call, error_body};
use sextant_evals::gateway::call_span::CallTags;
use sextant_evals::gateway::registry::{GatewayRegistry, SpanSink};
use sextant_evals::suite::Provider;
use sextant_ingest::ErrorCode;
use sextant_ingest::pipeline::IngestPipeline;
use sextant_ingest::request_budget::RequestBudget;

/// Agent requests carry whole conversations.
const GATEWAY_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// What the gateway's handlers share: the runs served, and the pipeline their spans go
/// through (absent in `sextant eval run`, whose runs collect their spans instead).
#[derive(Clone)]
pub struct GatewayState {
    pub registry: Arc<GatewayRegistry>,
    pub pipeline: Option<Arc<IngestPipeline>>,
    /// In-flight request bytes (the server's, shared with OTLP).
    pub budget: RequestBudget,
}

/// The gateway's routes, with their state: merged into the server's router, or served on
/// their own by `sextant eval run`.
pub fn gateway_router(state: GatewayState) -> Router {
    Router::new()
        .route(
            "/gateway/{run}/{example}/{epoch}/{shape}",
            any(gateway_root),
        )
        .route(
            "/gateway/{run}/{example}/{epoch}/{shape}/",
            any(gateway_root),
        )
        .route(
            "/gateway/{run}/{example}/{epoch}/{shape}/{*rest}",
            any(gateway_call),
        )
        .with_state(state)
}

fn reply(status: u16, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The API key the agent sent: Anthropic's `x-api-key`, or a bearer token.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
    {
        return Some(key);
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
}

fn family(shape: &str) -> Option<Provider> {
    match shape {
        "anthropic" => Some(Provider::Anthropic),
        "openai" => Some(Provider::OpenaiChat),
        _ => None,
    }
}

/// `HEAD`/`GET` on the base path: the probe some CLIs make before their first call.
async fn gateway_root(Path((_, _, _, shape)): Path<(String, String, String, String)>) -> Response {
    match family(&shape) {
        Some(_) => StatusCode::OK.into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn gateway_call(
    State(state): State<GatewayState>,
    Path((run_id, example, epoch, shape, rest)): Path<(String, String, String, String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(family) = family(&shape) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let json_error = |status: u16, message: &str| {
        reply(
            status,
            "application/json",
            error_body(family, status, message),
        )
    };
    let Ok(epoch) = epoch.parse::<u32>() else {
        return json_error(404, "the gateway path's epoch is not a number");
    };
    // The run's token before a byte of the body is read.
    let run = match state.registry.authorize(&run_id, presented_token(&headers)) {
        Ok(run) => run,
        Err(refusal) => return json_error(401, &refusal.to_string()),
    };
    let mut reservation = state.budget.empty();
    let body = match read_body_capped(body, GATEWAY_BODY_LIMIT, &mut reservation).await {
        Ok(body) => body,
        Err(error) => {
            let status = match error.code() {
                ErrorCode::PayloadTooLarge => 413,
                ErrorCode::Overloaded => 503,
                _ => 400,
            };
            let mut response = json_error(status, &error.to_string());
            if let Some(seconds) = error.retry_after_secs() {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            return response;
        }
    };
    let path = rest.trim_start_matches("v1/");
    let shape = match (family, &method, path) {
        (_, &Method::GET, "models") => {
            let model = "sextant-gateway";
            let list = match family {
                Provider::Anthropic => {
                    json!({"data": [{"type": "model", "id": model, "display_name": model}], "has_more": false})
                }
                _ => {
                    json!({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "sextant"}]})
                }
            };
            return reply(200, "application/json", list.to_string());
        }
        (Provider::Anthropic, &Method::POST, "messages/count_tokens") => {
            // An estimate is all a CLI uses it for (context meters).
            let estimate = body.len() / 4;
            return reply(
                200,
                "application/json",
                json!({"input_tokens": estimate}).to_string(),
            );
        }
        (Provider::Anthropic, &Method::POST, "messages") => Provider::Anthropic,
        (Provider::OpenaiChat, &Method::POST, "chat/completions") => Provider::OpenaiChat,
        (Provider::OpenaiChat, &Method::POST, "responses") => Provider::OpenaiResponses,
        (_, &Method::POST, other) if other.starts_with("analytics/") => {
            return reply(200, "application/json", "{}".into());
        }
        _ => return json_error(404, &format!("the gateway does not serve {method} {rest}")),
    };
    let tags = CallTags {
        run_id: run_id.clone(),
        example,
        epoch,
    };
    let traceparent = headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok());
    let GatewayReply {
        status,
        content_type,
        body,
        span,
    } = answer_call(&run, shape, &tags, &body, traceparent).await;
    match (span, &run.spans, &state.pipeline) {
        (Some(span), SpanSink::Collect(spans), _) => {
            if let Ok(mut spans) = spans.lock() {
                spans.push(span);
            }
        }
        (Some(span), SpanSink::Pipeline, Some(pipeline)) => {
            if let Err(error) = pipeline.ingest_traces(&run.project_id, span).await {
                tracing::error!(%error, run = %run_id, "cannot record a gateway call");
            }
        }
        _ => {}
    }
    reply(status, content_type, body)
}
