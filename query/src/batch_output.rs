//! Turning Arrow record batches into JSON rows and CSV for API answers.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::datatypes::{
    DataType, FieldRef, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, Schema, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::json::WriterBuilder as JsonWriterBuilder;
use datafusion::arrow::json::writer::JsonArray;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value};

use crate::error::Result;

/// Batches as a list of JSON objects, one per row, columns in schema order, nulls explicit:
/// what Arrow's JSON writer writes, parsed. Strings, integers, booleans and finite `f64`s
/// are converted directly (a 30k-span trace skeleton is most of its time otherwise spent
/// writing and re-parsing JSON text); other types go through the writer, a column at a time.
pub fn batches_to_json_rows(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        let schema = batch.schema();
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (field, array) in schema.fields().iter().zip(batch.columns()) {
            columns.push(column_values(field, array)?.into_iter());
        }
        for _ in 0..batch.num_rows() {
            let mut row = Map::with_capacity(columns.len());
            for (field, values) in schema.fields().iter().zip(&mut columns) {
                row.insert(field.name().clone(), values.next().unwrap_or(Value::Null));
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// One column's values as JSON, in row order.
fn column_values(field: &FieldRef, array: &ArrayRef) -> Result<Vec<Value>> {
    fn each<A: Array>(array: &A, value: impl Fn(&A, usize) -> Value) -> Vec<Value> {
        (0..array.len())
            .map(|row| {
                if array.is_null(row) {
                    Value::Null
                } else {
                    value(array, row)
                }
            })
            .collect()
    }
    let text = |text: &str| Value::String(text.to_owned());
    Ok(match array.data_type() {
        DataType::Null => vec![Value::Null; array.len()],
        DataType::Utf8 => each(array.as_string::<i32>(), |a, row| text(a.value(row))),
        DataType::LargeUtf8 => each(array.as_string::<i64>(), |a, row| text(a.value(row))),
        DataType::Utf8View => each(array.as_string_view(), |a, row| text(a.value(row))),
        DataType::Boolean => each(array.as_boolean(), |a, row| Value::Bool(a.value(row))),
        DataType::Int8 => each(array.as_primitive::<Int8Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::Int16 => each(array.as_primitive::<Int16Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::Int32 => each(array.as_primitive::<Int32Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::Int64 => each(array.as_primitive::<Int64Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::UInt8 => each(array.as_primitive::<UInt8Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::UInt16 => each(array.as_primitive::<UInt16Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::UInt32 => each(array.as_primitive::<UInt32Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::UInt64 => each(array.as_primitive::<UInt64Type>(), |a, row| {
            a.value(row).into()
        }),
        DataType::Float64
            if array
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .all(|v| v.is_finite()) =>
        {
            each(array.as_primitive::<Float64Type>(), |a, row| {
                a.value(row).into()
            })
        }
        // Dates, times and timestamps as the JSON writer formats them (its default formats).
        data_type if data_type.is_temporal() => {
            let options = FormatOptions::new().with_display_error(true);
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
            (0..array.len())
                .map(|row| {
                    if array.is_null(row) {
                        Value::Null
                    } else {
                        Value::String(formatter.value(row).to_string())
                    }
                })
                .collect()
        }
        _ => written_column_values(field, array)?,
    })
}

/// One column through Arrow's JSON writer (decimals, lists, dictionaries…).
fn written_column_values(field: &FieldRef, array: &ArrayRef) -> Result<Vec<Value>> {
    let schema = Arc::new(Schema::new(vec![field.as_ref().clone()]));
    let batch = RecordBatch::try_new(schema, vec![array.clone()])?;
    let mut writer = JsonWriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    writer.write_batches(&[&batch])?;
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(&bytes).map_err(|error| {
        crate::error::QueryError::Internal(format!("arrow json output: {error}"))
    })?;
    Ok(rows
        .into_iter()
        .map(|mut row| row.remove(field.name()).unwrap_or(Value::Null))
        .collect())
}

/// Batches as CSV with a header row.
pub fn batches_to_csv(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut writer = WriterBuilder::new().with_header(true).build(Vec::new());
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{
        BooleanArray, Date32Array, DictionaryArray, Float32Array, Float64Array, Int64Array,
        StringArray, StringViewArray, TimestampNanosecondArray, UInt64Array,
    };
    use datafusion::arrow::datatypes::{Field, Int32Type};

    use super::*;

    /// What the JSON writer writes, parsed: the answer before the direct conversion.
    fn written(batches: &[RecordBatch]) -> Vec<Map<String, Value>> {
        let mut writer = JsonWriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, JsonArray>(Vec::new());
        writer
            .write_batches(&batches.iter().collect::<Vec<_>>())
            .expect("write");
        writer.finish().expect("finish");
        serde_json::from_slice(&writer.into_inner()).expect("parse")
    }

    #[test]
    fn direct_conversion_equals_the_json_writer_for_every_type() {
        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "text",
                Arc::new(StringArray::from(vec![Some("a \"q\" é"), None, Some("")])),
            ),
            (
                "view",
                Arc::new(StringViewArray::from(vec![
                    None,
                    Some("long text over twelve bytes"),
                    Some("x"),
                ])),
            ),
            (
                "int",
                Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(42)])),
            ),
            (
                "uint",
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(0), None])),
            ),
            (
                "bool",
                Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            ),
            (
                "float",
                Arc::new(Float64Array::from(vec![Some(0.1), Some(1e300), None])),
            ),
            (
                "odd_float",
                Arc::new(Float64Array::from(vec![Some(f64::NAN), Some(1.5), None])),
            ),
            (
                "float32",
                Arc::new(Float32Array::from(vec![Some(0.1), None, Some(2.0)])),
            ),
            (
                "time",
                Arc::new(
                    TimestampNanosecondArray::from(vec![
                        Some(1_764_000_000_123_456_789),
                        None,
                        Some(0),
                    ])
                    .with_timezone("UTC"),
                ),
            ),
            (
                "naive_time",
                Arc::new(TimestampNanosecondArray::from(vec![
                    None,
                    Some(1_764_000_000_000_000_001),
                    Some(-1),
                ])),
            ),
            (
                "date",
                Arc::new(Date32Array::from(vec![Some(20_000), None, Some(-3)])),
            ),
            (
                "dict",
                Arc::new(DictionaryArray::<Int32Type>::from_iter([
                    Some("d1"),
                    None,
                    Some("d1"),
                ])),
            ),
        ];
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, array)| array).collect(),
        )
        .expect("batch");
        let batches = [batch.clone(), batch.slice(1, 2)];
        assert_eq!(
            batches_to_json_rows(&batches).expect("rows"),
            written(&batches)
        );
        assert_eq!(
            batches_to_json_rows(&[]).expect("none"),
            Vec::<Map<String, Value>>::new()
        );
    }
}
