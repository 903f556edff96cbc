//! Log normalization: one OTLP log record → one [`CanonicalLog`] row.
//!
//! Identity and time come from the record; the dedicated columns from `log_aliases.rs`.
//! Unlike spans, every attribute also stays in `attributes`: log events are small, and an
//! event read in full (`tool_parameters`, `prompt`) is what a person opens it for.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::Value as Json;

use crate::log_row::CanonicalLog;

use super::attributes::AttributeSet;
use super::log_aliases::{LOG_FIELD_ALIASES, LogField};
use super::values::{
    any_value_to_json, exceeds_max_depth, key_values_to_json, lenient_f64, lenient_i64,
    lenient_string,
};
use super::{MAX_ATTRIBUTES_PER_SPAN, clamp_to_i64, json_text, service_name};

/// Normalizes every record of a logs export; the first invalid record fails the request
/// with a message that names it and what to fix.
pub fn normalize_logs_request(
    project_id: &str,
    request: &ExportLogsServiceRequest,
) -> Result<Vec<CanonicalLog>, String> {
    let mut rows = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs.resource.as_ref();
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_logs.scope.as_ref();
            for record in &scope_logs.log_records {
                let index = rows.len();
                let row = normalize_log(project_id, resource, scope, record)
                    .map_err(|problem| format!("log record {index}: {problem}"))?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

fn normalize_log(
    project_id: &str,
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    record: &LogRecord,
) -> Result<CanonicalLog, String> {
    let trace_id = optional_id(&record.trace_id, 16, "trace id")?;
    let span_id = optional_id(&record.span_id, 8, "span id")?;
    check_attribute_limits(&record.attributes)?;
    if record.body.as_ref().is_some_and(exceeds_max_depth) {
        return Err("body is nested too deeply; flatten it or send it as JSON text".into());
    }

    let observed_time = clamp_to_i64(record.observed_time_unix_nano);
    let time = match clamp_to_i64(record.time_unix_nano) {
        0 => observed_time,
        time => time,
    };
    let attributes = AttributeSet::new(&record.attributes);
    let mut row = CanonicalLog {
        project_id: project_id.to_owned(),
        time,
        observed_time,
        trace_id,
        span_id,
        severity_number: record.severity_number,
        severity_text: non_empty(&record.severity_text),
        body: record.body.as_ref().and_then(body_text),
        service_name: resource.and_then(service_name),
        scope_name: scope.and_then(|scope| non_empty(&scope.name)),
        attributes: json_text(&Json::Object(key_values_to_json(&record.attributes))),
        resource_attributes: json_text(&Json::Object(
            resource
                .map(|resource| key_values_to_json(&resource.attributes))
                .unwrap_or_default(),
        )),
        ..CanonicalLog::default()
    };
    for (field, keys) in LOG_FIELD_ALIASES {
        if let Some(value) = keys.iter().find_map(|key| attributes.get(key)) {
            store(&mut row, *field, value);
        }
    }
    row.event_name = event_name(record, row.event_name.take(), row.body.as_deref());
    Ok(row)
}

/// The event's full name. The `event.name` attribute wins over `LogRecord.event_name`, which
/// Codex fills with its source location (`event otel/src/…rs:1089`). Claude Code puts the
/// short name in `event.name` and the full one (`claude_code.api_request`) in the body, so a
/// short name the body extends with a prefix takes the body's form.
fn event_name(record: &LogRecord, attribute: Option<String>, body: Option<&str>) -> Option<String> {
    let Some(short) = attribute else {
        return non_empty(&record.event_name);
    };
    let extended = body.filter(|body| {
        body.len() > short.len()
            && body.ends_with(short.as_str())
            && body[..body.len() - short.len()].ends_with('.')
            && !body.contains(char::is_whitespace)
    });
    Some(extended.map_or(short, str::to_owned))
}

fn store(row: &mut CanonicalLog, field: LogField, value: &AnyValue) {
    let text = || lenient_string(value);
    let count = || lenient_i64(value);
    let decimal = || lenient_f64(value);
    match field {
        LogField::EventName => row.event_name = text(),
        LogField::SessionId => row.session_id = text(),
        LogField::PromptId => row.prompt_id = text(),
        LogField::EventSequence => row.event_sequence = count(),
        LogField::RequestId => row.request_id = text(),
        LogField::Model => row.model = text(),
        LogField::ToolName => row.tool_name = text(),
        LogField::ToolCallId => row.tool_call_id = text(),
        LogField::InputTokens => row.input_tokens = count(),
        LogField::OutputTokens => row.output_tokens = count(),
        LogField::CacheReadTokens => row.cache_read_tokens = count(),
        LogField::CacheWriteTokens => row.cache_write_tokens = count(),
        LogField::ReasoningTokens => row.reasoning_tokens = count(),
        LogField::CostUsd => row.cost_usd = decimal(),
        LogField::DurationMs => row.duration_ms = decimal(),
        LogField::Success => row.success = lenient_bool(value),
        LogField::UserId => row.user_id = text(),
    }
}

/// `true`/`false` as a bool or as text in any case (Claude Code sends `"true"`).
fn lenient_bool(value: &AnyValue) -> Option<bool> {
    match value.value.as_ref()? {
        Value::BoolValue(flag) => Some(*flag),
        Value::StringValue(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::IntValue(number) => Some(*number != 0),
        _ => None,
    }
}

fn body_text(body: &AnyValue) -> Option<String> {
    match body.value.as_ref()? {
        Value::StringValue(text) => non_empty(text),
        _ => Some(json_text(&any_value_to_json(body))),
    }
}

/// An id that is either absent (empty) or exactly `bytes` long; all zeros counts as absent.
pub(super) fn optional_id(id: &[u8], bytes: usize, what: &str) -> Result<Option<String>, String> {
    if id.is_empty() || id.iter().all(|byte| *byte == 0) {
        return Ok(None);
    }
    if id.len() != bytes {
        return Err(format!(
            "{what} is {} bytes, expected empty or {bytes} bytes ({} hex characters)",
            id.len(),
            bytes * 2
        ));
    }
    Ok(Some(hex::encode(id)))
}

pub(super) fn check_attribute_limits(attributes: &[KeyValue]) -> Result<(), String> {
    if attributes.len() > MAX_ATTRIBUTES_PER_SPAN {
        return Err(format!(
            "{} attributes, the limit is {MAX_ATTRIBUTES_PER_SPAN}; drop or merge attributes",
            attributes.len()
        ));
    }
    if let Some(entry) = attributes
        .iter()
        .find(|entry| entry.value.as_ref().is_some_and(exceeds_max_depth))
    {
        return Err(format!(
            "attribute {:?} is nested too deeply; flatten the value or send it as JSON text",
            entry.key
        ));
    }
    Ok(())
}

pub(super) fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
