//! Builds the DataFusion session a query runs in: it sees exactly one project.
//!
//! Isolation is by construction: the `spans` table is a listing over that project's
//! folder only, so no predicate a user writes (or removes) can reach another project.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionContext;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use sextant_ingest::layout::{DataDir, is_valid_project_id};
use sextant_ingest::schema::spans_schema;

use crate::error::{QueryError, Result};

/// Memory one query may use.
pub const QUERY_MEMORY_LIMIT_BYTES: usize = 1024 * 1024 * 1024;

/// A session whose `spans` table holds `project_id`'s spans (plus a `day` partition column).
pub fn project_session(data_dir: &DataDir, project_id: &str) -> Result<SessionContext> {
    if !is_valid_project_id(project_id) {
        return Err(QueryError::InvalidQuery(format!(
            "invalid project id {project_id:?}"
        )));
    }
    let config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(2)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true);
    // Queries past this much memory spill or fail with "resources exhausted", never OOM the server.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(QUERY_MEMORY_LIMIT_BYTES, 1.0)
        .build_arc()?;
    let context = SessionContext::new_with_config_rt(config, runtime);

    let project_dir = data_dir.project_spans_dir(project_id);
    std::fs::create_dir_all(&project_dir)?;
    let table_path = ListingTableUrl::parse(format!("{}/", project_dir.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("day".to_string(), DataType::Utf8)]);
    let table_config = ListingTableConfig::new(table_path)
        .with_listing_options(options)
        .with_schema(spans_schema());
    let table = ListingTable::try_new(table_config)?;
    context.register_table("spans", Arc::new(table))?;
    Ok(context)
}
