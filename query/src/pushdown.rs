//! Reading filters DataFusion offers a table scan: a column compared with a constant, and
//! the constants as Sextant's types. `search_table.rs` and `traces_table.rs` narrow their
//! scans with them.

use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::{Expr, Operator};

/// `column <op> constant`, with `constant <op> column` turned around; `None` for any other
/// shape.
pub(crate) fn column_against_literal(expr: &Expr) -> Option<(&Column, Operator, &ScalarValue)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(column), Expr::Literal(value, _)) => Some((column, *op, value)),
        (Expr::Literal(value, _), Expr::Column(column)) => Some((column, op.swap()?, value)),
        _ => None,
    }
}

/// A timestamp constant in ns since the epoch.
pub(crate) fn timestamp_ns(value: &ScalarValue) -> Option<i64> {
    match value {
        ScalarValue::TimestampNanosecond(Some(ns), _) => Some(*ns),
        ScalarValue::TimestampMicrosecond(Some(us), _) => us.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(ms), _) => ms.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(s), _) => s.checked_mul(1_000_000_000),
        _ => None,
    }
}

/// A text constant.
pub(crate) fn literal_text(value: &ScalarValue) -> Option<&str> {
    match value {
        ScalarValue::Utf8(Some(text))
        | ScalarValue::Utf8View(Some(text))
        | ScalarValue::LargeUtf8(Some(text)) => Some(text),
        _ => None,
    }
}
