//! `sextant eval run SUITE.toml`: runs a suite now and exits with the gate's code —
//! 0 pass, 1 regression, 3 inconclusive, 2 error or void (a bad suite file, a missing
//! dataset, an unreachable provider).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sextant_evals::run::run_suite;
use sextant_evals::suite::Suite;
use sextant_ingest::access::AccessControl;
use sextant_ingest::layout::DataDir;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run a suite now; the exit code is the verdict (0 pass, 1 regression,
    /// 3 inconclusive, 2 error or void).
    Run {
        suite: PathBuf,
        /// Also write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Also write JUnit XML here (one test case per example).
        #[arg(long)]
        junit: Option<PathBuf>,
        /// The project [default: the suite's `project`, else `default`].
        #[arg(long)]
        project: Option<String>,
    },
}

/// The exit code for an error before any verdict.
const EXIT_ERROR: i32 = 2;

pub async fn run_eval(data_dir: &Path, command: EvalCommand) -> i32 {
    match run(data_dir, command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            EXIT_ERROR
        }
    }
}

async fn run(data_dir: &Path, command: EvalCommand) -> anyhow::Result<i32> {
    let EvalCommand::Run {
        suite,
        json,
        junit,
        project,
    } = command;
    let suite = Suite::load(&suite)?;
    let data = DataDir::open(data_dir)?;
    let access = AccessControl::open(data_dir)?;
    let project = project
        .or_else(|| suite.project.clone())
        .unwrap_or_else(|| sextant_ingest::layout::DEFAULT_PROJECT.to_string());
    let report = run_suite(&access, &data, &project, &suite).await?;
    if let Some(path) = json {
        std::fs::write(&path, report.to_json())?;
    }
    if let Some(path) = junit {
        std::fs::write(&path, report.to_junit())?;
    }
    crate::say!("{}", report.summary());
    Ok(report.gate.verdict.exit_code())
}
