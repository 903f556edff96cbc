//! Scripted model servers on loopback speaking OpenAI Chat Completions, OpenAI Responses
//! and Anthropic Messages, for the eval harness. The script mirrors the recorded runs of
//! `evals.rs`: "task N" is answered with a `bash {"command": "run N"}` tool call, and the
//! result "ok N" with the text "done N". A [`Behaviour`] can make it reproduce that,
//! call the wrong tool for some tasks, answer at random, or fail with 500s. A request
//! with `"stream": true` is answered with server-sent events in that API's stream shape.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::loopback::{serve_on_loopback, serve_tls_on_loopback};

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answer as the recording did.
    Reproduce,
    /// Call `grep` instead of `bash` for these task numbers.
    WrongToolFor(Vec<u32>),
    /// Each answer wrong with probability `wrong` (seeded): noisy, not clearly worse.
    Random { seed: u64, wrong: f64 },
    /// Every call fails with 500.
    ServerError,
    /// Answer as the recording did, but cut the first `n` streams off halfway: the
    /// even-numbered ones with an error event, the odd ones silently (no end event).
    InterruptFirstStreams(usize),
}

pub struct ScriptedModels {
    pub base_url: String,
    pub requests: Arc<AtomicUsize>,
    pub streamed: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl ScriptedModels {
    pub fn start(behaviour: Behaviour) -> ScriptedModels {
        ScriptedModels::serve(behaviour, None)
    }

    /// The same script over HTTPS, with a certificate for `localhost` signed by itself;
    /// returns the servers and that certificate's PEM (the CA a client must trust).
    pub fn start_https(behaviour: Behaviour) -> (ScriptedModels, String) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("self-signed certificate");
        let cert_pem = certified.cert.pem();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![certified.cert.der().clone()],
                rustls_pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
                    .expect("private key"),
            )
            .expect("certificate and key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        (ScriptedModels::serve(behaviour, Some(acceptor)), cert_pem)
    }

    fn serve(behaviour: Behaviour, tls: Option<tokio_rustls::TlsAcceptor>) -> ScriptedModels {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let streamed = Arc::new(AtomicUsize::new(0));
        let streams = streamed.clone();
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(match behaviour {
            Behaviour::Random { seed, .. } => seed,
            _ => 0,
        })));
        let router = Router::new().fallback(move |uri: Uri, body: Bytes| {
            counter.fetch_add(1, Ordering::SeqCst);
            let behaviour = behaviour.clone();
            let rng = rng.clone();
            let streams = streams.clone();
            async move { answer(&uri, &body, &behaviour, &rng, &streams) }
        });
        let (base_url, runtime) = match tls {
            None => {
                let (address, runtime) = serve_on_loopback(router);
                (format!("http://{address}/v1"), runtime)
            }
            Some(acceptor) => {
                let (address, runtime) = serve_tls_on_loopback(router, acceptor);
                (format!("https://localhost:{}/v1", address.port()), runtime)
            }
        };
        ScriptedModels {
            base_url,
            requests,
            streamed,
            _runtime: runtime,
        }
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// How many requests asked for a stream.
    pub fn streamed_count(&self) -> usize {
        self.streamed.load(Ordering::SeqCst)
    }
}

/// What the last message of a request says: a task to start, or a tool result.
enum Prompt {
    Task(u32),
    ToolResult(u32),
}

fn number_after(text: &str, prefix: &str) -> Option<u32> {
    text.trim().strip_prefix(prefix)?.trim().parse().ok()
}

fn prompt_of(text: &str) -> Option<Prompt> {
    number_after(text, "task")
        .map(Prompt::Task)
        .or_else(|| number_after(text, "ok").map(Prompt::ToolResult))
}

/// The last message's text in each wire shape.
fn last_text(path: &str, body: &Value) -> String {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    if path.ends_with("/chat/completions") {
        return body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .map_or(String::new(), |m| text(&m["content"]));
    }
    if path.ends_with("/responses") {
        let Some(item) = body["input"].as_array().and_then(|items| items.last()) else {
            return String::new();
        };
        return if item["type"] == "function_call_output" {
            text(&item["output"])
        } else {
            text(&item["content"])
        };
    }
    let Some(block) = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_array())
        .and_then(|blocks| blocks.last())
    else {
        return String::new();
    };
    if block["type"] == "tool_result" {
        text(&block["content"])
    } else {
        text(&block["text"])
    }
}

/// (tool call, text): what the script answers.
fn script(
    prompt: Option<Prompt>,
    behaviour: &Behaviour,
    rng: &Mutex<StdRng>,
) -> (Option<(String, Value)>, String) {
    let wrong = match (&prompt, behaviour) {
        (Some(Prompt::Task(task)), Behaviour::WrongToolFor(tasks)) => tasks.contains(task),
        (
            _,
            Behaviour::Random {
                wrong: probability, ..
            },
        ) => rng
            .lock()
            .map(|mut rng| rng.random_bool(*probability))
            .unwrap_or(false),
        _ => false,
    };
    match prompt {
        Some(Prompt::Task(task)) if !wrong => (
            Some(("bash".into(), json!({"command": format!("run {task}")}))),
            String::new(),
        ),
        Some(Prompt::Task(task)) => (
            Some(("grep".into(), json!({"pattern": format!("{task}")}))),
            String::new(),
        ),
        Some(Prompt::ToolResult(task)) if !wrong => (None, format!("done {task}")),
        _ => (None, "I am not sure.".into()),
    }
}

/// What the script says for one request, before it is put in a wire shape.
struct Answer {
    tool: Option<(String, Value)>,
    text: String,
    input_tokens: i64,
    output_tokens: i64,
}

fn answer(
    uri: &Uri,
    body: &[u8],
    behaviour: &Behaviour,
    rng: &Mutex<StdRng>,
    streams: &AtomicUsize,
) -> Response {
    if matches!(behaviour, Behaviour::ServerError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "scripted outage").into_response();
    }
    let path = uri.path();
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let (tool, text) = script(prompt_of(&last_text(path, &request)), behaviour, rng);
    let answer = Answer {
        tool,
        text,
        input_tokens: 100,
        output_tokens: 10,
    };
    if request["stream"] == true {
        let earlier_streams = streams.fetch_add(1, Ordering::SeqCst);
        let cut = match behaviour {
            Behaviour::InterruptFirstStreams(n) if earlier_streams < *n => {
                Some(if earlier_streams.is_multiple_of(2) {
                    Cut::WithErrorEvent
                } else {
                    Cut::Silently
                })
            }
            _ => None,
        };
        let events = if path.ends_with("/chat/completions") {
            chat_events(&answer)
        } else if path.ends_with("/responses") {
            responses_events(&answer)
        } else if path.ends_with("/messages") {
            messages_events(&answer)
        } else {
            return (StatusCode::NOT_FOUND, "no such endpoint").into_response();
        };
        return event_stream(events, cut);
    }
    let body = if path.ends_with("/chat/completions") {
        chat_body(&answer)
    } else if path.ends_with("/responses") {
        responses_body(&answer)
    } else if path.ends_with("/messages") {
        messages_body(&answer)
    } else {
        return (StatusCode::NOT_FOUND, "no such endpoint").into_response();
    };
    axum::Json(body).into_response()
}

fn chat_body(answer: &Answer) -> Value {
    let mut message = json!({"role": "assistant", "content": answer.text});
    if let Some((name, arguments)) = &answer.tool {
        message["tool_calls"] = json!([{"id": "call_1", "type": "function",
            "function": {"name": name, "arguments": arguments.to_string()}}]);
    }
    json!({"choices": [{"message": message, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": answer.input_tokens, "completion_tokens": answer.output_tokens}})
}

fn responses_body(answer: &Answer) -> Value {
    let output = match &answer.tool {
        Some((name, arguments)) => json!({"type": "function_call", "call_id": "call_1",
            "name": name, "arguments": arguments.to_string()}),
        None => json!({"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": answer.text}]}),
    };
    json!({"output": [output],
           "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens}})
}

fn messages_body(answer: &Answer) -> Value {
    let content = match &answer.tool {
        Some((name, arguments)) => {
            json!({"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments})
        }
        None => json!({"type": "text", "text": answer.text}),
    };
    json!({"content": [content], "stop_reason": "end_turn",
           "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens}})
}

/// A string cut in two, as a stream delivers it in pieces.
fn halves(text: &str) -> [&str; 2] {
    let mut middle = text.len() / 2;
    while !text.is_char_boundary(middle) {
        middle += 1;
    }
    [&text[..middle], &text[middle..]]
}

/// (event name, data) pairs of a Chat Completions stream: deltas, then a usage chunk.
fn chat_events(answer: &Answer) -> Vec<(Option<&'static str>, Value)> {
    let chunk = |delta: Value| json!({"choices": [{"index": 0, "delta": delta}]});
    let mut events = vec![(None, chunk(json!({"role": "assistant"})))];
    match &answer.tool {
        Some((name, arguments)) => {
            let arguments = arguments.to_string();
            let [first, second] = halves(&arguments);
            events.push((
                None,
                chunk(json!({"tool_calls": [{"index": 0, "id": "call_1",
                "type": "function", "function": {"name": name, "arguments": first}}]})),
            ));
            events.push((
                None,
                chunk(json!({"tool_calls": [{"index": 0,
                "function": {"arguments": second}}]})),
            ));
        }
        None => {
            for piece in halves(&answer.text) {
                events.push((None, chunk(json!({"content": piece}))));
            }
        }
    }
    events.push((
        None,
        json!({"choices": [], "usage": {"prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens}}),
    ));
    events
}

/// A Responses stream: the item's deltas, then `response.completed` with the whole response.
fn responses_events(answer: &Answer) -> Vec<(Option<&'static str>, Value)> {
    let mut events = vec![(
        Some("response.created"),
        json!({"type": "response.created"}),
    )];
    match &answer.tool {
        Some((name, arguments)) => {
            events.push((Some("response.output_item.added"), json!({
                "type": "response.output_item.added", "output_index": 0,
                "item": {"type": "function_call", "call_id": "call_1", "name": name, "arguments": ""}})));
            for piece in halves(&arguments.to_string()) {
                events.push((Some("response.function_call_arguments.delta"), json!({
                    "type": "response.function_call_arguments.delta", "output_index": 0, "delta": piece})));
            }
        }
        None => {
            for piece in halves(&answer.text) {
                events.push((
                    Some("response.output_text.delta"),
                    json!({
                    "type": "response.output_text.delta", "output_index": 0, "delta": piece}),
                ));
            }
        }
    }
    events.push((
        Some("response.completed"),
        json!({"type": "response.completed",
        "response": responses_body(answer)}),
    ));
    events
}

/// An Anthropic Messages stream: message_start, one content block in pieces, message_delta.
fn messages_events(answer: &Answer) -> Vec<(Option<&'static str>, Value)> {
    let mut events = vec![(
        Some("message_start"),
        json!({"type": "message_start",
        "message": {"role": "assistant", "content": [],
                    "usage": {"input_tokens": answer.input_tokens, "output_tokens": 1}}}),
    )];
    let (block, deltas) = match &answer.tool {
        Some((name, arguments)) => (
            json!({"type": "tool_use", "id": "toolu_1", "name": name, "input": {}}),
            halves(&arguments.to_string())
                .map(|piece| json!({"type": "input_json_delta", "partial_json": piece}))
                .to_vec(),
        ),
        None => (
            json!({"type": "text", "text": ""}),
            halves(&answer.text)
                .map(|piece| json!({"type": "text_delta", "text": piece}))
                .to_vec(),
        ),
    };
    events.push((
        Some("content_block_start"),
        json!({"type": "content_block_start",
        "index": 0, "content_block": block}),
    ));
    for delta in deltas {
        events.push((
            Some("content_block_delta"),
            json!({"type": "content_block_delta",
            "index": 0, "delta": delta}),
        ));
    }
    events.push((
        Some("content_block_stop"),
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push((
        Some("message_delta"),
        json!({"type": "message_delta",
        "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": answer.output_tokens}}),
    ));
    events.push((Some("message_stop"), json!({"type": "message_stop"})));
    events
}

/// How a stream is cut off halfway: as an overloaded provider ends it, or as a dropped
/// connection behind a proxy does.
#[derive(Clone, Copy, PartialEq)]
enum Cut {
    WithErrorEvent,
    Silently,
}

/// Server-sent events, all of them or cut off halfway.
fn event_stream(events: Vec<(Option<&'static str>, Value)>, cut: Option<Cut>) -> Response {
    let mut body = String::new();
    let keep = if cut.is_some() {
        events.len() / 2
    } else {
        events.len()
    };
    for (name, data) in events.into_iter().take(keep) {
        if let Some(name) = name {
            body.push_str(&format!("event: {name}\n"));
        }
        body.push_str(&format!("data: {data}\n\n"));
    }
    if cut == Some(Cut::WithErrorEvent) {
        body.push_str(
            "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\"}}\n\n",
        );
    } else if cut.is_none() && !body.contains("event: ") {
        body.push_str("data: [DONE]\n\n");
    }
    ([("content-type", "text/event-stream")], body).into_response()
}

/// A scripted judge speaking OpenAI Chat Completions. Its template puts `Expected: …` and
/// `Got: …` lines in the prompt; it reasons in one line and ends with `VERDICT: good` when
/// they are the same, `VERDICT: bad` when not — or, when `sensible` is false, answers
/// without any verdict. Every request body is kept.
pub struct ScriptedJudge {
    pub base_url: String,
    pub requests: Arc<Mutex<Vec<Value>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ScriptedJudge {
    pub fn start(sensible: bool) -> ScriptedJudge {
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let kept = requests.clone();
        let router = Router::new().fallback(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                let Ok(request) = serde_json::from_slice::<Value>(&body) else {
                    return (StatusCode::BAD_REQUEST, "not JSON").into_response();
                };
                let prompt = last_text("/chat/completions", &request);
                if let Ok(mut kept) = kept.lock() {
                    kept.push(request);
                }
                let line = |label: &str| {
                    prompt
                        .lines()
                        .find_map(|line| line.strip_prefix(label))
                        .unwrap_or_default()
                        .to_string()
                };
                let (expected, got) = (line("Expected: "), line("Got: "));
                let text = if !sensible {
                    "Looks fine to me.".to_string()
                } else if expected == got {
                    format!("Both answer {got:?}.\nVERDICT: good")
                } else {
                    format!("Expected {expected:?} but got {got:?}.\n**Verdict:** bad.")
                };
                axum::Json(chat_body(&Answer {
                    tool: None,
                    text,
                    input_tokens: 200,
                    output_tokens: 20,
                }))
                .into_response()
            }
        });
        let (address, runtime) = serve_on_loopback(router);
        ScriptedJudge {
            base_url: format!("http://{address}/v1"),
            requests,
            _runtime: runtime,
        }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .map(|kept| kept.clone())
            .unwrap_or_default()
    }
}
