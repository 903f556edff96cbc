//! The days a trace has rows in, read from the partition indexes, so a trace's SQL reads
//! only those days' Parquet files instead of checking every file of the project.
//!
//! Every span and log row is in its partition's index before its Parquet file is published
//! (the flusher commits the index first), so a day whose index has no document with the
//! trace's `trace` term has no row of it; its `kind` term (`span`, `log`) tells which table.
//! A day without the term costs one dictionary lookup. Compaction re-indexes rows within
//! their day, so a day's answer does not change under it. Whenever
//! in doubt — no index for a day with files, an index that fails to open, no project scope
//! on the session — the answer is `None`, and the caller reads every day.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use sextant_ingest::layout::DataDir;
use sextant_ingest::table::Table;
use tantivy::Term;
use tantivy::collector::Count;
use tantivy::query::{BooleanQuery, TermQuery};
use tantivy::schema::IndexRecordOption;

use crate::open_indexes::open_index;

/// The data dir and project a session reads, kept in its config for helpers that look past
/// SQL (the partition indexes).
#[derive(Debug, Clone)]
pub struct ProjectScope {
    pub data_dir: DataDir,
    pub project_id: String,
}

/// The days (`YYYY-MM-DD`) with span rows and with log rows of a trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceDays {
    pub spans: Vec<String>,
    pub logs: Vec<String>,
}

/// The days with rows of `trace_id` (lowercase hex), or `None` when they cannot be told
/// for sure.
pub fn trace_days(context: &SessionContext, trace_id: &str) -> Option<TraceDays> {
    let scope: Arc<ProjectScope> = context.state().config().get_extension()?;
    let data_dir = &scope.data_dir;
    let mut keys = BTreeSet::new();
    for table in [Table::Spans, Table::Logs] {
        for key in data_dir.partitions(table).ok()? {
            if key.project_id == scope.project_id && !data_dir.is_dropped(&key) {
                keys.insert(key);
            }
        }
    }
    let mut days = TraceDays::default();
    for key in keys {
        let (index, searcher) = open_index(&data_dir.index_partition_dir(&key)).ok()?;
        let schema = index.schema();
        let (trace, kind) = (
            schema.get_field("trace").ok()?,
            schema.get_field("kind").ok()?,
        );
        let trace_term = Term::from_field_text(trace, trace_id);
        if searcher.doc_freq(&trace_term).ok()? == 0 {
            continue;
        }
        let rows_of_kind = |kind_name: &str| -> Option<bool> {
            let query = BooleanQuery::intersection(vec![
                Box::new(TermQuery::new(trace_term.clone(), IndexRecordOption::Basic)),
                Box::new(TermQuery::new(
                    Term::from_field_text(kind, kind_name),
                    IndexRecordOption::Basic,
                )),
            ]);
            Some(searcher.search(&query, &Count).ok()? > 0)
        };
        if rows_of_kind("span")? {
            days.spans.push(key.day.clone());
        }
        if rows_of_kind("log")? {
            days.logs.push(key.day);
        }
    }
    Some(days)
}

/// `AND day IN (…)` for `days`, or nothing when every day must be read. Days come from
/// partition directory names; anything but `YYYY-MM-DD` makes the filter fall away.
pub fn day_filter(days: Option<&[String]>) -> String {
    let Some(days) = days else {
        return String::new();
    };
    let well_formed = |day: &String| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok();
    if days.is_empty() || !days.iter().all(well_formed) {
        return String::new();
    }
    let list: Vec<String> = days.iter().map(|day| format!("'{day}'")).collect();
    format!(" AND day IN ({})", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_names_well_formed_days_only() {
        let days = vec!["2026-11-30".to_owned(), "2026-12-01".to_owned()];
        assert_eq!(
            day_filter(Some(&days)),
            " AND day IN ('2026-11-30', '2026-12-01')"
        );
        assert_eq!(day_filter(None), "");
        assert_eq!(day_filter(Some(&[])), "");
        let odd = vec!["2026-11-30' OR 1=1 --".to_owned()];
        assert_eq!(day_filter(Some(&odd)), "");
    }
}
