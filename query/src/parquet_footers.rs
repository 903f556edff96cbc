//! Parquet footers (with their page indexes) parsed once per file version, kept across reads.
//!
//! A search reads a handful of rows from each of several files; parsing a large compacted
//! file's footer costs more than reading the rows. The offset index lets a row selection
//! read only the pages holding the rows.

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;

use crate::error::Result;
use crate::file_cache::{FileCache, file_version};

/// Past this many footers the cache starts over.
const MAX_FOOTERS: usize = 4096;

fn footers() -> &'static FileCache<ArrowReaderMetadata> {
    static FOOTERS: OnceLock<FileCache<ArrowReaderMetadata>> = OnceLock::new();
    FOOTERS.get_or_init(|| FileCache::new(MAX_FOOTERS))
}

/// A reader builder for the Parquet file at `path`, its footer parsed at most once per version.
pub fn reader_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path)?;
    let metadata = footers().get_or_derive(path, file_version(path)?, || {
        // The offset index (page locations) only: the column index's per-page min/max
        // would cost memory for nothing a row selection uses.
        let options = ArrowReaderOptions::new()
            .with_offset_index_policy(PageIndexPolicy::Optional)
            .with_column_index_policy(PageIndexPolicy::Skip);
        Ok(ArrowReaderMetadata::load(&file, options)?)
    })?;
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        file, metadata,
    ))
}
