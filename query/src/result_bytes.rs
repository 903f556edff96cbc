//! The size of a result's rows in memory, for the byte cap on SQL results and on function calls.
//!
//! Arrow's own `get_array_memory_size` counts whole buffers: a slice of a batch (what `LIMIT`
//! hands on) and batches whose strings share a Parquet page's buffer would each count the
//! whole buffer again. This counts what the rows hold: their values, offsets and validity,
//! and the strings a view points at.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;

/// Bytes of `batch`'s rows (see the module docs).
pub fn batch_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|column| array_bytes(column.as_ref()))
        .sum()
}

/// Bytes of `array`'s rows: values, offsets and validity of this slice only; strings and
/// lists counted by the bytes and elements their rows reach.
pub fn array_bytes(array: &dyn Array) -> usize {
    let validity = array.nulls().map_or(0, |nulls| nulls.len().div_ceil(8));
    let rows = array.len();
    let values = match array.data_type() {
        DataType::Null => 0,
        DataType::Boolean => rows.div_ceil(8),
        DataType::Utf8 => offsets_span(array.as_string::<i32>().value_offsets()) + 4 * (rows + 1),
        DataType::LargeUtf8 => {
            offsets_span(array.as_string::<i64>().value_offsets()) + 8 * (rows + 1)
        }
        DataType::Binary => offsets_span(array.as_binary::<i32>().value_offsets()) + 4 * (rows + 1),
        DataType::LargeBinary => {
            offsets_span(array.as_binary::<i64>().value_offsets()) + 8 * (rows + 1)
        }
        DataType::Utf8View => views_bytes(array.as_string_view().views()),
        DataType::BinaryView => views_bytes(array.as_binary_view().views()),
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let (start, end) = offsets_range(list.value_offsets());
            array_bytes(list.values().slice(start, end - start).as_ref()) + 4 * (rows + 1)
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            let (start, end) = offsets_range(list.value_offsets());
            array_bytes(list.values().slice(start, end - start).as_ref()) + 8 * (rows + 1)
        }
        DataType::Map(..) => {
            let map = array.as_map();
            let (start, end) = offsets_range(map.value_offsets());
            let entries = map.entries().slice(start, end - start);
            array_bytes(&entries) + 4 * (rows + 1)
        }
        DataType::Struct(_) => array
            .as_struct()
            .columns()
            .iter()
            .map(|column| array_bytes(column.as_ref()))
            .sum(),
        data_type => match data_type.primitive_width() {
            Some(width) => width * rows,
            // Dictionaries, unions, run-end encoding: Arrow's count of this slice's data
            // (a dictionary's values counted whole), else every buffer.
            None => array
                .to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| array.get_array_memory_size()),
        },
    };
    values + validity
}

/// Bytes between the first and the last offset: the values these rows reach.
fn offsets_span<O: Copy + Into<i64>>(offsets: &[O]) -> usize {
    let (start, end) = offsets_range(offsets);
    end - start
}

fn offsets_range<O: Copy + Into<i64>>(offsets: &[O]) -> (usize, usize) {
    let first = offsets.first().map_or(0, |offset| (*offset).into());
    let last = offsets.last().map_or(0, |offset| (*offset).into());
    (
        usize::try_from(first).unwrap_or(0),
        usize::try_from(last.max(first)).unwrap_or(0),
    )
}

/// A view is 16 bytes; a value longer than 12 bytes lives in a data buffer besides.
fn views_bytes(views: &[u128]) -> usize {
    views
        .iter()
        .map(|view| {
            let length = *view as u32 as usize;
            16 + if length > 12 { length } else { 0 }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array, ListArray, StringArray, StringViewArray};
    use datafusion::arrow::datatypes::Int64Type;

    use super::*;

    #[test]
    fn a_slice_counts_its_own_rows_only() {
        let long = "x".repeat(1000);
        let strings = StringArray::from(vec![long.as_str(); 100]);
        let whole = array_bytes(&strings);
        assert_eq!(whole, 100 * 1000 + 4 * 101);
        assert_eq!(array_bytes(&strings.slice(10, 2)), 2 * 1000 + 4 * 3);
    }

    #[test]
    fn views_count_the_strings_they_point_at() {
        let long = "y".repeat(100);
        let views = StringViewArray::from(vec![long.as_str(), "short"]);
        assert_eq!(array_bytes(&views), 16 + 100 + 16);
        assert_eq!(array_bytes(&views.slice(1, 1)), 16);
    }

    #[test]
    fn lists_count_the_elements_their_rows_reach() {
        let lists = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1); 10]),
            Some(vec![Some(2); 1000]),
        ]);
        assert_eq!(array_bytes(&lists.slice(0, 1)), 10 * 8 + 4 * 2);
        let integers: ArrayRef = Arc::new(Int64Array::from(vec![1; 64]));
        let batch = RecordBatch::try_from_iter([("n", integers)]).expect("batch");
        assert_eq!(batch_bytes(&batch), 64 * 8);
    }
}
