//! OTLP `AnyValue` → JSON conversion (depth-limited) and the lenient scalar readers every alias uses.
//!
//! Sources disagree on types: token counts arrive as `intValue`, `doubleValue` or `"123"`,
//! ids as strings or ints. All lenient parsing lives here so the rules are the same everywhere.

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use serde_json::{Map, Value as Json};

/// Deepest nesting of arrays / key-value lists accepted in one value. A scalar has depth 0,
/// an array of scalars depth 1.
pub const MAX_VALUE_DEPTH: usize = 64;

/// Placeholder written by [`any_value_to_json`] where a value nests deeper than [`MAX_VALUE_DEPTH`].
pub const TRUNCATED_MARKER: &str = "[truncated: nested deeper than 64 levels]";

/// Converts an OTLP `AnyValue` to JSON: strings, bools, ints and doubles as JSON scalars,
/// bytes as a base64 string, arrays as arrays, key-value lists as objects (keys in order).
///
/// Never recurses more than [`MAX_VALUE_DEPTH`] + 1 frames: a sub-value nested deeper is
/// replaced by [`TRUNCATED_MARKER`]. The normalizer rejects such spans before converting
/// (see [`exceeds_max_depth`]), so stored rows never contain the marker.
pub fn any_value_to_json(value: &AnyValue) -> Json {
    convert(value, 0)
}

/// JSON object from OTLP key-values, in order; a repeated key keeps its last value.
pub fn key_values_to_json(entries: &[KeyValue]) -> Map<String, Json> {
    let mut object = Map::new();
    for entry in entries {
        object.insert(
            entry.key.clone(),
            optional_value_to_json(entry.value.as_ref(), 0),
        );
    }
    object
}

fn optional_value_to_json(value: Option<&AnyValue>, depth: usize) -> Json {
    value.map_or(Json::Null, |value| convert(value, depth))
}

fn convert(value: &AnyValue, depth: usize) -> Json {
    let Some(inner) = value.value.as_ref() else {
        return Json::Null;
    };
    match inner {
        Value::StringValue(text) => Json::String(text.clone()),
        Value::BoolValue(flag) => Json::Bool(*flag),
        Value::IntValue(number) => Json::from(*number),
        // NaN and infinities have no JSON form; keep them readable instead of dropping them.
        Value::DoubleValue(number) => serde_json::Number::from_f64(*number)
            .map_or_else(|| Json::String(number.to_string()), Json::Number),
        Value::BytesValue(bytes) => {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Value::StringValueStrindex(index) => Json::from(*index),
        Value::ArrayValue(array) => {
            if depth >= MAX_VALUE_DEPTH {
                return Json::String(TRUNCATED_MARKER.to_owned());
            }
            Json::Array(
                array
                    .values
                    .iter()
                    .map(|item| convert(item, depth + 1))
                    .collect(),
            )
        }
        Value::KvlistValue(list) => {
            if depth >= MAX_VALUE_DEPTH {
                return Json::String(TRUNCATED_MARKER.to_owned());
            }
            let mut object = Map::new();
            for entry in &list.values {
                object.insert(
                    entry.key.clone(),
                    optional_value_to_json(entry.value.as_ref(), depth + 1),
                );
            }
            Json::Object(object)
        }
    }
}

/// True when `value` nests arrays / key-value lists deeper than [`MAX_VALUE_DEPTH`].
/// Iterative (explicit stack), so arbitrarily deep input cannot overflow the call stack.
pub fn exceeds_max_depth(value: &AnyValue) -> bool {
    let mut pending: Vec<(&AnyValue, usize)> = vec![(value, 0)];
    while let Some((current, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &AnyValue>> = match current.value.as_ref() {
            Some(Value::ArrayValue(array)) => Box::new(array.values.iter()),
            Some(Value::KvlistValue(list)) => {
                Box::new(list.values.iter().filter_map(|entry| entry.value.as_ref()))
            }
            _ => continue,
        };
        // `current` is a container: its content sits one level deeper.
        if depth + 1 > MAX_VALUE_DEPTH {
            return true;
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// A non-empty string; numbers and bools are rendered as text (ids sometimes arrive as ints).
pub fn lenient_string(value: &AnyValue) -> Option<String> {
    let text = match value.value.as_ref()? {
        Value::StringValue(text) => text.trim().to_owned(),
        Value::IntValue(number) => number.to_string(),
        Value::DoubleValue(number) if number.is_finite() => number.to_string(),
        Value::BoolValue(flag) => flag.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// An integer from an int, an integral double, or a string such as `"123"` or `"123.0"`.
pub fn lenient_i64(value: &AnyValue) -> Option<i64> {
    match value.value.as_ref()? {
        Value::IntValue(number) => Some(*number),
        Value::DoubleValue(number) => integral_f64_to_i64(*number),
        Value::StringValue(text) => {
            let text = text.trim();
            text.parse::<i64>()
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(integral_f64_to_i64))
        }
        _ => None,
    }
}

/// A finite float from a double, an int, or a numeric string.
pub fn lenient_f64(value: &AnyValue) -> Option<f64> {
    let number = match value.value.as_ref()? {
        Value::DoubleValue(number) => *number,
        // Token counts and costs are far below 2^53, where this conversion is exact.
        Value::IntValue(number) => *number as f64,
        Value::StringValue(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    number.is_finite().then_some(number)
}

fn integral_f64_to_i64(number: f64) -> Option<i64> {
    // The range check keeps the cast exact; i64::MAX as f64 rounds up to 2^63, hence `<`.
    let in_range = number.is_finite() && number >= i64::MIN as f64 && number < i64::MAX as f64;
    (in_range && number.fract() == 0.0).then_some(number as i64)
}

/// Reads a JSON value the same lenient way as [`lenient_string`] (for parsed message bodies).
pub fn json_string(value: &Json) -> Option<String> {
    let text = match value {
        Json::String(text) => text.trim().to_owned(),
        Json::Number(number) => number.to_string(),
        Json::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn string(text: &str) -> AnyValue {
        AnyValue {
            value: Some(Value::StringValue(text.to_owned())),
        }
    }

    fn nested_arrays(depth: usize) -> AnyValue {
        let mut value = string("leaf");
        for _ in 0..depth {
            value = AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })),
            };
        }
        value
    }

    #[test]
    fn numbers_are_read_from_ints_doubles_and_strings() {
        let int = AnyValue {
            value: Some(Value::IntValue(42)),
        };
        let double = AnyValue {
            value: Some(Value::DoubleValue(42.0)),
        };
        assert_eq!(lenient_i64(&int), Some(42));
        assert_eq!(lenient_i64(&double), Some(42));
        assert_eq!(lenient_i64(&string(" 42 ")), Some(42));
        assert_eq!(lenient_i64(&string("42.0")), Some(42));
        assert_eq!(lenient_i64(&string("42.5")), None);
        assert_eq!(lenient_i64(&string("forty-two")), None);
        assert_eq!(lenient_f64(&string("0.0125")), Some(0.0125));
        assert_eq!(lenient_f64(&int), Some(42.0));
        assert_eq!(lenient_f64(&string("NaN")), None);
    }

    #[test]
    fn values_convert_to_json_scalars_arrays_and_objects() {
        let value = AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![
                    KeyValue {
                        key: "z".into(),
                        value: Some(string("first")),
                        key_strindex: 0,
                    },
                    KeyValue {
                        key: "a".into(),
                        value: Some(AnyValue {
                            value: Some(Value::BytesValue(vec![1, 2, 3])),
                        }),
                        key_strindex: 0,
                    },
                    KeyValue {
                        key: "n".into(),
                        value: Some(nested_arrays(1)),
                        key_strindex: 0,
                    },
                ],
            })),
        };
        assert_eq!(
            serde_json::to_string(&any_value_to_json(&value)).ok(),
            Some(r#"{"z":"first","a":"AQID","n":["leaf"]}"#.to_owned())
        );
    }

    #[test]
    fn depth_limit_is_exact_and_conversion_truncates() {
        assert!(!exceeds_max_depth(&nested_arrays(MAX_VALUE_DEPTH)));
        assert!(exceeds_max_depth(&nested_arrays(MAX_VALUE_DEPTH + 1)));
        let deep = nested_arrays(MAX_VALUE_DEPTH + 1);
        let text = serde_json::to_string(&any_value_to_json(&deep)).unwrap_or_default();
        assert!(text.contains(TRUNCATED_MARKER));
        let shallow = nested_arrays(MAX_VALUE_DEPTH);
        let text = serde_json::to_string(&any_value_to_json(&shallow)).unwrap_or_default();
        assert!(!text.contains(TRUNCATED_MARKER));
    }
}
