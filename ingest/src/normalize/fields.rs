//! Dedicated columns from single attributes, and span classification, both read from `aliases.rs`.

use opentelemetry_proto::tonic::common::v1::any_value::Value;

use crate::span::{CanonicalSpan, SpanType};

use super::aliases::{FIELD_ALIASES, Field, FieldKind, SPAN_NAME_RULES, SPAN_TYPE_RULES};
use super::attributes::AttributeSet;
use super::values::{lenient_f64, lenient_i64, lenient_string};

/// The span type a convention states, if any: `SPAN_TYPE_RULES` (first known value wins),
/// then the span names of `SPAN_NAME_RULES`.
pub fn convention_span_type(attributes: &AttributeSet<'_>, span_name: &str) -> Option<SpanType> {
    let by_attribute = SPAN_TYPE_RULES.iter().find_map(|(key, values)| {
        let stated = lenient_string(attributes.get(key)?)?;
        values
            .iter()
            .find(|(value, _)| value.eq_ignore_ascii_case(&stated))
            .map(|(_, span_type)| *span_type)
    });
    by_attribute.or_else(|| {
        SPAN_NAME_RULES
            .iter()
            .find(|(name, _)| *name == span_name)
            .map(|(_, span_type)| *span_type)
    })
}

/// The span type when no convention states one: a model or token count means a model call,
/// a tool name a tool call.
pub fn fallback_span_type(row: &CanonicalSpan) -> SpanType {
    let has_model = row.request_model.is_some() || row.response_model.is_some();
    let has_tokens = row.input_tokens.is_some() || row.output_tokens.is_some();
    if has_model || has_tokens {
        SpanType::Llm
    } else if row.tool_name.is_some() {
        SpanType::Tool
    } else {
        SpanType::Other
    }
}

/// A value read for a field.
enum FieldValue {
    Text(String),
    Count(i64),
    Decimal(f64),
}

/// Fills every dedicated column of `FIELD_ALIASES` from the first usable alias, consuming it.
/// `span_type` is the convention's type, which enables aliases restricted to a span type.
pub fn apply_field_aliases(
    attributes: &AttributeSet<'_>,
    span_type: Option<SpanType>,
    row: &mut CanonicalSpan,
) {
    for (field, aliases) in FIELD_ALIASES {
        let usable = aliases
            .iter()
            .filter(|alias| alias.only_on.is_none() || alias.only_on == span_type);
        for alias in usable {
            let Some((value, fully_stored)) = read_field(attributes, alias.key, field.kind())
            else {
                continue;
            };
            if store(row, *field, value) && fully_stored {
                attributes.consume(alias.key);
            }
            break;
        }
    }
}

/// Reads `key` as `kind`; the flag says whether the column holds the whole value (a list
/// with several finish reasons keeps its attribute).
fn read_field(
    attributes: &AttributeSet<'_>,
    key: &str,
    kind: FieldKind,
) -> Option<(FieldValue, bool)> {
    let value = attributes.get(key)?;
    let read = match kind {
        FieldKind::Text => FieldValue::Text(lenient_string(value)?),
        FieldKind::LowercaseText => FieldValue::Text(lenient_string(value)?.to_lowercase()),
        FieldKind::Count => FieldValue::Count(lenient_i64(value)?),
        FieldKind::Decimal => FieldValue::Decimal(lenient_f64(value)?),
        FieldKind::FirstOfList => {
            if let Some(Value::ArrayValue(list)) = value.value.as_ref() {
                let first = lenient_string(list.values.first()?)?;
                return Some((FieldValue::Text(first), list.values.len() == 1));
            }
            FieldValue::Text(lenient_string(value)?)
        }
    };
    Some((read, true))
}

/// Stores `value` in the column of `field`; false if the value kind does not fit the column.
fn store(row: &mut CanonicalSpan, field: Field, value: FieldValue) -> bool {
    match value {
        FieldValue::Text(text) => {
            let slot = match field {
                Field::Operation => &mut row.operation,
                Field::Provider => &mut row.provider,
                Field::RequestModel => &mut row.request_model,
                Field::ResponseModel => &mut row.response_model,
                Field::FinishReason => &mut row.finish_reason,
                Field::ToolName => &mut row.tool_name,
                Field::ToolCallId => &mut row.tool_call_id,
                Field::AgentName => &mut row.agent_name,
                Field::SessionId => &mut row.session_id,
                Field::UserId => &mut row.user_id,
                Field::ErrorType => &mut row.error_type,
                _ => return false,
            };
            *slot = Some(text);
        }
        FieldValue::Count(count) => {
            let slot = match field {
                Field::InputTokens => &mut row.input_tokens,
                Field::OutputTokens => &mut row.output_tokens,
                Field::CacheReadTokens => &mut row.cache_read_tokens,
                Field::CacheWriteTokens => &mut row.cache_write_tokens,
                Field::ReasoningTokens => &mut row.reasoning_tokens,
                _ => return false,
            };
            *slot = Some(count);
        }
        FieldValue::Decimal(amount) => {
            if field != Field::CostUsd {
                return false;
            }
            row.cost_usd = Some(amount);
        }
    }
    true
}
