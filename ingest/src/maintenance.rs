//! Background maintenance of a data dir: compaction, removal of superseded files, retention.
//!
//! [`run_pass`] does one round over every partition; [`MaintenanceTask`] runs it on a
//! timer on its own thread inside `sextant serve` (the work is blocking file IO), and
//! `sextant compact` runs one pass from the command line.

use std::fs::{File, TryLockError};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::checkpoint::read_checkpoint;
use crate::compaction::{
    CompactionOutcome, CompactionPolicy, READER_GRACE, compact_partition, remove_superseded,
};
use crate::error::{IngestError, Result};
use crate::layout::{DataDir, PartitionKey, day_of};
use crate::retention::{all_partitions, delete_dropped, mark_expired};
use crate::table::Table;

/// Merges per partition and table in one pass, at most: one pass never runs for long.
const MAX_MERGES_PER_PARTITION: usize = 4;

#[derive(Debug, Clone)]
pub struct MaintenanceConfig {
    /// Time between passes.
    pub interval: Duration,
    pub compaction: CompactionPolicy,
    /// How long superseded files and dropped partitions stay readable.
    pub grace: Duration,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            interval: Duration::from_secs(30),
            compaction: CompactionPolicy::default(),
            grace: READER_GRACE,
        }
    }
}

/// The right to maintain a data dir: one maintainer at a time (a server, or `sextant
/// compact`), held until dropped. Two would merge the same files at once.
#[derive(Debug)]
pub struct MaintenanceLock {
    _file: File,
}

impl MaintenanceLock {
    pub fn acquire(data_dir: &DataDir) -> Result<MaintenanceLock> {
        let file = File::create(data_dir.root().join("maintenance.lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(MaintenanceLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(IngestError::InvalidInput(format!(
                "{} is maintained by another process (a running `sextant serve`?); its server compacts it",
                data_dir.root().display()
            ))),
            Err(TryLockError::Error(error)) => Err(error.into()),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct MaintenanceReport {
    pub compactions: Vec<CompactionOutcome>,
    pub files_removed: usize,
    pub partitions_dropped: Vec<PartitionKey>,
    pub partitions_deleted: usize,
}

/// One round (the caller holds the [`MaintenanceLock`]): merge small files, delete what compaction superseded, drop partitions past
/// each project's retention (`(project, days)`), delete partitions dropped long enough ago.
pub fn run_pass(
    data_dir: &DataDir,
    config: &MaintenanceConfig,
    retention: &[(String, u32)],
    now: SystemTime,
) -> Result<MaintenanceReport> {
    let mut report = MaintenanceReport::default();
    let checkpoint = read_checkpoint(data_dir)?.flushed_through_segment;
    let now_ns = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as i64);
    let today = day_of(now_ns);
    for (project_id, days) in retention {
        report
            .partitions_dropped
            .extend(mark_expired(data_dir, project_id, *days, now)?);
    }
    for key in all_partitions(data_dir)? {
        if data_dir.is_dropped(&key) {
            continue;
        }
        let closed = key.day < today;
        for table in Table::ALL {
            for _ in 0..MAX_MERGES_PER_PARTITION {
                match compact_partition(
                    data_dir,
                    table,
                    &key,
                    checkpoint,
                    &config.compaction,
                    closed,
                )? {
                    Some(outcome) => report.compactions.push(outcome),
                    None => break,
                }
            }
            report.files_removed += remove_superseded(data_dir, table, &key, config.grace, now)?;
        }
    }
    report.partitions_deleted = delete_dropped(data_dir, config.grace, now)?;
    Ok(report)
}

/// [`run_pass`] on a timer, on its own thread, until stopped.
pub struct MaintenanceTask {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl MaintenanceTask {
    /// Starts the timer; `retention` is asked for the projects' retention before each pass.
    pub fn start(
        data_dir: DataDir,
        config: MaintenanceConfig,
        retention: impl Fn() -> Vec<(String, u32)> + Send + 'static,
    ) -> Result<MaintenanceTask> {
        let lock = MaintenanceLock::acquire(&data_dir)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sextant-maintenance".into())
            .spawn(move || {
                let _lock = lock;
                loop {
                    match stopped.recv_timeout(config.interval) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    match run_pass(&data_dir, &config, &retention(), SystemTime::now()) {
                        Ok(report) => log_report(&report),
                        Err(error) => {
                            tracing::error!(%error, "maintenance pass failed; retried next pass")
                        }
                    }
                }
            })?;
        Ok(MaintenanceTask { stop, thread })
    }

    /// Stops the timer, waiting for a running pass to finish.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn log_report(report: &MaintenanceReport) {
    for outcome in &report.compactions {
        tracing::info!(
            table = outcome.table.name(),
            project = %outcome.key.project_id,
            day = %outcome.key.day,
            inputs = outcome.input_files,
            rows = outcome.rows,
            bytes = outcome.bytes,
            "compacted small files"
        );
    }
    for key in &report.partitions_dropped {
        tracing::info!(project = %key.project_id, day = %key.day, "partition past retention dropped");
    }
}
