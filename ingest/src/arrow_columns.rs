//! Small builders that turn a slice of rows into one Arrow column, shared by the table schemas.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit};

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
