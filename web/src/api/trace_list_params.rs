//! Query-string parameters of a trace listing, shared by `GET /api/traces` and the runs page,
//! so a page's URL and the API take the same filters.
//!
//! Every parameter is optional and an empty value means "not set", as an HTML form sends it.

use serde::{Deserialize, Serialize};
use sextant_query::trace_list::{TraceCursor, TraceFilters, TraceListRequest, TraceStatus};

use crate::api::search::parse_time;
use crate::respond::api_error::ApiError;

/// The window dashboards and the usage figures cover when none is asked for.
pub const DEFAULT_WINDOW: &str = "14d";

/// Traces per page when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: usize = 50;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct TraceListParams {
    /// Full-text query (the search syntax).
    pub q: String,
    /// `error` (or `failed`) / `ok`.
    pub status: String,
    pub model: String,
    pub service: String,
    pub agent: String,
    pub session: String,
    pub user: String,
    /// A window ending now: `1h`, `24h`, `7d`, `30d`…
    pub since: String,
    /// `YYYY-MM-DD` (UTC midnight), an RFC 3339 time or ns since the epoch.
    pub from: String,
    pub to: String,
    /// Seconds.
    pub min_duration: String,
    pub max_duration: String,
    /// US dollars.
    pub min_cost: String,
    pub max_cost: String,
    pub cursor: String,
    pub limit: String,
}

fn set(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

fn owned(value: &str) -> Option<String> {
    set(value).map(str::to_owned)
}

fn number(name: &str, value: &str) -> Result<Option<f64>, ApiError> {
    let Some(value) = set(value) else {
        return Ok(None);
    };
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() && number >= 0.0 => Ok(Some(number)),
        _ => Err(ApiError::bad_request(format!(
            "invalid {name} {value:?}: expected a number ≥ 0"
        ))),
    }
}

/// The window `since` (e.g. `14d`; `default` when blank) back from now, as
/// `(since, from_ns, to_ns)`.
pub fn window_until_now<'a>(
    since: &'a str,
    default: &'a str,
) -> Result<(&'a str, i64, i64), ApiError> {
    let since = match since.trim() {
        "" => default,
        given => given,
    };
    let window_ns = parse_window_ns(since).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid since {since:?}: expected a window like 24h, 7d or 30d"
        ))
    })?;
    let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    Ok((since, now_ns.saturating_sub(window_ns), now_ns))
}

/// Parses `1h`, `24h`, `7d`, `90m`, `2w` into nanoseconds.
pub fn parse_window_ns(text: &str) -> Option<i64> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (count, unit) = text.split_at(split);
    let count: i64 = count.parse().ok()?;
    let unit_seconds = match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    count.checked_mul(unit_seconds)?.checked_mul(1_000_000_000)
}

/// `YYYY-MM-DD` (UTC midnight), an RFC 3339 time or ns since the epoch.
fn instant_ns(name: &str, value: &str) -> Result<Option<i64>, ApiError> {
    let Some(value) = set(value) else {
        return Ok(None);
    };
    let midnight = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .and_then(|instant| instant.and_utc().timestamp_nanos_opt());
    match midnight {
        Some(ns) => Ok(Some(ns)),
        None => parse_time(name, value).map(Some),
    }
}

impl TraceListParams {
    /// The listing these parameters ask for; `now_ns` anchors `since`.
    pub fn to_request(&self, now_ns: i64) -> Result<TraceListRequest, ApiError> {
        let status = set(&self.status)
            .map(TraceStatus::parse)
            .transpose()
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        let mut from_ns = instant_ns("from", &self.from)?;
        if let Some(since) = set(&self.since) {
            let window = parse_window_ns(since).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid since {since:?}: expected a window like 1h, 24h, 7d or 4w"
                ))
            })?;
            let since_ns = now_ns.saturating_sub(window);
            from_ns = Some(from_ns.map_or(since_ns, |from| from.max(since_ns)));
        }
        let seconds_to_ns = |seconds: f64| (seconds * 1e9) as i64;
        let filters = TraceFilters {
            status,
            model: owned(&self.model),
            service: owned(&self.service),
            agent: owned(&self.agent),
            session: owned(&self.session),
            user: owned(&self.user),
            from_ns,
            to_ns: instant_ns("to", &self.to)?,
            min_duration_ns: number("min_duration", &self.min_duration)?.map(seconds_to_ns),
            max_duration_ns: number("max_duration", &self.max_duration)?.map(seconds_to_ns),
            min_cost_usd: number("min_cost", &self.min_cost)?,
            max_cost_usd: number("max_cost", &self.max_cost)?,
        };
        let cursor = set(&self.cursor)
            .map(TraceCursor::parse)
            .transpose()
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        let limit = match set(&self.limit) {
            None => DEFAULT_PAGE_SIZE,
            Some(limit) => limit.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid limit {limit:?}: expected a count"))
            })?,
        };
        Ok(TraceListRequest {
            filters,
            query: owned(&self.q),
            cursor,
            limit,
        })
    }

    /// The same listing's URL query string with `cursor` replaced (for a "next page" link).
    pub fn query_string_with_cursor(&self, cursor: Option<&str>) -> String {
        let mut params = self.clone();
        params.cursor = cursor.unwrap_or_default().to_owned();
        let pairs: Vec<(&str, &str)> = [
            ("q", &params.q),
            ("status", &params.status),
            ("model", &params.model),
            ("service", &params.service),
            ("agent", &params.agent),
            ("session", &params.session),
            ("user", &params.user),
            ("since", &params.since),
            ("from", &params.from),
            ("to", &params.to),
            ("min_duration", &params.min_duration),
            ("max_duration", &params.max_duration),
            ("min_cost", &params.min_cost),
            ("max_cost", &params.max_cost),
            ("limit", &params.limit),
            ("cursor", &params.cursor),
        ]
        .into_iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(name, value)| (name, value.as_str()))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// Whether a filter of the folded panel (beyond the query, status and window) is set, so
    /// the page opens the panel.
    pub fn has_filters(&self) -> bool {
        [
            &self.model,
            &self.service,
            &self.agent,
            &self.session,
            &self.user,
            &self.from,
            &self.to,
            &self.min_duration,
            &self.max_duration,
            &self.min_cost,
            &self.max_cost,
        ]
        .iter()
        .any(|value| set(value).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_547_200_000_000_000;

    #[test]
    fn empty_form_fields_do_not_filter() {
        let request = TraceListParams::default().to_request(NOW).unwrap();
        assert_eq!(request.filters, TraceFilters::default());
        assert_eq!(request.limit, DEFAULT_PAGE_SIZE);
        assert!(request.query.is_none());
    }

    #[test]
    fn filters_parse_into_typed_values() {
        let params = TraceListParams {
            q: " tool:bash ".into(),
            status: "failed".into(),
            model: "gpt-5".into(),
            since: "24h".into(),
            to: "2025-12-02".into(),
            min_duration: "1.5".into(),
            max_cost: "0.25".into(),
            ..TraceListParams::default()
        };
        let request = params.to_request(NOW).unwrap();
        assert_eq!(request.query.as_deref(), Some("tool:bash"));
        assert_eq!(request.filters.status, Some(TraceStatus::Error));
        assert_eq!(request.filters.from_ns, Some(NOW - 86_400_000_000_000));
        assert_eq!(request.filters.to_ns, Some(NOW + 86_400_000_000_000));
        assert_eq!(request.filters.min_duration_ns, Some(1_500_000_000));
        assert_eq!(request.filters.max_cost_usd, Some(0.25));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (params, needle) in [
            (
                TraceListParams {
                    since: "yesterday".into(),
                    ..Default::default()
                },
                "since",
            ),
            (
                TraceListParams {
                    min_cost: "-1".into(),
                    ..Default::default()
                },
                "min_cost",
            ),
            (
                TraceListParams {
                    from: "last week".into(),
                    ..Default::default()
                },
                "from",
            ),
            (
                TraceListParams {
                    status: "meh".into(),
                    ..Default::default()
                },
                "status",
            ),
            (
                TraceListParams {
                    cursor: "zzz".into(),
                    ..Default::default()
                },
                "cursor",
            ),
        ] {
            let error = params.to_request(NOW).unwrap_err();
            assert!(error.message.contains(needle), "{}", error.message);
        }
    }

    #[test]
    fn next_page_link_keeps_filters_and_sets_the_cursor() {
        let params = TraceListParams {
            q: "cargo test".into(),
            status: "error".into(),
            cursor: "old".into(),
            ..TraceListParams::default()
        };
        assert_eq!(
            params.query_string_with_cursor(Some("s42:1")),
            "q=cargo+test&status=error&cursor=s42%3A1"
        );
        assert_eq!(
            params.query_string_with_cursor(None),
            "q=cargo+test&status=error"
        );
    }
}
