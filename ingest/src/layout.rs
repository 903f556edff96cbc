//! Where things live in the data directory.
//!
//! ```text
//! <data-dir>/
//!   wal/<segment:020>.wal                                  write-ahead log segments
//!   checkpoint.json                                        last WAL segment fully flushed
//!   maintenance.lock                                       held by the one process compacting
//!   spans/project=<p>/day=<YYYY-MM-DD>/part-<flush:020>.parquet
//!   spans/project=<p>/day=<YYYY-MM-DD>/part-<first:020>-<last:020>.parquet   compacted
//!   logs/project=<p>/day=<YYYY-MM-DD>/part-<flush:020>.parquet
//!   metrics/project=<p>/day=<YYYY-MM-DD>/part-<flush:020>.parquet
//!   index/project=<p>/day=<YYYY-MM-DD>/                    one tantivy index per partition: spans and logs
//! ```
//!
//! A compacted file holds the rows of every flush file `first..=last` of its partition, in
//! flush order, and supersedes them: readers list only live files ([`live_ranges`]), and the
//! superseded ones are deleted once no reader can still be using them. A partition dir
//! holding [`DROPPED_MARKER`] has been dropped by retention: readers skip it.
//!
//! The Parquet tree uses Hive-style `key=value` folders so DuckDB or Spark can read
//! it directly (`read_parquet('spans/**/*.parquet', hive_partitioning = true)`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::table::Table;

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

/// Checks that a project id is safe to use as a path component and a SQL literal, and
/// names one folder on every file system: lowercase only, since on a case-insensitive one
/// `Acme` and `acme` would share their data.
pub fn is_valid_project_id(project_id: &str) -> bool {
    !project_id.is_empty()
        && project_id.len() <= 64
        && project_id.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
        })
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
            partitions.extend(project_partitions_in(&project_entry, &project_id)?);
        }
        Ok(partitions)
    }

    /// The partitions of one project that have files of `table`, sorted by day.
    pub fn project_partitions(
        &self,
        table: Table,
        project_id: &str,
    ) -> io::Result<Vec<PartitionKey>> {
        project_partitions_in(&self.project_table_dir(table, project_id), project_id)
    }

    /// The Parquet files of one partition of `table` that readers use, oldest first: every
    /// file not superseded by a compacted one; none once retention dropped the partition.
    pub fn live_files(
        &self,
        table: Table,
        key: &PartitionKey,
    ) -> io::Result<Vec<(FlushRange, PathBuf)>> {
        let dir = self.table_partition_dir(table, key);
        if dir.join(DROPPED_MARKER).exists() {
            return Ok(Vec::new());
        }
        let files = self.partition_file_ranges(table, key)?;
        let ranges: Vec<FlushRange> = files.iter().map(|(range, _)| *range).collect();
        Ok(files
            .into_iter()
            .zip(live_ranges(&ranges))
            .filter_map(|(file, live)| live.then_some(file))
            .collect())
    }

    /// Every Parquet file of one partition of `table`, live or superseded, oldest first.
    pub fn partition_file_ranges(
        &self,
        table: Table,
        key: &PartitionKey,
    ) -> io::Result<Vec<(FlushRange, PathBuf)>> {
        let mut files: Vec<(FlushRange, PathBuf)> =
            read_dir_sorted(&self.table_partition_dir(table, key))?
                .into_iter()
                .filter_map(|path| Some((parse_parquet_file_range(&path)?, path)))
                .collect();
        files.sort();
        Ok(files)
    }

    /// Whether retention has dropped the partition (its data is invisible, soon deleted).
    pub fn is_dropped(&self, key: &PartitionKey) -> bool {
        self.index_partition_dir(key).join(DROPPED_MARKER).exists()
    }

    /// Flush files (not compacted ones) of one partition of `table` with their flush ids,
    /// oldest first.
    pub fn partition_files(
        &self,
        table: Table,
        key: &PartitionKey,
    ) -> io::Result<Vec<(u64, PathBuf)>> {
        Ok(self
            .partition_file_ranges(table, key)?
            .into_iter()
            .filter(|(range, _)| range.first == range.last)
            .map(|(range, path)| (range.first, path))
            .collect())
    }
}

pub fn parquet_file_name(flush_id: u64) -> String {
    format!("part-{flush_id:020}.parquet")
}

/// Written into a partition's folders when retention drops it; readers then skip the folder.
pub const DROPPED_MARKER: &str = "dropped.marker";

/// The flushes whose rows a Parquet file holds: one for a flush's own file, a range for a
/// compacted file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlushRange {
    pub first: u64,
    pub last: u64,
}

impl FlushRange {
    pub fn single(flush_id: u64) -> FlushRange {
        FlushRange {
            first: flush_id,
            last: flush_id,
        }
    }

    pub fn contains(&self, flush_id: u64) -> bool {
        self.first <= flush_id && flush_id <= self.last
    }

    /// The file name: `part-<id>.parquet`, or `part-<first>-<last>.parquet` once compacted.
    pub fn file_name(&self) -> String {
        if self.first == self.last {
            parquet_file_name(self.first)
        } else {
            format!("part-{:020}-{:020}.parquet", self.first, self.last)
        }
    }
}

/// The flush range of a `part-….parquet` path; `None` for anything else (temp files).
pub fn parse_parquet_file_range(path: &Path) -> Option<FlushRange> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_prefix("part-")?.strip_suffix(".parquet")?;
    match stem.split_once('-') {
        None => Some(FlushRange::single(stem.parse().ok()?)),
        Some((first, last)) => {
            let range = FlushRange {
                first: first.parse().ok()?,
                last: last.parse().ok()?,
            };
            (range.first < range.last).then_some(range)
        }
    }
}

/// Which of a folder's files are live: `live[i]` is false when `ranges[i]` is covered by
/// another, larger range (its rows are in a compacted file).
pub fn live_ranges(ranges: &[FlushRange]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    // By first ascending, then last descending: a range is covered exactly when one
    // before it in this order reaches at least as far.
    order.sort_by_key(|&index| (ranges[index].first, std::cmp::Reverse(ranges[index].last)));
    let mut live = vec![true; ranges.len()];
    let mut reach: Option<u64> = None;
    for index in order {
        let range = ranges[index];
        if reach.is_some_and(|reach| reach >= range.last) {
            live[index] = false;
        }
        reach = Some(reach.map_or(range.last, |reach| reach.max(range.last)));
    }
    live
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

/// The `day=` folders of one project's folder of a table, as partition keys.
fn project_partitions_in(project_dir: &Path, project_id: &str) -> io::Result<Vec<PartitionKey>> {
    Ok(read_dir_sorted(project_dir)?
        .iter()
        .filter_map(|day_entry| strip_key(day_entry, "day="))
        .map(|day| PartitionKey {
            project_id: project_id.to_owned(),
            day,
        })
        .collect())
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
    fn compacted_names_round_trip_and_cover_their_inputs() {
        let compacted = FlushRange { first: 3, last: 9 };
        let name = compacted.file_name();
        assert_eq!(
            name,
            "part-00000000000000000003-00000000000000000009.parquet"
        );
        assert_eq!(parse_parquet_file_range(Path::new(&name)), Some(compacted));
        assert_eq!(parse_parquet_file_name(Path::new(&name)), None);
        assert_eq!(
            parse_parquet_file_range(Path::new(&parquet_file_name(4))),
            Some(FlushRange::single(4))
        );
        let ranges = [
            FlushRange::single(1),
            FlushRange::single(3),
            FlushRange::single(9),
            compacted,
            FlushRange::single(10),
            FlushRange { first: 1, last: 3 },
        ];
        assert_eq!(
            live_ranges(&ranges),
            [false, false, false, true, true, true]
        );
        let recompacted = [
            compacted,
            FlushRange { first: 1, last: 10 },
            FlushRange::single(11),
        ];
        assert_eq!(live_ranges(&recompacted), [false, true, true]);
    }

    #[test]
    fn project_ids_are_path_safe() {
        assert!(is_valid_project_id("default"));
        assert!(is_valid_project_id("team-a_2"));
        assert!(!is_valid_project_id("../etc"));
        assert!(!is_valid_project_id(""));
        assert!(!is_valid_project_id("Acme"), "lowercase only");
        assert!(!is_valid_project_id("a'b"));
    }
}
