//! The minijinja environment of the web UI: templates compiled into the binary, and the
//! filters they format numbers and times with.
//!
//! Templates are `.html`, so minijinja escapes every value by default: a prompt or tool
//! output containing markup is shown as text, never run. Only values marked `|safe` in a
//! template skip escaping, and those are built escaped (search snippets).

use std::sync::OnceLock;

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

/// (name, source) of every template, embedded at build time.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("runs.html", include_str!("../../templates/runs.html")),
    ("trace.html", include_str!("../../templates/trace.html")),
    ("span.html", include_str!("../../templates/span.html")),
    ("session.html", include_str!("../../templates/session.html")),
    (
        "dashboards.html",
        include_str!("../../templates/dashboards.html"),
    ),
    ("usage.html", include_str!("../../templates/usage.html")),
    (
        "governance.html",
        include_str!("../../templates/governance.html"),
    ),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("outcome.html", include_str!("../../templates/outcome.html")),
    ("sql.html", include_str!("../../templates/sql.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("evals.html", include_str!("../../templates/evals.html")),
    (
        "eval_run.html",
        include_str!("../../templates/eval_run.html"),
    ),
];

/// The shared environment; templates are parsed once.
pub fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        // Block tags leave no blank lines behind, so the HTML reads like hand-written HTML.
        environment.set_trim_blocks(true);
        environment.set_lstrip_blocks(true);
        for (name, source) in TEMPLATES {
            // The templates are part of the binary, and a test renders each: a syntax error
            // here is a build defect, caught before release.
            if let Err(error) = environment.add_template(name, source) {
                panic!("template {name} does not parse: {error}");
            }
        }
        environment.add_filter("duration", duration);
        environment.add_filter("tokens", tokens);
        environment.add_filter("usd", usd);
        environment.add_filter("timestamp", timestamp);
        environment.add_filter("truncate", truncate);
        environment
    })
}

/// Renders `name` with `context`.
pub fn render(name: &str, context: impl serde::Serialize) -> Result<String, Error> {
    environment().get_template(name)?.render(context)
}

fn as_f64(value: &Value) -> Option<f64> {
    if value.is_none() || value.is_undefined() {
        return None;
    }
    f64::try_from(value.clone()).ok()
}

/// Nanoseconds as a short human duration: `840 µs`, `12 ms`, `3.4 s`, `2m 05s`, `1h 02m`.
pub fn format_duration_ns(ns: f64) -> String {
    let ms = ns / 1e6;
    if ms < 1.0 {
        return format!("{:.0} µs", ns / 1e3);
    }
    if ms < 1000.0 {
        return format!("{ms:.0} ms");
    }
    let seconds = ms / 1000.0;
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    if whole < 3600 {
        return format!("{}m {:02}s", whole / 60, whole % 60);
    }
    format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
}

/// Token counts: `950`, `12.3k`, `4.1M`.
pub fn format_tokens(count: f64) -> String {
    if count < 1000.0 {
        return format!("{count:.0}");
    }
    if count < 1e6 {
        return format!("{:.1}k", count / 1e3);
    }
    format!("{:.1}M", count / 1e6)
}

/// Dollars with the precision small amounts need: `$0.0042`, `$0.31`, `$12.40`.
pub fn format_usd(amount: f64) -> String {
    if amount == 0.0 {
        return "$0".into();
    }
    if amount.abs() < 0.01 {
        return format!("${amount:.4}");
    }
    format!("${amount:.2}")
}

fn duration(value: Value) -> String {
    as_f64(&value).map(format_duration_ns).unwrap_or_default()
}

fn tokens(value: Value) -> String {
    as_f64(&value).map(format_tokens).unwrap_or_default()
}

fn usd(value: Value) -> String {
    as_f64(&value).map(format_usd).unwrap_or_default()
}

/// At most `length` characters (default 255), with `…` when cut.
fn truncate(value: String, length: Option<usize>) -> String {
    let length = length.unwrap_or(255);
    match value.char_indices().nth(length) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value,
    }
}

/// An instant as `YYYY-MM-DD HH:MM:SS` UTC, from ns since the epoch or an RFC 3339 string.
fn timestamp(value: Value) -> Result<String, Error> {
    if value.is_none() || value.is_undefined() {
        return Ok(String::new());
    }
    let instant = if let Some(text) = value.as_str() {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|instant| instant.with_timezone(&chrono::Utc))
            .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?
    } else {
        let ns = i64::try_from(value)?;
        chrono::DateTime::from_timestamp_nanos(ns)
    };
    Ok(instant.format("%Y-%m-%d %H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for (name, _) in TEMPLATES {
            environment().get_template(name).unwrap();
        }
    }

    #[test]
    fn numbers_read_like_a_person_would_write_them() {
        assert_eq!(format_duration_ns(840_000.0), "840 µs");
        assert_eq!(format_duration_ns(12_300_000.0), "12 ms");
        assert_eq!(format_duration_ns(3_400_000_000.0), "3.4 s");
        assert_eq!(format_duration_ns(125e9), "2m 05s");
        assert_eq!(format_duration_ns(3720e9), "1h 02m");
        assert_eq!(format_tokens(950.0), "950");
        assert_eq!(format_tokens(12_345.0), "12.3k");
        assert_eq!(format_tokens(4_100_000.0), "4.1M");
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(0.00419), "$0.0042");
        assert_eq!(format_usd(12.4), "$12.40");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo wörld".into(), Some(5)), "héllo…");
        assert_eq!(truncate("short".into(), Some(5)), "short");
    }

    #[test]
    fn timestamps_from_nanoseconds_and_text() {
        let from_ns = timestamp(Value::from(1_764_547_200_000_000_000_i64)).unwrap();
        assert_eq!(from_ns, "2025-12-01 00:00:00");
        let from_text = timestamp(Value::from("2025-12-01T00:00:00.5Z")).unwrap();
        assert_eq!(from_text, "2025-12-01 00:00:00");
        assert_eq!(timestamp(Value::from(())).unwrap(), "");
    }
}
