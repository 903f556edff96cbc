//! Builds the DataFusion context (`SessionContext`) a query runs in: it sees exactly one project.
//!
//! Isolation is by construction: the `spans`, `logs` and `metrics` tables are listings over
//! that project's folders only, so no predicate a user writes (or removes) can reach another
//! project.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::cache::cache_manager::{CacheManager, CacheManagerConfig};
use datafusion::execution::context::SessionContext;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use sextant_ingest::layout::{DataDir, is_valid_project_id};
use sextant_ingest::log_row::logs_schema;
use sextant_ingest::metric_row::metrics_schema;
use sextant_ingest::schema::spans_schema;
use sextant_ingest::table::Table;

use crate::agent_actions::udf::tool_actions_udf;
use crate::bounded_functions::{MAX_BATCH_VALUE_BYTES, register_bounded_functions};
use crate::error::{QueryError, Result};
use crate::live_files_store::live_files_store;
use crate::prices::{PriceTable, model_cost_udf};
use crate::search_table::SearchFunction;
use crate::trace_days::ProjectScope;
use crate::traces_table::TracesTable;
use crate::usage_rollup::LlmUsageTable;
use crate::views::register_views;

/// Memory one query's buffering operators (sorts, joins, aggregates) may use.
pub const QUERY_MEMORY_LIMIT_BYTES: usize = 1024 * 1024 * 1024;

/// Disk one query may spill to when it is past its memory (DataFusion's default is 100 GB,
/// which would fill the disk the write-ahead log and Parquet files need).
pub const QUERY_SPILL_LIMIT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// A session whose tables and views (`spans`, `logs`, `metrics`, `traces`, `sessions`,
/// `prices`; `stored_spans`, `stored_logs` as written) hold `project_id`'s rows, each table
/// with a `day` partition column, and whose `search('<query>')` table function searches
/// that project's index.
pub async fn project_context(data_dir: &DataDir, project_id: &str) -> Result<SessionContext> {
    if !is_valid_project_id(project_id) {
        return Err(QueryError::InvalidQuery(format!(
            "invalid project id {project_id:?}"
        )));
    }
    let config = SessionConfig::new()
        .with_extension(Arc::new(ProjectScope {
            data_dir: data_dir.clone(),
            project_id: project_id.to_owned(),
        }))
        .with_information_schema(true)
        .with_target_partitions(2)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true);
    // Queries past this much memory spill or fail with "resources exhausted", never OOM the
    // server. The pool counts what operators buffer; function results and constants copied
    // into rows are bounded by `bounded_functions` and `constant_copies` (see `sql.rs`).
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(QUERY_MEMORY_LIMIT_BYTES, 1.0)
        .with_max_temp_directory_size(QUERY_SPILL_LIMIT_BYTES)
        .with_cache_manager(shared_file_caches()?)
        .build_arc()?;
    // Parquet is read through a store that lists only live files (none superseded by
    // compaction, none of a partition dropped by retention).
    runtime.register_object_store(
        ObjectStoreUrl::local_filesystem().as_ref(),
        live_files_store(),
    );
    let context = SessionContext::new_with_config_rt(config, runtime);
    register_bounded_functions(&context, MAX_BATCH_VALUE_BYTES);

    for table in Table::ALL {
        register_table(&context, data_dir, table, project_id)?;
    }
    let prices = PriceTable::load_cached(data_dir.root())?;
    context.register_batch("prices", prices.to_batch()?)?;
    context.register_udf(model_cost_udf(prices));
    context.register_udf(tool_actions_udf());
    context.register_table(
        "llm_usage",
        Arc::new(LlmUsageTable::new(data_dir.clone(), project_id)),
    )?;
    context.register_table(
        "traces",
        Arc::new(TracesTable::new(data_dir.clone(), project_id)),
    )?;
    context.register_udtf(
        "search",
        Arc::new(SearchFunction::new(data_dir.clone(), project_id)),
    );
    register_views(&context).await?;
    Ok(context)
}

/// Memory for the Parquet footers (and page indexes) kept across sessions.
const FOOTER_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Parquet footers and file statistics shared by every session of the process, so a query
/// does not parse every file's footer again. An entry is used only while the file's size
/// and mtime match (a file is immutable once published; a retried flush rewrites it whole).
/// The file listing itself is not cached: flushes, compaction and retention change it.
fn shared_file_caches() -> Result<CacheManagerConfig> {
    static SHARED: OnceLock<Arc<CacheManager>> = OnceLock::new();
    let shared = match SHARED.get() {
        Some(shared) => shared,
        None => {
            let config = CacheManagerConfig::default()
                .with_metadata_cache_limit(FOOTER_CACHE_BYTES)
                .with_list_files_cache_limit(0);
            let manager = CacheManager::try_new(&config)?;
            SHARED.get_or_init(|| manager)
        }
    };
    Ok(CacheManagerConfig::default()
        .with_metadata_cache_limit(FOOTER_CACHE_BYTES)
        .with_file_metadata_cache(Some(shared.get_file_metadata_cache()))
        .with_file_statistics_cache(shared.get_file_statistic_cache())
        .with_list_files_cache_limit(0))
}

fn table_schema(table: Table) -> SchemaRef {
    match table {
        Table::Spans => spans_schema(),
        Table::Logs => logs_schema(),
        Table::Metrics => metrics_schema(),
    }
}

fn register_table(
    context: &SessionContext,
    data_dir: &DataDir,
    table: Table,
    project_id: &str,
) -> Result<()> {
    let project_dir = data_dir.project_table_dir(table, project_id);
    std::fs::create_dir_all(&project_dir)?;
    let table_path = ListingTableUrl::parse(format!("{}/", project_dir.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("day".to_string(), DataType::Utf8)]);
    let table_config = ListingTableConfig::new(table_path)
        .with_listing_options(options)
        .with_schema(table_schema(table));
    let listing = ListingTable::try_new(table_config)?;
    // Spans and logs are read through views that add the query-time cost.
    let name = match table {
        Table::Spans => "stored_spans",
        Table::Logs => "stored_logs",
        Table::Metrics => "metrics",
    };
    context.register_table(name, Arc::new(listing))?;
    Ok(())
}
