//! Retention: a project keeps its last N days; older partitions are dropped whole.
//!
//! Dropping is two-phase, so no query loses a file it already listed: first every folder of
//! the partition (each table's and the index's) gets a [`DROPPED_MARKER`], from which moment
//! readers skip it; the folders are deleted once the marker is older than the reader grace.
//! Rows that arrive later for a dropped day are dropped with it.

use std::fs;
use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Result;
use crate::layout::{DROPPED_MARKER, DataDir, PartitionKey, day_of, fsync_dir};
use crate::table::Table;

const DAY_NS: i64 = 86_400_000_000_000;

/// The first day a project keeping `days` days still has at `now`: partitions of earlier
/// days ended more than `days` days ago.
pub fn first_kept_day(days: u32, now: SystemTime) -> String {
    let now_ns = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as i64);
    day_of(now_ns - i64::from(days) * DAY_NS)
}

/// Every partition of the data dir (of any table), sorted.
pub fn all_partitions(data_dir: &DataDir) -> io::Result<Vec<PartitionKey>> {
    let mut keys = Vec::new();
    for table in Table::ALL {
        keys.extend(data_dir.partitions(table)?);
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn partition_dirs(data_dir: &DataDir, key: &PartitionKey) -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = Table::ALL
        .iter()
        .map(|table| data_dir.table_partition_dir(*table, key))
        .collect();
    dirs.push(data_dir.index_partition_dir(key));
    dirs
}

/// Marks `project_id`'s partitions older than `days` days as dropped; returns them.
pub fn mark_expired(
    data_dir: &DataDir,
    project_id: &str,
    days: u32,
    now: SystemTime,
) -> Result<Vec<PartitionKey>> {
    let first_kept = first_kept_day(days, now);
    let mut marked = Vec::new();
    for key in all_partitions(data_dir)? {
        if key.project_id != project_id || key.day >= first_kept || data_dir.is_dropped(&key) {
            continue;
        }
        // The index folder last: `is_dropped` reads it, so a partition counts as dropped
        // only once every folder carries the marker.
        for dir in partition_dirs(data_dir, &key) {
            fs::create_dir_all(&dir)?;
            fs::File::create(dir.join(DROPPED_MARKER))?.sync_all()?;
            fsync_dir(&dir)?;
        }
        marked.push(key);
    }
    Ok(marked)
}

/// Deletes the folders of partitions dropped at least `grace` ago; returns how many.
pub fn delete_dropped(data_dir: &DataDir, grace: Duration, now: SystemTime) -> Result<usize> {
    let mut deleted = 0;
    for key in all_partitions(data_dir)? {
        let marker = data_dir.index_partition_dir(&key).join(DROPPED_MARKER);
        let Ok(modified) = fs::metadata(&marker).and_then(|meta| meta.modified()) else {
            continue;
        };
        if now.duration_since(modified).unwrap_or_default() < grace {
            continue;
        }
        for dir in partition_dirs(data_dir, &key) {
            match fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error.into()),
            }
        }
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_kept_until_it_ended_more_than_the_retention_ago() {
        // 2025-11-22T10:00:00Z
        let now = UNIX_EPOCH + Duration::from_secs(1_763_805_600);
        assert_eq!(first_kept_day(0, now), "2025-11-22");
        assert_eq!(first_kept_day(7, now), "2025-11-15");
    }
}
