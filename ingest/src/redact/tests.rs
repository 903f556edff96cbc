//! The detectors on real-looking secrets and on the text around them that must survive.

use super::*;

fn redacted(text: &str) -> (String, RedactionTally) {
    let mut tally = RedactionTally::default();
    let out = Redactor::built_in()
        .redact(text, &mut tally)
        .unwrap_or_else(|| text.to_string());
    (out, tally)
}

#[test]
fn each_well_known_format_is_replaced_by_its_marker() {
    let github = format!("ghp_{}", "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5");
    let cases = [
        ("key AKIAIOSFODNN7EXAMPLE here", "aws_access_key"),
        (&*format!("token {github}."), "github_token"),
        (
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCD",
            "github_token",
        ),
        (
            "ANTHROPIC sk-ant-api03-Ab_cdEFghIJklMNopQRstUVwxYZ0123456789-abcdEFGH",
            "anthropic_key",
        ),
        (
            "openai sk-proj-abcdefghijklmnopqrstuvwxyz012345",
            "openai_key",
        ),
        (
            "slack xoxb-123456789012-1234567890123-abcdefABCDEF",
            "slack_token",
        ),
        (
            "post to https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX now",
            "slack_webhook",
        ),
        ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "google_api_key"),
        ("stripe sk_live_abcdefghijklmnopqrstuvwxyz", "stripe_key"),
        (
            &*format!("sxt_0123456789ab_{}", "f".repeat(64)),
            "sextant_key",
        ),
        (
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "jwt",
        ),
        (
            "curl -H 'Authorization: Bearer abcdef0123456789abcdef' https://x",
            "bearer_token",
        ),
        (
            "git clone https://deploy:s3cr3t-pass@git.example.com/r.git",
            "url_password",
        ),
        ("DB_PASSWORD=hunter2hunter2\n", "secret_assignment"),
    ];
    for (text, kind) in cases {
        let (out, tally) = redacted(text);
        assert!(
            out.contains(&marker(kind)),
            "{kind}: {text:?} became {out:?}"
        );
        assert_eq!(tally.by_kind.get(kind), Some(&1), "{kind}: {tally:?}");
    }
}

#[test]
fn a_github_token_in_a_dotenv_file_is_named_by_its_format_not_the_assignment() {
    let token = format!("ghp_{}", "Z".repeat(36));
    let (out, tally) = redacted(&format!("GITHUB_TOKEN={token}\nDEBUG=1\n"));
    assert_eq!(out, "GITHUB_TOKEN=[REDACTED:github_token]\nDEBUG=1\n");
    assert_eq!(tally.total(), 1, "{tally:?}");
}

#[test]
fn the_surrounding_text_and_the_keys_survive() {
    let (out, _) =
        redacted("export API_KEY='abc123xyz'\nAWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG\n");
    assert_eq!(
        out,
        "export API_KEY='[REDACTED:secret_assignment]'\nAWS_SECRET_ACCESS_KEY: [REDACTED:secret_assignment]\n"
    );
    let (out, _) = redacted(r#"{"user": "ann", "password": "hunter22", "n": 1}"#);
    assert_eq!(
        out,
        r#"{"user": "ann", "password": "[REDACTED:secret_assignment]", "n": 1}"#
    );
    let (out, _) = redacted(r"cat .env\nDB_PASSWORD=hunter22\nPORT=5432\n");
    assert_eq!(
        out,
        r"cat .env\nDB_PASSWORD=[REDACTED:secret_assignment]\nPORT=5432\n"
    );
    let (out, _) = redacted("postgres://app:pa55word@db:5432/app");
    assert_eq!(out, "postgres://app:[REDACTED:url_password]@db:5432/app");
    let (out, _) = redacted(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----\ntail",
    );
    assert_eq!(out, "[REDACTED:private_key]\ntail");
    let (out, _) = redacted("cat key.pem\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r");
    assert_eq!(out, "cat key.pem\n[REDACTED:private_key]");
}

#[test]
fn ordinary_agent_text_is_left_alone() {
    let texts = [
        r#"{"model": "claude-sonnet-4-5", "max_tokens": 4096, "input_tokens": 120}"#,
        "token = next_token()\nlet secret = compute_secret(x);",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (HEAD -> main)",
        "session 550e8400-e29b-41d4-a716-446655440000",
        "cargo test --workspace -- --nocapture",
        "https://github.com/acme/widgets/pull/42",
        "the tokenizer splits on whitespace; password hashing uses argon2",
        "ask: sk-learn is a library",
        "[REDACTED:github_token] was already redacted",
    ];
    for text in texts {
        let (out, tally) = redacted(text);
        assert_eq!(out, text, "{tally:?}");
        assert_eq!(tally.total(), 0);
    }
}

#[test]
fn redacting_twice_changes_nothing() {
    let text = format!(
        "A=1\nGITHUB_TOKEN=ghp_{}\nAuthorization: Bearer {}\nx postgres://u:pw123@h/db",
        "a".repeat(36),
        "b".repeat(40)
    );
    let (once, first) = redacted(&text);
    let (twice, second) = redacted(&once);
    assert_ne!(once, text);
    assert_eq!(twice, once);
    assert_eq!(second.total(), 0, "{first:?} then {second:?}");
}

#[test]
fn custom_patterns_are_applied_after_the_built_in_ones() {
    let redactor = Redactor::with_patterns(&[
        CustomPattern {
            name: "acme_token".into(),
            regex: r"\bacme_[a-z0-9]{16}\b".into(),
        },
        CustomPattern {
            name: "employee_pin".into(),
            regex: r"PIN (\d{6})".into(),
        },
    ])
    .expect("valid");
    let mut tally = RedactionTally::default();
    let out = redactor
        .redact("use acme_0123456789abcdef with PIN 123456", &mut tally)
        .expect("redacted");
    assert_eq!(
        out,
        "use [REDACTED:acme_token] with PIN [REDACTED:employee_pin]"
    );
    assert_eq!(tally.total(), 2);
}

#[test]
fn bad_custom_patterns_are_refused_with_their_name() {
    let bad = |name: &str, regex: &str| {
        Redactor::with_patterns(&[CustomPattern {
            name: name.into(),
            regex: regex.into(),
        }])
        .expect_err("refused")
        .to_string()
    };
    assert!(bad("Acme Token", "x").contains("Acme Token"));
    assert!(bad("acme", "(unclosed").contains("acme"));
    assert!(bad("anything", "a*").contains("empty string"));
}

mod otlp_requests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

    use crate::redact::Redactor;
    use crate::redact::otlp::redact_request;
    use crate::wal_record::ExportRequest;

    const TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

    fn text(value: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(Value::StringValue(value.to_string())),
        })
    }

    fn attribute(key: &str, value: Option<AnyValue>) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value,
            ..Default::default()
        }
    }

    fn bytes_of(request: &ExportRequest) -> String {
        format!("{request:?}")
    }

    #[test]
    fn every_text_of_a_span_is_redacted_and_keys_are_kept() {
        let nested = Some(AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![attribute(
                    "headers",
                    Some(AnyValue {
                        value: Some(Value::ArrayValue(ArrayValue {
                            values: vec![text(&format!("token {TOKEN}")).expect("value")],
                        })),
                    }),
                )],
            })),
        });
        let span = Span {
            name: format!("push with {TOKEN}"),
            attributes: vec![
                attribute(
                    "tool_input",
                    text(&format!("{{\"command\":\"gh auth {TOKEN}\"}}")),
                ),
                attribute("request", nested),
            ],
            events: vec![span::Event {
                name: format!("saw {TOKEN}"),
                attributes: vec![attribute("output", text(TOKEN))],
                ..Default::default()
            }],
            links: vec![span::Link {
                attributes: vec![attribute("why", text(TOKEN))],
                ..Default::default()
            }],
            status: Some(Status {
                message: format!("failed: {TOKEN}"),
                code: 2,
            }),
            ..Default::default()
        };
        let mut request = ExportRequest::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![attribute("env.token", text(TOKEN))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let tally = redact_request(&mut request, &Redactor::built_in());
        assert_eq!(tally.by_kind.get("github_token"), Some(&8), "{tally:?}");
        let after = bytes_of(&request);
        assert!(!after.contains(TOKEN), "{after}");
        assert!(after.contains("tool_input") && after.contains("env.token"));
        assert_eq!(after.matches("[REDACTED:github_token]").count(), 8);
    }

    #[test]
    fn log_bodies_event_names_and_metric_labels_are_redacted() {
        let mut logs = ExportRequest::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        body: text(&format!("GITHUB_TOKEN={TOKEN}\n")),
                        attributes: vec![attribute("tool_parameters", text(TOKEN))],
                        event_name: format!("leak.{TOKEN}"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        let tally = redact_request(&mut logs, &Redactor::built_in());
        assert_eq!(tally.total(), 3, "{tally:?}");
        assert!(!bytes_of(&logs).contains(TOKEN));

        let mut metrics = ExportRequest::Metrics(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "cost".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![attribute("label", text(TOKEN))],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        assert_eq!(
            redact_request(&mut metrics, &Redactor::built_in()).total(),
            1
        );
        let after = bytes_of(&metrics);
        assert!(
            !after.contains(TOKEN) && after.contains("\"cost\""),
            "{after}"
        );
    }
}
