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
use crate::trace_summary::TraceSummary;
use crate::usage_rollup::column_as;
use crate::views::CLAUDE_CODE_SCOPE_PREFIX;

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// The text columns a part reads.
const TEXT_COLUMNS: [&str; 13] = [
    "trace_id",
    "span_id",
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
];

/// The token counts a part sums (input, output, cache read, cache write).
const COUNT_COLUMNS: [&str; 4] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
];

/// The span columns a part is summed from: no content, so reading them is cheap.
pub(crate) fn trace_part_columns() -> impl Iterator<Item = &'static str> {
    TEXT_COLUMNS
        .into_iter()
        .chain(COUNT_COLUMNS)
        .chain(["start_time", "end_time", "cost_usd"])
}

/// Most distinct models one trace keeps (an agent uses a handful; past this, hostile input):
/// further models are neither listed nor priced for the trace.
const MAX_MODELS_PER_TRACE: usize = 64;

/// One copy of each distinct text kept by some trace (services, agents, users, sessions,
/// models and root names repeat across thousands of traces). Only texts a part keeps are
/// interned; [`Interner::prune`] lets go of those no part holds any more.
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

    /// Drops the texts only the interner still holds.
    pub(crate) fn prune(&mut self) {
        self.texts.retain(|text| Arc::strong_count(text) > 1);
    }
}

/// The span that names the trace: the root if there is one, else the earliest span, ties
/// broken by span id — `first_value(name ORDER BY parent_span_id IS NOT NULL, start_time,
/// span_id)`, the same for `service_name`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeadSpan {
    /// (has a parent, start, span id as a number): the smallest leads.
    pub(crate) key: (bool, i64, u64),
    pub(crate) name: Option<Arc<str>>,
    pub(crate) service_name: Option<Arc<str>>,
}

/// Some of one trace's spans, summed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TracePart {
    pub(crate) start_ns: i64,
    pub(crate) end_ns: i64,
    pub(crate) lead: Option<LeadSpan>,
    pub(crate) session_id: Option<Arc<str>>,
    pub(crate) agent_name: Option<Arc<str>>,
    pub(crate) user_id: Option<Arc<str>>,
    pub(crate) span_count: i64,
    pub(crate) llm_calls: i64,
    pub(crate) tool_calls: i64,
    /// Token sums over the llm spans (input, output, cache read, cache write); `None` while
    /// no llm span carried the count. Sums wrap like SQL's.
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

/// What one span row adds to its trace.
struct SpanFacts<'row> {
    start_ns: i64,
    end_ns: i64,
    lead_key: (bool, i64, u64),
    name: Option<&'row str>,
    service_name: Option<&'row str>,
    session_id: Option<&'row str>,
    agent_name: Option<&'row str>,
    user_id: Option<&'row str>,
    is_llm: bool,
    is_tool: bool,
    failed: bool,
    is_root: bool,
    model: Option<&'row str>,
    tokens: [Option<i64>; 4],
    sent_cost: Option<f64>,
    input_includes_cache: bool,
}

fn add_count(left: Option<i64>, right: Option<i64>) -> Option<i64> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left.wrapping_add(right)),
        (one, None) | (None, one) => one,
    }
}

fn add_cost(left: Option<f64>, right: Option<f64>) -> Option<f64> {
    match (left, right) {
        (Some(left), Some(right)) => Some(left + right),
        (one, None) | (None, one) => one,
    }
}

/// `max(…)` of a text column: keeps the greater, interning it only when it is kept.
fn keep_max(current: &mut Option<Arc<str>>, candidate: Option<&str>, interner: &mut Interner) {
    if let Some(candidate) = candidate
        && current.as_deref().is_none_or(|current| candidate > current)
    {
        *current = Some(interner.intern(candidate));
    }
}

fn keep_max_shared(current: &mut Option<Arc<str>>, candidate: &Option<Arc<str>>) {
    if let Some(candidate) = candidate
        && current
            .as_deref()
            .is_none_or(|current| **candidate > *current)
    {
        *current = Some(candidate.clone());
    }
}

impl TracePart {
    fn of_span(span: &SpanFacts, interner: &mut Interner) -> TracePart {
        let mut part = TracePart {
            start_ns: span.start_ns,
            end_ns: span.end_ns,
            lead: None,
            session_id: None,
            agent_name: None,
            user_id: None,
            span_count: 0,
            llm_calls: 0,
            tool_calls: 0,
            tokens: [None; 4],
            error_count: 0,
            has_root: false,
            root_failed: false,
            models: BTreeSet::new(),
            llm_sent_cost: None,
            other_sent_cost: None,
            unpriced: BTreeMap::new(),
        };
        part.add_span(span, interner);
        part
    }

    /// Adds one span of the trace.
    fn add_span(&mut self, span: &SpanFacts, interner: &mut Interner) {
        self.start_ns = self.start_ns.min(span.start_ns);
        self.end_ns = self.end_ns.max(span.end_ns);
        if self
            .lead
            .as_ref()
            .is_none_or(|lead| span.lead_key < lead.key)
        {
            self.lead = Some(LeadSpan {
                key: span.lead_key,
                name: span.name.map(|name| interner.intern(name)),
                service_name: span.service_name.map(|name| interner.intern(name)),
            });
        }
        keep_max(&mut self.session_id, span.session_id, interner);
        keep_max(&mut self.agent_name, span.agent_name, interner);
        keep_max(&mut self.user_id, span.user_id, interner);
        self.span_count += 1;
        self.llm_calls += i64::from(span.is_llm);
        self.tool_calls += i64::from(span.is_tool);
        self.error_count += i64::from(span.failed);
        self.has_root |= span.is_root;
        self.root_failed |= span.is_root && span.failed;
        if !span.is_llm {
            self.other_sent_cost = add_cost(self.other_sent_cost, span.sent_cost);
            return;
        }
        for (sum, tokens) in self.tokens.iter_mut().zip(span.tokens) {
            *sum = add_count(*sum, tokens);
        }
        self.llm_sent_cost = add_cost(self.llm_sent_cost, span.sent_cost);
        let Some(model) = span.model else {
            return;
        };
        if !self.models.contains(model) && self.models.len() < MAX_MODELS_PER_TRACE {
            self.models.insert(interner.intern(model));
        }
        let Some(model) = self.models.get(model).cloned() else {
            return;
        };
        if span.sent_cost.is_none()
            && let Some(usage) = TokenUsage::from_counts(span.tokens, span.input_includes_cache)
        {
            let day_ns = span.start_ns.div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY;
            self.unpriced
                .entry((model, day_ns))
                .or_default()
                .add(&priced_tokens(usage));
        }
    }

    /// Adds the rest of the trace's spans.
    pub(crate) fn merge(&mut self, other: &TracePart) {
        self.start_ns = self.start_ns.min(other.start_ns);
        self.end_ns = self.end_ns.max(other.end_ns);
        if let Some(other_lead) = &other.lead
            && self
                .lead
                .as_ref()
                .is_none_or(|lead| other_lead.key < lead.key)
        {
            self.lead = Some(other_lead.clone());
        }
        keep_max_shared(&mut self.session_id, &other.session_id);
        keep_max_shared(&mut self.agent_name, &other.agent_name);
        keep_max_shared(&mut self.user_id, &other.user_id);
        self.span_count += other.span_count;
        self.llm_calls += other.llm_calls;
        self.tool_calls += other.tool_calls;
        for (mine, theirs) in self.tokens.iter_mut().zip(other.tokens) {
            *mine = add_count(*mine, theirs);
        }
        self.error_count += other.error_count;
        self.has_root |= other.has_root;
        self.root_failed |= other.root_failed;
        for model in &other.models {
            if self.models.len() < MAX_MODELS_PER_TRACE || self.models.contains(model) {
                self.models.insert(model.clone());
            }
        }
        self.llm_sent_cost = add_cost(self.llm_sent_cost, other.llm_sent_cost);
        self.other_sent_cost = add_cost(self.other_sent_cost, other.other_sent_cost);
        for ((model, day_ns), tokens) in &other.unpriced {
            if self.models.contains(model) {
                self.unpriced
                    .entry((model.clone(), *day_ns))
                    .or_default()
                    .add(tokens);
            }
        }
    }

    /// The trace's cost as `traces` gives it: its llm spans' costs (sent, else priced) when
    /// any has one, else what other spans sent.
    pub(crate) fn cost_usd(&self, prices: &PriceTable) -> Option<f64> {
        let mut llm_cost = self.llm_sent_cost;
        for ((model, day_ns), tokens) in &self.unpriced {
            if let Some(price) = prices.price_for(model, *day_ns) {
                llm_cost = add_cost(llm_cost, Some(tokens.cost(price)));
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

    pub(crate) fn root_name(&self) -> Option<&str> {
        self.lead.as_ref()?.name.as_deref()
    }

    pub(crate) fn service_name(&self) -> Option<&str> {
        self.lead.as_ref()?.service_name.as_deref()
    }

    /// The list's row for the whole trace (this part merged with all the others).
    pub(crate) fn summary(&self, trace_id: &str, prices: &PriceTable) -> TraceSummary {
        let text = |value: Option<&str>| value.map(str::to_owned);
        TraceSummary {
            trace_id: trace_id.to_owned(),
            root_name: text(self.root_name()),
            service_name: text(self.service_name()),
            session_id: text(self.session_id.as_deref()),
            agent_name: text(self.agent_name.as_deref()),
            user_id: text(self.user_id.as_deref()),
            start_ns: self.start_ns,
            duration_ns: Some(self.duration_ns()),
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
        self.end_ns.wrapping_sub(self.start_ns)
    }

    pub(crate) fn has_model(&self, model: &str) -> bool {
        self.models.contains(model)
    }
}

fn text_at(array: &StringArray, row: usize) -> Option<&str> {
    (!array.is_null(row)).then(|| array.value(row))
}

/// A span id (16 hex digits, as normalization writes it) as a number in the same order.
fn span_number(span_id: Option<&str>) -> u64 {
    span_id
        .and_then(|id| u64::from_str_radix(id, 16).ok())
        .unwrap_or(u64::MAX)
}

/// Adds the spans of one batch of span rows to the parts of their traces.
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
    for name in TEXT_COLUMNS {
        texts.insert(name, column_as(batch, name, &DataType::Utf8)?);
    }
    let text_column = |name: &str| -> &StringArray { texts[name].as_string::<i32>() };
    let (trace_id, span_id, parent, name, service, scope, status, span_type) = (
        text_column("trace_id"),
        text_column("span_id"),
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
    let mut count_columns = Vec::with_capacity(COUNT_COLUMNS.len());
    for name in COUNT_COLUMNS {
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
        let parent_id = text_at(parent, row);
        let failed = text_at(status, row) == Some("error");
        let is_root = parent_id.is_none_or(str::is_empty);
        let span = SpanFacts {
            start_ns,
            end_ns: if end_time.is_null(row) {
                start_ns
            } else {
                end_time.value(row)
            },
            lead_key: (
                parent_id.is_some(),
                start_ns,
                span_number(text_at(span_id, row)),
            ),
            name: text_at(name, row),
            service_name: text_at(service, row),
            session_id: text_at(session, row),
            agent_name: text_at(agent, row),
            user_id: text_at(user, row),
            is_llm: text_at(span_type, row) == Some("llm"),
            is_tool: text_at(span_type, row) == Some("tool"),
            failed,
            is_root,
            model: models.iter().find_map(|array| text_at(array, row)),
            tokens: [0, 1, 2, 3].map(|index| {
                let array = counts[index];
                (!array.is_null(row)).then(|| array.value(row))
            }),
            sent_cost: (!cost.is_null(row)).then(|| cost.value(row)),
            input_includes_cache: !text_at(scope, row)
                .unwrap_or("")
                .starts_with(CLAUDE_CODE_SCOPE_PREFIX),
        };
        match parts.get_mut(id) {
            Some(part) => part.add_span(&span, interner),
            None => {
                let part = TracePart::of_span(&span, interner);
                parts.insert(Arc::from(id), part);
            }
        }
    }
    Ok(())
}
