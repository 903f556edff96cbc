//! The payload of one WAL record: the project and the raw OTLP export request.
//!
//! The WAL keeps what the client sent (re-encoded as protobuf), not normalized rows:
//! replay runs the same normalizer, so the log stays small and normalization fixes
//! apply to data recovered after an upgrade.
//!
//! Layout: `[version: u8 = 1][signal: u8][project length: u16 LE][project][protobuf]`,
//! signal 1 = traces, 2 = logs, 3 = metrics.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::error::{IngestError, Result};

const VERSION: u8 = 1;
const SIGNAL_TRACES: u8 = 1;
const SIGNAL_LOGS: u8 = 2;
const SIGNAL_METRICS: u8 = 3;

/// An OTLP export request of any of the three signals.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportRequest {
    Traces(ExportTraceServiceRequest),
    Logs(ExportLogsServiceRequest),
    Metrics(ExportMetricsServiceRequest),
}

impl ExportRequest {
    /// Spans, log records or metric data points in the request (what rate limits count).
    pub fn item_count(&self) -> u64 {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        let count: usize = match self {
            ExportRequest::Traces(request) => request
                .resource_spans
                .iter()
                .flat_map(|resource| &resource.scope_spans)
                .map(|scope| scope.spans.len())
                .sum(),
            ExportRequest::Logs(request) => request
                .resource_logs
                .iter()
                .flat_map(|resource| &resource.scope_logs)
                .map(|scope| scope.log_records.len())
                .sum(),
            ExportRequest::Metrics(request) => request
                .resource_metrics
                .iter()
                .flat_map(|resource| &resource.scope_metrics)
                .flat_map(|scope| &scope.metrics)
                .map(|metric| match &metric.data {
                    Some(Data::Gauge(gauge)) => gauge.data_points.len(),
                    Some(Data::Sum(sum)) => sum.data_points.len(),
                    Some(Data::Histogram(histogram)) => histogram.data_points.len(),
                    Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
                    Some(Data::Summary(summary)) => summary.data_points.len(),
                    None => 0,
                })
                .sum(),
        };
        count as u64
    }

    fn signal(&self) -> u8 {
        match self {
            ExportRequest::Traces(_) => SIGNAL_TRACES,
            ExportRequest::Logs(_) => SIGNAL_LOGS,
            ExportRequest::Metrics(_) => SIGNAL_METRICS,
        }
    }

    /// Bytes of the request as protobuf.
    pub fn encoded_len(&self) -> usize {
        match self {
            ExportRequest::Traces(request) => request.encoded_len(),
            ExportRequest::Logs(request) => request.encoded_len(),
            ExportRequest::Metrics(request) => request.encoded_len(),
        }
    }

    fn encode_into(&self, buffer: &mut Vec<u8>) {
        // Encoding into a Vec only fails for lack of capacity, which a Vec grows past.
        let _ = match self {
            ExportRequest::Traces(request) => request.encode(buffer),
            ExportRequest::Logs(request) => request.encode(buffer),
            ExportRequest::Metrics(request) => request.encode(buffer),
        };
    }
}

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
pub struct WalRecord {
    pub project_id: String,
    pub request: ExportRequest,
}

pub fn encode_record(project_id: &str, request: &ExportRequest) -> Vec<u8> {
    let project = project_id.as_bytes();
    let mut payload = Vec::with_capacity(4 + project.len() + request.encoded_len());
    payload.push(VERSION);
    payload.push(request.signal());
    payload.extend_from_slice(&(project.len() as u16).to_le_bytes());
    payload.extend_from_slice(project);
    request.encode_into(&mut payload);
    payload
}

pub fn decode_record(payload: &[u8]) -> Result<WalRecord> {
    let corrupt = |what: &str| IngestError::Internal(format!("corrupt wal record: {what}"));
    let [version, signal, length_low, length_high, rest @ ..] = payload else {
        return Err(corrupt("short header"));
    };
    if *version != VERSION {
        return Err(corrupt("unknown version"));
    }
    let project_length = u16::from_le_bytes([*length_low, *length_high]) as usize;
    if rest.len() < project_length {
        return Err(corrupt("project id past the end"));
    }
    let (project, protobuf) = rest.split_at(project_length);
    let project_id =
        String::from_utf8(project.to_vec()).map_err(|_| corrupt("project id is not utf-8"))?;
    let invalid = |_| corrupt("invalid protobuf");
    let request = match *signal {
        SIGNAL_TRACES => {
            ExportRequest::Traces(ExportTraceServiceRequest::decode(protobuf).map_err(invalid)?)
        }
        SIGNAL_LOGS => {
            ExportRequest::Logs(ExportLogsServiceRequest::decode(protobuf).map_err(invalid)?)
        }
        SIGNAL_METRICS => {
            ExportRequest::Metrics(ExportMetricsServiceRequest::decode(protobuf).map_err(invalid)?)
        }
        _ => return Err(corrupt("unknown signal")),
    };
    Ok(WalRecord {
        project_id,
        request,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_every_signal_round_trip() {
        let requests = [
            ExportRequest::Traces(ExportTraceServiceRequest::default()),
            ExportRequest::Logs(ExportLogsServiceRequest::default()),
            ExportRequest::Metrics(ExportMetricsServiceRequest::default()),
        ];
        for request in requests {
            let payload = encode_record("team-a", &request);
            let record = decode_record(&payload).expect("decodes");
            assert_eq!(record.project_id, "team-a");
            assert_eq!(record.request, request);
            assert!(decode_record(&payload[..2]).is_err());
        }
    }

    #[test]
    fn an_unknown_signal_is_corrupt() {
        let mut payload = encode_record("p", &ExportRequest::Logs(Default::default()));
        payload[1] = 9;
        assert!(decode_record(&payload).is_err());
    }
}
