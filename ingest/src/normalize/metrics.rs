//! Metric normalization: every OTLP data point → one [`CanonicalMetricPoint`] row.
//!
//! Gauges and sums give `value`; histograms `count`/`sum`/`min`/`max` with their buckets in
//! `distribution` (JSON); exponential histograms and summaries likewise. Temporality and
//! monotonicity are kept as sent. Exemplars are not stored.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
use opentelemetry_proto::tonic::metrics::v1::{
    Metric, NumberDataPoint, exponential_histogram_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Value as Json, json};

use crate::metric_row::CanonicalMetricPoint;

use super::attributes::AttributeSet;
use super::log_aliases::{METRIC_MODEL_KEYS, METRIC_SESSION_KEYS};
use super::logs::{check_attribute_limits, non_empty};
use super::values::{key_values_to_json, lenient_string};
use super::{clamp_to_i64, json_text, service_name};

/// Most data points one export request may carry.
pub const MAX_POINTS_PER_REQUEST: usize = 1_000_000;

/// Normalizes every data point of a metrics export; the first invalid point fails the
/// request with a message that names the metric and what to fix.
pub fn normalize_metrics_request(
    project_id: &str,
    request: &ExportMetricsServiceRequest,
) -> Result<Vec<CanonicalMetricPoint>, String> {
    let mut rows = Vec::new();
    for resource_metrics in &request.resource_metrics {
        let resource = resource_metrics.resource.as_ref();
        let resource_attributes = json_text(&Json::Object(
            resource
                .map(|resource| key_values_to_json(&resource.attributes))
                .unwrap_or_default(),
        ));
        for scope_metrics in &resource_metrics.scope_metrics {
            let context = MetricContext {
                project_id,
                resource,
                scope: scope_metrics.scope.as_ref(),
                resource_attributes: &resource_attributes,
            };
            for metric in &scope_metrics.metrics {
                normalize_metric(&context, metric, &mut rows)
                    .map_err(|problem| format!("metric {:?}: {problem}", metric.name))?;
                if rows.len() > MAX_POINTS_PER_REQUEST {
                    return Err(format!(
                        "more than {MAX_POINTS_PER_REQUEST} data points in one request; export in smaller batches"
                    ));
                }
            }
        }
    }
    Ok(rows)
}

struct MetricContext<'a> {
    project_id: &'a str,
    resource: Option<&'a Resource>,
    scope: Option<&'a InstrumentationScope>,
    resource_attributes: &'a str,
}

/// What every point of one metric shares, plus the point's own time and attributes.
struct PointBase<'a> {
    attributes: &'a [KeyValue],
    start_time: u64,
    time: u64,
}

fn normalize_metric(
    context: &MetricContext<'_>,
    metric: &Metric,
    rows: &mut Vec<CanonicalMetricPoint>,
) -> Result<(), String> {
    if metric.name.trim().is_empty() {
        return Err("metric has no name; every metric needs one".into());
    }
    let Some(data) = metric.data.as_ref() else {
        return Ok(());
    };
    let template =
        |metric_type: &str, temporality: i32, monotonic: Option<bool>| CanonicalMetricPoint {
            project_id: context.project_id.to_owned(),
            metric_name: metric.name.clone(),
            description: non_empty(&metric.description),
            unit: non_empty(&metric.unit),
            metric_type: metric_type.to_owned(),
            temporality: temporality_name(temporality),
            is_monotonic: monotonic,
            service_name: context.resource.and_then(service_name),
            scope_name: context.scope.and_then(|scope| non_empty(&scope.name)),
            resource_attributes: context.resource_attributes.to_owned(),
            ..CanonicalMetricPoint::default()
        };
    match data {
        Data::Gauge(gauge) => {
            let points = gauge
                .data_points
                .iter()
                .map(|point| (template("gauge", 0, None), point));
            push_number_points(rows, points)?;
        }
        Data::Sum(sum) => {
            let points = sum.data_points.iter().map(|point| {
                let row = template("sum", sum.aggregation_temporality, Some(sum.is_monotonic));
                (row, point)
            });
            push_number_points(rows, points)?;
        }
        Data::Histogram(histogram) => {
            for point in &histogram.data_points {
                let mut row = template("histogram", histogram.aggregation_temporality, None);
                row.count = Some(saturating_i64(point.count));
                row.sum = point.sum;
                row.min = point.min;
                row.max = point.max;
                row.distribution = Some(json_text(&json!({
                    "explicit_bounds": point.explicit_bounds,
                    "bucket_counts": point.bucket_counts,
                })));
                push_point(
                    rows,
                    row,
                    base(
                        &point.attributes,
                        point.start_time_unix_nano,
                        point.time_unix_nano,
                    ),
                )?;
            }
        }
        Data::ExponentialHistogram(histogram) => {
            for point in &histogram.data_points {
                let mut row = template(
                    "exponential_histogram",
                    histogram.aggregation_temporality,
                    None,
                );
                row.count = Some(saturating_i64(point.count));
                row.sum = point.sum;
                row.min = point.min;
                row.max = point.max;
                let buckets = |buckets: Option<&exponential_histogram_data_point::Buckets>| {
                    buckets.map(|buckets| {
                        json!({"offset": buckets.offset, "bucket_counts": buckets.bucket_counts})
                    })
                };
                row.distribution = Some(json_text(&json!({
                    "scale": point.scale,
                    "zero_count": point.zero_count,
                    "zero_threshold": point.zero_threshold,
                    "positive": buckets(point.positive.as_ref()),
                    "negative": buckets(point.negative.as_ref()),
                })));
                push_point(
                    rows,
                    row,
                    base(
                        &point.attributes,
                        point.start_time_unix_nano,
                        point.time_unix_nano,
                    ),
                )?;
            }
        }
        Data::Summary(summary) => {
            for point in &summary.data_points {
                let mut row = template("summary", 0, None);
                row.count = Some(saturating_i64(point.count));
                row.sum = Some(point.sum);
                let quantiles: Vec<Json> = point
                    .quantile_values
                    .iter()
                    .map(|quantile| json!({"quantile": quantile.quantile, "value": quantile.value}))
                    .collect();
                row.distribution = Some(json_text(&json!({ "quantiles": quantiles })));
                push_point(
                    rows,
                    row,
                    base(
                        &point.attributes,
                        point.start_time_unix_nano,
                        point.time_unix_nano,
                    ),
                )?;
            }
        }
    }
    Ok(())
}

fn base(attributes: &[KeyValue], start_time: u64, time: u64) -> PointBase<'_> {
    PointBase {
        attributes,
        start_time,
        time,
    }
}

/// Gauge and sum points: one row each, with the point's number.
fn push_number_points<'a>(
    rows: &mut Vec<CanonicalMetricPoint>,
    points: impl Iterator<Item = (CanonicalMetricPoint, &'a NumberDataPoint)>,
) -> Result<(), String> {
    for (mut row, point) in points {
        row.value = number_value(point.value.as_ref());
        push_point(
            rows,
            row,
            base(
                &point.attributes,
                point.start_time_unix_nano,
                point.time_unix_nano,
            ),
        )?;
    }
    Ok(())
}

fn push_point(
    rows: &mut Vec<CanonicalMetricPoint>,
    mut row: CanonicalMetricPoint,
    point: PointBase<'_>,
) -> Result<(), String> {
    check_attribute_limits(point.attributes)?;
    row.time = clamp_to_i64(point.time);
    row.start_time = match clamp_to_i64(point.start_time) {
        0 => None,
        start => Some(start),
    };
    let attributes = AttributeSet::new(point.attributes);
    let first_text = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| attributes.get(key).and_then(lenient_string))
    };
    row.session_id = first_text(METRIC_SESSION_KEYS);
    row.model = first_text(METRIC_MODEL_KEYS);
    row.attributes = json_text(&Json::Object(key_values_to_json(point.attributes)));
    rows.push(row);
    Ok(())
}

fn number_value(value: Option<&number_data_point::Value>) -> Option<f64> {
    match value? {
        number_data_point::Value::AsDouble(number) => number.is_finite().then_some(*number),
        // Counters far below 2^53, where the conversion is exact.
        number_data_point::Value::AsInt(number) => Some(*number as f64),
    }
}

fn temporality_name(temporality: i32) -> Option<String> {
    match temporality {
        1 => Some("delta".to_owned()),
        2 => Some("cumulative".to_owned()),
        _ => None,
    }
}

fn saturating_i64(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
