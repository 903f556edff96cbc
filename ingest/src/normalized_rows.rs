//! A batch of normalized rows bound for the three stored tables (`crate::table`).

use crate::layout::PartitionKey;
use crate::log_row::CanonicalLog;
use crate::metric_row::CanonicalMetricPoint;
use crate::span::CanonicalSpan;

/// Rows normalized from one or more export requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NormalizedRows {
    pub spans: Vec<CanonicalSpan>,
    pub logs: Vec<CanonicalLog>,
    pub metrics: Vec<CanonicalMetricPoint>,
}

impl NormalizedRows {
    pub fn len(&self) -> usize {
        self.spans.len() + self.logs.len() + self.metrics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate in-memory size, used for buffer accounting and backpressure.
    pub fn approx_bytes(&self) -> usize {
        self.spans
            .iter()
            .map(CanonicalSpan::approx_bytes)
            .sum::<usize>()
            + self
                .logs
                .iter()
                .map(CanonicalLog::approx_bytes)
                .sum::<usize>()
            + self
                .metrics
                .iter()
                .map(CanonicalMetricPoint::approx_bytes)
                .sum::<usize>()
    }

    pub fn append(&mut self, mut other: NormalizedRows) {
        self.spans.append(&mut other.spans);
        self.logs.append(&mut other.logs);
        self.metrics.append(&mut other.metrics);
    }

    /// Splits the rows by project/day partition, each table sorted by time.
    pub fn into_partitions(self) -> std::collections::BTreeMap<PartitionKey, NormalizedRows> {
        let mut partitions: std::collections::BTreeMap<PartitionKey, NormalizedRows> =
            std::collections::BTreeMap::new();
        for span in self.spans {
            let key = PartitionKey::for_time(&span.project_id, span.start_time);
            partitions.entry(key).or_default().spans.push(span);
        }
        for log in self.logs {
            let key = PartitionKey::for_time(&log.project_id, log.time);
            partitions.entry(key).or_default().logs.push(log);
        }
        for point in self.metrics {
            let key = PartitionKey::for_time(&point.project_id, point.time);
            partitions.entry(key).or_default().metrics.push(point);
        }
        for rows in partitions.values_mut() {
            rows.spans.sort_by_key(|span| span.start_time);
            rows.logs.sort_by_key(|log| log.time);
            rows.metrics.sort_by_key(|point| point.time);
        }
        partitions
    }

    /// The partitions these rows fall in.
    pub fn partition_keys(&self) -> std::collections::BTreeSet<PartitionKey> {
        let spans = self
            .spans
            .iter()
            .map(|row| PartitionKey::for_time(&row.project_id, row.start_time));
        let logs = self
            .logs
            .iter()
            .map(|row| PartitionKey::for_time(&row.project_id, row.time));
        let metrics = self
            .metrics
            .iter()
            .map(|row| PartitionKey::for_time(&row.project_id, row.time));
        spans.chain(logs).chain(metrics).collect()
    }
}
