//! Finds the stored row a full-text hit points at, and reads selected rows of a Parquet file.
//!
//! An index document addresses its row as (flush id, row within that flush's file). The
//! flush's file may since have been merged into a compacted file, at an offset
//! ([`sextant_ingest::compaction`]); [`RowLocator`] answers with the live file and the row
//! in it, listing each partition's live files once per search.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use sextant_ingest::compaction::FlushRows;
use sextant_ingest::layout::{DataDir, FlushRange, PartitionKey};
use sextant_ingest::table::Table;

use crate::error::Result;
use crate::parquet_footers::reader_builder;

type LiveFiles = Vec<(FlushRange, PathBuf)>;

/// Where hits' rows are now, with what it learnt cached for the rest of one search.
pub struct RowLocator<'a> {
    data_dir: &'a DataDir,
    live_files: HashMap<(PartitionKey, Table), LiveFiles>,
    /// The flushes of each compacted file met so far (its footer is read once).
    compacted: HashMap<PathBuf, FlushRows>,
}

impl<'a> RowLocator<'a> {
    pub fn new(data_dir: &'a DataDir) -> RowLocator<'a> {
        RowLocator {
            data_dir,
            live_files: HashMap::new(),
            compacted: HashMap::new(),
        }
    }

    /// The live file holding row `row` of flush `flush` of `table` in partition `key`, and
    /// the row's position in it; `None` when no live file holds it (the index commits just
    /// before its Parquet file is published, so such a hit is simply not visible yet).
    pub fn locate(
        &mut self,
        key: &PartitionKey,
        table: Table,
        flush: u64,
        row: u64,
    ) -> Result<Option<(PathBuf, u64)>> {
        let files = match self.live_files.entry((key.clone(), table)) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(self.data_dir.live_files(table, key)?)
            }
        };
        let Some((range, path)) = files.iter().find(|(range, _)| range.contains(flush)) else {
            return Ok(None);
        };
        if range.first == range.last {
            return Ok(Some((path.clone(), row)));
        }
        let flushes = match self.compacted.entry(path.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let builder = reader_builder(path)?;
                entry.insert(FlushRows::of_file(*range, builder.metadata())?)
            }
        };
        Ok(flushes
            .offset_of(flush)
            .map(|offset| (path.clone(), offset + row)))
    }
}

/// Reads the given rows (ascending) of one Parquet file, the named columns only (names the
/// file lacks are left out). Rows past the end are skipped.
pub fn read_selected_rows(path: &Path, columns: &[&str], rows: &[u64]) -> Result<Vec<RecordBatch>> {
    let builder = reader_builder(path)?;
    let total_rows = builder.metadata().file_metadata().num_rows() as u64;
    let schema = builder.schema().clone();
    let wanted: Vec<usize> = columns
        .iter()
        .filter_map(|name| schema.index_of(name).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let mut selectors = Vec::new();
    let mut position = 0u64;
    for &row in rows.iter().filter(|&&row| row < total_rows) {
        if row > position {
            selectors.push(RowSelector::skip((row - position) as usize));
        }
        selectors.push(RowSelector::select(1));
        position = row + 1;
    }
    let reader = builder
        .with_projection(mask)
        .with_row_selection(RowSelection::from(selectors))
        .build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}
