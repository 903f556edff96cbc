//! Writes one partition's flushed spans as a zstd-compressed, time-sorted Parquet file.
//!
//! Files are written to a temporary name and fsynced ([`write_parquet_temp`]), then
//! published by a rename ([`StagedParquetFile::publish`]), so a reader (or a crash) never
//! sees a half-written `part-*.parquet`. The flusher publishes only after the partition's
//! index commit, so a span visible to SQL is also visible to search.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::Result;
use crate::layout::fsync_dir;
use crate::schema::spans_to_batch;
use crate::span::CanonicalSpan;

/// Rows per row group: large enough for good compression, small enough that a trace
/// lookup pruned by statistics reads little.
const ROW_GROUP_ROWS: usize = 64 * 1024;

fn heavy_compression() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(5).unwrap_or_default())
}

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
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

/// A fully written and fsynced Parquet file, not yet visible under its final name.
#[derive(Debug)]
pub struct StagedParquetFile {
    temp_path: PathBuf,
    final_path: PathBuf,
    pub bytes: u64,
}

impl StagedParquetFile {
    /// Renames the file into place and makes the rename durable.
    pub fn publish(self) -> Result<()> {
        fs::rename(&self.temp_path, &self.final_path)?;
        if let Some(dir) = self.final_path.parent() {
            fsync_dir(dir)?;
        }
        Ok(())
    }
}

/// Writes `spans` (already sorted by start time) next to `path`, durably, unpublished.
pub fn write_parquet_temp(path: &Path, spans: &[CanonicalSpan]) -> Result<StagedParquetFile> {
    let dir = path
        .parent()
        .ok_or_else(|| crate::error::IngestError::Internal("parquet path has no parent".into()))?;
    fs::create_dir_all(dir)?;
    let temp_path = path.with_extension("parquet.tmp");
    let file = File::create(&temp_path)?;
    let mut writer = ArrowWriter::try_new(
        file,
        crate::schema::spans_schema(),
        Some(writer_properties()),
    )?;
    for chunk in spans.chunks(ROW_GROUP_ROWS) {
        writer.write(&spans_to_batch(chunk)?)?;
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
