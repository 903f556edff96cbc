//! Decoding OTLP/HTTP request bodies: content type, bounded gzip, protobuf or JSON.
//!
//! Every failure here is the client's: it maps to 400, 413 or 415 with a message that
//! says what to fix. Decompression is capped, so a gzip bomb is cut off, not inflated.

use std::io::Read;

use bytes::Bytes;
use flate2::read::MultiGzDecoder;
use prost::Message;
use serde::de::DeserializeOwned;

use crate::error::{IngestError, Result};
use crate::request_budget::BudgetReservation;

/// Default cap on a decoded request body.
pub const DEFAULT_BODY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// The two OTLP/HTTP encodings. Responses use the request's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    Protobuf,
    Json,
}

impl OtlpEncoding {
    /// Picks the encoding from a `Content-Type` header value.
    pub fn from_content_type(content_type: Option<&str>) -> Result<OtlpEncoding> {
        let media_type = content_type
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match media_type.as_deref() {
            Some("application/x-protobuf") | Some("application/protobuf") => {
                Ok(OtlpEncoding::Protobuf)
            }
            Some("application/json") => Ok(OtlpEncoding::Json),
            Some(other) => Err(IngestError::UnsupportedMediaType(format!(
                "unsupported content type {other:?}; send application/x-protobuf or application/json"
            ))),
            None => Err(IngestError::UnsupportedMediaType(
                "missing content type; send application/x-protobuf or application/json".into(),
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// Undoes `Content-Encoding`, refusing to produce more than `limit_bytes`; each inflated
/// chunk is taken from the request's budget before it is kept.
pub fn decode_content_encoding(
    body: Bytes,
    content_encoding: Option<&str>,
    limit_bytes: usize,
    budget: &mut BudgetReservation,
) -> Result<Bytes> {
    let encoding = content_encoding.map(|value| value.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => {
            if body.len() > limit_bytes {
                return Err(IngestError::PayloadTooLarge { limit_bytes });
            }
            Ok(body)
        }
        Some("gzip") | Some("x-gzip") => {
            const CHUNK_BYTES: usize = 256 * 1024;
            let mut decoded = Vec::new();
            let mut limited = MultiGzDecoder::new(body.as_ref()).take(limit_bytes as u64 + 1);
            let mut chunk = vec![0u8; CHUNK_BYTES];
            loop {
                let read = limited.read(&mut chunk).map_err(|error| {
                    IngestError::InvalidInput(format!("invalid gzip body: {error}"))
                })?;
                if read == 0 {
                    break;
                }
                budget.grow(read)?;
                decoded.extend_from_slice(&chunk[..read]);
            }
            if decoded.len() > limit_bytes {
                return Err(IngestError::PayloadTooLarge { limit_bytes });
            }
            Ok(Bytes::from(decoded))
        }
        Some(other) => Err(IngestError::UnsupportedMediaType(format!(
            "unsupported content encoding {other:?}; send gzip or no content-encoding"
        ))),
    }
}

/// Decodes an OTLP export request (traces, logs or metrics) in either encoding.
pub fn decode_request<T: Message + Default + DeserializeOwned>(
    body: &[u8],
    encoding: OtlpEncoding,
) -> Result<T> {
    match encoding {
        OtlpEncoding::Protobuf => T::decode(body)
            .map_err(|error| IngestError::InvalidInput(format!("invalid OTLP protobuf: {error}"))),
        OtlpEncoding::Json => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(T::default());
            }
            serde_json::from_slice(body)
                .map_err(|error| IngestError::InvalidInput(format!("invalid OTLP JSON: {error}")))
        }
    }
}

/// `google.rpc.Status`, the body of OTLP error responses.
#[derive(Clone, PartialEq, Message, serde::Serialize)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// Encodes a message for the response in the request's encoding.
pub fn encode_response<T: Message + serde::Serialize>(
    message: &T,
    encoding: OtlpEncoding,
) -> Vec<u8> {
    match encoding {
        OtlpEncoding::Protobuf => message.encode_to_vec(),
        OtlpEncoding::Json => serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

    use super::*;
    use crate::request_budget::RequestBudget;

    fn gzip(bytes: &[u8]) -> Bytes {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(bytes).expect("gzip");
        Bytes::from(encoder.finish().expect("gzip"))
    }

    #[test]
    fn content_types_pick_the_encoding() {
        assert_eq!(
            OtlpEncoding::from_content_type(Some("application/json; charset=utf-8")).ok(),
            Some(OtlpEncoding::Json)
        );
        assert_eq!(
            OtlpEncoding::from_content_type(Some("application/x-protobuf")).ok(),
            Some(OtlpEncoding::Protobuf)
        );
        assert!(matches!(
            OtlpEncoding::from_content_type(Some("text/plain")),
            Err(IngestError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn gzip_bomb_is_cut_off_at_the_limit() {
        let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        let result = decode_content_encoding(bomb, Some("gzip"), 1024 * 1024, &mut unbounded());
        assert!(matches!(result, Err(IngestError::PayloadTooLarge { .. })));
    }

    fn unbounded() -> BudgetReservation {
        RequestBudget::new(usize::MAX)
            .reserve(0)
            .expect("empty reservation")
    }

    #[test]
    fn inflated_bytes_are_taken_from_the_budget_as_they_come() {
        let body = gzip(&vec![7u8; 3 * 1024 * 1024]);
        let budget = RequestBudget::new(1024 * 1024);
        let mut reservation = budget.reserve(body.len()).expect("the raw body fits");
        let result = decode_content_encoding(body, Some("gzip"), 64 << 20, &mut reservation);
        assert!(
            matches!(result, Err(IngestError::Overloaded { .. })),
            "{result:?}"
        );
        drop(reservation);
        assert_eq!(budget.available_bytes(), 1024 * 1024);
    }

    #[test]
    fn gzip_under_the_limit_decodes() {
        let body = decode_content_encoding(gzip(b"hello"), Some("gzip"), 1024, &mut unbounded())
            .expect("decodes");
        assert_eq!(body.as_ref(), b"hello");
    }

    #[test]
    fn truncated_protobuf_is_invalid_input() {
        let result = decode_request::<ExportTraceServiceRequest>(
            &[0x0a, 0x40, 0x01],
            OtlpEncoding::Protobuf,
        );
        assert!(
            matches!(result, Err(IngestError::InvalidInput(message)) if message.contains("protobuf"))
        );
    }

    #[test]
    fn json_with_hex_ids_and_string_ints_decodes() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat","kind":3,"startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000001000000000,"unknownField":1}]}]}]}"#;
        let request: ExportTraceServiceRequest =
            decode_request(body, OtlpEncoding::Json).expect("decodes");
        let span = &request.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            hex::encode(&span.trace_id),
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_700_000_001_000_000_000);
        assert_eq!(span.kind, 3);
    }
}
