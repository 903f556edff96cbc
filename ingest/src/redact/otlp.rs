//! Redacts an OTLP export request in place, before it is logged and normalized.
//!
//! Every string a span or log record carries is visited: names, attribute values (inside
//! arrays and maps too), event names and attributes, link attributes, status messages,
//! log bodies and event names, metric data points' attributes, resource and scope
//! attributes. Attribute keys, ids, metric names and numbers are left as they are.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;

use super::{RedactionTally, Redactor};
use crate::wal_record::ExportRequest;

/// Redacts every text field of the request's spans, log records and metric points; what
/// was found.
pub fn redact_request(request: &mut ExportRequest, redactor: &Redactor) -> RedactionTally {
    let mut walk = Walk {
        redactor,
        tally: RedactionTally::default(),
    };
    match request {
        ExportRequest::Traces(request) => {
            for resource in &mut request.resource_spans {
                if let Some(resource) = &mut resource.resource {
                    walk.attributes(&mut resource.attributes);
                }
                for scope in &mut resource.scope_spans {
                    walk.scope(scope.scope.as_mut());
                    for span in &mut scope.spans {
                        walk.text(&mut span.name);
                        walk.attributes(&mut span.attributes);
                        for event in &mut span.events {
                            walk.text(&mut event.name);
                            walk.attributes(&mut event.attributes);
                        }
                        for link in &mut span.links {
                            walk.attributes(&mut link.attributes);
                        }
                        if let Some(status) = &mut span.status {
                            walk.text(&mut status.message);
                        }
                    }
                }
            }
        }
        ExportRequest::Logs(request) => {
            for resource in &mut request.resource_logs {
                if let Some(resource) = &mut resource.resource {
                    walk.attributes(&mut resource.attributes);
                }
                for scope in &mut resource.scope_logs {
                    walk.scope(scope.scope.as_mut());
                    for record in &mut scope.log_records {
                        walk.text(&mut record.event_name);
                        if let Some(body) = &mut record.body {
                            walk.value(body);
                        }
                        walk.attributes(&mut record.attributes);
                    }
                }
            }
        }
        ExportRequest::Metrics(request) => {
            for resource in &mut request.resource_metrics {
                if let Some(resource) = &mut resource.resource {
                    walk.attributes(&mut resource.attributes);
                }
                for scope in &mut resource.scope_metrics {
                    walk.scope(scope.scope.as_mut());
                    for metric in &mut scope.metrics {
                        walk.metric_points(metric.data.as_mut());
                    }
                }
            }
        }
    }
    walk.tally
}

struct Walk<'a> {
    redactor: &'a Redactor,
    tally: RedactionTally,
}

impl Walk<'_> {
    fn text(&mut self, text: &mut String) {
        if let Some(redacted) = self.redactor.redact(text, &mut self.tally) {
            *text = redacted;
        }
    }

    fn metric_points(&mut self, data: Option<&mut Data>) {
        match data {
            Some(Data::Gauge(gauge)) => self.points(&mut gauge.data_points, |p| &mut p.attributes),
            Some(Data::Sum(sum)) => self.points(&mut sum.data_points, |p| &mut p.attributes),
            Some(Data::Histogram(histogram)) => {
                self.points(&mut histogram.data_points, |p| &mut p.attributes)
            }
            Some(Data::ExponentialHistogram(histogram)) => {
                self.points(&mut histogram.data_points, |p| &mut p.attributes)
            }
            Some(Data::Summary(summary)) => {
                self.points(&mut summary.data_points, |p| &mut p.attributes)
            }
            None => {}
        }
    }

    fn points<P>(&mut self, points: &mut [P], attributes: impl Fn(&mut P) -> &mut Vec<KeyValue>) {
        for point in points {
            self.attributes(attributes(point));
        }
    }

    fn scope(&mut self, scope: Option<&mut InstrumentationScope>) {
        if let Some(scope) = scope {
            self.attributes(&mut scope.attributes);
        }
    }

    fn attributes(&mut self, attributes: &mut [KeyValue]) {
        for attribute in attributes {
            if let Some(value) = &mut attribute.value {
                self.value(value);
            }
        }
    }

    fn value(&mut self, value: &mut AnyValue) {
        match &mut value.value {
            Some(Value::StringValue(text)) => self.text(text),
            Some(Value::ArrayValue(array)) => {
                for item in &mut array.values {
                    self.value(item);
                }
            }
            Some(Value::KvlistValue(list)) => self.attributes(&mut list.values),
            _ => {}
        }
    }
}
