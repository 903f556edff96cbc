//! `search('<query>')`: full-text hits as a SQL table, joinable with `spans` and `traces`.
//!
//! ```sql
//! SELECT t.trace_id, t.cost_usd FROM search('tool:bash "permission denied"') s
//! JOIN traces t USING (trace_id) WHERE s.start_time > now() - INTERVAL '1 day'
//! ```
//!
//! Columns: `kind` (`span` or `log`), `trace_id`, `span_id`, `start_time` (a log record's
//! time), `status` (`ok`/`error`/`unset`), `model`, `score` (BM25). `WHERE` on `start_time`
//! (comparisons with a timestamp), `status`, `model` and `kind` (equality with a string) is
//! pushed into the index scan: it narrows the days opened and the documents matched, and
//! DataFusion re-checks it on the rows. A pushed-down `LIMIT` without those keeps the
//! newest hits only. The keys are read from Parquet for the hits alone, so the cost grows
//! with the number of hits; past [`MAX_SEARCH_ROWS`] the query is refused, asking for a
//! narrower one. The project is the session's, as for every table.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, AsArray, Float32Builder, RecordBatch, StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use sextant_ingest::index::{
    LOGS_TABLE_CODE, SPANS_TABLE_CODE, log_status_word, span_index_schema,
};
use sextant_ingest::layout::DataDir;
use sextant_ingest::table::Table;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, Score, SegmentReader, Term};

use crate::error::{QueryError, Result};
use crate::pushdown::{column_against_literal, literal_text, timestamp_ns};
use crate::row_locator::{RowLocator, read_selected_rows};
use crate::search::{open_partition, searchable_partitions};

/// Most hits one `search()` call returns.
pub const MAX_SEARCH_ROWS: usize = 1_000_000;

/// The `search` table function of one project's session.
#[derive(Debug)]
pub struct SearchFunction {
    data_dir: DataDir,
    project_id: String,
}

impl SearchFunction {
    pub fn new(data_dir: DataDir, project_id: &str) -> SearchFunction {
        SearchFunction {
            data_dir,
            project_id: project_id.to_owned(),
        }
    }
}

impl TableFunctionImpl for SearchFunction {
    fn call_with_args(
        &self,
        args: TableFunctionArgs,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        let query = match args.exprs() {
            [Expr::Literal(ScalarValue::Utf8(Some(query)), _)]
            | [Expr::Literal(ScalarValue::Utf8View(Some(query)), _)]
            | [Expr::Literal(ScalarValue::LargeUtf8(Some(query)), _)] => query.clone(),
            _ => {
                return plan_err!(
                    "search() takes one string literal, the search query: search('tool:bash timeout')"
                );
            }
        };
        if query.trim().is_empty() {
            return plan_err!(
                "search('') has no query; try a word, a phrase in quotes, or tool:bash"
            );
        }
        Ok(Arc::new(SearchTable {
            data_dir: self.data_dir.clone(),
            project_id: self.project_id.clone(),
            query,
        }))
    }
}

fn search_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("kind", DataType::Utf8, false),
        Field::new("trace_id", DataType::Utf8, true),
        Field::new("span_id", DataType::Utf8, true),
        Field::new(
            "start_time",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("status", DataType::Utf8, true),
        Field::new("model", DataType::Utf8, true),
        Field::new("score", DataType::Float32, false),
    ]))
}

#[derive(Debug)]
struct SearchTable {
    data_dir: DataDir,
    project_id: String,
    query: String,
}

/// What the pushed-down filters ask of the index scan.
#[derive(Debug, Default, Clone, PartialEq)]
struct Narrowing {
    /// Inclusive.
    from_ns: Option<i64>,
    /// Exclusive.
    to_ns: Option<i64>,
    status: Option<String>,
    model: Option<String>,
    kind: Option<String>,
}

impl Narrowing {
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self == &Narrowing::default()
    }

    fn raise_from(&mut self, from: i64) {
        self.from_ns = Some(self.from_ns.map_or(from, |current| current.max(from)));
    }

    fn lower_to(&mut self, to: i64) {
        self.to_ns = Some(self.to_ns.map_or(to, |current| current.min(to)));
    }

    /// Applies one filter if it is of a pushable shape; false otherwise.
    fn apply(&mut self, filter: &Expr) -> bool {
        let Some((column, op, value)) = column_against_literal(filter) else {
            return false;
        };
        match column.name.as_str() {
            "start_time" => {
                let Some(ns) = timestamp_ns(value) else {
                    return false;
                };
                match op {
                    Operator::Gt => self.raise_from(ns.saturating_add(1)),
                    Operator::GtEq => self.raise_from(ns),
                    Operator::Lt => self.lower_to(ns),
                    Operator::LtEq => self.lower_to(ns.saturating_add(1)),
                    Operator::Eq => {
                        self.raise_from(ns);
                        self.lower_to(ns.saturating_add(1));
                    }
                    _ => return false,
                }
                true
            }
            name @ ("status" | "model" | "kind") if op == Operator::Eq => {
                let Some(text) = literal_text(value).map(str::to_owned) else {
                    return false;
                };
                let slot = match name {
                    "status" => &mut self.status,
                    "model" => &mut self.model,
                    _ => &mut self.kind,
                };
                // Two different equalities on one column match nothing; keep the first
                // and let DataFusion's re-check return no rows.
                if slot.is_none() {
                    *slot = Some(text);
                }
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl TableProvider for SearchTable {
    fn schema(&self) -> SchemaRef {
        search_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| {
                if Narrowing::default().apply(filter) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let mut narrowing = Narrowing::default();
        for filter in filters {
            narrowing.apply(filter);
        }
        let data_dir = self.data_dir.clone();
        let project_id = self.project_id.clone();
        let query = self.query.clone();
        let batch = tokio::task::spawn_blocking(move || {
            search_batch(&data_dir, &project_id, &query, &narrowing, limit)
        })
        .await
        .map_err(|error| DataFusionError::External(Box::new(error)))?
        .map_err(|error| match error {
            QueryError::DataFusion(error) => error,
            other => DataFusionError::Plan(other.to_string()),
        })?;
        let schema = search_schema();
        let exec = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, projection.cloned())?;
        Ok(exec)
    }
}

/// One matching document: where its row is, and how it ranks.
struct Hit {
    partition: usize,
    table: Table,
    flush: u64,
    row: u64,
    start_time: i64,
    score: Score,
}

/// Runs the search over the project's partitions and reads the hits' keys.
fn search_batch(
    data_dir: &DataDir,
    project_id: &str,
    query_text: &str,
    narrowing: &Narrowing,
    limit: Option<usize>,
) -> Result<RecordBatch> {
    let (_, fields) = span_index_schema();
    let wanted = limit
        .unwrap_or(MAX_SEARCH_ROWS + 1)
        .min(MAX_SEARCH_ROWS + 1);
    let mut keys = Vec::new();
    let mut hits: Vec<Hit> = Vec::new();
    for key in searchable_partitions(data_dir, project_id, narrowing.from_ns, narrowing.to_ns)? {
        // Newest day first: with a limit, older days cannot beat what is already found.
        if hits.len() >= wanted {
            break;
        }
        let index_dir = data_dir.index_partition_dir(&key);
        let partition = open_partition(
            key.clone(),
            &index_dir,
            &fields,
            query_text,
            narrowing.from_ns,
            narrowing.to_ns,
        )?;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, partition.query)];
        let keyword_terms = [
            (fields.status, &narrowing.status),
            (fields.model, &narrowing.model),
            (fields.kind, &narrowing.kind),
        ];
        for (field, value) in keyword_terms {
            if let Some(value) = value {
                let term = Term::from_field_text(field, &value.to_lowercase());
                clauses.push((
                    Occur::Must,
                    Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let matching = partition.searcher.search(&query, &Count)?;
        let take = matching.min(wanted - hits.len());
        if take == 0 {
            continue;
        }
        let newest_first = TopDocs::with_limit(take).tweak_score(|segment: &SegmentReader| {
            let start_times = segment.fast_fields().i64("start_time").ok();
            move |doc: DocId, score: Score| {
                let start = start_times.as_ref().and_then(|column| column.first(doc));
                (start.unwrap_or(i64::MIN), score)
            }
        });
        let partition_index = keys.len();
        for ((start_time, score), address) in partition.searcher.search(&query, &newest_first)? {
            let segment = partition.searcher.segment_reader(address.segment_ord);
            let fast_fields = segment.fast_fields();
            let flush = fast_fields.u64("file")?.first(address.doc_id);
            let row = fast_fields.u64("row")?.first(address.doc_id);
            let table = match fast_fields.u64("table")?.first(address.doc_id) {
                Some(SPANS_TABLE_CODE) => Table::Spans,
                Some(LOGS_TABLE_CODE) => Table::Logs,
                _ => continue,
            };
            if let (Some(flush), Some(row)) = (flush, row) {
                hits.push(Hit {
                    partition: partition_index,
                    table,
                    flush,
                    row,
                    start_time,
                    score,
                });
            }
        }
        keys.push(key);
    }
    if hits.len() > MAX_SEARCH_ROWS {
        return Err(QueryError::InvalidQuery(format!(
            "search('{query_text}') matches more than {MAX_SEARCH_ROWS} rows; narrow it with more words, \
             a field (tool:, model:, status:) or WHERE start_time > …"
        )));
    }

    // Read each live file once, its hit rows ascending.
    let mut locator = RowLocator::new(data_dir);
    let mut by_file: BTreeMap<PathBuf, (Table, Vec<(u64, usize)>)> = BTreeMap::new();
    for (index, hit) in hits.iter().enumerate() {
        let Some((path, row)) =
            locator.locate(&keys[hit.partition], hit.table, hit.flush, hit.row)?
        else {
            continue;
        };
        by_file
            .entry(path)
            .or_insert_with(|| (hit.table, Vec::new()))
            .1
            .push((row, index));
    }
    let mut output = SearchColumns::with_capacity(hits.len());
    for (path, (table, mut rows)) in by_file {
        rows.sort_unstable();
        rows.dedup();
        let physical: Vec<u64> = rows.iter().map(|(row, _)| *row).collect();
        let columns: &[&str] = match table {
            Table::Logs => &[
                "trace_id",
                "span_id",
                "model",
                "success",
                "severity_number",
                "event_name",
            ],
            _ => &[
                "trace_id",
                "span_id",
                "status_code",
                "request_model",
                "response_model",
            ],
        };
        let mut hit_indexes = rows.iter().map(|(_, index)| *index);
        for batch in read_selected_rows(&path, columns, &physical)? {
            output.append(table, &batch, &mut hit_indexes, &hits)?;
        }
    }
    output.finish()
}

/// Builders of the output columns.
struct SearchColumns {
    kind: StringBuilder,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    start_time: TimestampNanosecondBuilder,
    status: StringBuilder,
    model: StringBuilder,
    score: Float32Builder,
}

fn text_at(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array = batch.column_by_name(column)?;
    let strings = array.as_string_opt::<i32>()?;
    (!strings.is_null(row)).then(|| strings.value(row).to_owned())
}

impl SearchColumns {
    fn with_capacity(rows: usize) -> SearchColumns {
        SearchColumns {
            kind: StringBuilder::with_capacity(rows, rows * 4),
            trace_id: StringBuilder::with_capacity(rows, rows * 32),
            span_id: StringBuilder::with_capacity(rows, rows * 16),
            start_time: TimestampNanosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            status: StringBuilder::with_capacity(rows, rows * 5),
            model: StringBuilder::with_capacity(rows, rows * 16),
            score: Float32Builder::with_capacity(rows),
        }
    }

    /// Appends a batch of rows read for the hits `hit_indexes` yields, in order.
    fn append(
        &mut self,
        table: Table,
        batch: &RecordBatch,
        hit_indexes: &mut impl Iterator<Item = usize>,
        hits: &[Hit],
    ) -> Result<()> {
        for row in 0..batch.num_rows() {
            let Some(index) = hit_indexes.next() else {
                return Err(QueryError::Internal("more rows read than hits".into()));
            };
            let hit = &hits[index];
            self.trace_id.append_option(text_at(batch, "trace_id", row));
            self.span_id.append_option(text_at(batch, "span_id", row));
            self.start_time.append_value(hit.start_time);
            self.score.append_value(hit.score);
            match table {
                Table::Logs => {
                    let success = batch
                        .column_by_name("success")
                        .and_then(|array| array.as_boolean_opt().cloned())
                        .and_then(|array| (!array.is_null(row)).then(|| array.value(row)));
                    let severity = batch
                        .column_by_name("severity_number")
                        .and_then(|array| {
                            array
                                .as_primitive_opt::<datafusion::arrow::datatypes::Int32Type>()
                                .map(|values| values.value(row))
                        })
                        .unwrap_or_default();
                    let event_name = text_at(batch, "event_name", row);
                    self.kind.append_value("log");
                    self.status.append_value(log_status_word(
                        success,
                        severity,
                        event_name.as_deref(),
                    ));
                    self.model.append_option(text_at(batch, "model", row));
                }
                _ => {
                    self.kind.append_value("span");
                    self.status
                        .append_option(text_at(batch, "status_code", row));
                    let model = text_at(batch, "response_model", row)
                        .or_else(|| text_at(batch, "request_model", row));
                    self.model.append_option(model);
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(self.kind.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.start_time.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.model.finish()),
            Arc::new(self.score.finish()),
        ];
        Ok(RecordBatch::try_new(search_schema(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    fn timestamp(ns: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(
            Some(ns),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn time_status_model_and_kind_filters_narrow_the_index_scan() {
        let mut narrowing = Narrowing::default();
        assert!(narrowing.apply(&col("start_time").gt_eq(timestamp(100))));
        assert!(narrowing.apply(&timestamp(200).gt(col("start_time"))));
        assert!(narrowing.apply(&col("start_time").gt(timestamp(150))));
        assert!(narrowing.apply(&col("status").eq(lit("error"))));
        assert!(narrowing.apply(&col("model").eq(lit("gpt-4o"))));
        assert!(narrowing.apply(&col("kind").eq(lit("span"))));
        assert_eq!(
            narrowing,
            Narrowing {
                from_ns: Some(151),
                to_ns: Some(200),
                status: Some("error".into()),
                model: Some("gpt-4o".into()),
                kind: Some("span".into()),
            }
        );
        for other in [
            col("trace_id").eq(lit("abc")),
            col("status").not_eq(lit("error")),
            col("score").gt(lit(1.0)),
            col("start_time").gt(lit(5)),
        ] {
            let mut untouched = Narrowing::default();
            assert!(!untouched.apply(&other), "{other}");
            assert!(untouched.is_empty());
        }
    }
}
