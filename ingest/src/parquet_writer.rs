//! Writes one partition's flushed rows of a table as a zstd-compressed, time-sorted Parquet file.
//!
//! Files are written to a temporary name and fsynced ([`write_parquet_temp`]), then
//! published by a rename ([`StagedParquetFile::publish`]), so a reader (or a crash) never
//! sees a half-written `part-*.parquet`. The flusher publishes only after the partition's
//! index commit, so a span visible to SQL is also visible to search.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;

use crate::error::Result;
use crate::layout::fsync_dir;
use crate::log_row::{logs_schema, logs_to_batch};
use crate::metric_row::{metrics_schema, metrics_to_batch};
use crate::normalized_rows::NormalizedRows;
use crate::schema::{spans_schema, spans_to_batch};
use crate::table::Table;

/// Rows per row group: large enough for good compression, small enough that a trace
/// lookup pruned by statistics reads little.
const ROW_GROUP_ROWS: usize = 64 * 1024;

fn heavy_compression() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(5).unwrap_or_default())
}

/// What every table's files share: zstd, row groups of [`ROW_GROUP_ROWS`], page statistics.
fn common_writer_properties() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
}

fn spans_writer_properties() -> WriterProperties {
    common_writer_properties()
        // Trace and session lookups are point queries: a bloom filter lets them skip row groups.
        .set_column_bloom_filter_enabled(ColumnPath::from("trace_id"), true)
        .set_column_bloom_filter_enabled(ColumnPath::from("session_id"), true)
        // Agent loops resend the conversation on every LLM call: larger pages and a higher
        // zstd level let the compressor see (and remove) the repetition between rows.
        .set_data_page_size_limit(8 * 1024 * 1024)
        .set_column_compression(ColumnPath::from("input"), heavy_compression())
        .set_column_compression(ColumnPath::from("output"), heavy_compression())
        // Big free-text columns gain nothing from dictionaries.
        .set_column_dictionary_enabled(ColumnPath::from("input"), false)
        .set_column_dictionary_enabled(ColumnPath::from("output"), false)
        .set_column_dictionary_enabled(ColumnPath::from("attributes"), false)
        .set_column_dictionary_enabled(ColumnPath::from("events"), false)
        .build()
}

fn logs_writer_properties() -> WriterProperties {
    common_writer_properties()
        .set_column_bloom_filter_enabled(ColumnPath::from("trace_id"), true)
        .set_column_bloom_filter_enabled(ColumnPath::from("session_id"), true)
        .set_column_dictionary_enabled(ColumnPath::from("attributes"), false)
        .build()
}

fn metrics_writer_properties() -> WriterProperties {
    common_writer_properties().build()
}

/// The writer settings of `table`'s files, for a writer of existing rows (compaction).
pub fn table_writer_properties(table: Table) -> WriterPropertiesBuilder {
    let properties = match table {
        Table::Spans => spans_writer_properties(),
        Table::Logs => logs_writer_properties(),
        Table::Metrics => metrics_writer_properties(),
    };
    properties.into_builder()
}

/// A fully written and fsynced Parquet file, not yet visible under its final name.
#[derive(Debug)]
pub struct StagedParquetFile {
    temp_path: PathBuf,
    final_path: PathBuf,
    pub bytes: u64,
}

impl StagedParquetFile {
    /// A file already written and fsynced at `temp_path`, to be published as `final_path`.
    pub(crate) fn new(temp_path: PathBuf, final_path: PathBuf, bytes: u64) -> StagedParquetFile {
        StagedParquetFile {
            temp_path,
            final_path,
            bytes,
        }
    }

    /// Renames the file into place and makes the rename durable.
    pub fn publish(self) -> Result<()> {
        fs::rename(&self.temp_path, &self.final_path)?;
        if let Some(dir) = self.final_path.parent() {
            fsync_dir(dir)?;
        }
        Ok(())
    }
}

/// Writes the rows of `table` (already sorted by time) next to `path`, durably, unpublished.
/// `None` when `rows` holds none of that table.
pub fn write_table_temp(
    path: &Path,
    table: Table,
    rows: &NormalizedRows,
) -> Result<Option<StagedParquetFile>> {
    let staged = match table {
        Table::Spans if !rows.spans.is_empty() => write_parquet_temp(
            path,
            &rows.spans,
            spans_schema(),
            spans_to_batch,
            spans_writer_properties(),
        )?,
        Table::Logs if !rows.logs.is_empty() => write_parquet_temp(
            path,
            &rows.logs,
            logs_schema(),
            logs_to_batch,
            logs_writer_properties(),
        )?,
        Table::Metrics if !rows.metrics.is_empty() => write_parquet_temp(
            path,
            &rows.metrics,
            metrics_schema(),
            metrics_to_batch,
            metrics_writer_properties(),
        )?,
        _ => return Ok(None),
    };
    Ok(Some(staged))
}

fn write_parquet_temp<R>(
    path: &Path,
    rows: &[R],
    schema: SchemaRef,
    to_batch: fn(&[R]) -> std::result::Result<RecordBatch, ArrowError>,
    properties: WriterProperties,
) -> Result<StagedParquetFile> {
    let dir = path
        .parent()
        .ok_or_else(|| crate::error::IngestError::Internal("parquet path has no parent".into()))?;
    fs::create_dir_all(dir)?;
    let temp_path = path.with_extension("parquet.tmp");
    let file = File::create(&temp_path)?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(properties))?;
    for chunk in rows.chunks(ROW_GROUP_ROWS) {
        writer.write(&to_batch(chunk)?)?;
    }
    let file = writer.into_inner()?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    Ok(StagedParquetFile {
        temp_path,
        final_path: path.to_path_buf(),
        bytes,
    })
}
