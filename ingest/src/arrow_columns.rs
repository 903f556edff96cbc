//! A stored table's columns stated once ([`Column`]: name, type, nullability, how a row
//! gives its value), from which both its Arrow schema ([`schema_of`]) and its record
//! batches ([`batch_of`]) come, so the two cannot disagree; and the small builders that
//! turn a slice of rows into one Arrow column.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

/// One column of a stored table.
pub struct Column<R> {
    pub name: &'static str,
    pub data_type: fn() -> DataType,
    pub nullable: bool,
    /// The column's array for a slice of rows.
    pub build: fn(&[R]) -> ArrayRef,
}

impl<R> Column<R> {
    pub const fn new(
        name: &'static str,
        data_type: fn() -> DataType,
        nullable: bool,
        build: fn(&[R]) -> ArrayRef,
    ) -> Column<R> {
        Column {
            name,
            data_type,
            nullable,
            build,
        }
    }
}

/// The Arrow schema of a table's columns, in order.
pub fn schema_of<R>(columns: &[Column<R>]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|column| Field::new(column.name, (column.data_type)(), column.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// One record batch of `rows`, in the order given, under `schema` (the columns' own).
pub fn batch_of<R>(
    schema: &SchemaRef,
    columns: &[Column<R>],
    rows: &[R],
) -> Result<RecordBatch, ArrowError> {
    let arrays = columns.iter().map(|column| (column.build)(rows)).collect();
    RecordBatch::try_new(schema.clone(), arrays)
}

pub fn utf8() -> DataType {
    DataType::Utf8
}

pub fn int64() -> DataType {
    DataType::Int64
}

pub fn int32() -> DataType {
    DataType::Int32
}

pub fn float64() -> DataType {
    DataType::Float64
}

pub fn boolean() -> DataType {
    DataType::Boolean
}

/// The type of every time column: nanoseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

pub fn strings<R>(rows: &[R], value: impl Fn(&R) -> Option<&str>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}

pub fn integers<R>(rows: &[R], value: impl Fn(&R) -> Option<i64>) -> ArrayRef {
    let mut builder = Int64Builder::with_capacity(rows.len());
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}

pub fn small_integers<R>(rows: &[R], value: impl Fn(&R) -> Option<i32>) -> ArrayRef {
    let mut builder = Int32Builder::with_capacity(rows.len());
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}

pub fn decimals<R>(rows: &[R], value: impl Fn(&R) -> Option<f64>) -> ArrayRef {
    let mut builder = Float64Builder::with_capacity(rows.len());
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}

pub fn booleans<R>(rows: &[R], value: impl Fn(&R) -> Option<bool>) -> ArrayRef {
    let mut builder = BooleanBuilder::with_capacity(rows.len());
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}

pub fn timestamps<R>(rows: &[R], value: impl Fn(&R) -> Option<i64>) -> ArrayRef {
    let mut builder = TimestampNanosecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
    for row in rows {
        builder.append_option(value(row));
    }
    Arc::new(builder.finish())
}
