//! Scripted model servers on loopback speaking OpenAI Chat Completions, OpenAI Responses
//! and Anthropic Messages, for the eval harness. The script mirrors the recorded runs of
//! `evals.rs`: "task N" is answered with a `bash {"command": "run N"}` tool call, and the
//! result "ok N" with the text "done N". A [`Behaviour`] can make it reproduce that,
//! call the wrong tool for some tasks, answer at random, or fail with 500s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::loopback::serve_on_loopback;

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
}

pub struct ScriptedModels {
    pub base_url: String,
    pub requests: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl ScriptedModels {
    pub fn start(behaviour: Behaviour) -> ScriptedModels {
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(match behaviour {
            Behaviour::Random { seed, .. } => seed,
            _ => 0,
        })));
        let router = Router::new().fallback(move |uri: Uri, body: Bytes| {
            counter.fetch_add(1, Ordering::SeqCst);
            let behaviour = behaviour.clone();
            let rng = rng.clone();
            async move { answer(&uri, &body, &behaviour, &rng) }
        });
        let (address, runtime) = serve_on_loopback(router);
        ScriptedModels {
            base_url: format!("http://{address}/v1"),
            requests,
            _runtime: runtime,
        }
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
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

fn answer(uri: &Uri, body: &[u8], behaviour: &Behaviour, rng: &Mutex<StdRng>) -> Response {
    if matches!(behaviour, Behaviour::ServerError) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "scripted outage").into_response();
    }
    let path = uri.path();
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let (tool, text) = script(prompt_of(&last_text(path, &request)), behaviour, rng);
    let usage_in = 100;
    let usage_out = 10;
    let body = if path.ends_with("/chat/completions") {
        let mut message = json!({"role": "assistant", "content": text});
        if let Some((name, arguments)) = tool {
            message["tool_calls"] = json!([{"id": "call_1", "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()}}]);
        }
        json!({"choices": [{"message": message, "finish_reason": "stop"}],
               "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out}})
    } else if path.ends_with("/responses") {
        let mut output = Vec::new();
        if let Some((name, arguments)) = tool {
            output.push(json!({"type": "function_call", "call_id": "call_1", "name": name, "arguments": arguments.to_string()}));
        } else {
            output.push(json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}));
        }
        json!({"output": output, "usage": {"input_tokens": usage_in, "output_tokens": usage_out}})
    } else if path.ends_with("/messages") {
        let mut content = Vec::new();
        if let Some((name, arguments)) = tool {
            content.push(
                json!({"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments}),
            );
        } else {
            content.push(json!({"type": "text", "text": text}));
        }
        json!({"content": content, "stop_reason": "end_turn",
               "usage": {"input_tokens": usage_in, "output_tokens": usage_out}})
    } else {
        return (StatusCode::NOT_FOUND, "no such endpoint").into_response();
    };
    axum::Json(body).into_response()
}
