//! The payload of one WAL record: the project and the raw OTLP export request.
//!
//! The WAL keeps what the client sent (re-encoded as protobuf), not normalized rows:
//! replay runs the same normalizer, so the log stays small and normalization fixes
//! apply to data recovered after an upgrade.
//!
//! Layout: `[version: u8 = 1][signal: u8][project length: u16 LE][project][protobuf]`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::error::{IngestError, Result};

const VERSION: u8 = 1;
const SIGNAL_TRACES: u8 = 1;

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub struct WalRecord {
    pub project_id: String,
    pub request: ExportTraceServiceRequest,
}

pub fn encode_traces_record(project_id: &str, request: &ExportTraceServiceRequest) -> Vec<u8> {
    let project = project_id.as_bytes();
    let mut payload = Vec::with_capacity(4 + project.len() + request.encoded_len());
    payload.push(VERSION);
    payload.push(SIGNAL_TRACES);
    payload.extend_from_slice(&(project.len() as u16).to_le_bytes());
    payload.extend_from_slice(project);
    request.encode(&mut payload).unwrap_or_default();
    payload
}

pub fn decode_record(payload: &[u8]) -> Result<WalRecord> {
    let corrupt = |what: &str| IngestError::Internal(format!("corrupt wal record: {what}"));
    let [version, signal, length_low, length_high, rest @ ..] = payload else {
        return Err(corrupt("short header"));
    };
    if *version != VERSION || *signal != SIGNAL_TRACES {
        return Err(corrupt("unknown version or signal"));
    }
    let project_length = u16::from_le_bytes([*length_low, *length_high]) as usize;
    if rest.len() < project_length {
        return Err(corrupt("project id past the end"));
    }
    let (project, protobuf) = rest.split_at(project_length);
    let project_id =
        String::from_utf8(project.to_vec()).map_err(|_| corrupt("project id is not utf-8"))?;
    let request =
        ExportTraceServiceRequest::decode(protobuf).map_err(|_| corrupt("invalid protobuf"))?;
    Ok(WalRecord {
        project_id,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let request = ExportTraceServiceRequest::default();
        let payload = encode_traces_record("team-a", &request);
        let record = decode_record(&payload).expect("decodes");
        assert_eq!(record.project_id, "team-a");
        assert_eq!(record.request, request);
        assert!(decode_record(&payload[..2]).is_err());
    }
}
