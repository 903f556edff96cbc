//! The trace rollup: one summary per trace, kept up to date from the published span files,
//! so a page of the trace list costs the page, not the window.
//!
//! ```text
//! spans/project=<p>/day=<d>/part-*.parquet ─ new flushes only ─► DayTraces (per project, day)
//!        (trace_part.rs: 19 columns, no content)                  parts: trace id → TracePart
//!                                                                 order: (start, trace id)
//! list_page: days newest first ─ order descending ─ merge a trace's parts from other days
//!            ─ filters ─ limit + 1 summaries, priced now
//! ```
//!
//! Invariants:
//! - A day's parts hold exactly the rows of the flushes in `DayTraces::flushes`. A published
//!   file never changes; a compacted file holds its flushes' rows in flush order
//!   (`FlushRows`), so after a compaction only the flushes not yet read are read, from their
//!   row offsets. A flush that no live file holds any more (retention, a lost file) makes
//!   the day start over from its live files.
//! - A trace is listed once, from the day of its earliest part: parts of one trace in later
//!   days (a run across midnight) are merged into it, never listed on their own.
//! - The summary equals the `traces` view's row for the trace (`trace_part.rs`; a test holds
//!   them equal on generated data of every convention).
//!
//! The rollup lives in memory and is built from the files when first asked for (`warm` at
//! server start-up; otherwise the first page after a restart reads every span file's 20
//! small columns once). Its size grows with the traces kept by retention: one part per trace
//! and day, texts shared through an interner that keeps only what some part holds, at most
//! 64 models per trace. Requests for one project wait on its lock while it catches up.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use sextant_ingest::compaction::FlushRows;
use sextant_ingest::layout::{DataDir, FlushRange, PartitionKey, day_of};
use sextant_ingest::table::Table;

use crate::error::Result;
use crate::file_cache::lock;
use crate::parquet_footers::reader_builder;
use crate::prices::PriceTable;
use crate::trace_part::{Interner, TracePart, batch_parts, trace_part_columns};
use crate::trace_summary::{TraceFilters, TraceStatus, TraceSummary};

/// One day's traces, as far as its published flushes tell.
#[derive(Debug, Default)]
struct DayTraces {
    /// The flushes whose rows are summed in `parts`.
    flushes: BTreeSet<u64>,
    /// Live files whose every flush is summed, with their flushes: skipped without opening.
    read_files: BTreeMap<FlushRange, Vec<u64>>,
    parts: HashMap<Arc<str>, TracePart>,
    /// Every part's (start, trace id), for reading newest first.
    order: BTreeSet<(i64, Arc<str>)>,
}

impl DayTraces {
    /// Adds parts read from new flushes; returns the trace ids the day did not have.
    fn absorb(&mut self, parts: HashMap<Arc<str>, TracePart>) -> Vec<Arc<str>> {
        let mut new_ids = Vec::new();
        for (trace_id, part) in parts {
            match self.parts.get_mut(&trace_id) {
                Some(existing) => {
                    let old_start = existing.start_ns;
                    existing.merge(&part);
                    if existing.start_ns != old_start {
                        self.order.remove(&(old_start, trace_id.clone()));
                        self.order.insert((existing.start_ns, trace_id));
                    }
                }
                None => {
                    self.order.insert((part.start_ns, trace_id.clone()));
                    self.parts.insert(trace_id.clone(), part);
                    new_ids.push(trace_id);
                }
            }
        }
        new_ids
    }
}

/// One project's traces, by day.
#[derive(Debug, Default)]
struct ProjectTraces {
    days: BTreeMap<String, DayTraces>,
    interner: Interner,
    /// Traces with parts in more than one day.
    across_days: HashSet<Arc<str>>,
}

impl ProjectTraces {
    fn recount_across_days(&mut self) {
        let mut seen: HashSet<&Arc<str>> = HashSet::new();
        let mut across = HashSet::new();
        for day in self.days.values() {
            for trace_id in day.parts.keys() {
                if !seen.insert(trace_id) {
                    across.insert(trace_id.clone());
                }
            }
        }
        self.across_days = across;
    }

    /// Brings every day of the project up to its live files.
    fn refresh(&mut self, data_dir: &DataDir, project_id: &str) -> Result<()> {
        let keys: Vec<PartitionKey> = data_dir
            .project_partitions(Table::Spans, project_id)?
            .into_iter()
            .filter(|key| !data_dir.is_dropped(key))
            .collect();
        let live_days: HashSet<&str> = keys.iter().map(|key| key.day.as_str()).collect();
        let days_before = self.days.len();
        self.days.retain(|day, _| live_days.contains(day.as_str()));
        let mut recount = self.days.len() != days_before;
        for key in &keys {
            let files = data_dir.live_files(Table::Spans, key)?;
            let day = self.days.entry(key.day.clone()).or_default();
            let mut outcome = read_new_flushes(day, &files, &mut self.interner);
            if matches!(outcome, Ok((_, false))) {
                // A flush the day summed is in no live file: start the day over.
                *day = DayTraces::default();
                recount = true;
                outcome = read_new_flushes(day, &files, &mut self.interner);
            }
            let new_parts = match outcome {
                Ok((new_parts, _)) => new_parts,
                Err(error) => {
                    // The day may have counted flushes whose rows it did not get.
                    self.days.remove(&key.day);
                    self.recount_across_days();
                    self.interner.prune();
                    return Err(error);
                }
            };
            let new_ids = day.absorb(new_parts);
            if !recount {
                for trace_id in new_ids {
                    let elsewhere = self
                        .days
                        .iter()
                        .filter(|(other, _)| **other != key.day)
                        .any(|(_, other)| other.parts.contains_key(&trace_id));
                    if elsewhere {
                        self.across_days.insert(trace_id);
                    }
                }
            }
        }
        if recount {
            self.recount_across_days();
            self.interner.prune();
        }
        Ok(())
    }

    /// The whole trace: its part in one day merged with its parts in other days (borrowed
    /// as it is when it has no others).
    fn merged<'part>(&self, trace_id: &str, part: &'part TracePart) -> Cow<'part, TracePart> {
        if !self.across_days.contains(trace_id) {
            return Cow::Borrowed(part);
        }
        let mut whole = part.clone();
        let others = self
            .days
            .values()
            .filter_map(|day| day.parts.get(trace_id))
            .filter(|other| !std::ptr::eq(*other, part));
        for other in others {
            whole.merge(other);
        }
        Cow::Owned(whole)
    }

    /// The whole trace, wherever its parts are.
    fn find(&self, trace_id: &str) -> Option<TracePart> {
        let mut parts = self.days.values().filter_map(|day| day.parts.get(trace_id));
        let mut whole = parts.next()?.clone();
        for part in parts {
            whole.merge(part);
        }
        Some(whole)
    }
}

/// Reads the rows of the flushes of `files` that `day` has not summed yet. The flag is false
/// when a flush the day summed is in none of `files`.
fn read_new_flushes(
    day: &mut DayTraces,
    files: &[(FlushRange, PathBuf)],
    interner: &mut Interner,
) -> Result<(HashMap<Arc<str>, TracePart>, bool)> {
    let mut parts = HashMap::new();
    let mut held = BTreeSet::new();
    let live: BTreeSet<FlushRange> = files.iter().map(|(range, _)| *range).collect();
    day.read_files.retain(|range, _| live.contains(range));
    for (range, path) in files {
        if let Some(flushes) = day.read_files.get(range) {
            held.extend(flushes.iter().copied());
            continue;
        }
        let builder = reader_builder(path)?;
        let flushes = FlushRows::of_file(*range, builder.metadata())?;
        let ids: Vec<u64> = flushes.flushes.iter().map(|(flush, _)| *flush).collect();
        held.extend(ids.iter().copied());
        let unread: Vec<bool> = ids
            .iter()
            .map(|flush| !day.flushes.contains(flush))
            .collect();
        if unread.contains(&true) {
            let selection = (!unread.iter().all(|unread| *unread)).then(|| {
                let selectors: Vec<RowSelector> = flushes
                    .flushes
                    .iter()
                    .zip(&unread)
                    .map(|((_, rows), unread)| {
                        if *unread {
                            RowSelector::select(*rows as usize)
                        } else {
                            RowSelector::skip(*rows as usize)
                        }
                    })
                    .collect();
                RowSelection::from(selectors)
            });
            read_parts(path, selection, interner, &mut parts)?;
            day.flushes.extend(ids.iter().copied());
        }
        day.read_files.insert(*range, ids);
    }
    let all_held = day.flushes.iter().all(|flush| held.contains(flush));
    Ok((parts, all_held))
}

fn read_parts(
    path: &Path,
    selection: Option<RowSelection>,
    interner: &mut Interner,
    parts: &mut HashMap<Arc<str>, TracePart>,
) -> Result<()> {
    let builder = reader_builder(path)?;
    let schema = builder.schema().clone();
    let wanted: Vec<usize> = trace_part_columns()
        .filter_map(|column| schema.index_of(column).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let mut builder = builder.with_projection(mask);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection);
    }
    for batch in builder.build()? {
        batch_parts(&batch?, interner, parts)?;
    }
    Ok(())
}

type SharedProjectTraces = Arc<Mutex<ProjectTraces>>;

/// The rollup of one project of one data dir, shared by every request.
fn project_traces(data_dir: &DataDir, project_id: &str) -> SharedProjectTraces {
    static ROLLUPS: OnceLock<Mutex<HashMap<(PathBuf, String), SharedProjectTraces>>> =
        OnceLock::new();
    let rollups = ROLLUPS.get_or_init(|| Mutex::new(HashMap::new()));
    lock(rollups)
        .entry((data_dir.root().to_path_buf(), project_id.to_owned()))
        .or_default()
        .clone()
}

/// Builds every project's rollup from its span files now (a server does it at start-up, so
/// the first page after a restart does not wait for it).
pub fn warm(data_dir: &DataDir) -> Result<()> {
    let projects: BTreeSet<String> = data_dir
        .partitions(Table::Spans)?
        .into_iter()
        .map(|key| key.project_id)
        .collect();
    for project_id in projects {
        let shared = project_traces(data_dir, &project_id);
        if let Err(error) = lock(&shared).refresh(data_dir, &project_id) {
            // The project's pages will try again (and say why) when asked for.
            tracing::warn!(project = %project_id, %error, "cannot build the trace rollup");
        }
    }
    Ok(())
}

/// Whether a whole trace passes the filters other than time.
fn passes(part: &TracePart, filters: &TraceFilters, prices: &PriceTable) -> bool {
    if let Some(status) = filters.status {
        let wanted = match status {
            TraceStatus::Error => "failed",
            TraceStatus::Ok => "success",
        };
        if part.outcome() != wanted {
            return false;
        }
    }
    if let Some(model) = &filters.model
        && !part.has_model(model)
    {
        return false;
    }
    let equalities = [
        (part.service_name(), &filters.service),
        (part.agent_name.as_deref(), &filters.agent),
        (part.session_id.as_deref(), &filters.session),
        (part.user_id.as_deref(), &filters.user),
    ];
    for (value, wanted) in equalities {
        if let Some(wanted) = wanted
            && value != Some(wanted.as_str())
        {
            return false;
        }
    }
    let duration = part.duration_ns();
    if filters.min_duration_ns.is_some_and(|min| duration < min)
        || filters.max_duration_ns.is_some_and(|max| duration > max)
    {
        return false;
    }
    if filters.min_cost_usd.is_some() || filters.max_cost_usd.is_some() {
        // SQL compares NULL as unknown: a trace without a cost passes no cost bound.
        let Some(cost) = part.cost_usd(prices) else {
            return false;
        };
        if filters.min_cost_usd.is_some_and(|min| cost < min)
            || filters.max_cost_usd.is_some_and(|max| cost > max)
        {
            return false;
        }
    }
    true
}

/// Up to `limit` traces passing `filters`, newest first (by start, then trace id, both
/// descending), strictly before `before` when given.
pub(crate) fn list_page(
    data_dir: &DataDir,
    project_id: &str,
    filters: &TraceFilters,
    before: Option<(i64, &str)>,
    limit: usize,
) -> Result<Vec<TraceSummary>> {
    let prices = PriceTable::load_cached(data_dir.root())?;
    let shared = project_traces(data_dir, project_id);
    let mut traces = lock(&shared);
    traces.refresh(data_dir, project_id)?;
    let first_day = filters.from_ns.map(day_of);
    let last_day = filters.to_ns.map(|to| day_of(to.saturating_sub(1)));
    let before: Option<(i64, Arc<str>)> = before.map(|(start, id)| (start, Arc::from(id)));
    let mut page = Vec::new();
    for (day_name, day) in traces.days.iter().rev() {
        if last_day.as_ref().is_some_and(|last| day_name > last) {
            continue;
        }
        if first_day.as_ref().is_some_and(|first| day_name < first) {
            break;
        }
        let newest_first: Box<dyn Iterator<Item = &(i64, Arc<str>)>> = match &before {
            Some(before) => Box::new(day.order.range(..before.clone()).rev()),
            None => Box::new(day.order.iter().rev()),
        };
        for (start_ns, trace_id) in newest_first {
            let Some(part) = day.parts.get(trace_id) else {
                continue;
            };
            let whole = traces.merged(trace_id, part);
            if whole.start_ns < *start_ns {
                // Listed from the day it started.
                continue;
            }
            if filters.from_ns.is_some_and(|from| whole.start_ns < from)
                || filters.to_ns.is_some_and(|to| whole.start_ns >= to)
                || !passes(&whole, filters, &prices)
            {
                continue;
            }
            page.push(whole.summary(trace_id, &prices));
            if page.len() == limit {
                return Ok(page);
            }
        }
    }
    Ok(page)
}

/// Which traces a scan of `traces` needs: all, or those with these ids, or those starting
/// within these days. Each bound narrows; the scan may still return more (the caller
/// filters again).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TraceSelection {
    pub(crate) trace_ids: Option<BTreeSet<String>>,
    /// First and last day (`YYYY-MM-DD`, inclusive) a selected trace may start on.
    pub(crate) first_day: Option<String>,
    pub(crate) last_day: Option<String>,
}

/// Calls `visit` once per selected trace of the project with the whole trace.
pub(crate) fn for_each_trace(
    data_dir: &DataDir,
    project_id: &str,
    selection: &TraceSelection,
    mut visit: impl FnMut(&str, &TracePart),
) -> Result<()> {
    let shared = project_traces(data_dir, project_id);
    let mut traces = lock(&shared);
    traces.refresh(data_dir, project_id)?;
    if let Some(trace_ids) = &selection.trace_ids {
        for trace_id in trace_ids {
            if let Some(whole) = traces.find(trace_id) {
                visit(trace_id, &whole);
            }
        }
        return Ok(());
    }
    let days = traces.days.iter().filter(|(day, _)| {
        selection
            .first_day
            .as_ref()
            .is_none_or(|first| *day >= first)
            && selection.last_day.as_ref().is_none_or(|last| *day <= last)
    });
    for (_, day) in days {
        for (trace_id, part) in &day.parts {
            let whole = traces.merged(trace_id, part);
            // Visited once, from the day it started.
            if whole.start_ns == part.start_ns {
                visit(trace_id, &whole);
            }
        }
    }
    Ok(())
}

/// The summaries of `trace_ids` that pass `filters` (time included), in the given order.
pub(crate) fn summaries_of(
    data_dir: &DataDir,
    project_id: &str,
    trace_ids: &[String],
    filters: &TraceFilters,
) -> Result<Vec<TraceSummary>> {
    let prices = PriceTable::load_cached(data_dir.root())?;
    let shared = project_traces(data_dir, project_id);
    let mut traces = lock(&shared);
    traces.refresh(data_dir, project_id)?;
    Ok(trace_ids
        .iter()
        .filter_map(|trace_id| Some((trace_id, traces.find(trace_id)?)))
        .filter(|(_, whole)| {
            !(filters.from_ns.is_some_and(|from| whole.start_ns < from)
                || filters.to_ns.is_some_and(|to| whole.start_ns >= to))
                && passes(whole, filters, &prices)
        })
        .map(|(trace_id, whole)| whole.summary(trace_id, &prices))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use serde_json::Value;
    use sextant_ingest::compaction::CompactionPolicy;
    use sextant_ingest::layout::DEFAULT_PROJECT;
    use sextant_ingest::maintenance::{MaintenanceConfig, run_pass};
    use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
    use sextant_ingest::wal_record::ExportRequest;
    use sextant_tracegen::agent_traces::AgentTraceGenerator;

    use super::*;
    use crate::batch_output::batches_to_json_rows;
    use crate::sql_context::project_context;
    use crate::views::traces_from_spans_sql;

    /// 2026-01-01T23:50:00Z: traces every 5 s from here cross midnight into 2026-01-02.
    const FIRST_START_NS: u64 = 1_767_311_400_000_000_000;

    /// A request's spans in two halves (the second half arrives in a later flush, as an
    /// exporter's later batch would).
    fn halves(request: ExportTraceServiceRequest) -> [ExportTraceServiceRequest; 2] {
        let (mut first, mut second) = (request.clone(), request);
        for (early, late) in first
            .resource_spans
            .iter_mut()
            .zip(&mut second.resource_spans)
        {
            for (early, late) in early.scope_spans.iter_mut().zip(&mut late.scope_spans) {
                let middle = early.spans.len() / 2;
                early.spans.truncate(middle);
                late.spans.drain(..middle);
            }
        }
        [first, second]
    }

    /// Sends `traces` generated runs, one round of `per_round` at a time with a flush after
    /// each round; each run's second half goes out with the next round.
    async fn ingest_rounds(
        pipeline: &IngestPipeline,
        generator: &mut AgentTraceGenerator,
        first_index: u64,
        traces: u64,
        per_round: u64,
    ) {
        let mut late_halves = Vec::new();
        for index in first_index..first_index + traces {
            let trace = generator.trace(FIRST_START_NS + index * 5_000_000_000);
            let [early, late] = halves(trace.request);
            pipeline
                .ingest(DEFAULT_PROJECT, ExportRequest::Traces(early))
                .await
                .expect("ingest");
            late_halves.push(late);
            if (index + 1) % per_round == 0 {
                for late in late_halves.drain(..) {
                    pipeline
                        .ingest(DEFAULT_PROJECT, ExportRequest::Traces(late))
                        .await
                        .expect("ingest");
                }
                pipeline.flush_and_wait().expect("flush");
            }
        }
        for late in late_halves {
            pipeline
                .ingest(DEFAULT_PROJECT, ExportRequest::Traces(late))
                .await
                .expect("ingest");
        }
        pipeline.flush_and_wait().expect("flush");
    }

    /// The rows of `traces` computed from every span (the reference), newest first, after
    /// `filter`.
    async fn view_rows(data_dir: &DataDir, filter: &str) -> Vec<TraceSummary> {
        let reference = format!("({})", traces_from_spans_sql());
        table_rows(data_dir, &reference, filter).await
    }

    /// The rows of `source` (a table or a parenthesized query with the columns of
    /// `traces`) as the list shows them, newest first, after `filter`.
    async fn table_rows(data_dir: &DataDir, source: &str, filter: &str) -> Vec<TraceSummary> {
        let sql = format!(
            "SELECT trace_id, root_name, service_name, session_id, agent_name, user_id, \
             duration_ns, span_count, llm_calls, tool_calls, input_tokens, output_tokens, \
             cache_read_tokens, cost_usd, error_count, has_error, outcome, models, \
             arrow_cast(start_time, 'Int64') AS start_ns FROM {source} AS rows {filter} \
             ORDER BY start_time DESC, trace_id DESC"
        );
        json_rows(data_dir, &sql)
            .await
            .into_iter()
            .map(|row| serde_json::from_value(Value::Object(row)).expect("summary"))
            .collect()
    }

    async fn json_rows(data_dir: &DataDir, sql: &str) -> Vec<serde_json::Map<String, Value>> {
        let context = project_context(data_dir, DEFAULT_PROJECT)
            .await
            .expect("session");
        let batches = context
            .sql(sql)
            .await
            .expect("sql")
            .collect()
            .await
            .expect("rows");
        batches_to_json_rows(&batches).expect("json")
    }

    /// Costs summed in another order differ in the last bits.
    fn rounded(mut rows: Vec<TraceSummary>) -> Vec<TraceSummary> {
        for row in &mut rows {
            row.cost_usd = row.cost_usd.map(|cost| (cost * 1e9).round() / 1e9);
        }
        rows
    }

    fn listed(data_dir: &DataDir, filters: &TraceFilters) -> Vec<TraceSummary> {
        list_page(data_dir, DEFAULT_PROJECT, filters, None, 10_000).expect("list")
    }

    /// Every column of SQL's `traces` (those the list does not show too) equals the
    /// reference's, after `sql_filter` (which the scan narrows by where it can).
    async fn assert_table_same(data_dir: &DataDir, sql_filter: &str) {
        let mut results = Vec::new();
        for source in [
            "traces".to_owned(),
            format!("({})", traces_from_spans_sql()),
        ] {
            let sql = format!(
                "SELECT *, round(cost_usd, 9) AS rounded_cost FROM {source} AS rows {sql_filter} \
                 ORDER BY trace_id"
            );
            let mut rows = json_rows(data_dir, &sql).await;
            for row in &mut rows {
                row.remove("cost_usd");
            }
            results.push(rows);
        }
        assert!(
            !results[1].is_empty(),
            "{sql_filter}: the reference lists nothing"
        );
        for (index, (table, reference)) in results[0].iter().zip(&results[1]).enumerate() {
            assert_eq!(table, reference, "{sql_filter}: row {index}");
        }
        assert_eq!(results[0].len(), results[1].len(), "{sql_filter}: rows");
    }

    fn assert_same(data_dir: &DataDir, filters: &TraceFilters, sql_filter: &str, what: &str) {
        let runtime = tokio::runtime::Handle::current();
        let expected =
            tokio::task::block_in_place(|| runtime.block_on(view_rows(data_dir, sql_filter)));
        let from_table = tokio::task::block_in_place(|| {
            runtime.block_on(table_rows(data_dir, "traces", sql_filter))
        });
        let actual = listed(data_dir, filters);
        assert!(!expected.is_empty(), "{what}: the reference lists nothing");
        assert_rows(actual, &expected, &format!("{what}: the list"));
        assert_rows(from_table, &expected, &format!("{what}: SQL's traces"));
    }

    /// Equal rows, the first difference named alone.
    fn assert_rows(actual: Vec<TraceSummary>, expected: &[TraceSummary], what: &str) {
        let (actual, expected) = (rounded(actual), rounded(expected.to_vec()));
        for (index, (actual, expected)) in actual.iter().zip(&expected).enumerate() {
            assert_eq!(actual, expected, "{what}: row {index}");
        }
        assert_eq!(actual.len(), expected.len(), "{what}: rows");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_rollup_lists_the_traces_view_rows_through_flushes_compaction_and_retention() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = DataDir::open(dir.path()).expect("data dir");
        let pipeline =
            IngestPipeline::open(data_dir.clone(), PipelineConfig::default()).expect("pipeline");
        let mut generator = AgentTraceGenerator::new(11);

        ingest_rounds(&pipeline, &mut generator, 0, 120, 20).await;
        let everything = TraceFilters::default();
        assert_same(&data_dir, &everything, "", "after the first flushes");
        let across_midnight = listed(&data_dir, &everything)
            .iter()
            .filter(|row| {
                let end_ns = row.start_ns + row.duration_ns.unwrap_or(0);
                day_of(row.start_ns) != day_of(end_ns)
            })
            .count();
        assert!(across_midnight > 0, "no generated run crossed midnight");

        // More flushes, then a compaction that merges flushes the rollup read with ones it
        // did not: only the new flushes' rows are read, from their offsets.
        ingest_rounds(&pipeline, &mut generator, 120, 120, 20).await;
        let config = MaintenanceConfig {
            compaction: CompactionPolicy {
                min_files_open: 2,
                min_files_closed: 2,
                ..CompactionPolicy::default()
            },
            grace: Duration::ZERO,
            ..MaintenanceConfig::default()
        };
        let now = UNIX_EPOCH + Duration::from_nanos(FIRST_START_NS + 86_400_000_000_000);
        let report = run_pass(&data_dir, &config, &[], now).expect("compaction");
        assert!(!report.compactions.is_empty(), "nothing was compacted");
        assert_same(&data_dir, &everything, "", "after compaction");

        // Filters give what the same predicate on the view gives.
        let sample = listed(&data_dir, &everything);
        let model = sample
            .iter()
            .find_map(|row| row.models.as_ref()?.first().cloned())
            .expect("a model");
        let session = sample
            .iter()
            .find_map(|row| row.session_id.clone())
            .expect("a session");
        let middle_ns = sample[sample.len() / 2].start_ns;
        let cases = [
            (
                TraceFilters {
                    status: Some(TraceStatus::Error),
                    ..TraceFilters::default()
                },
                "WHERE outcome = 'failed'".to_owned(),
            ),
            (
                TraceFilters {
                    status: Some(TraceStatus::Ok),
                    model: Some(model.clone()),
                    ..TraceFilters::default()
                },
                format!("WHERE outcome = 'success' AND array_has(models, '{model}')"),
            ),
            (
                TraceFilters {
                    session: Some(session.clone()),
                    ..TraceFilters::default()
                },
                format!("WHERE session_id = '{session}'"),
            ),
            (
                TraceFilters {
                    from_ns: Some(middle_ns),
                    min_cost_usd: Some(0.01),
                    min_duration_ns: Some(1_000_000_000),
                    ..TraceFilters::default()
                },
                format!(
                    "WHERE arrow_cast(start_time, 'Int64') >= {middle_ns} AND cost_usd >= 0.01 \
                     AND duration_ns >= 1000000000"
                ),
            ),
        ];
        for (filters, sql_filter) in &cases {
            assert_same(&data_dir, filters, sql_filter, sql_filter);
        }
        // SQL's `traces`, whole rows, as the scan narrows by ids and days.
        let some_ids: Vec<String> = sample
            .iter()
            .step_by(17)
            .map(|row| format!("'{}'", row.trace_id))
            .collect();
        let first_day = day_of(sample.last().expect("rows").start_ns);
        for sql_filter in [
            String::new(),
            format!("WHERE trace_id = {}", some_ids[0]),
            format!("WHERE trace_id IN ({})", some_ids.join(", ")),
            format!("WHERE day = '{first_day}'"),
            format!("WHERE day > '{first_day}' AND outcome = 'success'"),
            format!(
                "WHERE start_time >= '{}' AND start_time < '2026-01-02T00:05:00Z'",
                "2026-01-01T23:58:00Z"
            ),
        ] {
            assert_table_same(&data_dir, &sql_filter).await;
        }

        // Pages of 7 from the cursor on are the whole list, in order.
        let mut paged = Vec::new();
        let mut before: Option<(i64, String)> = None;
        loop {
            let page = list_page(
                &data_dir,
                DEFAULT_PROJECT,
                &everything,
                before.as_ref().map(|(start, id)| (*start, id.as_str())),
                7,
            )
            .expect("page");
            let Some(last) = page.last() else { break };
            before = Some((last.start_ns, last.trace_id.clone()));
            paged.extend(page);
        }
        assert_eq!(paged, listed(&data_dir, &everything));

        // The lookup by id (the text-query listing) gives the same rows.
        let ids: Vec<String> = sample.iter().map(|row| row.trace_id.clone()).collect();
        let found = summaries_of(&data_dir, DEFAULT_PROJECT, &ids, &everything).expect("found");
        assert_eq!(found, sample);

        // Retention drops the first day: its traces leave the list as they leave the view.
        let two_days_later =
            UNIX_EPOCH + Duration::from_nanos(FIRST_START_NS + 2 * 86_400_000_000_000);
        let retention = [(DEFAULT_PROJECT.to_owned(), 1)];
        run_pass(&data_dir, &config, &retention, two_days_later).expect("retention");
        assert_same(&data_dir, &everything, "", "after retention");
        assert!(listed(&data_dir, &everything).len() < sample.len());
        pipeline.shutdown();
    }
}
