//! The model price table: shipped in `tracegen/prices.toml`, extended by `<data-dir>/prices.toml`.
//!
//! Cost is computed at query time (the `model_cost` SQL function behind the `spans` view), so
//! fixing a price reprices history. Rules, as the shipped file's header states them: `*`
//! patterns matched case-insensitively against the model; the most specific pattern wins; then
//! the entry with the latest `from` date on or before the span; data-dir entries beat shipped
//! ones at equal specificity and date.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, Float64Array, Float64Builder, RecordBatch,
    StringBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampNanosecondType,
};
use datafusion::common::cast::as_string_array;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use serde::Deserialize;

use crate::error::{QueryError, Result};

/// The table shipped with Sextant.
pub const SHIPPED_PRICES: &str = include_str!("../../tracegen/prices.toml");

/// The file in a data directory whose entries extend (and win over) the shipped table.
pub const DATA_DIR_PRICES_FILE: &str = "prices.toml";

/// One price, USD per million tokens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    #[serde(default)]
    pub provider: Option<String>,
    pub model: String,
    /// Effective from this day (UTC), inclusive.
    pub from: NaiveDate,
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: f64,
    #[serde(default)]
    pub cache_write: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    price: Vec<ModelPrice>,
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PriceOrigin {
    Shipped,
    DataDir,
}

impl PriceOrigin {
    fn as_str(self) -> &'static str {
        match self {
            PriceOrigin::Shipped => "shipped",
            PriceOrigin::DataDir => "data_dir",
        }
    }
}

/// Token counts of one model call, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenUsage {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
    /// Whether `input` counts the cached tokens too (OTel GenAI, OpenAI) or not (Anthropic,
    /// Claude Code).
    pub input_includes_cache: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: Vec<(ModelPrice, PriceOrigin)>,
    /// Each entry's `model` pattern, lowercased once (index = entry's index).
    lowercase_patterns: Vec<String>,
}

/// What identifies a version of `<data-dir>/prices.toml`: absent, or its mtime and length.
type PriceFileVersion = Option<(std::time::SystemTime, u64)>;

fn price_file_version(path: &Path) -> PriceFileVersion {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

impl PriceTable {
    /// [`PriceTable::load`], parsed once per version of the data dir's price file: every query
    /// session needs the table, and the file rarely changes. A change (new mtime or length)
    /// is picked up by the next session, so fixing a price still reprices history at once.
    pub fn load_cached(data_dir: &Path) -> Result<Arc<PriceTable>> {
        type Cache = HashMap<PathBuf, (PriceFileVersion, Arc<PriceTable>)>;
        static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
        let version = price_file_version(&data_dir.join(DATA_DIR_PRICES_FILE));
        let cache = CACHE.get_or_init(Default::default);
        let cached = cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(data_dir)
            .filter(|(cached_version, _)| *cached_version == version)
            .map(|(_, table)| table.clone());
        if let Some(table) = cached {
            return Ok(table);
        }
        let table = Arc::new(PriceTable::load(data_dir)?);
        cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(data_dir.to_path_buf(), (version, table.clone()));
        Ok(table)
    }

    /// The shipped table plus the data directory's own, if it has one.
    pub fn load(data_dir: &Path) -> Result<PriceTable> {
        let mut table = PriceTable::parse(SHIPPED_PRICES, PriceOrigin::Shipped)?;
        let own = data_dir.join(DATA_DIR_PRICES_FILE);
        match std::fs::read_to_string(&own) {
            Ok(text) => {
                let extra = PriceTable::parse(&text, PriceOrigin::DataDir).map_err(|error| {
                    QueryError::InvalidQuery(format!("{}: {error}", own.display()))
                })?;
                table.extend(extra);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
        Ok(table)
    }

    pub fn parse(text: &str, origin: PriceOrigin) -> Result<PriceTable> {
        let file: PriceFile = toml::from_str(text)
            .map_err(|error| QueryError::InvalidQuery(format!("invalid price table: {error}")))?;
        let mut table = PriceTable::default();
        for price in file.price {
            table
                .lowercase_patterns
                .push(price.model.to_ascii_lowercase());
            table.entries.push((price, origin));
        }
        Ok(table)
    }

    /// Adds `other`'s entries after this table's own.
    fn extend(&mut self, other: PriceTable) {
        self.entries.extend(other.entries);
        self.lowercase_patterns.extend(other.lowercase_patterns);
    }

    /// The price in force for `model` at `time_ns`, if any.
    pub fn price_for(&self, model: &str, time_ns: i64) -> Option<&ModelPrice> {
        let day = DateTime::<Utc>::from_timestamp_nanos(time_ns).date_naive();
        self.price_on(&model.to_ascii_lowercase(), day)
    }

    /// The price in force for `model` (lowercase) on `day`, if any.
    fn price_on(&self, model: &str, day: NaiveDate) -> Option<&ModelPrice> {
        self.entries
            .iter()
            .zip(&self.lowercase_patterns)
            .filter(|((price, _), pattern)| price.from <= day && pattern_matches(pattern, model))
            .max_by_key(|((price, origin), _)| (literal_chars(&price.model), price.from, *origin))
            .map(|((price, _), _)| price)
    }

    /// The cost of one call in USD, if the model has a price.
    pub fn cost(&self, model: &str, time_ns: i64, usage: TokenUsage) -> Option<f64> {
        Some(call_cost(self.price_for(model, time_ns)?, usage))
    }

    /// The table as the `prices` SQL table.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let mut provider = StringBuilder::new();
        let mut model = StringBuilder::new();
        let mut from = Date32Builder::new();
        let mut prices: [Float64Builder; 4] = Default::default();
        let mut origin = StringBuilder::new();
        let epoch = NaiveDate::default();
        for (price, price_origin) in &self.entries {
            provider.append_option(price.provider.as_deref());
            model.append_value(&price.model);
            from.append_value((price.from - epoch).num_days() as i32);
            for (builder, value) in prices.iter_mut().zip([
                price.input,
                price.output,
                price.cache_read,
                price.cache_write,
            ]) {
                builder.append_value(value);
            }
            origin.append_value(price_origin.as_str());
        }
        let [input, output, cache_read, cache_write] = prices.map(|mut builder| builder.finish());
        let columns: Vec<ArrayRef> = vec![
            Arc::new(provider.finish()),
            Arc::new(model.finish()),
            Arc::new(from.finish()),
            Arc::new(input),
            Arc::new(output),
            Arc::new(cache_read),
            Arc::new(cache_write),
            Arc::new(origin.finish()),
        ];
        Ok(RecordBatch::try_new(prices_schema(), columns)?)
    }
}

impl TokenUsage {
    /// A call's usage from its stored counts (input, output, cache read, cache write; NULL
    /// as 0); `None` when all four are NULL: such a call has no cost to compute.
    pub fn from_counts(counts: [Option<i64>; 4], input_includes_cache: bool) -> Option<TokenUsage> {
        if counts.iter().all(Option::is_none) {
            return None;
        }
        let [input, output, cache_read, cache_write] = counts.map(|count| count.unwrap_or(0));
        Some(TokenUsage {
            input,
            output,
            cache_read,
            cache_write,
            input_includes_cache,
        })
    }
}

/// What a call with `usage` costs at `price`, USD.
fn call_cost(price: &ModelPrice, usage: TokenUsage) -> f64 {
    priced_tokens(usage).cost(price)
}

/// Token counts as a price applies to them: input without the cached tokens, none negative.
/// Cost is linear in these, so sums of them price many calls of one price at once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PricedTokens {
    pub uncached_input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

impl PricedTokens {
    /// Adds another call's (or sum's) tokens; counts past i64 saturate rather than wrap
    /// into a negative cost.
    pub fn add(&mut self, other: &PricedTokens) {
        self.uncached_input = self.uncached_input.saturating_add(other.uncached_input);
        self.output = self.output.saturating_add(other.output);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
    }

    /// Their cost at `price`, USD.
    pub fn cost(&self, price: &ModelPrice) -> f64 {
        let per_token = |tokens: i64, per_million: f64| tokens as f64 * per_million / 1e6;
        per_token(self.uncached_input, price.input)
            + per_token(self.output, price.output)
            + per_token(self.cache_read, price.cache_read)
            + per_token(self.cache_write, price.cache_write)
    }
}

/// One call's tokens as its price applies to them.
pub fn priced_tokens(usage: TokenUsage) -> PricedTokens {
    let cached = usage.cache_read.max(0) + usage.cache_write.max(0);
    // A source that claims to include cached tokens but reports fewer input tokens than
    // cached ones cannot be including them: treat its input as uncached.
    let uncached_input = if usage.input_includes_cache && usage.input >= cached {
        usage.input - cached
    } else {
        usage.input
    };
    PricedTokens {
        uncached_input: uncached_input.max(0),
        output: usage.output.max(0),
        cache_read: usage.cache_read.max(0),
        cache_write: usage.cache_write.max(0),
    }
}

/// Prices looked up while pricing one batch of rows: a batch holds a handful of models over
/// a day or two, so each (model, day) is matched against the table once, not once per row.
struct BatchPrices<'table, 'batch> {
    table: &'table PriceTable,
    found: HashMap<(&'batch str, i64), Option<&'table ModelPrice>>,
}

impl<'table, 'batch> BatchPrices<'table, 'batch> {
    fn new(table: &'table PriceTable) -> Self {
        BatchPrices {
            table,
            found: HashMap::new(),
        }
    }

    fn price(&mut self, model: &'batch str, time_ns: i64) -> Option<&'table ModelPrice> {
        const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
        let table = self.table;
        *self
            .found
            .entry((model, time_ns.div_euclid(NANOS_PER_DAY)))
            .or_insert_with(|| {
                let day = DateTime::<Utc>::from_timestamp_nanos(time_ns).date_naive();
                table.price_on(&model.to_ascii_lowercase(), day)
            })
    }
}

pub fn prices_schema() -> SchemaRef {
    let price = |name: &str| Field::new(name, DataType::Float64, false);
    Arc::new(Schema::new(vec![
        Field::new("provider", DataType::Utf8, true),
        Field::new("model", DataType::Utf8, false),
        Field::new("effective_from", DataType::Date32, false),
        price("input_per_million"),
        price("output_per_million"),
        price("cache_read_per_million"),
        price("cache_write_per_million"),
        Field::new("origin", DataType::Utf8, false),
    ]))
}

/// `*` matches any run of characters; everything else literally. Both are lowercase.
fn pattern_matches(pattern: &str, model: &str) -> bool {
    let mut pieces = pattern.split('*');
    let Some(first) = pieces.next() else {
        return false;
    };
    let Some(mut rest) = model.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(position) => rest = &rest[position + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

fn literal_chars(pattern: &str) -> usize {
    pattern
        .chars()
        .filter(|character| *character != '*')
        .count()
}

/// `model_cost(model, time, input, output, cache_read, cache_write, input_includes_cache)`:
/// the cost in USD from the price table, null when the model has no price or no tokens.
pub fn model_cost_udf(prices: Arc<PriceTable>) -> ScalarUDF {
    let function = move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let [
            model,
            time,
            input,
            output,
            cache_read,
            cache_write,
            includes_cache,
        ] = arrays.as_slice()
        else {
            return Err(datafusion::error::DataFusionError::Internal(
                "model_cost takes 7 arguments".into(),
            ));
        };
        let model = as_string_array(model)?;
        let time = time.as_primitive::<TimestampNanosecondType>();
        let counts =
            [input, output, cache_read, cache_write].map(|array| array.as_primitive::<Int64Type>());
        let includes_cache = includes_cache.as_boolean();
        let mut costs = Float64Builder::with_capacity(model.len());
        let mut batch_prices = BatchPrices::new(&prices);
        for row in 0..model.len() {
            let row_counts = counts.map(|array| (!array.is_null(row)).then(|| array.value(row)));
            let includes = !includes_cache.is_null(row) && includes_cache.value(row);
            let usage = TokenUsage::from_counts(row_counts, includes);
            let (Some(usage), false, false) = (usage, model.is_null(row), time.is_null(row)) else {
                costs.append_null();
                continue;
            };
            let price = batch_prices.price(model.value(row), time.value(row));
            costs.append_option(price.map(|price| call_cost(price, usage)));
        }
        let costs: Float64Array = costs.finish();
        Ok(ColumnarValue::Array(Arc::new(costs)))
    };
    create_udf(
        "model_cost",
        vec![
            DataType::Utf8,
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            DataType::Int64,
            DataType::Int64,
            DataType::Int64,
            DataType::Int64,
            DataType::Boolean,
        ],
        DataType::Float64,
        Volatility::Immutable,
        Arc::new(function),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PriceTable {
        PriceTable::parse(SHIPPED_PRICES, PriceOrigin::Shipped).expect("shipped table parses")
    }

    const NOV_2025: i64 = 1_764_000_000_000_000_000; // 2025-11-24

    #[test]
    fn patterns_match_with_wildcards_case_insensitively() {
        assert!(pattern_matches(
            "claude-sonnet-4*",
            "claude-sonnet-4-5-20250929"
        ));
        assert!(!pattern_matches("gpt-5*", "gpt-4o"));
        assert!(pattern_matches("*mini*", "gpt-5-mini"));
        assert!(pattern_matches("exact", "exact"));
        assert!(!pattern_matches("exact", "exactly"));
        // The table lowercases patterns once and models per lookup.
        let table = PriceTable::parse(
            "[[price]]\nmodel = \"GPT-5*\"\nfrom = \"2025-08-07\"\ninput = 1.25\noutput = 10.0\n",
            PriceOrigin::DataDir,
        )
        .expect("parses");
        assert!(table.price_for("gpt-5", NOV_2025).is_some());
        assert!(table.price_for("GPT-5-Mini", NOV_2025).is_some());
        assert!(table.price_for("gpt-4o", NOV_2025).is_none());
        let mut batch = BatchPrices::new(&table);
        assert!(batch.price("Gpt-5", NOV_2025).is_some());
        assert!(batch.price("gpt-4o", NOV_2025).is_none());
    }

    #[test]
    fn the_most_specific_pattern_wins() {
        let prices = table();
        let mini = prices
            .price_for("gpt-5-mini-2025-08-07", NOV_2025)
            .expect("priced");
        assert_eq!(mini.model, "gpt-5-mini*");
        let full = prices.price_for("gpt-5", NOV_2025).expect("priced");
        assert_eq!(full.model, "gpt-5*");
        assert!(prices.price_for("some-local-model", NOV_2025).is_none());
    }

    #[test]
    fn prices_take_effect_on_their_date() {
        let prices = table();
        let before = prices.price_for("claude-opus-4-5", 1_750_000_000_000_000_000);
        assert_eq!(
            before.map(|price| price.input),
            Some(15.0),
            "older opus-4 price"
        );
        let after = prices.price_for("claude-opus-4-5", NOV_2025 + 86_400_000_000_000);
        assert_eq!(after.map(|price| price.input), Some(5.0));
    }

    #[test]
    fn cached_tokens_are_priced_apart_and_not_twice() {
        let prices = table();
        let inclusive = TokenUsage {
            input: 1_000_000,
            output: 0,
            cache_read: 400_000,
            cache_write: 0,
            input_includes_cache: true,
        };
        // gpt-5: 600k uncached at $1.25/M + 400k cached at $0.125/M.
        let cost = prices.cost("gpt-5", NOV_2025, inclusive).expect("priced");
        assert!((cost - (0.75 + 0.05)).abs() < 1e-9, "{cost}");
        let exclusive = TokenUsage {
            input_includes_cache: false,
            ..inclusive
        };
        let cost = prices.cost("gpt-5", NOV_2025, exclusive).expect("priced");
        assert!((cost - (1.25 + 0.05)).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn data_dir_entries_win_over_shipped_ones() {
        let mut prices = table();
        let own = PriceTable::parse(
            "[[price]]\nmodel = \"gpt-5*\"\nfrom = \"2025-08-07\"\ninput = 99.0\noutput = 1.0\n",
            PriceOrigin::DataDir,
        )
        .expect("parses");
        prices.extend(own);
        assert_eq!(
            prices.price_for("gpt-5", NOV_2025).map(|p| p.input),
            Some(99.0)
        );
        assert_eq!(
            prices.to_batch().expect("batch").num_rows(),
            prices.entries.len()
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = PriceTable::parse(
            "[[price]]\nmodel = \"x\"\nfrom = \"2025-01-01\"\ninput = 1.0\noutput = 1.0\ncolour = 1\n",
            PriceOrigin::DataDir,
        )
        .expect_err("unknown key");
        assert!(error.to_string().contains("colour"), "{error}");
    }
}
