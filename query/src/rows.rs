//! Turning Arrow record batches into JSON rows and CSV for API answers.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::json::WriterBuilder as JsonWriterBuilder;
use datafusion::arrow::json::writer::JsonArray;
use serde_json::{Map, Value};

use crate::error::Result;

/// Batches as a list of JSON objects, one per row, columns in schema order.
pub fn batches_to_json_rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut writer = JsonWriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    let batch_refs: Vec<&RecordBatch> = batches.iter().collect();
    writer.write_batches(&batch_refs)?;
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(&bytes).map_err(|error| {
        crate::error::QueryError::Internal(format!("arrow json output: {error}"))
    })?;
    Ok(rows)
}

/// Batches as CSV with a header row.
pub fn batches_to_csv(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut writer = WriterBuilder::new().with_header(true).build(Vec::new());
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(writer.into_inner())
}
