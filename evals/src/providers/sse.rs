//! Server-sent events, as the three providers stream them: frames separated by a blank
//! line, an optional `event:` name and one or more `data:` lines (joined by newlines);
//! comments (`:`) and other fields are skipped. The whole body is read first — a replay
//! needs the finished turn, not the tokens as they come.

use serde_json::Value;

/// One event of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    /// The data as JSON; `None` for a non-JSON data line such as OpenAI's `[DONE]`.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

/// Splits a stream's body into its events.
pub fn events(body: &str) -> Vec<SseEvent> {
    let mut events = Vec::new();
    let mut event = None;
    let mut data: Vec<&str> = Vec::new();
    let mut finish = |event: &mut Option<String>, data: &mut Vec<&str>| {
        if !data.is_empty() {
            events.push(SseEvent {
                event: event.take(),
                data: data.join("\n"),
            });
        }
        event.take();
        data.clear();
    };
    for line in body.lines() {
        if line.is_empty() {
            finish(&mut event, &mut data);
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_string()),
            "data" => data.push(value),
            _ => {}
        }
    }
    finish(&mut event, &mut data);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_names_and_multi_line_data() {
        let body = ": keep-alive\n\nevent: message_start\ndata: {\"a\":1}\n\n\
                    data: line one\ndata: line two\n\ndata:[DONE]\n";
        let events = events(body);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event.as_deref(), Some("message_start"));
        assert_eq!(events[0].json(), Some(serde_json::json!({"a": 1})));
        assert_eq!(events[1].event, None);
        assert_eq!(events[1].data, "line one\nline two");
        assert_eq!(events[2].data, "[DONE]");
        assert_eq!(events[2].json(), None);
    }
}
