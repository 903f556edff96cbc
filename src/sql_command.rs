//! `sextant sql` and `sextant search`: query a data dir from the shell.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use sextant_ingest::layout::DataDir;
use sextant_query::batch_output::{batches_to_csv, batches_to_json_rows};
use sextant_query::search::{HitKind, SearchHit, SearchRequest, search_spans};
use sextant_query::sql::arrow::array::{ArrayRef, RecordBatch, StringArray};
use sextant_query::sql::arrow::util::pretty::pretty_format_batches;
use sextant_query::sql::{SqlLimits, Truncation, run_read_only_sql};
use sextant_query::sql_context::project_context;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// Runs `sql` within `limits` (`--limit` rows, the `[query]` size and time limits).
pub async fn run_sql(
    data_dir: &Path,
    project_id: &str,
    sql: &str,
    format: OutputFormat,
    limits: SqlLimits,
) -> anyhow::Result<()> {
    let data_dir = DataDir::open(data_dir).context("cannot open data dir")?;
    let context = project_context(&data_dir, project_id).await?;
    let output = run_read_only_sql(&context, sql, limits).await?;
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
    match output.truncated {
        Some(Truncation::Rows) => eprintln!(
            "(truncated at {} rows; pass --limit to see more)",
            limits.max_rows
        ),
        Some(Truncation::Bytes) => eprintln!(
            "(truncated at {} MiB; select fewer or smaller columns, or raise [query] max_result_mib)",
            limits.max_bytes / (1024 * 1024)
        ),
        None => {}
    }
    Ok(())
}

pub fn run_search(
    data_dir: &Path,
    project_id: &str,
    query: &str,
    format: OutputFormat,
    limit: usize,
) -> anyhow::Result<()> {
    let data_dir = DataDir::open(data_dir).context("cannot open data dir")?;
    let request = SearchRequest {
        query: query.to_string(),
        limit,
        ..SearchRequest::default()
    };
    let page = search_spans(&data_dir, project_id, &request)?;
    if let OutputFormat::Json = format {
        println!("{}", serde_json::to_string_pretty(&page.hits)?);
        return Ok(());
    }
    let batch = hits_batch(&page.hits)?;
    match format {
        OutputFormat::Csv => print!("{}", String::from_utf8_lossy(&batches_to_csv(&[batch])?)),
        _ => println!("{}", pretty_format_batches(&[batch])?),
    }
    Ok(())
}

/// Columns of a search hit shown in a terminal table or CSV: the header, then the
/// column of a span hit and of a log hit it shows.
const HIT_COLUMNS: &[(&str, &str, &str)] = &[
    ("time", "start_time", "time"),
    ("trace_id", "trace_id", "trace_id"),
    ("span_id", "span_id", "span_id"),
    ("name", "name", "event_name"),
    ("status", "status_code", "severity_text"),
];

/// The hits as one batch of text columns, the snippet as plain text.
fn hits_batch(hits: &[SearchHit]) -> anyhow::Result<RecordBatch> {
    let text = |hit: &SearchHit, column: &str| match hit.row.get(column) {
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let kinds: StringArray = hits
        .iter()
        .map(|hit| {
            Some(if hit.kind == HitKind::Log {
                "log"
            } else {
                "span"
            })
        })
        .collect();
    let mut columns: Vec<(&str, ArrayRef)> = vec![("kind", Arc::new(kinds))];
    columns.extend(HIT_COLUMNS.iter().map(|(header, span_column, log_column)| {
        let values: StringArray = hits
            .iter()
            .map(|hit| match hit.kind {
                HitKind::Span => text(hit, span_column),
                HitKind::Log => text(hit, log_column),
            })
            .collect();
        (*header, Arc::new(values) as ArrayRef)
    }));
    let snippets: StringArray = hits
        .iter()
        .map(|hit| hit.snippet.as_deref().map(snippet_text))
        .collect();
    columns.push(("snippet", Arc::new(snippets)));
    Ok(RecordBatch::try_from_iter(columns)?)
}

/// A highlighted HTML snippet as terminal text: tags dropped, entities decoded.
fn snippet_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for character in html.chars() {
        match character {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(character),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_read_as_plain_text() {
        assert_eq!(
            snippet_text("test <b>parse</b> ... FAILED\n&lt;img&gt; &amp; more"),
            "test parse ... FAILED <img> & more"
        );
    }
}
