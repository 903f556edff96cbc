//! `sextant dataset create|list|show`: eval datasets of recorded traces, from the data dir.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use sextant_evals::datasets::source::{DatasetSource, add_from_source};
use sextant_evals::datasets::{Annotation, list_datasets, load_examples};
use sextant_ingest::layout::DataDir;
use sextant_meta::AccessControl;

#[derive(Debug, Subcommand)]
pub enum DatasetCommand {
    /// Add traces to a dataset (created on first use) as a new version.
    Create {
        name: String,
        /// The newest traces with a hit for this search (search syntax).
        #[arg(long, group = "source")]
        from_search: Option<String>,
        /// A read-only SQL query returning a trace_id column.
        #[arg(long, group = "source")]
        from_sql: Option<String>,
        /// Trace ids, comma separated.
        #[arg(long, group = "source", value_delimiter = ',')]
        traces: Option<Vec<String>>,
        /// Most traces a search adds.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// The outcome these runs should have had (e.g. pass).
        #[arg(long)]
        expected: Option<String>,
        /// A label for the examples added; `critical`: a regression on one fails the gate.
        #[arg(long)]
        label: Option<String>,
        #[arg(long, default_value = sextant_ingest::layout::DEFAULT_PROJECT)]
        project: String,
    },
    /// List the project's datasets with their newest version.
    List {
        #[arg(long, default_value = sextant_ingest::layout::DEFAULT_PROJECT)]
        project: String,
    },
    /// Show the examples of a dataset version (the newest by default).
    Show {
        name: String,
        #[arg(long)]
        version: Option<i64>,
        #[arg(long, default_value = sextant_ingest::layout::DEFAULT_PROJECT)]
        project: String,
    },
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

pub async fn run_dataset(data_dir: &Path, command: DatasetCommand) -> anyhow::Result<()> {
    let data = DataDir::open(data_dir).context("cannot open data dir")?;
    let access = Arc::new(AccessControl::open(data_dir).context("cannot open the metadata store")?);
    match command {
        DatasetCommand::Create {
            name,
            from_search,
            from_sql,
            traces,
            limit,
            expected,
            label,
            project,
        } => {
            let source = match (from_search, from_sql, traces) {
                (Some(query), None, None) => DatasetSource::Search { query, limit },
                (None, Some(sql), None) => DatasetSource::Sql(sql),
                (None, None, Some(ids)) => DatasetSource::Traces(ids),
                _ => anyhow::bail!("give one of --from-search, --from-sql or --traces"),
            };
            let annotation = Annotation { expected, label };
            let added = add_from_source(
                access.metadata(),
                &data,
                &project,
                &name,
                &source,
                &annotation,
            )
            .await?;
            crate::say!(
                "dataset {name} version {}: {} examples added, {} already in it",
                added.version,
                added.added,
                added.already_present
            );
        }
        DatasetCommand::List { project } => {
            let datasets = access.with_store(|store| list_datasets(store, &project))?;
            crate::say!(
                "{:<32}  {:>7}  {:>8}  updated (UTC)",
                "dataset",
                "version",
                "examples"
            );
            for dataset in datasets {
                crate::say!(
                    "{:<32}  {:>7}  {:>8}  {}",
                    dataset.name,
                    dataset.version,
                    dataset.examples,
                    time(dataset.updated_at_ms)
                );
            }
        }
        DatasetCommand::Show {
            name,
            version,
            project,
        } => {
            let (version, examples) =
                access.with_store(|store| load_examples(store, &project, &name, version))?;
            crate::say!(
                "dataset {name} version {version}: {} examples",
                examples.len()
            );
            for example in examples {
                let recording = &example.recording;
                crate::say!(
                    "{}  v{}  {:<6}  {:>3} model calls  {:>3} tool calls  {}",
                    example.trace_id,
                    example.added_in,
                    if recording.outcome.failed {
                        "failed"
                    } else {
                        "ok"
                    },
                    recording.llm_calls.len(),
                    recording.tool_calls.len(),
                    recording.root_name
                );
            }
        }
    }
    Ok(())
}
