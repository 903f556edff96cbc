//! `TracePart`: what some of a trace's spans add up to, mergeable with the rest of the trace.
//!
//! The trace rollup (`trace_rollup.rs`) keeps one part per trace per day, summed from the
//! day's Parquet files as they are published; merging a trace's parts gives the row the
//! `traces` view computes from all of its spans, column for column (`views.rs`,
//! `TRACE_COLUMNS`): the same root, the same sums, the same outcome. Cost is kept as
//! the costs agents sent plus token sums per (model, day), priced when a page is read, so
//! fixing a price reprices the list like the view.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampNanosecondType,
};

use crate::error::Result;
use crate::prices::{PriceTable, PricedTokens, TokenUsage, priced_tokens};
use crate::trace_list::TraceSummary;
use crate::usage_rollup::column_as;
use crate::views::CLAUDE_CODE_SCOPE_PREFIX;

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// The span columns a part is summed from: no content, so reading them is cheap.
pub(crate) const TRACE_PART_COLUMNS: &[&str] = &[
    "trace_id",
    "parent_span_id",
    "name",
    "service_name",
    "scope_name",
    "start_time",
    "end_time",
    "status_code",
    "span_type",
    "session_id",
    "agent_name",
    "user_id",
    "request_model",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
];

/// One copy of each distinct text (service, agent, user, session, model and root names
/// repeat across thousands of traces).
#[derive(Debug, Default)]
pub(crate) struct Interner {
    texts: HashSet<Arc<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.texts.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.texts.insert(shared.clone());
        shared
    }
}

/// The span that names the trace: the root if there is one, else the earliest span —
/// `first_value(name ORDER BY parent_span_id IS NOT NULL, start_time)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeadSpan {
    pub(crate) has_parent: bool,
    pub(crate) start_ns: i64,
    pub(crate) name: Option<Arc<str>>,
    pub(crate) service_name: Option<Arc<str>>,
}

impl LeadSpan {
    fn precedes(&self, other: &LeadSpan) -> bool {
        (self.has_parent, self.start_ns) < (other.has_parent, other.start_ns)
    }
}

/// Some of one trace's spans, summed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TracePart {
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
    pub(crate) lead: LeadSpan,
    pub(crate) session_id: Option<Arc<str>>,
    pub(crate) agent_name: Option<Arc<str>>,
    pub(crate) user_id: Option<Arc<str>>,
    pub(crate) span_count: i64,
    pub(crate) llm_calls: i64,
    pub(crate) tool_calls: i64,
    /// Token sums over the llm spans; `None` while no llm span carried the count.
    pub(crate) tokens: [Option<i64>; 4],
    pub(crate) error_count: i64,
    /// A span without a parent arrived, and whether one of them ended in error.
    pub(crate) has_root: bool,
    pub(crate) root_failed: bool,
    pub(crate) models: BTreeSet<Arc<str>>,
    /// Costs llm spans sent, and those other spans sent.
    pub(crate) llm_sent_cost: Option<f64>,
    pub(crate) other_sent_cost: Option<f64>,
    /// The llm spans without a sent cost, by (model, day start): priced when read.
    pub(crate) unpriced: BTreeMap<(Arc<str>, i64), PricedTokens>,
}

fn add_option<T: std::ops::Add<Output = T> + Copy>(left: Option<T>, right: Option<T>) -> Option<T> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left + right),
        (one, None) | (None, one) => one,
    }
}

fn max_text(left: &mut Option<Arc<str>>, right: &Option<Arc<str>>) {
    if let Some(right) = right
        && left.as_deref().is_none_or(|left| **right > *left)
    {
        *left = Some(right.clone());
    }
}

impl TracePart {
    /// Adds the rest of the trace's spans.
    pub(crate) fn merge(&mut self, other: &TracePart) {
        self.start_ns = self.start_ns.min(other.start_ns);
        self.end_ns = self.end_ns.max(other.end_ns);
        if other.lead.precedes(&self.lead) {
            self.lead = other.lead.clone();
        }
        max_text(&mut self.session_id, &other.session_id);
        max_text(&mut self.agent_name, &other.agent_name);
        max_text(&mut self.user_id, &other.user_id);
        self.span_count += other.span_count;
        self.llm_calls += other.llm_calls;
        self.tool_calls += other.tool_calls;
        for (mine, theirs) in self.tokens.iter_mut().zip(other.tokens) {
            *mine = add_option(*mine, theirs);
        }
        self.error_count += other.error_count;
        self.has_root |= other.has_root;
        self.root_failed |= other.root_failed;
        self.models.extend(other.models.iter().cloned());
        self.llm_sent_cost = add_option(self.llm_sent_cost, other.llm_sent_cost);
        self.other_sent_cost = add_option(self.other_sent_cost, other.other_sent_cost);
        for (key, tokens) in &other.unpriced {
            self.unpriced.entry(key.clone()).or_default().add(tokens);
        }
    }

    /// The trace's cost as the `traces` view gives it: its llm spans' costs (sent, else
    /// priced) when any has one, else what other spans sent.
    pub(crate) fn cost_usd(&self, prices: &PriceTable) -> Option<f64> {
        let mut llm_cost = self.llm_sent_cost;
        for ((model, day_ns), tokens) in &self.unpriced {
            if let Some(price) = prices.price_for(model, *day_ns) {
                llm_cost = add_option(llm_cost, Some(tokens.cost(price)));
            }
        }
        llm_cost.or(self.other_sent_cost)
    }

    pub(crate) fn outcome(&self) -> &'static str {
        match (self.has_root, self.root_failed) {
            (_, true) => "failed",
            (true, false) => "success",
            (false, false) => "unknown",
        }
    }

    /// The list's row for the whole trace (this part merged with all the others).
    pub(crate) fn summary(&self, trace_id: &str, prices: &PriceTable) -> TraceSummary {
        let text = |value: &Option<Arc<str>>| value.as_deref().map(str::to_owned);
        TraceSummary {
            trace_id: trace_id.to_owned(),
            root_name: text(&self.lead.name),
            service_name: text(&self.lead.service_name),
            session_id: text(&self.session_id),
            agent_name: text(&self.agent_name),
            user_id: text(&self.user_id),
            start_ns: self.start_ns,
            duration_ns: Some(self.end_ns - self.start_ns),
            span_count: self.span_count,
            llm_calls: self.llm_calls,
            tool_calls: self.tool_calls,
            input_tokens: self.tokens[0],
            output_tokens: self.tokens[1],
            cache_read_tokens: self.tokens[2],
            cost_usd: self.cost_usd(prices),
            error_count: self.error_count,
            has_error: self.error_count > 0,
            outcome: self.outcome().to_owned(),
            models: (!self.models.is_empty())
                .then(|| self.models.iter().map(|model| model.to_string()).collect()),
            snippet: None,
        }
    }

    pub(crate) fn duration_ns(&self) -> i64 {
        self.end_ns - self.start_ns
    }

    pub(crate) fn has_model(&self, model: &str) -> bool {
        self.models.contains(model)
    }

    pub(crate) fn service_name(&self) -> Option<&str> {
        self.lead.service_name.as_deref()
    }

    pub(crate) fn agent_name(&self) -> Option<&str> {
        self.agent_name.as_deref()
    }

    pub(crate) fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    pub(crate) fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }
}

fn text_at(array: &StringArray, row: usize) -> Option<&str> {
    (!array.is_null(row)).then(|| array.value(row))
}

/// The parts of the traces in one batch of span rows, keyed by trace id.
pub(crate) fn batch_parts(
    batch: &RecordBatch,
    interner: &mut Interner,
    parts: &mut HashMap<Arc<str>, TracePart>,
) -> Result<()> {
    let timestamp = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let start_time = column_as(batch, "start_time", &timestamp)?;
    let start_time = start_time.as_primitive::<TimestampNanosecondType>();
    let end_time = column_as(batch, "end_time", &timestamp)?;
    let end_time = end_time.as_primitive::<TimestampNanosecondType>();
    let mut texts = HashMap::new();
    for name in [
        "trace_id",
        "parent_span_id",
        "name",
        "service_name",
        "scope_name",
        "status_code",
        "span_type",
        "session_id",
        "agent_name",
        "user_id",
        "request_model",
        "response_model",
    ] {
        texts.insert(name, column_as(batch, name, &DataType::Utf8)?);
    }
    let text_column = |name: &str| -> &StringArray { texts[name].as_string::<i32>() };
    let (trace_id, parent, name, service, scope, status, span_type) = (
        text_column("trace_id"),
        text_column("parent_span_id"),
        text_column("name"),
        text_column("service_name"),
        text_column("scope_name"),
        text_column("status_code"),
        text_column("span_type"),
    );
    let (session, agent, user) = (
        text_column("session_id"),
        text_column("agent_name"),
        text_column("user_id"),
    );
    let models = [text_column("response_model"), text_column("request_model")];
    let mut count_columns = Vec::with_capacity(4);
    for name in [
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
    ] {
        count_columns.push(column_as(batch, name, &DataType::Int64)?);
    }
    let counts: Vec<_> = count_columns
        .iter()
        .map(|array| array.as_primitive::<Int64Type>())
        .collect();
    let cost = column_as(batch, "cost_usd", &DataType::Float64)?;
    let cost = cost.as_primitive::<Float64Type>();

    for row in 0..batch.num_rows() {
        let Some(id) = text_at(trace_id, row) else {
            continue;
        };
        if start_time.is_null(row) {
            continue;
        }
        let start_ns = start_time.value(row);
        let end_ns = if end_time.is_null(row) {
            start_ns
        } else {
            end_time.value(row)
        };
        let parent_id = text_at(parent, row);
        let is_llm = text_at(span_type, row) == Some("llm");
        let is_tool = text_at(span_type, row) == Some("tool");
        let failed = text_at(status, row) == Some("error");
        let is_root = parent_id.is_none_or(str::is_empty);
        let model = models.iter().find_map(|array| text_at(array, row));
        let tokens = [0, 1, 2, 3].map(|index| {
            let array = counts[index];
            (!array.is_null(row)).then(|| array.value(row))
        });
        let sent_cost = (!cost.is_null(row)).then(|| cost.value(row));
        let mut intern = |value: Option<&str>| value.map(|value| interner.intern(value));

        let mut part = TracePart {
            start_ns,
            end_ns,
            lead: LeadSpan {
                has_parent: parent_id.is_some(),
                start_ns,
                name: intern(text_at(name, row)),
                service_name: intern(text_at(service, row)),
            },
            session_id: intern(text_at(session, row)),
            agent_name: intern(text_at(agent, row)),
            user_id: intern(text_at(user, row)),
            span_count: 1,
            llm_calls: i64::from(is_llm),
            tool_calls: i64::from(is_tool),
            tokens: if is_llm { tokens } else { [None; 4] },
            error_count: i64::from(failed),
            has_root: is_root,
            root_failed: is_root && failed,
            models: BTreeSet::new(),
            llm_sent_cost: None,
            other_sent_cost: None,
            unpriced: BTreeMap::new(),
        };
        if is_llm {
            if let Some(model) = model {
                part.models.insert(interner.intern(model));
            }
            part.llm_sent_cost = sent_cost;
            if sent_cost.is_none()
                && let Some(model) = model
            {
                let scope = text_at(scope, row).unwrap_or("");
                let includes_cache = !scope.starts_with(CLAUDE_CODE_SCOPE_PREFIX);
                if let Some(usage) = TokenUsage::from_counts(tokens, includes_cache) {
                    let day_ns = start_ns.div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY;
                    part.unpriced
                        .insert((interner.intern(model), day_ns), priced_tokens(usage));
                }
            }
        } else {
            part.other_sent_cost = sent_cost;
        }
        match parts.get_mut(id) {
            Some(existing) => existing.merge(&part),
            None => {
                parts.insert(interner.intern(id), part);
            }
        }
    }
    Ok(())
}
