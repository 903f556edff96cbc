//! Fuzz targets of the OTLP boundary: any body, protobuf or JSON, of any signal, is decoded
//! redacted and normalized into an error or rows, never a panic; redacting what was
//! redacted finds nothing more. Seeds are the convention fixtures
//! and the real Claude Code and Codex captures, as JSON and re-encoded as protobuf.
//! A crash found here is kept as a unit test beside the code it broke.

use bolero::check;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use sextant_tracegen::fuzz_input::{case_input, fuzz_time};

use crate::normalize::normalize_export;
use crate::otlp_decode::{OtlpEncoding, decode_request};
use crate::redact::Redactor;
use crate::redact::otlp::redact_request;
use crate::wal_record::ExportRequest;

static REDACTOR: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(Redactor::built_in);

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tracegen/fixtures");

fn json_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for name in [
        "genai-current.json",
        "genai-v1_26.json",
        "openinference.json",
        "openllmetry.json",
        "vercel-ai-sdk.json",
        "captures/claude-code-2.1.328/traces.json",
        "captures/claude-code-2.1.328/logs.json",
        "captures/claude-code-2.1.328/metrics.json",
        "captures/codex-0.169.0/logs.json",
    ] {
        if let Ok(bytes) = std::fs::read(format!("{FIXTURES}/{name}")) {
            seeds.push(bytes);
        }
    }
    assert!(seeds.len() >= 5, "fixtures missing under {FIXTURES}");
    seeds
}

/// Decodes `body` as every signal in `encoding` and normalizes what decodes.
fn decode_and_normalize(body: &[u8], encoding: OtlpEncoding) {
    let requests = [
        decode_request::<ExportTraceServiceRequest>(body, encoding)
            .ok()
            .map(ExportRequest::Traces),
        decode_request::<ExportLogsServiceRequest>(body, encoding)
            .ok()
            .map(ExportRequest::Logs),
        decode_request::<ExportMetricsServiceRequest>(body, encoding)
            .ok()
            .map(ExportRequest::Metrics),
    ];
    for mut request in requests.into_iter().flatten() {
        redact_request(&mut request, &REDACTOR);
        let redacted = request.clone();
        let again = redact_request(&mut request, &REDACTOR);
        assert_eq!(again.total(), 0, "redaction is not idempotent: {again:?}");
        assert_eq!(request, redacted);
        let _ = normalize_export("fuzz", &request);
    }
}

/// The JSON seeds as protobuf, of whichever signal each one is.
fn protobuf_seeds() -> Vec<Vec<u8>> {
    json_seeds()
        .iter()
        .flat_map(|json| {
            [
                decode_request::<ExportTraceServiceRequest>(json, OtlpEncoding::Json)
                    .ok()
                    .filter(|request| !request.resource_spans.is_empty())
                    .map(|request| request.encode_to_vec()),
                decode_request::<ExportLogsServiceRequest>(json, OtlpEncoding::Json)
                    .ok()
                    .filter(|request| !request.resource_logs.is_empty())
                    .map(|request| request.encode_to_vec()),
                decode_request::<ExportMetricsServiceRequest>(json, OtlpEncoding::Json)
                    .ok()
                    .filter(|request| !request.resource_metrics.is_empty())
                    .map(|request| request.encode_to_vec()),
            ]
        })
        .flatten()
        .collect()
}

fn fuzz_encoding(encoding: OtlpEncoding, seeds: Vec<Vec<u8>>) {
    check!()
        .with_type::<(u8, bool, Vec<u8>)>()
        .with_iterations(usize::MAX)
        .with_test_time(fuzz_time())
        .for_each(|case| decode_and_normalize(&case_input(&seeds, case), encoding));
}

#[test]
fn fuzz_otlp_protobuf_decode_and_normalize() {
    fuzz_encoding(OtlpEncoding::Protobuf, protobuf_seeds());
}

#[test]
fn fuzz_otlp_json_decode_and_normalize() {
    fuzz_encoding(OtlpEncoding::Json, json_seeds());
}

#[test]
fn the_seeds_decode_before_they_are_mutated() {
    assert!(protobuf_seeds().len() >= 5);
}
