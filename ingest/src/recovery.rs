//! Start-up recovery: replay the unflushed WAL, and undo any flush that never committed.
//!
//! A flush tags its Parquet files and index documents with its flush id (the WAL segment
//! sealed for it) and commits by writing the checkpoint. Anything tagged above the
//! checkpoint is from an interrupted flush. Its rows are exactly the WAL rows past the
//! checkpoint, so only the partitions those rows fall in can hold leftovers: their index
//! documents are deleted, then their files, and the rows come back from the WAL. Every
//! acknowledged span ends up stored exactly once.

use std::fs;

use crate::checkpoint::read_checkpoint;
use crate::error::Result;
use crate::index::PartitionIndexWriter;
use crate::layout::{DataDir, PartitionKey};
use crate::normalize::normalize_export;
use crate::rows::{NormalizedRows, Table};
use crate::wal::{list_segments, read_segment, segment_path};
use crate::wal_record::decode_record;

/// What start-up recovery hands to the pipeline.
pub struct Recovered {
    /// Rows from WAL segments past the checkpoint, in log order.
    pub rows: NormalizedRows,
    /// The number of the WAL segment to write next.
    pub next_segment: u64,
}

pub fn recover(data_dir: &DataDir) -> Result<Recovered> {
    let checkpoint = read_checkpoint(data_dir)?.flushed_through_segment;
    let wal_dir = data_dir.wal_dir();
    let segments = list_segments(&wal_dir)?;
    let unflushed: Vec<u64> = segments
        .iter()
        .copied()
        .filter(|&segment| segment > checkpoint)
        .collect();

    let mut rows = NormalizedRows::default();
    for &segment in &unflushed {
        for payload in read_segment(&segment_path(&wal_dir, segment))? {
            let record = match decode_record(&payload) {
                Ok(record) => record,
                Err(error) => {
                    tracing::error!(%error, segment, "skipping undecodable wal record");
                    continue;
                }
            };
            match normalize_export(&record.project_id, &record.request) {
                Ok(normalized) => rows.append(normalized),
                Err(error) => {
                    tracing::error!(%error, segment, "skipping wal record the normalizer now rejects")
                }
            }
        }
    }
    for key in &rows.partition_keys() {
        undo_interrupted_flushes(data_dir, key, checkpoint, &unflushed)?;
    }
    let last_segment = segments.last().copied().unwrap_or(0).max(checkpoint);
    Ok(Recovered {
        rows,
        next_segment: last_segment + 1,
    })
}

/// Removes index documents, then Parquet files of every table, of flushes above the checkpoint.
fn undo_interrupted_flushes(
    data_dir: &DataDir,
    key: &PartitionKey,
    checkpoint: u64,
    unflushed: &[u64],
) -> Result<()> {
    let index_dir = data_dir.index_partition_dir(key);
    if index_dir.join("meta.json").exists() {
        let mut index = PartitionIndexWriter::open(&index_dir)?;
        for &flush_id in unflushed {
            index.delete_file(flush_id);
        }
        index.commit()?;
    }
    for table in Table::ALL {
        for (flush_id, path) in data_dir.partition_files(table, key)? {
            if flush_id > checkpoint {
                tracing::warn!(flush_id, path = %path.display(), "removing parquet file of an interrupted flush");
                fs::remove_file(path)?;
            }
        }
        let table_dir = data_dir.table_partition_dir(table, key);
        if table_dir.exists() {
            for entry in fs::read_dir(table_dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|extension| extension == "tmp") {
                    fs::remove_file(path)?;
                }
            }
        }
    }
    Ok(())
}
