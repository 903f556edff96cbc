//! `sextant compact`: one round of the server's background maintenance, from the command
//! line — merge small Parquet files, delete superseded ones, apply the projects' retention.

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use sextant_ingest::layout::DataDir;
use sextant_ingest::maintenance::{MaintenanceConfig, MaintenanceLock, run_pass};
use sextant_meta::AccessControl;

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    /// Seconds a superseded file stays readable after its compaction. Other processes
    /// reading the data dir (`sextant sql`, DuckDB) may still be using it.
    #[arg(long, default_value_t = 180)]
    grace_secs: u64,
}

pub fn run_compact(data_dir: &Path, args: CompactArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::open(data_dir)
        .with_context(|| format!("cannot open data dir {}", data_dir.display()))?;
    let _lock = MaintenanceLock::acquire(&data_dir)?;
    let retention = AccessControl::open(data_dir.root())
        .context("cannot open the metadata store")?
        .with_store(|store| store.projects().retention_days())?;
    let config = MaintenanceConfig {
        grace: Duration::from_secs(args.grace_secs),
        ..MaintenanceConfig::default()
    };
    let (mut merges, mut inputs, mut removed, mut dropped, mut deleted) = (0, 0, 0, 0, 0);
    // A pass merges a bounded amount per partition: repeat until nothing is left to merge.
    loop {
        let report = run_pass(&data_dir, &config, &retention, SystemTime::now())?;
        merges += report.compactions.len();
        inputs += report
            .compactions
            .iter()
            .map(|outcome| outcome.input_files)
            .sum::<usize>();
        removed += report.files_removed;
        dropped += report.partitions_dropped.len();
        deleted += report.partitions_deleted;
        if report.compactions.is_empty() {
            break;
        }
    }
    crate::say!(
        "merged {inputs} files into {merges}; deleted {removed} superseded files; \
         dropped {dropped} partitions past retention, deleted {deleted}"
    );
    Ok(())
}
