//! Full-text search over a project's partition indexes, newest hits first.
//!
//! Each partition (project, day) has its own tantivy index whose documents point at
//! Parquet rows of the spans or logs table (`table`, `file`, `row`). A search walks the
//! partitions in the time range, takes the newest matches of each by the `start_time`
//! fast field, and keeps the global newest `limit`. Each hit's summary and snippet come
//! from what its document stores ([`sextant_ingest::stored_hit`]); only a hit whose match
//! lies past the stored text (or from an index older than stored hits) reads its row from
//! Parquet (the flush's own file, or the compacted file that now holds its rows). Every hit
//! is checked against the published files, so search shows no row SQL cannot see.
//! `kind:span` or `kind:log` in the query keeps one kind.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::path::PathBuf;

use datafusion::arrow::array::RecordBatch;
use serde_json::{Map, Value};
use sextant_ingest::index::{
    FieldName, LOGS_TABLE_CODE, SPANS_TABLE_CODE, SpanIndexFields, span_index_schema,
};
use sextant_ingest::layout::{DataDir, PartitionKey, day_of};
use sextant_ingest::log_row::{CanonicalLog, logs_to_batch};
use sextant_ingest::schema::spans_to_batch;
use sextant_ingest::span::CanonicalSpan;
use sextant_ingest::stored_hit::{LOG_HIT_COLUMNS, SPAN_HIT_COLUMNS, read_stored_hit};
use sextant_ingest::table::Table;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::schema::Value as _;
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Order, Searcher, TantivyDocument, Term};

use crate::batch_output::batches_to_json_rows;
use crate::error::{QueryError, Result};
use crate::open_indexes::open_index;
use crate::row_locator::{RowLocator, read_selected_rows};

/// Most hits with one identical start time that paging keeps apart exactly.
const MAX_TIES: usize = 100_000;

fn summary_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Logs => LOG_HIT_COLUMNS,
        _ => SPAN_HIT_COLUMNS,
    }
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// tantivy query syntax; field prefixes `tool:`, `model:`, `status:`, `service:`,
    /// `agent:`, `session:`, `error:`, `type:`, `trace:`, `kind:` (`span` or `log`).
    pub query: String,
    /// Inclusive lower bound on span start, ns.
    pub from_ns: Option<i64>,
    /// Exclusive upper bound on span start, ns.
    pub to_ns: Option<i64>,
    pub limit: usize,
    /// Where the previous page ended.
    pub cursor: Option<SearchCursor>,
}

/// The end of a page: its last hit's start time, and how many hits with exactly that
/// start time have been returned so far (ties are common: parallel tool calls,
/// millisecond clocks), so the next page neither repeats nor skips them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCursor {
    pub start_time: i64,
    pub ties_seen: usize,
}

impl SearchCursor {
    /// Parses the `next_cursor` text of a page (`<start_time>:<ties_seen>`).
    pub fn parse(text: &str) -> Option<SearchCursor> {
        let (start_time, ties_seen) = text.split_once(':')?;
        Some(SearchCursor {
            start_time: start_time.parse().ok()?,
            ties_seen: ties_seen.parse().ok()?,
        })
    }
}

impl std::fmt::Display for SearchCursor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}:{}", self.start_time, self.ties_seen)
    }
}

/// What a hit is: a span, or a log record (an agent's event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Span,
    Log,
}

impl HitKind {
    fn table(self) -> Table {
        match self {
            HitKind::Span => Table::Spans,
            HitKind::Log => Table::Logs,
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct SearchHit {
    pub kind: HitKind,
    /// The summary columns of the span (`start_time`, `name`, …) or of the log record
    /// (`time`, `event_name`, …).
    #[serde(flatten)]
    pub row: Map<String, Value>,
    /// HTML with matched terms in `<b>`; text is escaped.
    pub snippet: Option<String>,
}

#[derive(Debug)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    /// Pass as `cursor` to get the next (older) page; `None` when this page was the last.
    pub next_cursor: Option<SearchCursor>,
}

pub(crate) struct PartitionSearch {
    pub(crate) key: PartitionKey,
    pub(crate) searcher: Searcher,
    pub(crate) query: Box<dyn Query>,
}

struct Candidate {
    start_time: i64,
    partition: usize,
    kind: HitKind,
    file: u64,
    row: u64,
    address: DocAddress,
}

pub fn search_spans(
    data_dir: &DataDir,
    project_id: &str,
    request: &SearchRequest,
) -> Result<SearchPage> {
    if request.query.trim().is_empty() {
        return Err(QueryError::InvalidQuery(
            "empty search query; try a word, a phrase in quotes, or tool:bash".into(),
        ));
    }
    let limit = request.limit.clamp(1, 1000);
    let ties_seen = request.cursor.map_or(0, |cursor| cursor.ties_seen);
    // Enough to skip the ties already returned and still tell whether more follow.
    let wanted = limit + ties_seen + 1;
    let to_ns = match (request.to_ns, request.cursor) {
        (Some(to), Some(cursor)) => Some(to.min(cursor.start_time.saturating_add(1))),
        (to, cursor) => to.or(cursor.map(|cursor| cursor.start_time.saturating_add(1))),
    };
    let (_, fields) = span_index_schema();

    let mut partitions = Vec::new();
    let mut candidates = Vec::new();
    for key in searchable_partitions(data_dir, project_id, request.from_ns, to_ns)? {
        // Partitions come newest day first and a day's rows all start that day: once
        // enough hits are found, older partitions cannot contribute.
        if candidates.len() >= wanted {
            break;
        }
        let index_dir = data_dir.index_partition_dir(&key);
        let partition = open_partition(
            key,
            &index_dir,
            &fields,
            &request.query,
            request.from_ns,
            to_ns,
        )?;
        let matches = newest_matches(&partition, &fields, wanted)?;
        candidates.extend(candidates_of(&partition, partitions.len(), matches)?);
        partitions.push(partition);
    }
    // A total order, so pages split ties the same way every time.
    candidates.sort_by_key(|candidate| {
        (
            std::cmp::Reverse(candidate.start_time),
            candidate.partition,
            candidate.kind,
            std::cmp::Reverse(candidate.file),
            std::cmp::Reverse(candidate.row),
        )
    });
    let next_cursor = keep_page(&mut candidates, request.cursor, limit);
    let hits = fetch_hits(data_dir, &partitions, &fields, &candidates)?;
    Ok(SearchPage { hits, next_cursor })
}

/// A partition's `wanted` newest matches, and every match tied with the oldest of them.
fn newest_matches(
    partition: &PartitionSearch,
    fields: &SpanIndexFields,
    wanted: usize,
) -> Result<Vec<(Option<i64>, DocAddress)>> {
    let top = TopDocs::with_limit(wanted).order_by_fast_field::<i64>("start_time", Order::Desc);
    let mut matches: Vec<(Option<i64>, DocAddress)> =
        partition.searcher.search(&*partition.query, &top)?;
    // Top-k cuts arbitrarily among hits sharing the oldest start time: take all of
    // those, so the total order (and so paging) does not depend on the cut.
    if matches.len() == wanted
        && let Some((Some(oldest), _)) = matches.last().copied()
    {
        matches.retain(|(start_time, _)| *start_time != Some(oldest));
        let exact = Term::from_field_i64(fields.start_time, oldest);
        let ties = BooleanQuery::new(vec![
            (Occur::Must, partition.query.box_clone()),
            (
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(exact.clone()),
                    Bound::Included(exact),
                )),
            ),
        ]);
        let all_ties =
            TopDocs::with_limit(MAX_TIES).order_by_fast_field::<i64>("start_time", Order::Desc);
        matches.extend(partition.searcher.search(&ties, &all_ties)?);
    }
    Ok(matches)
}

/// The matches of partition number `partition_index` as candidates: where each hit's row is.
fn candidates_of(
    partition: &PartitionSearch,
    partition_index: usize,
    matches: Vec<(Option<i64>, DocAddress)>,
) -> Result<Vec<Candidate>> {
    let mut candidates = Vec::with_capacity(matches.len());
    for (start_time, address) in matches {
        let segment = partition.searcher.segment_reader(address.segment_ord);
        let fast_fields = segment.fast_fields();
        let file = fast_fields.u64("file")?.first(address.doc_id);
        let row = fast_fields.u64("row")?.first(address.doc_id);
        let kind = match fast_fields.u64("table")?.first(address.doc_id) {
            Some(SPANS_TABLE_CODE) => HitKind::Span,
            Some(LOGS_TABLE_CODE) => HitKind::Log,
            _ => continue,
        };
        if let (Some(start_time), Some(file), Some(row)) = (start_time, file, row) {
            candidates.push(Candidate {
                start_time,
                partition: partition_index,
                kind,
                file,
                row,
                address,
            });
        }
    }
    Ok(candidates)
}

/// Drops the candidates the previous page returned and those past this page (sorted
/// candidates in); the cursor of the next page, if there is one.
fn keep_page(
    candidates: &mut Vec<Candidate>,
    cursor: Option<SearchCursor>,
    limit: usize,
) -> Option<SearchCursor> {
    if let Some(cursor) = cursor {
        let already_returned = candidates
            .iter()
            .take_while(|candidate| candidate.start_time == cursor.start_time)
            .count()
            .min(cursor.ties_seen);
        candidates.drain(..already_returned);
    }
    let has_more = candidates.len() > limit;
    candidates.truncate(limit);
    match candidates.last() {
        Some(last) if has_more => {
            let ties_on_page = candidates
                .iter()
                .filter(|candidate| candidate.start_time == last.start_time)
                .count();
            let earlier_ties = match cursor {
                Some(cursor) if cursor.start_time == last.start_time => cursor.ties_seen,
                _ => 0,
            };
            Some(SearchCursor {
                start_time: last.start_time,
                ties_seen: ties_on_page + earlier_ties,
            })
        }
        _ => None,
    }
}

/// The project's partitions with an index that hold rows in `[from_ns, to_ns)`, newest
/// day first, leaving out those retention dropped.
pub(crate) fn searchable_partitions(
    data_dir: &DataDir,
    project_id: &str,
    from_ns: Option<i64>,
    to_ns: Option<i64>,
) -> Result<Vec<PartitionKey>> {
    let first_day = from_ns.map(day_of);
    let last_day = to_ns.map(|to| day_of(to.saturating_sub(1)));
    let mut keys: BTreeSet<PartitionKey> = data_dir.partitions(Table::Spans)?.into_iter().collect();
    keys.extend(data_dir.partitions(Table::Logs)?);
    Ok(keys
        .into_iter()
        .rev()
        .filter(|key| {
            key.project_id == project_id
                && first_day.as_ref().is_none_or(|first| &key.day >= first)
                && last_day.as_ref().is_none_or(|last| &key.day <= last)
                && !data_dir.is_dropped(key)
                && data_dir.index_partition_dir(key).join("meta.json").exists()
        })
        .collect())
}

pub(crate) fn open_partition(
    key: PartitionKey,
    index_dir: &std::path::Path,
    fields: &SpanIndexFields,
    query_text: &str,
    from_ns: Option<i64>,
    to_ns: Option<i64>,
) -> Result<PartitionSearch> {
    let (index, searcher) = open_index(index_dir)?;
    let mut parser = QueryParser::for_index(&index, fields.default_search_fields());
    parser.set_conjunction_by_default();
    let text_query = parse_search_query(&parser, query_text)?;
    let query: Box<dyn Query> = if from_ns.is_some() || to_ns.is_some() {
        let lower = from_ns.map_or(Bound::Unbounded, |from| {
            Bound::Included(Term::from_field_i64(fields.start_time, from))
        });
        let upper = to_ns.map_or(Bound::Unbounded, |to| {
            Bound::Excluded(Term::from_field_i64(fields.start_time, to))
        });
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, text_query),
            (Occur::Must, Box::new(RangeQuery::new(lower, upper))),
        ]))
    } else {
        text_query
    };
    Ok(PartitionSearch {
        key,
        searcher,
        query,
    })
}

/// Parses tantivy syntax; text that is not valid syntax (`std::io::Error`, `a(b`) is
/// searched as quoted words instead of failing, as a search box should.
fn parse_search_query(parser: &QueryParser, query: &str) -> Result<Box<dyn Query>> {
    match parser.parse_query(query) {
        Ok(parsed) => Ok(parsed),
        Err(strict_error) => {
            let quoted: Vec<String> = query
                .split_whitespace()
                .map(|word| format!("\"{}\"", word.replace(['"', '\\'], " ")))
                .collect();
            parser.parse_query(&quoted.join(" ")).map_err(|_| {
                QueryError::InvalidQuery(format!("invalid search query: {strict_error}"))
            })
        }
    }
}

/// A hit's row as JSON columns, and its snippet.
type RowWithSnippet = (Map<String, Value>, Option<String>);
/// A stored hit's row as JSON columns, and the text columns it cut.
type StoredRow = (Map<String, Value>, Vec<String>);

/// Builds the hits: each from its document's stored hit when that shows the match, else
/// (an index older than stored hits, or a match past the stored text) from its Parquet row.
/// A hit whose file is not published yet is left out, as SQL cannot see it either.
fn fetch_hits(
    data_dir: &DataDir,
    partitions: &[PartitionSearch],
    fields: &SpanIndexFields,
    candidates: &[Candidate],
) -> Result<Vec<SearchHit>> {
    let mut locator = RowLocator::new(data_dir);
    let mut snippets = Snippets::new(partitions, fields);
    let stored = stored_rows(partitions, fields, candidates)?;
    let mut rows: Vec<Option<RowWithSnippet>> = Vec::new();
    // Rows to read from Parquet, per file: whole (no stored hit) or only the texts a stored
    // hit cut (its other columns are stored).
    let mut reads: BTreeMap<(PathBuf, bool), ParquetRead> = BTreeMap::new();
    let mut cut_rows: HashMap<usize, Map<String, Value>> = HashMap::new();
    for ((index, candidate), stored) in candidates.iter().enumerate().zip(stored) {
        rows.push(None);
        let table = candidate.kind.table();
        let key = &partitions[candidate.partition].key;
        let Some((path, row)) = locator.locate(key, table, candidate.file, candidate.row)? else {
            continue;
        };
        let read = match stored {
            Some((stored_row, cut)) => {
                let snippet = snippets.find(candidate, &stored_row);
                if snippet.is_some() || cut.is_empty() {
                    rows[index] = Some((stored_row, snippet));
                    continue;
                }
                cut_rows.insert(index, stored_row);
                let read = reads
                    .entry((path, true))
                    .or_insert_with(|| ParquetRead::new(Vec::new()));
                for column in cut {
                    if !read.columns.contains(&column) {
                        read.columns.push(column);
                    }
                }
                read
            }
            None => reads.entry((path, false)).or_insert_with(|| {
                ParquetRead::new(hit_and_snippet_columns(table).map(str::to_owned).collect())
            }),
        };
        read.rows.push((row, index));
    }
    for ((path, _), mut read) in reads {
        read.rows.sort_unstable();
        read.rows.dedup_by_key(|(row, _)| *row);
        let physical_rows: Vec<u64> = read.rows.iter().map(|(row, _)| *row).collect();
        let columns: Vec<&str> = read.columns.iter().map(String::as_str).collect();
        let batches = read_selected_rows(&path, &columns, &physical_rows)?;
        for ((_, index), from_parquet) in read.rows.iter().zip(batches_to_json_rows(&batches)?) {
            let mut row = cut_rows.remove(index).unwrap_or_default();
            row.extend(from_parquet);
            let snippet = snippets.find(&candidates[*index], &row);
            rows[*index] = Some((row, snippet));
        }
    }
    Ok(candidates
        .iter()
        .zip(rows)
        .filter_map(|(candidate, row)| {
            let (mut row, snippet) = row?;
            let summary = summary_columns(candidate.kind.table());
            row.retain(|column, _| summary.contains(&column.as_str()));
            Some(SearchHit {
                kind: candidate.kind,
                row,
                snippet,
            })
        })
        .collect())
}

/// Each candidate's stored hit as JSON columns (hit and snippet columns) and the text
/// columns it cut; `None` where the document stores none.
fn stored_rows(
    partitions: &[PartitionSearch],
    fields: &SpanIndexFields,
    candidates: &[Candidate],
) -> Result<Vec<Option<StoredRow>>> {
    let mut spans = Vec::new();
    let mut logs = Vec::new();
    let mut decoded: Vec<Option<(HitKind, usize, Vec<String>)>> = Vec::new();
    for candidate in candidates {
        let searcher = &partitions[candidate.partition].searcher;
        let document: TantivyDocument = searcher.doc(candidate.address)?;
        let bytes = document
            .get_first(fields.hit)
            .and_then(|value| value.as_bytes());
        let entry = match (candidate.kind, bytes) {
            (HitKind::Span, Some(bytes)) => read_stored_hit::<CanonicalSpan>(bytes).map(|hit| {
                spans.push(hit.row);
                (HitKind::Span, spans.len() - 1, hit.cut)
            }),
            (HitKind::Log, Some(bytes)) => read_stored_hit::<CanonicalLog>(bytes).map(|hit| {
                logs.push(hit.row);
                (HitKind::Log, logs.len() - 1, hit.cut)
            }),
            (_, None) => None,
        };
        decoded.push(entry);
    }
    // Through the tables' own Arrow conversion, so a stored hit reads exactly as its row.
    let span_rows = json_rows(
        spans_to_batch(&spans).map_err(datafusion::error::DataFusionError::from)?,
        Table::Spans,
    )?;
    let log_rows = json_rows(
        logs_to_batch(&logs).map_err(datafusion::error::DataFusionError::from)?,
        Table::Logs,
    )?;
    let mut span_rows = span_rows.into_iter().map(Some).collect::<Vec<_>>();
    let mut log_rows = log_rows.into_iter().map(Some).collect::<Vec<_>>();
    Ok(decoded
        .into_iter()
        .map(|entry| {
            let (kind, position, cut) = entry?;
            let row = match kind {
                HitKind::Span => span_rows.get_mut(position)?.take()?,
                HitKind::Log => log_rows.get_mut(position)?.take()?,
            };
            Some((row, cut))
        })
        .collect())
}

/// The hit and snippet columns of `batch` (rows of `table`) as JSON rows.
fn json_rows(batch: RecordBatch, table: Table) -> Result<Vec<Map<String, Value>>> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let schema = batch.schema();
    let mut wanted: Vec<usize> = hit_and_snippet_columns(table)
        .filter_map(|column| schema.index_of(column).ok())
        .collect();
    // Schema order, as a row read from Parquet has its columns.
    wanted.sort_unstable();
    batches_to_json_rows(&[batch.project(&wanted)?])
}

fn hit_and_snippet_columns(table: Table) -> impl Iterator<Item = &'static str> {
    let snippet_columns = SpanIndexFields::snippet_fields(table)
        .iter()
        .map(|(_, column)| *column);
    summary_columns(table)
        .iter()
        .copied()
        .chain(snippet_columns)
}

/// Highlighted snippets, with one generator per partition and text field.
struct Snippets<'a> {
    partitions: &'a [PartitionSearch],
    fields: &'a SpanIndexFields,
    generators: HashMap<(usize, FieldName), Option<SnippetGenerator>>,
}

impl<'a> Snippets<'a> {
    fn new(partitions: &'a [PartitionSearch], fields: &'a SpanIndexFields) -> Snippets<'a> {
        Snippets {
            partitions,
            fields,
            generators: HashMap::new(),
        }
    }

    /// The first of the row's snippet fields with a match, highlighted as HTML.
    fn find(&mut self, candidate: &Candidate, row: &Map<String, Value>) -> Option<String> {
        let partition = &self.partitions[candidate.partition];
        for &(field_name, column) in SpanIndexFields::snippet_fields(candidate.kind.table()) {
            let Some(text) = row.get(column).and_then(Value::as_str) else {
                continue;
            };
            let field = self.fields.field(field_name);
            let generator = self
                .generators
                .entry((candidate.partition, field_name))
                .or_insert_with(|| {
                    SnippetGenerator::create(&partition.searcher, &*partition.query, field).ok()
                });
            if let Some(generator) = generator {
                let found = generator.snippet(text);
                if !found.highlighted().is_empty() {
                    return Some(found.to_html());
                }
            }
        }
        None
    }
}

/// Rows of one Parquet file to read, the columns to read of them, and for each row the
/// candidate it answers.
struct ParquetRead {
    columns: Vec<String>,
    rows: Vec<(u64, usize)>,
}

impl ParquetRead {
    fn new(columns: Vec<String>) -> ParquetRead {
        ParquetRead {
            columns,
            rows: Vec::new(),
        }
    }
}

#[cfg(test)]
mod fuzz_tests {
    use bolero::check;
    use sextant_ingest::index::{register_tokenizers, span_index_schema};
    use sextant_tracegen::fuzz_input::{case_input, fuzz_time};

    use super::*;

    /// Any text typed into the search box parses into a query or a clear error, never a
    /// panic: mutations of real queries (field prefixes, phrases, operators, CJK) and raw
    /// strings.
    #[test]
    fn fuzz_search_query_parser() {
        let (schema, fields) = span_index_schema();
        let index = tantivy::Index::create_in_ram(schema);
        register_tokenizers(&index);
        let mut parser = QueryParser::for_index(&index, fields.default_search_fields());
        parser.set_conjunction_by_default();
        let seeds = [
            "tool:bash \"permission denied\"",
            "model:claude* AND status:error OR service:checkout",
            "error:timeout -type:llm session:abc trace:0af7651916cd43dd8448eb211c80319c",
            "(a OR b) AND NOT c^2 \"x y\"~3",
            "类型错误 kind:log agent:codex",
            "start_time:[2024-01-01T00:00:00Z TO *] field:{a TO b}",
        ];
        let seeds: Vec<Vec<u8>> = seeds
            .iter()
            .map(|seed| str::as_bytes(seed).to_vec())
            .collect();
        check!()
            .with_type::<(u8, bool, Vec<u8>)>()
            .with_iterations(usize::MAX)
            .with_test_time(fuzz_time())
            .for_each(|case| {
                let text = String::from_utf8_lossy(&case_input(&seeds, case)).into_owned();
                match parse_search_query(&parser, &text) {
                    Ok(_) | Err(QueryError::InvalidQuery(_)) => {}
                    Err(other) => panic!("{text:?}: unexpected error kind {other}"),
                }
            });
    }
}
