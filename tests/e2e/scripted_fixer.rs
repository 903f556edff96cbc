//! A scripted OpenAI Chat Completions model on loopback that drives an agent CLI through
//! the model gateway: asked without a tool result, it runs one shell command (Claude Code's
//! `Bash`, or Codex's `exec_command` when that is offered) (the one-line
//! fix of `fixtures/agent-repo/calc.sh`, or a harmless look when degraded); with one, it
//! answers with a final text. It keeps every request and its headers.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};

use crate::loopback::serve_on_loopback;

/// The fix: `expr "$1" - "$2"` → `expr "$1" + "$2"`.
const FIX_COMMAND: &str = r#"sed -i 's/" - "/" + "/' calc.sh"#;
const LOOK_COMMAND: &str = "cat calc.sh";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixer {
    /// Makes the one-line fix.
    Fixes,
    /// Looks and declares victory.
    Degraded,
}

pub struct ScriptedFixer {
    /// `http://127.0.0.1:<port>/v1`
    pub base_url: String,
    pub requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    _runtime: tokio::runtime::Runtime,
}

impl ScriptedFixer {
    pub fn start(behaviour: Fixer) -> ScriptedFixer {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let router = Router::new().route(
            "/v1/chat/completions",
            post(move |headers: HeaderMap, body: Bytes| {
                let seen = seen.clone();
                async move {
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let answered = carries_tool_result(&request);
                    seen.lock().expect("lock").push((headers, request.clone()));
                    let message = if answered {
                        json!({"role": "assistant", "content": "Done: add() adds now."})
                    } else {
                        let command = match behaviour {
                            Fixer::Fixes => FIX_COMMAND,
                            Fixer::Degraded => LOOK_COMMAND,
                        };
                        // Claude Code's shell tool is `Bash {command}`, Codex's `exec_command {cmd}`.
                        let codex = request["tools"].to_string().contains("\"exec_command\"");
                        let (tool, arguments) = if codex {
                            ("exec_command", json!({"cmd": command}))
                        } else {
                            ("Bash", json!({"command": command, "description": "Fix add"}))
                        };
                        json!({"role": "assistant", "content": "", "tool_calls": [{
                            "id": "call_fix", "type": "function",
                            "function": {"name": tool, "arguments": arguments.to_string()}}]})
                    };
                    let finish = if answered { "stop" } else { "tool_calls" };
                    axum::Json(json!({
                        "id": "chatcmpl-fixer", "object": "chat.completion", "model": "scripted-fixer",
                        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                        "usage": {"prompt_tokens": 900, "completion_tokens": 30}
                    }))
                }
            }),
        );
        let (address, runtime) = serve_on_loopback(router);
        ScriptedFixer {
            base_url: format!("http://{address}/v1"),
            requests,
            _runtime: runtime,
        }
    }

    pub fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.requests.lock().expect("lock").clone()
    }

    /// Whether a tool's result reached this model in any call.
    pub fn saw_tool_result(&self) -> bool {
        self.requests()
            .iter()
            .any(|(_, request)| carries_tool_result(request))
    }
}

/// A Chat Completions request that carries a tool's result.
fn carries_tool_result(request: &Value) -> bool {
    request["messages"]
        .as_array()
        .is_some_and(|messages| messages.iter().any(|message| message["role"] == "tool"))
}
