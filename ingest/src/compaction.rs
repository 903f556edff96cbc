//! Compaction: merges a partition's small Parquet files into one, in the background.
//!
//! The flusher writes one file per partition and table every second or so, and many small
//! files make every query slower (a footer to read, a file to open, statistics that prune
//! nothing). A compacted file holds its inputs' rows concatenated in flush order, so a row
//! keeps its place relative to its flush: its position in the compacted file is its
//! position in its flush file plus that flush's offset. The full-text index, whose
//! documents address (flush id, row), therefore stays valid untouched; the compacted file
//! records its flushes and their row counts under [`FLUSH_ROWS_KEY`] in its key-value
//! metadata ([`FlushRows`]), and search finds a flush's rows through it (the query crate's
//! `RowLocator`).
//!
//! Invariants:
//! - only files of flushes at or below the checkpoint are merged: later flush ids may still
//!   be written (or undone by recovery);
//! - the inputs are a run of consecutive live files, so the compacted range `first..=last`
//!   covers no file whose rows it does not hold;
//! - the output is written to a temporary name, fsynced and published by a rename; from then
//!   on readers list it instead of its inputs ([`crate::layout::live_ranges`]), and the
//!   inputs are deleted only after [`READER_GRACE`], when no query can still be reading them.
//!   A crash at any point leaves either the inputs or the output live, never both, never neither.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::{KeyValue, ParquetMetaData};

use crate::error::{IngestError, Result};
use crate::layout::{DataDir, FlushRange, PartitionKey, fsync_dir};
use crate::log_row::logs_schema;
use crate::metric_row::metrics_schema;
use crate::parquet_writer::{StagedParquetFile, table_writer_properties};
use crate::schema::spans_schema;
use crate::table::Table;

/// Key-value metadata key of a compacted file: its flushes and their row counts, in order.
pub const FLUSH_ROWS_KEY: &str = "sextant.flush_rows";

/// How long superseded files stay after a compaction: longer than any query may run
/// (the query layer cancels queries after 60 s, or `[query] time_limit_secs`, at most 120),
/// so no reader loses a file it listed.
pub const READER_GRACE: Duration = Duration::from_secs(180);

/// When a partition's files are merged.
#[derive(Debug, Clone, Copy)]
pub struct CompactionPolicy {
    /// Files at least this large are left alone.
    pub small_file_bytes: u64,
    /// A merge stops adding inputs past this many bytes.
    pub max_output_bytes: u64,
    /// Fewest small files worth a merge in a partition still being written (today's).
    pub min_files_open: usize,
    /// Fewest small files worth a merge in a partition of an earlier day.
    pub min_files_closed: usize,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        CompactionPolicy {
            small_file_bytes: 64 * 1024 * 1024,
            max_output_bytes: 512 * 1024 * 1024,
            min_files_open: 8,
            min_files_closed: 2,
        }
    }
}

/// What one merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionOutcome {
    pub table: Table,
    pub key: PartitionKey,
    pub output: FlushRange,
    pub input_files: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// The flushes a file holds, in row order, with their row counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlushRows {
    pub flushes: Vec<(u64, u64)>,
}

impl FlushRows {
    /// The flushes of a file of `range`: from its metadata when compacted, else the one flush.
    pub fn of_file(range: FlushRange, metadata: &ParquetMetaData) -> Result<FlushRows> {
        let file_metadata = metadata.file_metadata();
        let rows = file_metadata.num_rows() as u64;
        if range.first == range.last {
            return Ok(FlushRows {
                flushes: vec![(range.first, rows)],
            });
        }
        let text = file_metadata
            .key_value_metadata()
            .and_then(|pairs| pairs.iter().find(|pair| pair.key == FLUSH_ROWS_KEY))
            .and_then(|pair| pair.value.as_deref())
            .ok_or_else(|| {
                IngestError::Internal(format!("compacted file {range:?} has no {FLUSH_ROWS_KEY}"))
            })?;
        let parsed = FlushRows::parse(text).ok_or_else(|| {
            IngestError::Internal(format!("compacted file {range:?}: bad {FLUSH_ROWS_KEY}"))
        })?;
        let total: u64 = parsed.flushes.iter().map(|(_, rows)| rows).sum();
        if total != rows {
            return Err(IngestError::Internal(format!(
                "compacted file {range:?} lists {total} rows but holds {rows}"
            )));
        }
        Ok(parsed)
    }

    /// `<flush>:<rows>,…`
    fn parse(text: &str) -> Option<FlushRows> {
        let flushes = text
            .split(',')
            .map(|pair| {
                let (flush, rows) = pair.split_once(':')?;
                Some((flush.parse().ok()?, rows.parse().ok()?))
            })
            .collect::<Option<Vec<(u64, u64)>>>()?;
        Some(FlushRows { flushes })
    }

    fn to_text(&self) -> String {
        self.flushes
            .iter()
            .map(|(flush, rows)| format!("{flush}:{rows}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The first row of `flush_id`'s rows, if the file holds them.
    pub fn offset_of(&self, flush_id: u64) -> Option<u64> {
        let mut offset = 0;
        for &(flush, rows) in &self.flushes {
            if flush == flush_id {
                return Some(offset);
            }
            offset += rows;
        }
        None
    }
}

fn table_schema(table: Table) -> datafusion::arrow::datatypes::SchemaRef {
    match table {
        Table::Spans => spans_schema(),
        Table::Logs => logs_schema(),
        Table::Metrics => metrics_schema(),
    }
}

/// The inputs of the next merge in one partition: the first run of consecutive small live
/// files, all flushed through `checkpoint`, long enough to be worth it.
fn pick_inputs(
    live_files: &[(FlushRange, PathBuf)],
    checkpoint: u64,
    policy: &CompactionPolicy,
    min_files: usize,
) -> Result<Vec<(FlushRange, PathBuf)>> {
    let mut run: Vec<(FlushRange, PathBuf)> = Vec::new();
    let mut run_bytes = 0;
    for (range, path) in live_files {
        if range.last > checkpoint {
            break;
        }
        let bytes = fs::metadata(path)?.len();
        if bytes >= policy.small_file_bytes {
            if run.len() >= min_files {
                break;
            }
            run.clear();
            run_bytes = 0;
            continue;
        }
        if run_bytes + bytes > policy.max_output_bytes && run.len() >= min_files {
            break;
        }
        run_bytes += bytes;
        run.push((*range, path.clone()));
    }
    if run.len() < min_files.max(2) {
        run.clear();
    }
    Ok(run)
}

/// Merges the next run of small files of one partition of `table`, if there is one.
/// `closed` says the partition's day is over (fewer files are then worth a merge).
pub fn compact_partition(
    data_dir: &DataDir,
    table: Table,
    key: &PartitionKey,
    checkpoint: u64,
    policy: &CompactionPolicy,
    closed: bool,
) -> Result<Option<CompactionOutcome>> {
    let live_files = data_dir.live_files(table, key)?;
    let min_files = if closed {
        policy.min_files_closed
    } else {
        policy.min_files_open
    };
    let inputs = pick_inputs(&live_files, checkpoint, policy, min_files)?;
    let (Some((first, _)), Some((last, _))) = (inputs.first(), inputs.last()) else {
        return Ok(None);
    };
    let output = FlushRange {
        first: first.first,
        last: last.last,
    };
    let final_path = data_dir
        .table_partition_dir(table, key)
        .join(output.file_name());
    let temp_path = final_path.with_extension("parquet.tmp");
    let schema = table_schema(table);

    let mut readers = Vec::with_capacity(inputs.len());
    let mut flush_rows = FlushRows::default();
    for (range, path) in &inputs {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
        if builder.schema().fields() != schema.fields() {
            // Written by an older version with other columns: leave such files as they are.
            tracing::warn!(file = %path.display(), "not compacting a file whose columns differ from this version's");
            return Ok(None);
        }
        flush_rows
            .flushes
            .extend(FlushRows::of_file(*range, builder.metadata())?.flushes);
        readers.push(builder.build()?);
    }
    let properties = table_writer_properties(table)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            FLUSH_ROWS_KEY.to_owned(),
            flush_rows.to_text(),
        )]))
        .build();
    let mut writer = ArrowWriter::try_new(File::create(&temp_path)?, schema, Some(properties))?;
    let mut rows = 0u64;
    for reader in readers {
        for batch in reader {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch)?;
        }
    }
    let file = writer.into_inner()?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    StagedParquetFile::new(temp_path, final_path, bytes).publish()?;
    Ok(Some(CompactionOutcome {
        table,
        key: key.clone(),
        output,
        input_files: inputs.len(),
        rows,
        bytes,
    }))
}

fn older_than(path: &Path, age: Duration, now: SystemTime) -> Result<bool> {
    let modified = fs::metadata(path)?.modified()?;
    Ok(now.duration_since(modified).unwrap_or_default() >= age)
}

/// Deletes the files of one partition of `table` superseded by a compacted file published
/// at least `grace` ago, and compaction temp files as old. Returns how many were deleted.
pub fn remove_superseded(
    data_dir: &DataDir,
    table: Table,
    key: &PartitionKey,
    grace: Duration,
    now: SystemTime,
) -> Result<usize> {
    let all_files = data_dir.partition_file_ranges(table, key)?;
    let live_files = data_dir.live_files(table, key)?;
    let mut removed = 0;
    for (range, path) in &all_files {
        let covering = live_files.iter().find(|(live, _)| {
            live != range && live.contains(range.first) && live.contains(range.last)
        });
        let Some((_, compacted_path)) = covering else {
            continue;
        };
        if older_than(compacted_path, grace, now)? {
            fs::remove_file(path)?;
            removed += 1;
        }
    }
    // A compaction interrupted by a crash leaves its temp file; the flusher's own temp files
    // (`part-<id>.parquet.tmp`) are recovery's business.
    let dir = data_dir.table_partition_dir(table, key);
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let compaction_temp = name.ends_with(".parquet.tmp")
                && name.trim_end_matches(".parquet.tmp").matches('-').count() == 2;
            if compaction_temp && older_than(&path, grace, now)? {
                fs::remove_file(&path)?;
                removed += 1;
            }
        }
    }
    if removed > 0 {
        fsync_dir(&dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_rows_round_trip_and_give_offsets() {
        let rows = FlushRows {
            flushes: vec![(3, 10), (4, 5), (9, 7)],
        };
        assert_eq!(FlushRows::parse(&rows.to_text()), Some(rows.clone()));
        assert_eq!(rows.offset_of(3), Some(0));
        assert_eq!(rows.offset_of(4), Some(10));
        assert_eq!(rows.offset_of(9), Some(15));
        assert_eq!(rows.offset_of(5), None);
        assert_eq!(FlushRows::parse("3:x"), None);
    }
}
