//! Span normalization: one OTLP span (any GenAI convention) → one [`CanonicalSpan`] row.
//!
//! Entry points: [`normalize_request`] for a whole export request, [`normalize_span`] for one
//! span. Identity, time and status come from the OTLP span itself; dedicated GenAI columns
//! from the alias tables in [`aliases`] (pure data, priority ordered); content from message
//! attributes, flattened message keys or message events ([`messages`]). Every attribute not
//! stored in a dedicated column stays in `attributes`. Rules: `docs/normalization.md`.

pub mod aliases;
mod attributes;
mod content;
mod events;
mod fields;
mod flattened;
pub mod log_aliases;
mod logs;
pub mod messages;
mod metrics;
pub mod values;

#[cfg(test)]
mod capture_tests;
#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod generated_tests;
#[cfg(test)]
mod proptests;

use std::fmt;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use serde_json::{Value as Json, json};

use crate::error::IngestError;
use crate::normalized_rows::NormalizedRows;
use crate::span::{CanonicalSpan, StatusCode};
use crate::wal_record::ExportRequest;

pub use self::logs::normalize_logs_request;
pub use self::metrics::normalize_metrics_request;

use self::aliases::{SERVICE_NAME_KEY, SPAN_KINDS};
use self::attributes::AttributeSet;
pub use self::values::any_value_to_json;
use self::values::{MAX_VALUE_DEPTH, exceeds_max_depth, key_values_to_json, lenient_string};

/// Most key-values one span may carry, counted over span, event and link attributes.
pub const MAX_ATTRIBUTES_PER_SPAN: usize = 10_000;

const TRACE_ID_BYTES: usize = 16;
const SPAN_ID_BYTES: usize = 8;

/// Where a span came from: its project and the resource and scope that enclose it.
#[derive(Debug, Clone, Copy)]
pub struct SpanSource<'a> {
    pub project_id: &'a str,
    pub resource: Option<&'a Resource>,
    pub scope: Option<&'a InstrumentationScope>,
}

/// Names the offending span in an error: its name and, within a request, its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanLabel {
    /// Position of the span in the request, counting across resources and scopes from 0.
    pub index: Option<usize>,
    pub name: String,
}

impl SpanLabel {
    const MAX_NAME_CHARS: usize = 120;

    fn new(index: Option<usize>, name: &str) -> Self {
        let name = match name.char_indices().nth(Self::MAX_NAME_CHARS) {
            Some((cut, _)) => format!("{}…", &name[..cut]),
            None => name.to_owned(),
        };
        Self { index, name }
    }
}

impl fmt::Display for SpanLabel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(formatter, "span {index} {:?}", self.name),
            None => write!(formatter, "span {:?}", self.name),
        }
    }
}

/// Why a span could not be normalized. Every message names the span and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    #[error(
        "{span}: trace id is {length} bytes, expected 16 bytes (32 hex characters); send the span's real trace id"
    )]
    InvalidTraceId { span: SpanLabel, length: usize },
    #[error(
        "{span}: span id is {length} bytes, expected 8 bytes (16 hex characters); send the span's real span id"
    )]
    InvalidSpanId { span: SpanLabel, length: usize },
    #[error(
        "{span}: parent span id is {length} bytes, expected empty (root span) or 8 bytes (16 hex characters)"
    )]
    InvalidParentSpanId { span: SpanLabel, length: usize },
    #[error(
        "{span}: {count} attributes over the span, its events and links, the limit is {limit}; drop or merge attributes"
    )]
    TooManyAttributes {
        span: SpanLabel,
        count: usize,
        limit: usize,
    },
    #[error(
        "{span}: {location} is nested deeper than {limit} levels; flatten the value or send it as JSON text"
    )]
    ValueTooDeep {
        span: SpanLabel,
        location: String,
        limit: usize,
    },
}

impl From<NormalizeError> for IngestError {
    fn from(error: NormalizeError) -> Self {
        IngestError::InvalidInput(error.to_string())
    }
}

impl NormalizeError {
    /// The span the error is about.
    pub fn span(&self) -> &SpanLabel {
        match self {
            NormalizeError::InvalidTraceId { span, .. }
            | NormalizeError::InvalidSpanId { span, .. }
            | NormalizeError::InvalidParentSpanId { span, .. }
            | NormalizeError::TooManyAttributes { span, .. }
            | NormalizeError::ValueTooDeep { span, .. } => span,
        }
    }

    fn at_index(mut self, index: usize) -> Self {
        match &mut self {
            NormalizeError::InvalidTraceId { span, .. }
            | NormalizeError::InvalidSpanId { span, .. }
            | NormalizeError::InvalidParentSpanId { span, .. }
            | NormalizeError::TooManyAttributes { span, .. }
            | NormalizeError::ValueTooDeep { span, .. } => span.index = Some(index),
        }
        self
    }
}

/// Normalizes an export request of any signal into rows; invalid input fails the whole
/// request with a message that says what to fix.
pub fn normalize_export(
    project_id: &str,
    request: &ExportRequest,
) -> Result<NormalizedRows, IngestError> {
    let mut rows = NormalizedRows::default();
    match request {
        ExportRequest::Traces(request) => rows.spans = normalize_request(project_id, request)?,
        ExportRequest::Logs(request) => {
            rows.logs =
                normalize_logs_request(project_id, request).map_err(IngestError::InvalidInput)?
        }
        ExportRequest::Metrics(request) => {
            rows.metrics =
                normalize_metrics_request(project_id, request).map_err(IngestError::InvalidInput)?
        }
    }
    Ok(rows)
}

/// Normalizes every span of an export request; the first invalid span fails the whole request.
pub fn normalize_request(
    project_id: &str,
    request: &ExportTraceServiceRequest,
) -> Result<Vec<CanonicalSpan>, NormalizeError> {
    let mut rows = Vec::new();
    for resource_spans in &request.resource_spans {
        for scope_spans in &resource_spans.scope_spans {
            let source = SpanSource {
                project_id,
                resource: resource_spans.resource.as_ref(),
                scope: scope_spans.scope.as_ref(),
            };
            for span in &scope_spans.spans {
                let index = rows.len();
                let row = normalize_span(&source, span).map_err(|error| error.at_index(index))?;
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// Normalizes one span. Errors name the span by name; [`normalize_request`] adds its index.
pub fn normalize_span(
    source: &SpanSource<'_>,
    span: &Span,
) -> Result<CanonicalSpan, NormalizeError> {
    let label = || SpanLabel::new(None, &span.name);
    let trace_id = match span.trace_id.len() {
        TRACE_ID_BYTES => hex::encode(&span.trace_id),
        length => {
            return Err(NormalizeError::InvalidTraceId {
                span: label(),
                length,
            });
        }
    };
    let span_id = match span.span_id.len() {
        SPAN_ID_BYTES => hex::encode(&span.span_id),
        length => {
            return Err(NormalizeError::InvalidSpanId {
                span: label(),
                length,
            });
        }
    };
    // Some SDKs send eight zero bytes instead of nothing for a root span.
    let parent_span_id = match span.parent_span_id.len() {
        0 => None,
        SPAN_ID_BYTES if span.parent_span_id.iter().all(|byte| *byte == 0) => None,
        SPAN_ID_BYTES => Some(hex::encode(&span.parent_span_id)),
        length => {
            return Err(NormalizeError::InvalidParentSpanId {
                span: label(),
                length,
            });
        }
    };
    check_limits(source, span, label)?;

    let start_time = clamp_to_i64(span.start_time_unix_nano);
    let end_time = clamp_to_i64(span.end_time_unix_nano);
    let status = span.status.as_ref();
    let mut row = CanonicalSpan {
        project_id: source.project_id.to_owned(),
        trace_id,
        span_id,
        parent_span_id,
        name: span.name.clone(),
        kind: span_kind(span.kind).to_owned(),
        service_name: source.resource.and_then(service_name),
        scope_name: source
            .scope
            .map(|scope| scope.name.clone())
            .filter(|name| !name.is_empty()),
        start_time,
        end_time,
        // A clock going backwards is the emitter's bug, not a reason to lose the span.
        duration_ns: end_time.saturating_sub(start_time).max(0),
        status_code: status.map_or(StatusCode::Unset, |status| status_code(status.code)),
        status_message: status
            .map(|status| status.message.clone())
            .filter(|message| !message.is_empty()),
        ..CanonicalSpan::default()
    };

    let attributes = AttributeSet::new(&span.attributes);
    let convention_type = fields::convention_span_type(&attributes, &span.name);
    fields::apply_field_aliases(&attributes, convention_type, &mut row);
    content::apply_content(&attributes, &span.events, &mut row);
    if row.error_type.is_none() {
        row.error_type = events::exception_type(&span.events);
    }
    row.span_type = convention_type.unwrap_or_else(|| fields::fallback_span_type(&row));

    row.attributes = json_text(&Json::Object(attributes.remaining_json()));
    row.resource_attributes = json_text(&Json::Object(
        source
            .resource
            .map(|resource| key_values_to_json(&resource.attributes))
            .unwrap_or_default(),
    ));
    row.events = json_text(&events_json(&span.events));
    row.links = json_text(&links_json(&span.links));
    Ok(row)
}

/// Rejects spans over the attribute budget or with values nested past [`MAX_VALUE_DEPTH`].
fn check_limits(
    source: &SpanSource<'_>,
    span: &Span,
    label: impl Fn() -> SpanLabel,
) -> Result<(), NormalizeError> {
    let count = span.attributes.len()
        + span
            .events
            .iter()
            .map(|event| event.attributes.len())
            .sum::<usize>()
        + span
            .links
            .iter()
            .map(|link| link.attributes.len())
            .sum::<usize>();
    if count > MAX_ATTRIBUTES_PER_SPAN {
        return Err(NormalizeError::TooManyAttributes {
            span: label(),
            count,
            limit: MAX_ATTRIBUTES_PER_SPAN,
        });
    }

    let mut groups: Vec<(String, &[KeyValue])> = vec![("attribute".to_owned(), &span.attributes)];
    for (position, event) in span.events.iter().enumerate() {
        groups.push((
            format!("event {position} ({:?}) attribute", event.name),
            &event.attributes,
        ));
    }
    for (position, link) in span.links.iter().enumerate() {
        groups.push((format!("link {position} attribute"), &link.attributes));
    }
    if let Some(resource) = source.resource {
        groups.push(("resource attribute".to_owned(), &resource.attributes));
    }
    if let Some(scope) = source.scope {
        groups.push(("scope attribute".to_owned(), &scope.attributes));
    }
    for (place, entries) in groups {
        let too_deep = entries
            .iter()
            .find(|entry| entry.value.as_ref().is_some_and(exceeds_max_depth));
        if let Some(entry) = too_deep {
            return Err(NormalizeError::ValueTooDeep {
                span: label(),
                location: format!("{place} {:?}", entry.key),
                limit: MAX_VALUE_DEPTH,
            });
        }
    }
    Ok(())
}

fn clamp_to_i64(nanos: u64) -> i64 {
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

fn span_kind(kind: i32) -> &'static str {
    usize::try_from(kind)
        .ok()
        .and_then(|index| SPAN_KINDS.get(index))
        .copied()
        .unwrap_or("unspecified")
}

fn status_code(code: i32) -> StatusCode {
    match code {
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

fn service_name(resource: &Resource) -> Option<String> {
    resource
        .attributes
        .iter()
        .rev()
        .find(|entry| entry.key == SERVICE_NAME_KEY)
        .and_then(|entry| entry.value.as_ref())
        .and_then(lenient_string)
}

fn events_json(events: &[Event]) -> Json {
    Json::Array(
        events
            .iter()
            .map(|event| {
                json!({
                    "name": event.name,
                    "time_unix_nano": clamp_to_i64(event.time_unix_nano),
                    "attributes": Json::Object(key_values_to_json(&event.attributes)),
                })
            })
            .collect(),
    )
}

fn links_json(links: &[Link]) -> Json {
    Json::Array(
        links
            .iter()
            .map(|link| {
                json!({
                    "trace_id": hex::encode(&link.trace_id),
                    "span_id": hex::encode(&link.span_id),
                    "attributes": Json::Object(key_values_to_json(&link.attributes)),
                })
            })
            .collect(),
    )
}

fn json_text(value: &Json) -> String {
    // Serializing a `serde_json::Value` cannot fail (string keys, finite numbers only).
    serde_json::to_string(value).unwrap_or_else(|_| match value {
        Json::Array(_) => "[]".to_owned(),
        _ => "{}".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue};

    pub(super) fn text(value: &str) -> AnyValue {
        AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }
    }

    pub(super) fn entry(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(value),
            key_strindex: 0,
        }
    }

    fn span_with(attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![0xab; 16],
            span_id: vec![0x01; 8],
            name: "chat gpt-4o".to_owned(),
            start_time_unix_nano: 2_000,
            end_time_unix_nano: 1_000,
            attributes,
            ..Span::default()
        }
    }

    const SOURCE: SpanSource<'static> = SpanSource {
        project_id: "default",
        resource: None,
        scope: None,
    };

    fn normalize(span: &Span) -> CanonicalSpan {
        normalize_span(&SOURCE, span).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn wrong_id_lengths_are_named_errors() {
        let mut span = span_with(Vec::new());
        span.trace_id = vec![1; 15];
        let error = normalize_span(&SOURCE, &span).err();
        assert!(matches!(
            error,
            Some(NormalizeError::InvalidTraceId { length: 15, .. })
        ));
        assert_eq!(
            error.map(|error| error.to_string()).unwrap_or_default(),
            "span \"chat gpt-4o\": trace id is 15 bytes, expected 16 bytes (32 hex characters); send the span's real trace id"
        );

        let mut span = span_with(Vec::new());
        span.span_id = Vec::new();
        assert!(matches!(
            normalize_span(&SOURCE, &span),
            Err(NormalizeError::InvalidSpanId { length: 0, .. })
        ));

        let mut span = span_with(Vec::new());
        span.parent_span_id = vec![7; 4];
        assert!(matches!(
            normalize_span(&SOURCE, &span),
            Err(NormalizeError::InvalidParentSpanId { length: 4, .. })
        ));
    }

    #[test]
    fn request_errors_carry_the_span_index() {
        let mut bad = span_with(Vec::new());
        bad.span_id = vec![1; 9];
        let request = ExportTraceServiceRequest {
            resource_spans: vec![opentelemetry_proto::tonic::trace::v1::ResourceSpans {
                scope_spans: vec![opentelemetry_proto::tonic::trace::v1::ScopeSpans {
                    spans: vec![span_with(Vec::new()), bad],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let message = normalize_request("default", &request)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            message.starts_with("span 1 \"chat gpt-4o\": span id is 9 bytes"),
            "{message}"
        );
    }

    #[test]
    fn identity_time_and_defaults() {
        let mut span = span_with(Vec::new());
        span.parent_span_id = vec![0; 8];
        span.kind = 3;
        let row = normalize(&span);
        assert_eq!(row.trace_id, "abababababababababababababababab");
        assert_eq!(row.span_id, "0101010101010101");
        assert_eq!(row.parent_span_id, None);
        assert_eq!(row.kind, "client");
        // End before start is the emitter's clock, not an error.
        assert_eq!(row.duration_ns, 0);
        assert_eq!(row.span_type, crate::span::SpanType::Other);
        assert_eq!(
            (
                row.attributes.as_str(),
                row.events.as_str(),
                row.links.as_str()
            ),
            ("{}", "[]", "[]")
        );
        assert_eq!(row.resource_attributes, "{}");
    }

    #[test]
    fn numbers_sent_as_strings_or_doubles_are_read() {
        let row = normalize(&span_with(vec![
            entry("gen_ai.usage.input_tokens", text("1843")),
            entry(
                "gen_ai.usage.output_tokens",
                AnyValue {
                    value: Some(Value::DoubleValue(96.0)),
                },
            ),
            entry("llm.cost.total", text("0.0125")),
        ]));
        assert_eq!(row.input_tokens, Some(1843));
        assert_eq!(row.output_tokens, Some(96));
        assert_eq!(row.cost_usd, Some(0.0125));
        assert_eq!(row.span_type, crate::span::SpanType::Llm);
        assert_eq!(row.attributes, "{}");
    }

    #[test]
    fn unreadable_values_and_unmapped_attributes_stay_in_attributes() {
        let row = normalize(&span_with(vec![
            entry("http.route", text("/v1/chat")),
            entry("gen_ai.usage.input_tokens", text("many")),
            entry("gen_ai.provider.name", text("OpenAI")),
            entry("gen_ai.system", text("openai")),
            entry(
                "gen_ai.response.finish_reasons",
                AnyValue {
                    value: Some(Value::ArrayValue(ArrayValue {
                        values: vec![text("stop"), text("length")],
                    })),
                },
            ),
        ]));
        assert_eq!(row.provider.as_deref(), Some("openai"));
        assert_eq!(row.input_tokens, None);
        assert_eq!(row.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            row.attributes,
            r#"{"http.route":"/v1/chat","gen_ai.usage.input_tokens":"many","gen_ai.system":"openai","gen_ai.response.finish_reasons":["stop","length"]}"#
        );
    }

    #[test]
    fn malformed_json_message_list_is_kept_as_text() {
        let row = normalize(&span_with(vec![
            entry("gen_ai.operation.name", text("chat")),
            entry(
                "gen_ai.input.messages",
                text(r#"[{"role":"user","parts":[{"type":"text","#),
            ),
        ]));
        assert_eq!(
            row.input.as_deref(),
            Some(
                r#"[{"role":"user","parts":[{"type":"text","content":"[{\"role\":\"user\",\"parts\":[{\"type\":\"text\","}]}]"#
            )
        );
        assert_eq!(row.attributes, "{}");
    }

    #[test]
    fn too_many_attributes_is_an_error() {
        let attributes = (0..=MAX_ATTRIBUTES_PER_SPAN)
            .map(|index| entry(&format!("key.{index}"), text("v")))
            .collect();
        let error = normalize_span(&SOURCE, &span_with(attributes)).err();
        assert!(matches!(
            error,
            Some(NormalizeError::TooManyAttributes {
                count: 10_001,
                limit: 10_000,
                ..
            })
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut value = text("leaf");
        for _ in 0..100_000 {
            value = AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        let span = span_with(vec![entry("deep", value)]);
        let error = normalize_span(&SOURCE, &span).err();
        assert_eq!(
            error.as_ref().map(ToString::to_string).unwrap_or_default(),
            "span \"chat gpt-4o\": attribute \"deep\" is nested deeper than 64 levels; flatten the value or send it as JSON text"
        );
        // Dropping a 100 000-level value recurses in the generated drop glue; leak it instead,
        // the test is about the normalizer's stack, not prost's.
        std::mem::forget(span);
    }

    #[test]
    fn every_alias_key_is_documented() {
        let docs = include_str!("../../../docs/normalization.md");
        let missing: Vec<&str> = aliases::all_documented_keys()
            .into_iter()
            .chain(log_aliases::all_documented_log_keys())
            .filter(|key| !docs.contains(&format!("`{key}")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/normalization.md lacks {missing:?}"
        );
    }
}
