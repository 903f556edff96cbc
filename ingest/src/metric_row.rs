//! The canonical metric data point (a row of the `metrics` table) and its Arrow schema.
//!
//! One row per OTLP data point. Sums and gauges carry `value`; histograms `count`, `sum`,
//! `min`, `max` and their buckets as JSON in `distribution`; temporality is kept as sent
//! (Claude Code sends delta sums, most SDKs cumulative), so a query chooses how to combine.

use std::sync::LazyLock;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

use crate::arrow_columns::{
    Column, batch_of, boolean, booleans, decimals, float64, int64, integers, schema_of, strings,
    timestamp_type, timestamps, utf8,
};

/// One normalized metric data point. Times are nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CanonicalMetricPoint {
    pub project_id: String,
    pub time: i64,
    /// Start of the aggregation window (delta) or of the series (cumulative).
    pub start_time: Option<i64>,
    pub metric_name: String,
    pub description: Option<String>,
    pub unit: Option<String>,
    /// gauge | sum | histogram | exponential_histogram | summary
    pub metric_type: String,
    /// delta | cumulative, for sums and histograms.
    pub temporality: Option<String>,
    pub is_monotonic: Option<bool>,
    /// The value of a gauge or sum point.
    pub value: Option<f64>,
    pub count: Option<i64>,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Buckets or quantiles as JSON text (histograms and summaries).
    pub distribution: Option<String>,
    pub service_name: Option<String>,
    pub scope_name: Option<String>,
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// The point's attributes as JSON text.
    pub attributes: String,
    pub resource_attributes: String,
}

impl CanonicalMetricPoint {
    /// Approximate in-memory size, used for buffer accounting and backpressure.
    pub fn approx_bytes(&self) -> usize {
        192 + self.metric_name.len()
            + self.distribution.as_ref().map_or(0, String::len)
            + self.attributes.len()
            + self.resource_attributes.len()
    }
}

static METRICS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(build_metrics_schema);

/// The schema of the `metrics` table. Column order and types are the on-disk format.
pub fn metrics_schema() -> SchemaRef {
    METRICS_SCHEMA.clone()
}

/// The `metrics` table's columns in their on-disk order, each stated once: name,
/// type, nullability, and how a row gives its value.
pub const METRICS_COLUMNS: &[Column<CanonicalMetricPoint>] = &[
    Column::new("project_id", utf8, false, |rows| {
        strings(rows, |p| Some(&p.project_id))
    }),
    Column::new("time", timestamp_type, false, |rows| {
        timestamps(rows, |p| Some(p.time))
    }),
    Column::new("start_time", timestamp_type, true, |rows| {
        timestamps(rows, |p| p.start_time)
    }),
    Column::new("metric_name", utf8, false, |rows| {
        strings(rows, |p| Some(&p.metric_name))
    }),
    Column::new("description", utf8, true, |rows| {
        strings(rows, |p| p.description.as_deref())
    }),
    Column::new("unit", utf8, true, |rows| {
        strings(rows, |p| p.unit.as_deref())
    }),
    Column::new("metric_type", utf8, false, |rows| {
        strings(rows, |p| Some(&p.metric_type))
    }),
    Column::new("temporality", utf8, true, |rows| {
        strings(rows, |p| p.temporality.as_deref())
    }),
    Column::new("is_monotonic", boolean, true, |rows| {
        booleans(rows, |p| p.is_monotonic)
    }),
    Column::new("value", float64, true, |rows| decimals(rows, |p| p.value)),
    Column::new("count", int64, true, |rows| integers(rows, |p| p.count)),
    Column::new("sum", float64, true, |rows| decimals(rows, |p| p.sum)),
    Column::new("min", float64, true, |rows| decimals(rows, |p| p.min)),
    Column::new("max", float64, true, |rows| decimals(rows, |p| p.max)),
    Column::new("distribution", utf8, true, |rows| {
        strings(rows, |p| p.distribution.as_deref())
    }),
    Column::new("service_name", utf8, true, |rows| {
        strings(rows, |p| p.service_name.as_deref())
    }),
    Column::new("scope_name", utf8, true, |rows| {
        strings(rows, |p| p.scope_name.as_deref())
    }),
    Column::new("session_id", utf8, true, |rows| {
        strings(rows, |p| p.session_id.as_deref())
    }),
    Column::new("model", utf8, true, |rows| {
        strings(rows, |p| p.model.as_deref())
    }),
    Column::new("attributes", utf8, false, |rows| {
        strings(rows, |p| Some(&p.attributes))
    }),
    Column::new("resource_attributes", utf8, false, |rows| {
        strings(rows, |p| Some(&p.resource_attributes))
    }),
];

fn build_metrics_schema() -> SchemaRef {
    schema_of(METRICS_COLUMNS)
}

/// Builds one record batch from metric points, in the order given.
pub fn metrics_to_batch(
    points: &[CanonicalMetricPoint],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    batch_of(&metrics_schema(), METRICS_COLUMNS, points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_matches_schema_column_for_column() {
        let point = CanonicalMetricPoint {
            project_id: "default".into(),
            metric_name: "claude_code.cost.usage".into(),
            metric_type: "sum".into(),
            value: Some(0.01),
            attributes: "{}".into(),
            resource_attributes: "{}".into(),
            ..CanonicalMetricPoint::default()
        };
        let batch = metrics_to_batch(&[point]).expect("valid batch");
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.num_columns(), metrics_schema().fields().len());
    }
}
