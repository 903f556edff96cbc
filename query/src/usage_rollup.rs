//! `llm_usage`: model calls summed per hour and model, from per-file rollups kept across queries.
//!
//! Dashboards ask for cost and tokens per model per day over weeks of spans; scanning every
//! span for it costs ~150 ms per million spans on two cores. A published Parquet file never
//! changes, so its model calls are summed once per file version — per hour and model — and
//! the sums kept; a query lists the project's live files, sums their rollups and prices them
//! with the current price table, so fixing a price still reprices history.
//!
//! The figures are those of the `spans` view, exactly: `model` is `COALESCE(response_model,
//! request_model)`; tokens are summed as stored (NULL as 0); `cost_usd` adds the costs agents
//! sent to the price of the calls without one. Pricing is linear for one price, and a price is
//! fixed per (model, day), so the calls of an hour are priced from token sums taken after the
//! per-call rules of `model_cost` (cached tokens out of inclusive input counts, negatives as
//! zero). A file is read when first asked for, so the first query after a restart (or on new
//! files) pays for those files once.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Array, RecordBatch, StringBuilder,
    TimestampNanosecondArray, new_null_array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampNanosecondType,
};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use parquet::arrow::ProjectionMask;
use sextant_ingest::layout::DataDir;
use sextant_ingest::table::Table;

use crate::error::Result;
use crate::file_cache::{FileCache, file_version};
use crate::parquet_footers::reader_builder;
use crate::prices::{PriceTable, PricedTokens, TokenUsage, priced_tokens};
use crate::views::CLAUDE_CODE_SCOPE_PREFIX;

const NANOS_PER_HOUR: i64 = 3_600 * 1_000_000_000;

/// Past this many files the cache of rollups starts over.
const MAX_CACHED_FILES: usize = 65_536;

/// The columns a rollup reads.
const ROLLUP_COLUMNS: &[&str] = &[
    "start_time",
    "span_type",
    "request_model",
    "response_model",
    "status_code",
    "scope_name",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
];

/// The sums of one hour's calls of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct UsageSums {
    calls: i64,
    errors: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    /// The cost agents sent, and how many calls sent one.
    sent_cost: f64,
    sent_calls: i64,
    /// Calls without a sent cost that the price table can price (a model and some tokens),
    /// and their tokens as priced.
    priceable_calls: i64,
    priceable_tokens: PricedTokens,
}

impl UsageSums {
    fn add(&mut self, other: &UsageSums) {
        self.calls += other.calls;
        self.errors += other.errors;
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.sent_cost += other.sent_cost;
        self.sent_calls += other.sent_calls;
        self.priceable_calls += other.priceable_calls;
        self.priceable_tokens.add(&other.priceable_tokens);
    }
}

/// A file's (or a project's) calls per model, then per hour start (ns). A call without a
/// model is under `None`.
type Rollup = HashMap<Option<String>, HashMap<i64, UsageSums>>;

fn merge(into: &mut Rollup, from: &Rollup) {
    for (model, hours) in from {
        let into_hours = into.entry(model.clone()).or_default();
        for (hour, sums) in hours {
            into_hours.entry(*hour).or_default().add(sums);
        }
    }
}

fn cached_rollups() -> &'static FileCache<Arc<Rollup>> {
    static ROLLUPS: OnceLock<FileCache<Arc<Rollup>>> = OnceLock::new();
    ROLLUPS.get_or_init(|| FileCache::new(MAX_CACHED_FILES))
}

/// The rollup of one spans file, computed once per version of the file.
fn file_rollup(path: &Path) -> Result<Arc<Rollup>> {
    cached_rollups().get_or_derive(path, file_version(path)?, || {
        Ok(Arc::new(read_rollup(path)?))
    })
}

/// Reads the rollup columns of a spans file and sums its model calls.
fn read_rollup(path: &Path) -> Result<Rollup> {
    let builder = reader_builder(path)?;
    let schema = builder.schema().clone();
    let wanted: Vec<usize> = ROLLUP_COLUMNS
        .iter()
        .filter_map(|column| schema.index_of(column).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let mut rollup = Rollup::new();
    for batch in builder.with_projection(mask).build()? {
        add_batch(&mut rollup, &batch?)?;
    }
    Ok(rollup)
}

/// A column of `batch` cast to `data_type`; all nulls where the file lacks it.
pub(crate) fn column_as(batch: &RecordBatch, name: &str, data_type: &DataType) -> Result<ArrayRef> {
    Ok(match batch.column_by_name(name) {
        Some(column) => cast(column, data_type)?,
        None => new_null_array(data_type, batch.num_rows()),
    })
}

/// One batch's calls per (model, hour): a batch covers minutes to an hour of a few models, so
/// a short list beats hashing (and allocating) a key per row.
type BatchGroups<'batch> = Vec<(Option<&'batch str>, i64, UsageSums)>;

fn add_batch(rollup: &mut Rollup, batch: &RecordBatch) -> Result<()> {
    let timestamp = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let start_time = column_as(batch, "start_time", &timestamp)?;
    let start_time = start_time.as_primitive::<TimestampNanosecondType>();
    let text = |name: &str| column_as(batch, name, &DataType::Utf8);
    let (span_type, request_model, response_model, status_code, scope_name) = (
        text("span_type")?,
        text("request_model")?,
        text("response_model")?,
        text("status_code")?,
        text("scope_name")?,
    );
    let span_type = span_type.as_string::<i32>();
    let models = [
        response_model.as_string::<i32>(),
        request_model.as_string::<i32>(),
    ];
    let status_code = status_code.as_string::<i32>();
    let scope_name = scope_name.as_string::<i32>();
    let counts = [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    ]
    .map(|name| column_as(batch, name, &DataType::Int64));
    let mut count_arrays = Vec::with_capacity(counts.len());
    for array in counts {
        count_arrays.push(array?);
    }
    let counts: Vec<&Int64Array> = count_arrays
        .iter()
        .map(|array| array.as_primitive::<Int64Type>())
        .collect();
    let cost = column_as(batch, "cost_usd", &DataType::Float64)?;
    let cost = cost.as_primitive::<Float64Type>();

    let mut groups: BatchGroups = Vec::new();
    for row in 0..batch.num_rows() {
        if span_type.is_null(row) || span_type.value(row) != "llm" || start_time.is_null(row) {
            continue;
        }
        let model = models
            .iter()
            .find(|array| !array.is_null(row))
            .map(|array| array.value(row));
        let hour = start_time.value(row).div_euclid(NANOS_PER_HOUR) * NANOS_PER_HOUR;
        let position = match groups
            .iter()
            .position(|(group_model, group_hour, _)| *group_model == model && *group_hour == hour)
        {
            Some(position) => position,
            None => {
                groups.push((model, hour, UsageSums::default()));
                groups.len() - 1
            }
        };
        let sums = &mut groups[position].2;
        let tokens = [0, 1, 2, 3].map(|index| {
            let array = counts[index];
            (!array.is_null(row)).then(|| array.value(row))
        });
        sums.calls += 1;
        if !status_code.is_null(row) && status_code.value(row) == "error" {
            sums.errors += 1;
        }
        sums.input_tokens += tokens[0].unwrap_or(0);
        sums.output_tokens += tokens[1].unwrap_or(0);
        sums.cache_read_tokens += tokens[2].unwrap_or(0);
        sums.cache_write_tokens += tokens[3].unwrap_or(0);
        if !cost.is_null(row) {
            sums.sent_cost += cost.value(row);
            sums.sent_calls += 1;
        } else if model.is_some() {
            let scope = if scope_name.is_null(row) {
                ""
            } else {
                scope_name.value(row)
            };
            let includes_cache = !scope.starts_with(CLAUDE_CODE_SCOPE_PREFIX);
            if let Some(usage) = TokenUsage::from_counts(tokens, includes_cache) {
                sums.priceable_calls += 1;
                sums.priceable_tokens.add(&priced_tokens(usage));
            }
        }
    }
    for (model, hour, sums) in groups {
        rollup
            .entry(model.map(str::to_owned))
            .or_default()
            .entry(hour)
            .or_default()
            .add(&sums);
    }
    Ok(())
}

/// The `llm_usage` table's columns.
pub fn llm_usage_schema() -> SchemaRef {
    let count = |name: &str| Field::new(name, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        Field::new(
            "hour",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("day", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, true),
        count("calls"),
        count("errors"),
        count("input_tokens"),
        count("output_tokens"),
        count("cache_read_tokens"),
        count("cache_write_tokens"),
        Field::new("cost_usd", DataType::Float64, true),
    ]))
}

/// The project's calls per hour and model, priced now.
fn usage_batch(data_dir: &DataDir, project_id: &str) -> Result<RecordBatch> {
    let mut project = Rollup::new();
    for key in data_dir.partitions(Table::Spans)? {
        if key.project_id != project_id || data_dir.is_dropped(&key) {
            continue;
        }
        for (_, path) in data_dir.live_files(Table::Spans, &key)? {
            merge(&mut project, &*file_rollup(&path)?);
        }
    }
    let prices = PriceTable::load_cached(data_dir.root())?;
    let mut rows: Vec<(i64, Option<&String>, &UsageSums)> = project
        .iter()
        .flat_map(|(model, hours)| {
            hours
                .iter()
                .map(move |(hour, sums)| (*hour, model.as_ref(), sums))
        })
        .collect();
    rows.sort_by(|left, right| (left.0, left.1).cmp(&(right.0, right.1)));

    let mut day = StringBuilder::new();
    let mut model = StringBuilder::new();
    let mut cost = Float64Builder::new();
    let mut hours = Vec::with_capacity(rows.len());
    let mut counts: [Vec<i64>; 6] = Default::default();
    for (hour, model_name, sums) in rows {
        hours.push(hour);
        day.append_value(
            chrono::DateTime::from_timestamp_nanos(hour)
                .format("%Y-%m-%d")
                .to_string(),
        );
        model.append_option(model_name);
        let values = [
            sums.calls,
            sums.errors,
            sums.input_tokens,
            sums.output_tokens,
            sums.cache_read_tokens,
            sums.cache_write_tokens,
        ];
        for (column, value) in counts.iter_mut().zip(values) {
            column.push(value);
        }
        let priced = model_name
            .filter(|_| sums.priceable_calls > 0)
            .and_then(|name| prices.price_for(name, hour))
            .map(|price| sums.priceable_tokens.cost(price));
        cost.append_option(match (sums.sent_calls > 0, priced) {
            (false, None) => None,
            (_, priced) => Some(sums.sent_cost + priced.unwrap_or(0.0)),
        });
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(hours).with_timezone("UTC")),
        Arc::new(day.finish()),
        Arc::new(model.finish()),
    ];
    columns.extend(
        counts
            .into_iter()
            .map(|values| Arc::new(Int64Array::from(values)) as ArrayRef),
    );
    columns.push(Arc::new(cost.finish()) as ArrayRef);
    Ok(RecordBatch::try_new(llm_usage_schema(), columns)?)
}

/// The `llm_usage` table of one project's session.
#[derive(Debug)]
pub struct LlmUsageTable {
    data_dir: DataDir,
    project_id: String,
}

impl LlmUsageTable {
    pub fn new(data_dir: DataDir, project_id: &str) -> LlmUsageTable {
        LlmUsageTable {
            data_dir,
            project_id: project_id.to_owned(),
        }
    }
}

#[async_trait]
impl TableProvider for LlmUsageTable {
    fn schema(&self) -> SchemaRef {
        llm_usage_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let data_dir = self.data_dir.clone();
        let project_id = self.project_id.clone();
        let batch = tokio::task::spawn_blocking(move || usage_batch(&data_dir, &project_id))
            .await
            .map_err(|error| DataFusionError::External(Box::new(error)))?
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            llm_usage_schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
