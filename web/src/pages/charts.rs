//! Server-drawn SVG charts for the dashboards, with `charts-rs` (which escapes every label,
//! so a model or agent name cannot inject markup into the page).

use std::collections::BTreeMap;

use charts_rs::{BarChart, Series, THEME_LIGHT};
use serde_json::{Map, Value};

use crate::respond::api_error::ApiError;

/// Series beyond this many are summed into one "other" series, so a chart stays readable.
pub const MAX_SERIES: usize = 8;

/// One named series with a value per day of the chart.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DailySeries {
    pub name: String,
    pub values: Vec<f64>,
    /// Palette slot, to keep a meaning's color (failed = red) or a group's color across charts.
    pub color_index: Option<usize>,
}

impl DailySeries {
    pub fn total(&self) -> f64 {
        self.values.iter().sum()
    }
}

/// Keeps the `MAX_SERIES - 1` largest series (by total) and sums the rest into "other";
/// each keeps its rank as its color.
pub fn top_series(mut series: Vec<DailySeries>) -> Vec<DailySeries> {
    series.sort_by(|a, b| b.total().total_cmp(&a.total()).then(a.name.cmp(&b.name)));
    if series.len() > MAX_SERIES {
        let rest = series.split_off(MAX_SERIES - 1);
        series.push(sum_as_other(rest));
    }
    for (rank, series) in series.iter_mut().enumerate() {
        series.color_index = Some(rank);
    }
    series
}

/// Each day of a chart to its position on the x axis.
pub fn day_positions(days: &[String]) -> BTreeMap<&str, usize> {
    days.iter()
        .enumerate()
        .map(|(index, day)| (day.as_str(), index))
        .collect()
}

/// One series per value of `key` from `(day, <key>, <value>)` rows, aligned on `days`, the
/// largest kept (see [`top_series`]); rows of a day outside `days` are left out.
pub fn series_by_key(
    days: &[String],
    rows: &[Map<String, Value>],
    key: &str,
    value: &str,
) -> Vec<DailySeries> {
    let day_index = day_positions(days);
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for row in rows {
        let Some(&index) = row
            .get("day")
            .and_then(Value::as_str)
            .and_then(|day| day_index.get(day))
        else {
            continue;
        };
        let group = row
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_owned();
        groups.entry(group).or_insert_with(|| vec![0.0; days.len()])[index] +=
            row.get(value).and_then(Value::as_f64).unwrap_or(0.0);
    }
    top_series(
        groups
            .into_iter()
            .map(|(name, values)| DailySeries {
                name,
                values,
                color_index: None,
            })
            .collect(),
    )
}

/// `series` with each group's color (and so its place) taken from `reference`'s series of
/// the same name, so one group looks the same on every chart of a page.
pub fn colored_like(mut series: Vec<DailySeries>, reference: &[DailySeries]) -> Vec<DailySeries> {
    for one in &mut series {
        one.color_index = reference
            .iter()
            .find(|other| other.name == one.name)
            .and_then(|other| other.color_index);
    }
    series
}

fn sum_as_other(rest: Vec<DailySeries>) -> DailySeries {
    let days = rest.first().map_or(0, |first| first.values.len());
    let other = (0..days)
        .map(|day| rest.iter().map(|series| series.values[day]).sum())
        .collect();
    DailySeries {
        name: "other".into(),
        values: other,
        color_index: None,
    }
}

/// `2026-11-30` → `11-30`: the year is in the page's time range already.
fn short_day(day: &str) -> String {
    day.get(5..).unwrap_or(day).to_owned()
}

/// Stacked bars per day, one color per series, with a legend.
pub fn stacked_daily_bars(
    title: &str,
    days: &[String],
    series: &[DailySeries],
) -> Result<String, ApiError> {
    let series_list: Vec<Series> = series
        .iter()
        .map(|series| {
            let values: Vec<f32> = series.values.iter().map(|value| *value as f32).collect();
            let mut chart_series = Series::from((series.name.as_str(), values));
            chart_series.stack = Some("total".into());
            chart_series.index = series.color_index;
            chart_series
        })
        .collect();
    let labels = days.iter().map(|day| short_day(day)).collect();
    let mut chart = BarChart::new_with_theme(series_list, labels, THEME_LIGHT);
    chart.base.width = 860.0;
    chart.base.height = 320.0;
    chart.base.title.text = title.to_owned();
    chart
        .svg()
        .map_err(|error| ApiError::internal(format!("chart {title:?}: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, values: &[f64]) -> DailySeries {
        DailySeries {
            name: name.into(),
            values: values.to_vec(),
            color_index: None,
        }
    }

    #[test]
    fn small_series_fold_into_other() {
        let many: Vec<DailySeries> = (0..10)
            .map(|index| series(&format!("m{index}"), &[f64::from(index), 1.0]))
            .collect();
        let kept = top_series(many);
        assert_eq!(kept.len(), MAX_SERIES);
        assert_eq!(kept[0].name, "m9");
        let other = kept.last().unwrap();
        assert_eq!(other.name, "other");
        // m0, m1, m2 were folded: 0 + 1 + 2 on day one, 3 × 1 on day two.
        assert_eq!(other.values, [3.0, 3.0]);
    }

    #[test]
    fn chart_is_svg_with_escaped_labels() {
        let days = vec!["2026-11-29".to_string(), "2026-11-30".to_string()];
        let svg = stacked_daily_bars(
            "cost",
            &days,
            &[
                series("<script>x</script>", &[1.0, 2.0]),
                series("gpt-5", &[0.5, 0.0]),
            ],
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("11-30"));
        assert!(!svg.contains("<script>"));
    }
}
