//! `range`, `generate_series`, `repeat`, `lpad`, `rpad`, `array_repeat`, `array_resize`,
//! `replace` and `regexp_replace`, bounded: the functions whose result size is set by an
//! argument rather than by the size of their input.
//!
//! Why not the memory pool: DataFusion's pool sees the memory of the operators that buffer
//! (sorts, joins, aggregates), not a scalar function's result, which is allocated outside it:
//! `cardinality(range(0, 2000000000))` would build a 16 GB list in one call whatever the
//! pool's limit. Why not a check of the SQL text: the sizes can come from columns, subqueries
//! or other functions (`repeat(name, duration_ns)`). So each of these functions is replaced in
//! the session by a wrapper that, before calling DataFusion's function, computes from the
//! call's arguments how many bytes it will build (exactly, or an upper bound) and refuses the
//! call past a limit with [`LimitExceeded`]. Everything else (name, aliases, signature, types,
//! documentation) is DataFusion's function's.
//!
//! A call whose arguments are all constants is computed once and its value copied into each
//! row of the batch, so it counts once per row. When such a call is folded into a constant
//! while the query is planned, `constant_copies` checks the copies instead.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, FieldRef, Int64Type, IntervalMonthDayNanoType, TimeUnit,
};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{DataFusionError, ExprSchema, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::preimage::PreimageResult;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ExpressionPlacement, ReturnFieldArgs, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, StructFieldMapping,
};
use datafusion::prelude::SessionContext;

use crate::error::LimitExceeded;
use crate::result_bytes::array_bytes;

type DfResult<T> = datafusion::common::Result<T>;

/// Most bytes one computed value may take in one batch of rows: one call of a bounded
/// function, or a constant copied into each row. Four times the default result cap; a
/// batch is up to 8192 rows, so this is 32 KiB a row.
pub const MAX_BATCH_VALUE_BYTES: usize = 256 * 1024 * 1024;

/// How a function's result size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Growth {
    /// `range(start, stop, step)`, `generate_series(…)` (which includes `stop`): one
    /// element per step.
    Series { includes_stop: bool },
    /// `repeat(text, n)`: the text n times.
    Repeat,
    /// `lpad(text, n[, fill])`, `rpad(…)`: n characters of up to 4 bytes.
    Pad,
    /// `array_repeat(element, n)`: the element n times.
    ArrayRepeat,
    /// `array_resize(list, n[, fill])`: n elements.
    ArrayResize,
    /// `replace(text, from, to)`: each match of `from` grows by the length difference.
    Replace,
    /// `regexp_replace(text, pattern, replacement[, flags])`: each match becomes the
    /// replacement, whose group references each expand to at most the whole text.
    RegexpReplace,
}

const BOUNDED_FUNCTIONS: &[(&str, Growth)] = &[
    (
        "range",
        Growth::Series {
            includes_stop: false,
        },
    ),
    (
        "generate_series",
        Growth::Series {
            includes_stop: true,
        },
    ),
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("array_repeat", Growth::ArrayRepeat),
    ("array_resize", Growth::ArrayResize),
    ("replace", Growth::Replace),
    ("regexp_replace", Growth::RegexpReplace),
];

/// Replaces the session's amplifying functions (under their names and aliases) by bounded
/// ones that refuse a call building more than `max_output_bytes`. A function the session
/// does not have is skipped: it cannot be called either.
pub fn register_bounded_functions(context: &SessionContext, max_output_bytes: usize) {
    for (name, growth) in BOUNDED_FUNCTIONS {
        let Ok(inner) = context.udf(name) else {
            continue;
        };
        context.register_udf(ScalarUDF::new_from_impl(BoundedFunction {
            inner: inner.as_ref().clone(),
            growth: *growth,
            max_output_bytes,
        }));
    }
}

/// DataFusion's function, called only when the bytes it will build fit the limit.
#[derive(Debug, PartialEq, Eq, Hash)]
struct BoundedFunction {
    inner: ScalarUDF,
    growth: Growth,
    max_output_bytes: usize,
}

impl BoundedFunction {
    fn check(&self, args: &ScalarFunctionArgs) -> DfResult<()> {
        let bytes = output_bytes(self.growth, &args.args, args.number_rows)?;
        if bytes <= self.max_output_bytes as u128 {
            return Ok(());
        }
        let rows = args.number_rows.max(1);
        Err(DataFusionError::External(Box::new(LimitExceeded(format!(
            "{name}(…) would build up to {size} for {rows} row{plural} at once, more than the {limit} one function call may build; ask for smaller sizes{hint}",
            name = self.inner.name(),
            size = human_bytes(bytes),
            plural = if rows == 1 { "" } else { "s" },
            limit = human_bytes(self.max_output_bytes as u128),
            hint = if matches!(self.growth, Growth::Series { .. }) {
                ", or use the table function generate_series(start, stop) for rows"
            } else {
                " or fewer rows"
            },
        )))))
    }
}

// Delegates every method, so DataFusion's function behaves the same but for the check.
#[warn(clippy::missing_trait_methods)]
impl ScalarUDFImpl for BoundedFunction {
    fn name(&self) -> &str {
        self.inner.inner().name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.inner().aliases()
    }

    fn display_name(&self, args: &[Expr]) -> DfResult<String> {
        #[expect(deprecated)]
        self.inner.inner().display_name(args)
    }

    fn schema_name(&self, args: &[Expr]) -> DfResult<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.inner().signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.inner().return_type(arg_types)
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        let updated = self.inner.inner().with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(BoundedFunction {
            inner: updated,
            growth: self.growth,
            max_output_bytes: self.max_output_bytes,
        }))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.inner().return_field_from_args(args)
    }

    fn is_nullable(&self, args: &[Expr], schema: &dyn ExprSchema) -> bool {
        #[expect(deprecated)]
        self.inner.inner().is_nullable(args, schema)
    }

    fn is_strict(&self) -> bool {
        self.inner.inner().is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.check(&args)?;
        self.inner.inner().invoke_with_args(args)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        self.inner.inner().simplify(args, info)
    }

    fn preimage(
        &self,
        args: &[Expr],
        lit_expr: &Expr,
        info: &SimplifyContext,
    ) -> DfResult<PreimageResult> {
        self.inner.inner().preimage(args, lit_expr, info)
    }

    fn short_circuits(&self) -> bool {
        self.inner.inner().short_circuits()
    }

    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner.inner().conditional_arguments(args)
    }

    fn evaluate_bounds(&self, input: &[&Interval]) -> DfResult<Interval> {
        self.inner.inner().evaluate_bounds(input)
    }

    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> DfResult<Option<Vec<Interval>>> {
        self.inner.inner().propagate_constraints(interval, inputs)
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> DfResult<SortProperties> {
        self.inner.inner().output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> DfResult<bool> {
        self.inner.inner().preserves_lex_ordering(inputs)
    }

    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> DfResult<bool> {
        self.inner.inner().strictly_order_preserving(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        self.inner.inner().coerce_types(arg_types)
    }

    fn struct_field_mapping(
        &self,
        literal_args: &[Option<ScalarValue>],
    ) -> Option<StructFieldMapping> {
        self.inner.inner().struct_field_mapping(literal_args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.inner().documentation()
    }

    fn placement(&self, args: &[ExpressionPlacement]) -> ExpressionPlacement {
        self.inner.inner().placement(args)
    }
}

/// One argument of a call: a column (a value per row) or a constant (one value for all).
struct Argument {
    values: ArrayRef,
    constant: bool,
}

impl Argument {
    fn new(value: &ColumnarValue) -> DfResult<Argument> {
        Ok(match value {
            ColumnarValue::Scalar(scalar) => Argument {
                values: scalar.to_array()?,
                constant: true,
            },
            ColumnarValue::Array(array) => Argument {
                values: Arc::clone(array),
                constant: false,
            },
        })
    }

    /// The same argument with its values cast (integers, dates and timestamps to `Int64`).
    fn cast(&self, to: &DataType) -> DfResult<Argument> {
        Ok(Argument {
            values: cast(&self.values, to)?,
            constant: self.constant,
        })
    }

    fn index(&self, row: usize) -> usize {
        if self.constant { 0 } else { row }
    }

    /// An integer argument's value (cast to `Int64` first); `None` when null.
    fn int(&self, row: usize) -> Option<i64> {
        let index = self.index(row);
        let values = self.values.as_primitive_opt::<Int64Type>()?;
        values.is_valid(index).then(|| values.value(index))
    }

    fn text(&self, row: usize) -> Option<&str> {
        let index = self.index(row);
        if self.values.is_null(index) {
            return None;
        }
        match self.values.data_type() {
            DataType::Utf8 => Some(self.values.as_string::<i32>().value(index)),
            DataType::LargeUtf8 => Some(self.values.as_string::<i64>().value(index)),
            DataType::Utf8View => Some(self.values.as_string_view().value(index)),
            _ => None,
        }
    }

    /// Bytes of the row's value: a string's length, else its Arrow size.
    fn value_bytes(&self, row: usize) -> u128 {
        match self.text(row) {
            Some(text) => text.len() as u128,
            None => array_bytes(self.values.slice(self.index(row), 1).as_ref()) as u128,
        }
    }
}

/// Bytes the call will build: exact for integer ranges, `repeat` and `replace`, an upper
/// bound for the rest.
fn output_bytes(growth: Growth, args: &[ColumnarValue], number_rows: usize) -> DfResult<u128> {
    let arguments = args
        .iter()
        .map(Argument::new)
        .collect::<DfResult<Vec<_>>>()?;
    let constant = arguments.iter().all(|argument| argument.constant);
    // Constants are computed once, and the value copied into each row.
    let (rows, copies) = if constant {
        (1, number_rows.max(1) as u128)
    } else {
        (number_rows, 1)
    };
    let argument = |position: usize| arguments.get(position);
    let integers = |position: usize| -> DfResult<Option<Argument>> {
        argument(position)
            .map(|argument| argument.cast(&DataType::Int64))
            .transpose()
    };
    let count = |value: Option<i64>| value.unwrap_or(0).max(0) as u128;
    let mut total: u128 = 0;
    match growth {
        Growth::Series { includes_stop } => {
            return series_bytes(&arguments, rows, includes_stop).map(|bytes| bytes * copies);
        }
        Growth::Repeat => {
            let (Some(text), Some(times)) = (argument(0), integers(1)?) else {
                return Ok(0);
            };
            for row in 0..rows {
                total += text.value_bytes(row) * count(times.int(row));
            }
        }
        Growth::Pad => {
            let Some(length) = integers(1)? else {
                return Ok(0);
            };
            for row in 0..rows {
                total += 4 * count(length.int(row));
            }
        }
        Growth::ArrayRepeat => {
            let (Some(element), Some(times)) = (argument(0), integers(1)?) else {
                return Ok(0);
            };
            for row in 0..rows {
                total += element.value_bytes(row).max(1) * count(times.int(row));
            }
        }
        Growth::ArrayResize => {
            let (Some(list), Some(length)) = (argument(0), integers(1)?) else {
                return Ok(0);
            };
            let element_bytes = match list.values.data_type() {
                DataType::List(field) | DataType::LargeList(field) => {
                    field.data_type().primitive_width().unwrap_or(16)
                }
                _ => 16,
            } as u128;
            let fill = argument(2);
            for row in 0..rows {
                let fill_bytes = fill.map_or(0, |fill| fill.value_bytes(row));
                total += (element_bytes + fill_bytes) * count(length.int(row));
            }
        }
        Growth::Replace => {
            let (Some(text), Some(from), Some(to)) = (argument(0), argument(1), argument(2)) else {
                return Ok(0);
            };
            for row in 0..rows {
                let (Some(text), Some(from), Some(to)) =
                    (text.text(row), from.text(row), to.text(row))
                else {
                    continue;
                };
                total += text.len() as u128;
                if to.len() > from.len() {
                    let matches = text.matches(from).count() as u128;
                    total += matches * (to.len() - from.len()) as u128;
                }
            }
        }
        Growth::RegexpReplace => {
            let (Some(text), Some(replacement)) = (argument(0), argument(2)) else {
                return Ok(0);
            };
            let flags = argument(3);
            for row in 0..rows {
                let (Some(text), Some(replacement)) = (text.text(row), replacement.text(row))
                else {
                    continue;
                };
                let global = flags
                    .and_then(|flags| flags.text(row))
                    .is_some_and(|flags| flags.contains('g'));
                let text_bytes = text.len() as u128;
                let matches = if global { text_bytes + 1 } else { 1 };
                // `\1`, `$1`, `${name}`: each can expand to the text matched, and matches do not overlap.
                let references = replacement.matches(['\\', '$']).count() as u128;
                total += text_bytes + matches * replacement.len() as u128 + references * text_bytes;
            }
        }
    }
    Ok(total * copies)
}

/// Bytes of the lists `range`/`generate_series` build: 8 a step.
fn series_bytes(arguments: &[Argument], rows: usize, includes_stop: bool) -> DfResult<u128> {
    let Some(first) = arguments.first() else {
        return Ok(0);
    };
    let elements = match first.values.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => integer_series_elements(arguments, rows, includes_stop)?,
        DataType::Date32 | DataType::Date64 => {
            let days = |argument: &Argument| -> DfResult<Argument> {
                argument.cast(&DataType::Date32)?.cast(&DataType::Int64)
            };
            interval_series_elements(arguments, rows, days, 86_400_000_000_000)?
        }
        DataType::Timestamp(_, zone) => {
            let to_nanos = DataType::Timestamp(TimeUnit::Nanosecond, zone.clone());
            let nanos = |argument: &Argument| -> DfResult<Argument> {
                argument.cast(&to_nanos)?.cast(&DataType::Int64)
            };
            interval_series_elements(arguments, rows, nanos, 1)?
        }
        // Null arguments: a null result.
        _ => 0,
    };
    Ok(elements * 8)
}

/// Elements of integer ranges, counted as DataFusion generates them.
fn integer_series_elements(
    arguments: &[Argument],
    rows: usize,
    includes_stop: bool,
) -> DfResult<u128> {
    let integers = arguments
        .iter()
        .map(|argument| argument.cast(&DataType::Int64))
        .collect::<DfResult<Vec<_>>>()?;
    let mut total = 0;
    for row in 0..rows {
        let (start, stop, step) = match integers.as_slice() {
            [stop] => (Some(0), stop.int(row), Some(1)),
            [start, stop] => (start.int(row), stop.int(row), Some(1)),
            [start, stop, step] => (start.int(row), stop.int(row), step.int(row)),
            _ => return Ok(0),
        };
        let (Some(start), Some(stop), Some(step)) = (start, stop, step) else {
            continue;
        };
        // The last element: `stop`, or the one before it for `range`.
        let last = match (step > 0, includes_stop) {
            (_, true) => stop,
            (true, false) => stop.saturating_sub(1),
            (false, false) => stop.saturating_add(1),
        };
        let reaches_last = if step > 0 {
            start <= last
        } else {
            start >= last
        };
        if step == 0 || !reaches_last || !includes_stop && start == stop {
            continue;
        }
        total += start.abs_diff(last) as u128 / step.unsigned_abs() as u128 + 1;
    }
    Ok(total)
}

/// Elements of date or timestamp ranges: at most the span over the shortest the step can be.
/// `to_units` reads start and stop as integers of `unit_nanos` nanoseconds.
fn interval_series_elements(
    arguments: &[Argument],
    rows: usize,
    to_units: impl Fn(&Argument) -> DfResult<Argument>,
    unit_nanos: u128,
) -> DfResult<u128> {
    let [start, stop, step] = arguments else {
        return Ok(0);
    };
    let (start, stop) = (to_units(start)?, to_units(stop)?);
    let Some(steps) = step.values.as_primitive_opt::<IntervalMonthDayNanoType>() else {
        return Ok(0);
    };
    let mut total = 0;
    for row in 0..rows {
        let step_index = step.index(row);
        let (Some(start), Some(stop)) = (start.int(row), stop.int(row)) else {
            continue;
        };
        if steps.is_null(step_index) {
            continue;
        }
        let step = steps.value(step_index);
        if step.months == 0 && step.days == 0 && step.nanoseconds == 0 {
            continue; // DataFusion refuses a zero step itself
        }
        let Some(shortest) = shortest_step_nanos(step.months, step.days, step.nanoseconds) else {
            return Err(DataFusionError::Plan(format!(
                "range and generate_series need an interval step that always moves one way; {step:?} can move by nothing (write it with parts of one sign)"
            )));
        };
        let span = start.abs_diff(stop) as u128 * unit_nanos;
        total += span / shortest.max(1) + 1;
    }
    Ok(total)
}

/// The least a step of `months`, `days` and `nanos` can move a date or time, in nanoseconds:
/// a month is 28 to 31 days, a day 23 to 25 hours (summer time). `None` when the step can
/// move by nothing or change direction (parts of both signs that may cancel).
fn shortest_step_nanos(months: i32, days: i32, nanos: i64) -> Option<u128> {
    const HOUR: i128 = 3_600_000_000_000;
    let months = i128::from(months);
    let days = i128::from(days);
    let bounds = |value: i128, low: i128, high: i128| {
        let (a, b) = (value * low, value * high);
        (a.min(b), a.max(b))
    };
    let (months_low, months_high) = bounds(months, 28 * 24 * HOUR, 31 * 24 * HOUR);
    let (days_low, days_high) = bounds(days, 23 * HOUR, 25 * HOUR);
    let low = months_low + days_low + i128::from(nanos);
    let high = months_high + days_high + i128::from(nanos);
    if low > 0 {
        Some(low as u128)
    } else if high < 0 {
        Some(high.unsigned_abs())
    } else {
        None
    }
}

/// `1.5 GiB`, `640 KiB`, `12 B`.
pub(crate) fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn constants(values: Vec<ScalarValue>) -> Vec<ColumnarValue> {
        values.into_iter().map(ColumnarValue::Scalar).collect()
    }

    #[test]
    fn integer_ranges_count_as_datafusion_builds_them() {
        let elements = |includes_stop: bool, values: &[i64]| {
            let args = constants(
                values
                    .iter()
                    .map(|v| ScalarValue::Int64(Some(*v)))
                    .collect(),
            );
            output_bytes(Growth::Series { includes_stop }, &args, 1).expect("estimate") / 8
        };
        let range = |values: &[i64]| elements(false, values);
        let generate_series = |values: &[i64]| elements(true, values);
        assert_eq!(range(&[0, 2_000_000_000]), 2_000_000_000);
        assert_eq!(range(&[10]), 10);
        assert_eq!(generate_series(&[10]), 11);
        assert_eq!(range(&[1, 7, 2]), 3, "1 3 5");
        assert_eq!(generate_series(&[1, 7, 2]), 4, "1 3 5 7");
        assert_eq!(range(&[7, 1, -3]), 2, "7 4");
        assert_eq!(range(&[3, 3]), 0);
        assert_eq!(generate_series(&[3, 3]), 1);
        assert_eq!(range(&[7, 1, 2]), 0, "a step away from stop builds nothing");
        assert_eq!(
            generate_series(&[i64::MIN, i64::MAX, 1]),
            u64::MAX as u128 + 1
        );
    }

    #[test]
    fn a_constant_call_counts_once_per_row_it_is_copied_into() {
        let args = constants(vec![
            ScalarValue::Utf8(Some("x".into())),
            ScalarValue::Int64(Some(1_000_000)),
        ]);
        assert_eq!(
            output_bytes(Growth::Repeat, &args, 1).expect("one row"),
            1_000_000
        );
        assert_eq!(
            output_bytes(Growth::Repeat, &args, 8192).expect("a batch"),
            8192 * 1_000_000
        );
    }

    #[test]
    fn replace_counts_the_matches_that_grow() {
        let replace = |text: &str, from: &str, to: &str| {
            let args = constants(
                [text, from, to]
                    .map(|value| ScalarValue::Utf8(Some(value.into())))
                    .to_vec(),
            );
            output_bytes(Growth::Replace, &args, 1).expect("estimate")
        };
        assert_eq!(replace("a-b-c", "-", "--"), 7);
        assert_eq!(replace("a-b-c", "-", ""), 5, "shrinking counts the text");
        assert_eq!(replace("aaaa", "a", &"b".repeat(1000)), 4 + 4 * 999);
    }

    #[test]
    fn interval_steps_that_can_stand_still_are_refused() {
        assert_eq!(shortest_step_nanos(0, 1, 0), Some(23 * 3_600_000_000_000));
        assert_eq!(shortest_step_nanos(0, 0, -5), Some(5));
        assert_eq!(
            shortest_step_nanos(0, 1, -3_600_000_000_000),
            Some(22 * 3_600_000_000_000)
        );
        assert_eq!(shortest_step_nanos(1, -30, 0), None);
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(256 * 1024 * 1024), "256.0 MiB");
        assert_eq!(human_bytes(16_000_000_000), "14.9 GiB");
    }
}
