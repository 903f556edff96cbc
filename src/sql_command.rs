//! `sextant sql` and `sextant search`: query a data dir from the shell.

use std::path::Path;

use anyhow::Context;
use sextant_ingest::layout::{DEFAULT_PROJECT, DataDir};
use sextant_query::rows::{batches_to_csv, batches_to_json_rows};
use sextant_query::search::{SearchRequest, search_spans};
use sextant_query::session::project_session;
use sextant_query::sql::arrow::util::pretty::pretty_format_batches;
use sextant_query::sql::run_read_only_sql;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

pub async fn run_sql(
    data_dir: &Path,
    sql: &str,
    format: OutputFormat,
    limit: usize,
) -> anyhow::Result<()> {
    let data_dir = DataDir::open(data_dir).context("cannot open data dir")?;
    let context = project_session(&data_dir, DEFAULT_PROJECT).await?;
    let output = run_read_only_sql(&context, sql, limit).await?;
    match format {
        OutputFormat::Table => println!("{}", pretty_format_batches(&output.batches)?),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&batches_to_json_rows(&output.batches)?)?
        ),
        OutputFormat::Csv => print!(
            "{}",
            String::from_utf8_lossy(&batches_to_csv(&output.batches)?)
        ),
    }
    if output.truncated {
        eprintln!("(truncated at {limit} rows; pass --limit to see more)");
    }
    Ok(())
}

pub fn run_search(data_dir: &Path, query: &str, limit: usize) -> anyhow::Result<()> {
    let data_dir = DataDir::open(data_dir).context("cannot open data dir")?;
    let request = SearchRequest {
        query: query.to_string(),
        limit,
        ..SearchRequest::default()
    };
    let page = search_spans(&data_dir, DEFAULT_PROJECT, &request)?;
    println!("{}", serde_json::to_string_pretty(&page.hits)?);
    Ok(())
}
