//! The `traces` table of SQL: one row per trace, answered from the trace rollup.
//!
//! Its rows are those of `SELECT trace_id, <aggregates> FROM spans GROUP BY trace_id` (the
//! aggregates are in `views.rs`, `TRACE_COLUMNS`, which tests use as the reference), but a
//! query builds them from the rollup's per-trace parts instead of grouping every span, so
//! the dashboards' runs and success rate, the `sessions` view and users' SQL over `traces`
//! do not scan the spans. Costs are priced when the query runs, like the `spans` view's.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, RecordBatch,
    StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use sextant_ingest::layout::{DataDir, day_of};

use crate::error::Result;
use crate::prices::PriceTable;
use crate::pushdown::{column_against_literal, literal_text, timestamp_ns};
use crate::trace_part::TracePart;
use crate::trace_rollup::{TraceSelection, for_each_trace};

/// The columns of `traces`, in order.
pub fn traces_schema() -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let count = |name: &str| Field::new(name, DataType::Int64, false);
    let sum = |name: &str| Field::new(name, DataType::Int64, true);
    let time = |name: &str| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        )
    };
    Arc::new(Schema::new(vec![
        Field::new("trace_id", DataType::Utf8, false),
        text("root_name"),
        text("service_name"),
        text("session_id"),
        text("agent_name"),
        text("user_id"),
        time("start_time"),
        time("end_time"),
        sum("duration_ns"),
        count("span_count"),
        count("llm_calls"),
        count("tool_calls"),
        sum("input_tokens"),
        sum("output_tokens"),
        sum("cache_read_tokens"),
        sum("cache_write_tokens"),
        Field::new("cost_usd", DataType::Float64, true),
        count("error_count"),
        Field::new("has_error", DataType::Boolean, true),
        Field::new("outcome", DataType::Utf8, false),
        Field::new(
            "models",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
        text("day"),
    ]))
}

/// Builders for the columns of [`traces_schema`].
#[derive(Default)]
struct TraceColumns {
    trace_id: StringBuilder,
    root_name: StringBuilder,
    service_name: StringBuilder,
    session_id: StringBuilder,
    agent_name: StringBuilder,
    user_id: StringBuilder,
    start_time: TimestampNanosecondBuilder,
    end_time: TimestampNanosecondBuilder,
    duration_ns: Int64Builder,
    span_count: Int64Builder,
    llm_calls: Int64Builder,
    tool_calls: Int64Builder,
    tokens: [Int64Builder; 4],
    cost_usd: Float64Builder,
    error_count: Int64Builder,
    has_error: BooleanBuilder,
    outcome: StringBuilder,
    models: ListBuilder<StringBuilder>,
    day: StringBuilder,
}

impl TraceColumns {
    fn push(&mut self, trace_id: &str, part: &TracePart, prices: &PriceTable) {
        self.trace_id.append_value(trace_id);
        self.root_name.append_option(part.root_name());
        self.service_name.append_option(part.service_name());
        self.session_id.append_option(part.session_id.as_deref());
        self.agent_name.append_option(part.agent_name.as_deref());
        self.user_id.append_option(part.user_id.as_deref());
        self.start_time.append_value(part.start_ns);
        self.end_time.append_value(part.end_ns);
        self.duration_ns.append_value(part.duration_ns());
        self.span_count.append_value(part.span_count);
        self.llm_calls.append_value(part.llm_calls);
        self.tool_calls.append_value(part.tool_calls);
        for (builder, tokens) in self.tokens.iter_mut().zip(part.tokens) {
            builder.append_option(tokens);
        }
        self.cost_usd.append_option(part.cost_usd(prices));
        self.error_count.append_value(part.error_count);
        self.has_error.append_value(part.error_count > 0);
        self.outcome.append_value(part.outcome());
        if part.models.is_empty() {
            self.models.append_null();
        } else {
            for model in &part.models {
                self.models.values().append_value(model);
            }
            self.models.append(true);
        }
        self.day.append_value(day_of(part.start_ns));
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let utc = |builder: &mut TimestampNanosecondBuilder| {
            Arc::new(builder.finish().with_timezone("UTC")) as ArrayRef
        };
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.trace_id.finish()),
            Arc::new(self.root_name.finish()),
            Arc::new(self.service_name.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.agent_name.finish()),
            Arc::new(self.user_id.finish()),
            utc(&mut self.start_time),
            utc(&mut self.end_time),
            Arc::new(self.duration_ns.finish()),
            Arc::new(self.span_count.finish()),
            Arc::new(self.llm_calls.finish()),
            Arc::new(self.tool_calls.finish()),
        ];
        for builder in &mut self.tokens {
            columns.push(Arc::new(builder.finish()));
        }
        columns.extend([
            Arc::new(self.cost_usd.finish()) as ArrayRef,
            Arc::new(self.error_count.finish()),
            Arc::new(self.has_error.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.models.finish()),
            Arc::new(self.day.finish()),
        ]);
        Ok(RecordBatch::try_new(traces_schema(), columns)?)
    }
}

/// The selected traces of the project as one batch.
fn traces_batch(
    data_dir: &DataDir,
    project_id: &str,
    selection: &TraceSelection,
) -> Result<RecordBatch> {
    let prices = PriceTable::load_cached(data_dir.root())?;
    let mut columns = TraceColumns::default();
    for_each_trace(data_dir, project_id, selection, |trace_id, part| {
        columns.push(trace_id, part, &prices);
    })?;
    columns.finish()
}

fn narrow_first(first: &mut Option<String>, day: String) {
    if first.as_ref().is_none_or(|first| day > *first) {
        *first = Some(day);
    }
}

fn narrow_last(last: &mut Option<String>, day: String) {
    if last.as_ref().is_none_or(|last| day < *last) {
        *last = Some(day);
    }
}

/// Narrows `selection` by one filter the scan can use; false when it cannot.
fn narrow(selection: &mut TraceSelection, filter: &Expr) -> bool {
    if let Expr::InList(InList {
        expr,
        list,
        negated: false,
    }) = filter
        && let Expr::Column(column) = expr.as_ref()
        && column.name() == "trace_id"
    {
        let ids: Option<BTreeSet<String>> = list
            .iter()
            .map(|item| match item {
                Expr::Literal(value, _) => literal_text(value).map(str::to_owned),
                _ => None,
            })
            .collect();
        let Some(ids) = ids else { return false };
        intersect(selection, ids);
        return true;
    }
    let Some((column, op, value)) = column_against_literal(filter) else {
        return false;
    };
    match (column.name(), op) {
        ("trace_id", Operator::Eq) => match literal_text(value) {
            Some(id) => {
                intersect(selection, BTreeSet::from([id.to_owned()]));
                true
            }
            None => false,
        },
        ("start_time", Operator::Gt | Operator::GtEq) => match timestamp_ns(value) {
            Some(ns) => {
                narrow_first(&mut selection.first_day, day_of(ns));
                true
            }
            None => false,
        },
        ("start_time", Operator::Lt | Operator::LtEq) => match timestamp_ns(value) {
            Some(ns) => {
                narrow_last(&mut selection.last_day, day_of(ns));
                true
            }
            None => false,
        },
        ("day", Operator::Eq | Operator::Gt | Operator::GtEq | Operator::Lt | Operator::LtEq) => {
            let Some(day) = literal_text(value) else {
                return false;
            };
            if matches!(op, Operator::Eq | Operator::Gt | Operator::GtEq) {
                narrow_first(&mut selection.first_day, day.to_owned());
            }
            if matches!(op, Operator::Eq | Operator::Lt | Operator::LtEq) {
                narrow_last(&mut selection.last_day, day.to_owned());
            }
            true
        }
        _ => false,
    }
}

fn intersect(selection: &mut TraceSelection, ids: BTreeSet<String>) {
    selection.trace_ids = Some(match selection.trace_ids.take() {
        Some(known) => known.intersection(&ids).cloned().collect(),
        None => ids,
    });
}

/// What the scan can narrow by: ids (`trace_id = …`, `trace_id IN (…)`) and the days a
/// trace starts on (`start_time` or `day` against a constant). DataFusion applies every
/// filter again on the rows (Inexact), so narrowing only needs to keep what they keep.
fn selection_of(filters: &[Expr]) -> TraceSelection {
    let mut selection = TraceSelection::default();
    for filter in filters {
        narrow(&mut selection, filter);
    }
    selection
}

/// The `traces` table of one project's session.
#[derive(Debug)]
pub struct TracesTable {
    data_dir: DataDir,
    project_id: String,
}

impl TracesTable {
    pub fn new(data_dir: DataDir, project_id: &str) -> TracesTable {
        TracesTable {
            data_dir,
            project_id: project_id.to_owned(),
        }
    }
}

#[async_trait]
impl TableProvider for TracesTable {
    fn schema(&self) -> SchemaRef {
        traces_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|filter| {
                if narrow(&mut TraceSelection::default(), filter) {
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
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let data_dir = self.data_dir.clone();
        let project_id = self.project_id.clone();
        let selection = selection_of(filters);
        let batch =
            tokio::task::spawn_blocking(move || traces_batch(&data_dir, &project_id, &selection))
                .await
                .map_err(|error| DataFusionError::External(Box::new(error)))?
                .map_err(|error| DataFusionError::External(Box::new(error)))?;
        let exec =
            MemorySourceConfig::try_new_exec(&[vec![batch]], traces_schema(), projection.cloned())?;
        Ok(exec)
    }
}
