//! Cassettes: a gateway run's answers recorded, then served again byte for byte.
//!
//! A deterministic baseline for the `agent` replay mode: record once against a real
//! model, then every later run of the agent gets exactly the recorded answers. A cassette
//! is a JSON Lines file, one [`CassetteEntry`] per call, keyed by [`request_key`]: the hash
//! of the request as Sextant reads it (shape, model, system prompt, messages, tools,
//! streaming) — not of its bytes, so a CLI's incidental fields (request ids, metadata,
//! cache hints) do not break a replay. A request with no recorded answer is refused with
//! the first place it differs from the nearest recorded request.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::GatewayRequest;
use crate::error::{EvalError, Result};
use crate::suite::Provider;

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CassetteEntry {
    pub key: String,
    /// The request as Sextant read it ([`canonical_request`]).
    pub request: Value,
    pub status: u16,
    pub content_type: String,
    /// The answer's body exactly as it was sent.
    pub body: String,
}

/// What identifies a request in a cassette.
pub fn canonical_request(request: &GatewayRequest) -> Value {
    let shape = match request.shape {
        Provider::Anthropic => "anthropic",
        Provider::OpenaiChat => "openai-chat",
        Provider::OpenaiResponses => "openai-responses",
    };
    json!({
        "shape": shape,
        "model": request.model,
        "stream": request.stream,
        "system": request.request.system,
        "messages": serde_json::to_value(&request.request.messages).unwrap_or(Value::Null),
        "tools": request.request.tools.iter().map(|(name, description, schema)| {
            json!({"name": name, "description": description, "schema": schema})
        }).collect::<Vec<_>>(),
    })
}

/// The cassette key of a request: blake3 of its canonical JSON.
pub fn request_key(request: &GatewayRequest) -> String {
    blake3::hash(canonical_request(request).to_string().as_bytes())
        .to_hex()
        .to_string()
}

/// A loaded cassette.
#[derive(Debug, Default)]
pub struct Cassette {
    entries: Vec<CassetteEntry>,
    by_key: HashMap<String, usize>,
}

/// Where a request first differs from a recorded one.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// A JSON pointer into the canonical request (`/messages/3/parts/0`).
    pub path: String,
    pub recorded: Option<Value>,
    pub sent: Option<Value>,
    /// Leaves equal before the difference: how near the recording is.
    equal_before: usize,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |value: &Option<Value>| {
            let text = value
                .as_ref()
                .map_or("nothing".to_owned(), Value::to_string);
            if text.chars().count() > 120 {
                format!("{}…", text.chars().take(120).collect::<String>())
            } else {
                text
            }
        };
        write!(
            formatter,
            "at {}: recorded {}, sent {}",
            self.path,
            show(&self.recorded),
            show(&self.sent)
        )
    }
}

/// The first difference between two JSON values in document order, if any.
pub fn first_difference(recorded: &Value, sent: &Value) -> Option<Difference> {
    let mut equal = 0;
    walk(recorded, sent, String::new(), &mut equal)
}

fn walk(recorded: &Value, sent: &Value, path: String, equal: &mut usize) -> Option<Difference> {
    let differ = |equal: usize, path: String| {
        Some(Difference {
            path: if path.is_empty() { "/".into() } else { path },
            recorded: Some(recorded.clone()),
            sent: Some(sent.clone()),
            equal_before: equal,
        })
    };
    // The children to compare, in document order: object keys sorted, array items by index.
    let children: Vec<(String, Option<&Value>, Option<&Value>)> = match (recorded, sent) {
        (Value::Object(left), Value::Object(right)) => {
            let mut keys: Vec<&String> = left.keys().chain(right.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .map(|key| (format!("{path}/{key}"), left.get(key), right.get(key)))
                .collect()
        }
        (Value::Array(left), Value::Array(right)) => (0..left.len().max(right.len()))
            .map(|index| (format!("{path}/{index}"), left.get(index), right.get(index)))
            .collect(),
        (a, b) if a == b => {
            *equal += 1;
            return None;
        }
        _ => return differ(*equal, path),
    };
    for (child, left, right) in children {
        match (left, right) {
            (Some(left), Some(right)) => {
                if let Some(difference) = walk(left, right, child, equal) {
                    return Some(difference);
                }
            }
            (left, right) => {
                return Some(Difference {
                    path: child,
                    recorded: left.cloned(),
                    sent: right.cloned(),
                    equal_before: *equal,
                });
            }
        }
    }
    None
}

impl Cassette {
    pub fn load(path: &Path) -> Result<Cassette> {
        let file = File::open(path).map_err(|error| {
            EvalError::Invalid(format!("cannot read cassette {}: {error}", path.display()))
        })?;
        let mut cassette = Cassette::default();
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|error| {
                EvalError::Invalid(format!("cannot read cassette {}: {error}", path.display()))
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let entry: CassetteEntry = serde_json::from_str(&line).map_err(|error| {
                EvalError::Invalid(format!(
                    "cassette {} line {}: {error}",
                    path.display(),
                    number + 1
                ))
            })?;
            cassette.insert(entry);
        }
        Ok(cassette)
    }

    pub fn insert(&mut self, entry: CassetteEntry) {
        self.by_key.insert(entry.key.clone(), self.entries.len());
        self.entries.push(entry);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recorded answer to `request`, or a message naming where it differs from the
    /// nearest recorded request.
    pub fn answer(&self, request: &GatewayRequest) -> std::result::Result<&CassetteEntry, String> {
        if let Some(&index) = self.by_key.get(&request_key(request)) {
            return Ok(&self.entries[index]);
        }
        let sent = canonical_request(request);
        let nearest = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| Some((index, first_difference(&entry.request, &sent)?)))
            .max_by_key(|(_, difference)| difference.equal_before);
        Err(match nearest {
            Some((index, difference)) => format!(
                "no recorded answer for this request in the cassette ({} entries); the nearest, entry {}, differs {difference}",
                self.entries.len(),
                index + 1
            ),
            None => "the cassette is empty: record it first".to_owned(),
        })
    }
}

/// Appends a run's calls to a cassette file as they happen.
pub struct CassetteRecorder {
    file: Mutex<File>,
}

impl CassetteRecorder {
    pub fn create(path: &Path) -> Result<CassetteRecorder> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| {
                EvalError::Invalid(format!("cannot write cassette {}: {error}", path.display()))
            })?;
        Ok(CassetteRecorder {
            file: Mutex::new(file),
        })
    }

    pub fn record(&self, entry: &CassetteEntry) -> Result<()> {
        let mut line = serde_json::to_string(entry)
            .map_err(|error| EvalError::Invalid(format!("cassette entry: {error}")))?;
        line.push('\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| EvalError::Invalid("cassette writer poisoned".into()))?;
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|error| EvalError::Invalid(format!("cannot write the cassette: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::anthropic_wire;

    fn request(command: &str) -> GatewayRequest {
        anthropic_wire::parse_request(&json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 100,
            "metadata": {"user_id": "changes every run"},
            "messages": [
                {"role": "user", "content": "fix the test"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": command}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn a_recorded_request_gets_its_exact_bytes_and_another_is_told_where_it_differs() {
        let recorded = request("cargo test");
        let body = "event: message_start\ndata: {\"type\":\"message_start\"}\n\n".to_owned();
        let mut cassette = Cassette::default();
        cassette.insert(CassetteEntry {
            key: request_key(&recorded),
            request: canonical_request(&recorded),
            status: 200,
            content_type: "text/event-stream".into(),
            body: body.clone(),
        });
        assert_eq!(cassette.answer(&request("cargo test")).unwrap().body, body);
        let miss = cassette.answer(&request("cargo build")).unwrap_err();
        assert!(miss.contains("/messages/1/parts/0"), "{miss}");
        assert!(
            miss.contains("cargo test") && miss.contains("cargo build"),
            "{miss}"
        );
    }

    #[test]
    fn cassettes_round_trip_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.cassette.jsonl");
        let recorder = CassetteRecorder::create(&path).unwrap();
        let sent = request("ls");
        let entry = CassetteEntry {
            key: request_key(&sent),
            request: canonical_request(&sent),
            status: 200,
            content_type: "application/json".into(),
            body: "{\"id\":\"msg_1\"}".into(),
        };
        recorder.record(&entry).unwrap();
        let loaded = Cassette::load(&path).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded.answer(&sent).unwrap(), &entry);
    }
}
