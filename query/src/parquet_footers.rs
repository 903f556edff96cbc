//! Parquet footers (with their page indexes) parsed once per file, kept across reads.
//!
//! A search reads a handful of rows from each of several files; parsing a large compacted
//! file's footer costs more than reading the rows. Published files are immutable, but a
//! retried flush may write the same path again, so a footer is keyed by path, length and
//! mtime. The page index lets a row selection read only the pages holding the rows.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;

use crate::error::Result;

/// Past this many footers the cache starts over.
const MAX_FOOTERS: usize = 4096;

type FileVersion = (u64, SystemTime);

fn footers() -> &'static Mutex<HashMap<PathBuf, (FileVersion, ArrowReaderMetadata)>> {
    static FOOTERS: OnceLock<Mutex<HashMap<PathBuf, (FileVersion, ArrowReaderMetadata)>>> =
        OnceLock::new();
    FOOTERS.get_or_init(Default::default)
}

/// A reader builder for the Parquet file at `path`, its footer parsed at most once per version.
pub fn reader_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path)?;
    let file_metadata = file.metadata()?;
    let version = (file_metadata.len(), file_metadata.modified()?);
    let cached = lock(footers())
        .get(path)
        .filter(|(cached_version, _)| *cached_version == version)
        .map(|(_, metadata)| metadata.clone());
    let metadata = match cached {
        Some(metadata) => metadata,
        None => {
            // The offset index (page locations) only: the column index's per-page min/max
            // would cost memory for nothing a row selection uses.
            let options = ArrowReaderOptions::new()
                .with_offset_index_policy(PageIndexPolicy::Optional)
                .with_column_index_policy(PageIndexPolicy::Skip);
            let metadata = ArrowReaderMetadata::load(&file, options)?;
            let mut footers = lock(footers());
            if footers.len() >= MAX_FOOTERS {
                footers.clear();
            }
            footers.insert(path.to_path_buf(), (version, metadata.clone()));
            metadata
        }
    };
    Ok(ParquetRecordBatchReaderBuilder::new_with_metadata(
        file, metadata,
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
