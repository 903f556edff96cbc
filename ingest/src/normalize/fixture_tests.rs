//! Snapshot tests of the normalizer over the convention fixtures in `tracegen/fixtures/`.
//!
//! Snapshots show the JSON-text columns (`input`, `output`, `attributes`, …) parsed back into
//! JSON so a reviewer can read them; a text value that is not JSON stays a string.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value as Json;

use super::normalize_request;

const JSON_TEXT_COLUMNS: &[&str] = &[
    "input",
    "output",
    "attributes",
    "resource_attributes",
    "events",
    "links",
];

fn load(fixture: &str) -> ExportTraceServiceRequest {
    let path = format!(
        "{}/../tracegen/fixtures/{fixture}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("read {path}: {error}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("decode {path}: {error}"))
}

fn readable(row: Json) -> Json {
    let Json::Object(mut fields) = row else {
        return row;
    };
    for column in JSON_TEXT_COLUMNS {
        if let Some(Json::String(text)) = fields.get(*column)
            && let Ok(parsed) = serde_json::from_str::<Json>(text)
        {
            fields.insert((*column).to_owned(), parsed);
        }
    }
    Json::Object(fields)
}

fn check(fixture: &str) {
    let request = load(fixture);
    let rows = normalize_request("default", &request)
        .unwrap_or_else(|error| panic!("normalize {fixture}: {error}"));
    let rows: Vec<Json> = rows
        .iter()
        .map(|row| readable(serde_json::to_value(row).unwrap_or(Json::Null)))
        .collect();
    insta::assert_json_snapshot!(fixture, rows);
}

#[test]
fn genai_current() {
    check("genai-current");
}

#[test]
fn genai_events_v1_27() {
    check("genai-events-v1_27");
}

#[test]
fn genai_v1_26() {
    check("genai-v1_26");
}

#[test]
fn openinference() {
    check("openinference");
}

#[test]
fn openllmetry() {
    check("openllmetry");
}

#[test]
fn vercel_ai_sdk() {
    check("vercel-ai-sdk");
}

#[test]
fn pydantic_ai() {
    check("pydantic-ai");
}

/// The OTLP/JSON decoder really reads hex ids, string int64s and nested AnyValues.
#[test]
fn otlp_json_decoding_reads_hex_ids_and_string_integers() {
    let request = load("genai-current");
    let span = request
        .resource_spans
        .first()
        .and_then(|resource| resource.scope_spans.first())
        .and_then(|scope| scope.spans.get(1));
    let Some(span) = span else {
        panic!("genai-current has no second span");
    };
    assert_eq!(
        hex::encode(&span.trace_id),
        "5b8efff798038103d269b633813fc60c"
    );
    assert_eq!(span.span_id.len(), 8);
    assert_eq!(span.start_time_unix_nano, 1_767_225_600_120_000_000);
    assert_eq!(span.kind, 3);
}
