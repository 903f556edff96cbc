//! The canonical metric data point (a row of the `metrics` table) and its Arrow schema.
//!
//! One row per OTLP data point. Sums and gauges carry `value`; histograms `count`, `sum`,
//! `min`, `max` and their buckets as JSON in `distribution`; temporality is kept as sent
//! (Claude Code sends delta sums, most SDKs cumulative), so a query chooses how to combine.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::arrow_columns::{booleans, decimals, integers, strings, timestamp_type, timestamps};

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

fn build_metrics_schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let decimal = |name: &str| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        text("project_id", false),
        Field::new("time", timestamp_type(), false),
        Field::new("start_time", timestamp_type(), true),
        text("metric_name", false),
        text("description", true),
        text("unit", true),
        text("metric_type", false),
        text("temporality", true),
        Field::new("is_monotonic", DataType::Boolean, true),
        decimal("value"),
        Field::new("count", DataType::Int64, true),
        decimal("sum"),
        decimal("min"),
        decimal("max"),
        text("distribution", true),
        text("service_name", true),
        text("scope_name", true),
        text("session_id", true),
        text("model", true),
        text("attributes", false),
        text("resource_attributes", false),
    ]))
}

/// Builds one record batch from metric points, in the order given.
pub fn metrics_to_batch(
    points: &[CanonicalMetricPoint],
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        strings(points, |p| Some(&p.project_id)),
        timestamps(points, |p| Some(p.time)),
        timestamps(points, |p| p.start_time),
        strings(points, |p| Some(&p.metric_name)),
        strings(points, |p| p.description.as_deref()),
        strings(points, |p| p.unit.as_deref()),
        strings(points, |p| Some(&p.metric_type)),
        strings(points, |p| p.temporality.as_deref()),
        booleans(points, |p| p.is_monotonic),
        decimals(points, |p| p.value),
        integers(points, |p| p.count),
        decimals(points, |p| p.sum),
        decimals(points, |p| p.min),
        decimals(points, |p| p.max),
        strings(points, |p| p.distribution.as_deref()),
        strings(points, |p| p.service_name.as_deref()),
        strings(points, |p| p.scope_name.as_deref()),
        strings(points, |p| p.session_id.as_deref()),
        strings(points, |p| p.model.as_deref()),
        strings(points, |p| Some(&p.attributes)),
        strings(points, |p| Some(&p.resource_attributes)),
    ];
    RecordBatch::try_new(metrics_schema(), columns)
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
