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
use crate::normalized_rows::NormalizedRows;
use crate::table::Table;
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
    let mut corrupt_records = 0;
    for &segment in &unflushed {
        let read = read_segment(&segment_path(&wal_dir, segment))?;
        corrupt_records += read.corrupt_records;
        for payload in read.records {
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
    if corrupt_records > 0 {
        tracing::error!(
            corrupt_records,
            "start-up replay skipped write-ahead log records that failed their checksum (disk corruption?)"
        );
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

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use tantivy::collector::Count;
    use tantivy::query::QueryParser;

    use super::*;
    use crate::index::{open_partition_index, span_index_schema};
    use crate::parquet_writer::write_table_temp;
    use crate::pipeline::{IngestPipeline, PipelineConfig};
    use crate::wal::WalWriter;
    use crate::wal_record::{ExportRequest, encode_record};

    fn log_export(body: &str) -> ExportRequest {
        let record = LogRecord {
            time_unix_nano: 1_763_778_070_953_000_000,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.into())),
            }),
            ..LogRecord::default()
        };
        ExportRequest::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        })
    }

    fn index_hits(data_dir: &DataDir, key: &PartitionKey, word: &str) -> usize {
        let index = open_partition_index(&data_dir.index_partition_dir(key)).expect("index");
        let (_, fields) = span_index_schema();
        let query = QueryParser::for_index(&index, vec![fields.body])
            .parse_query(word)
            .expect("query");
        let searcher = index.reader().expect("reader").searcher();
        searcher.search(&query, &Count).expect("count")
    }

    /// A flush killed after its index commit but before the checkpoint left log documents
    /// and Parquet rows behind: recovery undoes both, and the replay stores the record once.
    #[test]
    fn an_interrupted_flush_of_log_records_is_undone_and_replayed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = DataDir::open(dir.path()).expect("data dir");
        let export = log_export("wombat burrow collapsed");
        let rows = normalize_export("default", &export).expect("normalize");
        let key = rows
            .partition_keys()
            .into_iter()
            .next()
            .expect("a partition");

        let mut wal = WalWriter::create(&data_dir.wal_dir(), 1).expect("wal");
        wal.append(&encode_record("default", &export))
            .expect("append");
        wal.sync().expect("sync");
        drop(wal);
        // The interrupted flush of segment 1: files published, index committed, no checkpoint.
        let partitioned = rows.into_partitions();
        let partition_rows = &partitioned[&key];
        for table in Table::ALL {
            let path = data_dir.parquet_file_path(table, &key, 1);
            if let Some(staged) = write_table_temp(&path, table, partition_rows).expect("stage") {
                staged.publish().expect("publish");
            }
        }
        let mut index =
            PartitionIndexWriter::open(&data_dir.index_partition_dir(&key)).expect("index writer");
        index
            .add_log_file(1, &partition_rows.logs)
            .expect("add logs");
        index.commit().expect("commit");
        drop(index);
        assert_eq!(index_hits(&data_dir, &key, "wombat"), 1);

        let pipeline =
            IngestPipeline::open(data_dir.clone(), PipelineConfig::default()).expect("recover");
        pipeline.flush_and_wait().expect("flush");
        pipeline.shutdown();
        assert_eq!(index_hits(&data_dir, &key, "wombat"), 1, "indexed twice");
        let log_files = data_dir.partition_files(Table::Logs, &key).expect("files");
        assert_eq!(log_files.len(), 1, "{log_files:?}");
        assert_ne!(log_files[0].0, 1, "the interrupted flush's file was kept");
    }
}
