//! Where things live in the data directory.
//!
//! ```text
//! <data-dir>/
//!   wal/<segment:020>.wal                                  write-ahead log segments
//!   checkpoint.json                                        last WAL segment fully flushed
//!   spans/project=<p>/day=<YYYY-MM-DD>/part-<flush:020>.parquet
//!   logs/project=<p>/day=<YYYY-MM-DD>/part-<flush:020>.parquet
//!   metrics/project=<p>/day=<YYYY-MM-DD>/part-<flush:020>.parquet
//!   index/project=<p>/day=<YYYY-MM-DD>/                    one tantivy index per partition: spans and logs
//! ```
//!
//! The Parquet tree uses Hive-style `key=value` folders so DuckDB or Spark can read
//! it directly (`read_parquet('spans/**/*.parquet', hive_partitioning = true)`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::rows::Table;

/// The project every span goes to while Sextant runs in open local mode.
pub const DEFAULT_PROJECT: &str = "default";

/// A project/day partition: the unit of Parquet files, index and retention.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    pub project_id: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
}

impl PartitionKey {
    pub fn for_time(project_id: &str, time_ns: i64) -> PartitionKey {
        PartitionKey {
            project_id: project_id.to_string(),
            day: day_of(time_ns),
        }
    }
}

/// The UTC day (`YYYY-MM-DD`) of a nanosecond timestamp.
pub fn day_of(time_ns: i64) -> String {
    DateTime::<Utc>::from_timestamp_nanos(time_ns)
        .format("%Y-%m-%d")
        .to_string()
}

/// Checks that a project id is safe to use as a path component and a SQL literal.
pub fn is_valid_project_id(project_id: &str) -> bool {
    !project_id.is_empty()
        && project_id.len() <= 64
        && project_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// Paths inside one data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) a data directory.
    pub fn open(root: impl Into<PathBuf>) -> io::Result<DataDir> {
        let data_dir = DataDir { root: root.into() };
        fs::create_dir_all(data_dir.wal_dir())?;
        for table in Table::ALL {
            fs::create_dir_all(data_dir.root.join(table.name()))?;
        }
        fs::create_dir_all(data_dir.root.join("index"))?;
        Ok(data_dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn wal_dir(&self) -> PathBuf {
        self.root.join("wal")
    }

    pub fn checkpoint_path(&self) -> PathBuf {
        self.root.join("checkpoint.json")
    }

    /// The folder of one project's rows of `table`.
    pub fn project_table_dir(&self, table: Table, project_id: &str) -> PathBuf {
        self.root
            .join(table.name())
            .join(format!("project={project_id}"))
    }

    pub fn table_partition_dir(&self, table: Table, key: &PartitionKey) -> PathBuf {
        self.project_table_dir(table, &key.project_id)
            .join(format!("day={}", key.day))
    }

    pub fn index_partition_dir(&self, key: &PartitionKey) -> PathBuf {
        self.root
            .join("index")
            .join(format!("project={}", key.project_id))
            .join(format!("day={}", key.day))
    }

    /// The Parquet file a flush writes for one partition of `table`.
    pub fn parquet_file_path(&self, table: Table, key: &PartitionKey, flush_id: u64) -> PathBuf {
        self.table_partition_dir(table, key)
            .join(parquet_file_name(flush_id))
    }

    /// Every partition that has files of `table`, for all projects, sorted by project then day.
    pub fn partitions(&self, table: Table) -> io::Result<Vec<PartitionKey>> {
        let mut partitions = Vec::new();
        for project_entry in read_dir_sorted(&self.root.join(table.name()))? {
            let Some(project_id) = strip_key(&project_entry, "project=") else {
                continue;
            };
            for day_entry in read_dir_sorted(&project_entry)? {
                if let Some(day) = strip_key(&day_entry, "day=") {
                    partitions.push(PartitionKey {
                        project_id: project_id.clone(),
                        day,
                    });
                }
            }
        }
        Ok(partitions)
    }

    /// Parquet files of one partition of `table` with their flush ids, oldest first.
    pub fn partition_files(
        &self,
        table: Table,
        key: &PartitionKey,
    ) -> io::Result<Vec<(u64, PathBuf)>> {
        let mut files: Vec<(u64, PathBuf)> =
            read_dir_sorted(&self.table_partition_dir(table, key))?
                .into_iter()
                .filter_map(|path| Some((parse_parquet_file_name(&path)?, path)))
                .collect();
        files.sort();
        Ok(files)
    }
}

pub fn parquet_file_name(flush_id: u64) -> String {
    format!("part-{flush_id:020}.parquet")
}

/// The flush id of a `part-<id>.parquet` path; `None` for anything else (temp files).
pub fn parse_parquet_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("part-")?
        .strip_suffix(".parquet")?
        .parse()
        .ok()
}

fn strip_key(path: &Path, prefix: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix(prefix).map(str::to_string)
}

fn read_dir_sorted(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut paths = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<io::Result<Vec<_>>>()?;
    paths.sort();
    Ok(paths)
}

/// Makes a rename or file creation inside `dir` durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_is_utc_date_of_the_timestamp() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_763_769_600_000_000_000), "2025-11-22");
    }

    #[test]
    fn parquet_names_round_trip() {
        let name = parquet_file_name(42);
        assert_eq!(parse_parquet_file_name(Path::new(&name)), Some(42));
        assert_eq!(
            parse_parquet_file_name(Path::new("part-1.parquet.tmp")),
            None
        );
    }

    #[test]
    fn project_ids_are_path_safe() {
        assert!(is_valid_project_id("default"));
        assert!(is_valid_project_id("team-a_2"));
        assert!(!is_valid_project_id("../etc"));
        assert!(!is_valid_project_id(""));
        assert!(!is_valid_project_id("a'b"));
    }
}
