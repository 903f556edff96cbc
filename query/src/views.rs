//! The SQL views over the stored tables: `spans` and `logs` with cost, `sessions` and
//! `agent_actions` (the governance ledger, `agent_actions/`); the
//! definition of `traces`, which the trace rollup answers (`traces_table.rs`).
//!
//! `stored_spans` / `stored_logs` are the Parquet tables as written; the `spans` and `logs`
//! views add the query-time cost: the cost the agent sent, else `model_cost(…)` from the price
//! table for model calls (`cost_source` says which). Aggregates count tokens and price only
//! `llm` spans, so an agent span that repeats its children's totals is not counted twice.
//! Model lists are sorted, so a row reads the same on every run.

use datafusion::execution::context::SessionContext;
use sextant_ingest::log_row::logs_schema;
use sextant_ingest::schema::spans_schema;

use crate::error::Result;

/// The instrumentation scope of Claude Code's spans. Claude Code reports input tokens without
/// the cached ones; OTel GenAI and OpenAI with them (`llm_usage` applies the same rule).
pub(crate) const CLAUDE_CODE_SCOPE_PREFIX: &str = "com.anthropic.claude_code";
// `starts_with`, not `LIKE`: in a LIKE pattern the `_` of `claude_code` matches any character.
const LOG_INPUT_INCLUDES_CACHE: &str = "NOT starts_with(COALESCE(event_name, ''), 'claude_code.')";

fn span_price() -> String {
    format!(
        "CASE WHEN span_type = 'llm' THEN model_cost(COALESCE(response_model, request_model), \
         start_time, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, \
         NOT starts_with(COALESCE(scope_name, ''), '{CLAUDE_CODE_SCOPE_PREFIX}')) END"
    )
}

fn log_price() -> String {
    format!(
        "model_cost(model, time, input_tokens, output_tokens, cache_read_tokens, \
         cache_write_tokens, {LOG_INPUT_INCLUDES_CACHE})"
    )
}

/// `SELECT <every stored column, cost replaced>, cost_source, day FROM <stored>`.
fn with_cost_sql(
    view: &str,
    stored: &str,
    columns: impl Iterator<Item = String>,
    price: &str,
) -> String {
    let select: Vec<String> = columns
        .map(|column| {
            if column == "cost_usd" {
                format!("COALESCE({stored}.cost_usd, {price}) AS cost_usd")
            } else {
                format!("\"{column}\"")
            }
        })
        .collect();
    format!(
        "CREATE VIEW {view} AS SELECT {}, CASE WHEN {stored}.cost_usd IS NOT NULL THEN 'sent' \
         WHEN {price} IS NOT NULL THEN 'price_table' END AS cost_source, day FROM {stored}",
        select.join(", ")
    )
}

/// The columns of `traces` after `trace_id`, each an aggregate over the trace's spans: the
/// definition the trace rollup (`trace_part.rs`, `traces_table.rs`) implements, and the
/// reference its tests compare it with.
#[cfg(test)]
const TRACE_COLUMNS: &[(&str, &str)] = &[
    (
        "root_name",
        "first_value(name ORDER BY parent_span_id IS NOT NULL, start_time, span_id)",
    ),
    (
        "service_name",
        "first_value(service_name ORDER BY parent_span_id IS NOT NULL, start_time, span_id)",
    ),
    ("session_id", "max(session_id)"),
    ("agent_name", "max(agent_name)"),
    ("user_id", "max(user_id)"),
    ("start_time", "min(start_time)"),
    ("end_time", "max(end_time)"),
    (
        "duration_ns",
        "max(arrow_cast(end_time, 'Int64')) - min(arrow_cast(start_time, 'Int64'))",
    ),
    ("span_count", "count(*)"),
    ("llm_calls", "count(*) FILTER (WHERE span_type = 'llm')"),
    ("tool_calls", "count(*) FILTER (WHERE span_type = 'tool')"),
    (
        "input_tokens",
        "sum(input_tokens) FILTER (WHERE span_type = 'llm')",
    ),
    (
        "output_tokens",
        "sum(output_tokens) FILTER (WHERE span_type = 'llm')",
    ),
    (
        "cache_read_tokens",
        "sum(cache_read_tokens) FILTER (WHERE span_type = 'llm')",
    ),
    (
        "cache_write_tokens",
        "sum(cache_write_tokens) FILTER (WHERE span_type = 'llm')",
    ),
    // The llm spans' costs when they carry any; an agent span repeating their total is
    // then not counted twice. Otherwise whatever spans carry one (an agent that reports its
    // cost only on the run).
    (
        "cost_usd",
        "COALESCE(sum(cost_usd) FILTER (WHERE span_type = 'llm'), sum(cost_usd))",
    ),
    (
        "error_count",
        "count(*) FILTER (WHERE status_code = 'error')",
    ),
    ("has_error", "bool_or(status_code = 'error')"),
    // The run's own verdict, from its root span (no parent): `failed` when the root ended in
    // error, `success` otherwise, `unknown` while the trace has no root (not arrived yet).
    // An agent that failed a test and then fixed the code has failed steps (`has_error`,
    // `error_count`) but succeeded. Every convention Sextant reads marks a failed run on its
    // root (`invoke_agent`, the OpenInference agent/chain root, Claude Code's interaction).
    (
        "outcome",
        "CASE WHEN bool_or(COALESCE(parent_span_id, '') = '' AND status_code = 'error') THEN 'failed' \
         WHEN bool_or(COALESCE(parent_span_id, '') = '') THEN 'success' ELSE 'unknown' END",
    ),
    (
        "models",
        "array_sort(array_agg(DISTINCT COALESCE(response_model, request_model)) \
         FILTER (WHERE span_type = 'llm' AND COALESCE(response_model, request_model) IS NOT NULL))",
    ),
    // The day the trace started, like `start_time`.
    ("day", "min(day)"),
];

/// `SELECT trace_id, <every column above> FROM spans GROUP BY trace_id`: what `traces`
/// holds, computed the slow way, for tests to compare the rollup with.
#[cfg(test)]
pub(crate) fn traces_from_spans_sql() -> String {
    let mut select = String::from("trace_id");
    for (name, expression) in TRACE_COLUMNS {
        select.push_str(&format!(", {expression} AS {name}"));
    }
    format!("SELECT {select} FROM spans GROUP BY trace_id")
}

/// Sessions from spans (`session_id`) and from agent events (`logs.session_id`), joined: a
/// logs-only agent (Claude Code without trace export, Codex) still has sessions. Tokens come
/// from spans when there are any; cost from events when they carry it (the agent's own figure).
const SESSIONS_VIEW: &str = "CREATE VIEW sessions AS
WITH span_side AS (
    -- Per trace first, so spans that do not carry the session (agents often tag only the
    -- root) still count toward it.
    SELECT
        session_id,
        min(start_time) AS first_seen,
        max(end_time) AS last_seen,
        count(*) AS traces,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cache_read_tokens) AS cache_read_tokens,
        sum(cache_write_tokens) AS cache_write_tokens,
        sum(cost_usd) AS cost_usd,
        sum(error_count) AS errors,
        array_sort(array_distinct(flatten(array_agg(models) FILTER (WHERE models IS NOT NULL)))) AS models,
        max(agent_name) AS agent_name,
        max(service_name) AS service_name,
        max(user_id) AS user_id
    FROM traces
    WHERE session_id IS NOT NULL
    GROUP BY session_id
), event_side AS (
    SELECT
        session_id,
        min(time) AS first_seen,
        max(time) AS last_seen,
        count(*) FILTER (WHERE event_name LIKE '%user_prompt') AS prompts,
        sum(input_tokens) AS input_tokens,
        sum(output_tokens) AS output_tokens,
        sum(cache_read_tokens) AS cache_read_tokens,
        sum(cache_write_tokens) AS cache_write_tokens,
        sum(cost_usd) AS cost_usd,
        count(*) FILTER (WHERE event_name LIKE '%api_error' OR success = false) AS errors,
        array_sort(array_agg(DISTINCT model) FILTER (WHERE model IS NOT NULL AND input_tokens IS NOT NULL)) AS models,
        max(service_name) AS service_name,
        max(user_id) AS user_id
    FROM logs
    WHERE session_id IS NOT NULL
    GROUP BY session_id
)
SELECT
    COALESCE(s.session_id, e.session_id) AS session_id,
    CASE WHEN e.first_seen IS NULL OR s.first_seen < e.first_seen THEN s.first_seen ELSE e.first_seen END AS first_seen,
    CASE WHEN e.last_seen IS NULL OR s.last_seen > e.last_seen THEN s.last_seen ELSE e.last_seen END AS last_seen,
    COALESCE(s.traces, 0) AS traces,
    CASE WHEN COALESCE(e.prompts, 0) > 0 THEN e.prompts ELSE COALESCE(s.traces, 0) END AS prompts,
    COALESCE(s.input_tokens, e.input_tokens) AS input_tokens,
    COALESCE(s.output_tokens, e.output_tokens) AS output_tokens,
    COALESCE(s.cache_read_tokens, e.cache_read_tokens) AS cache_read_tokens,
    COALESCE(s.cache_write_tokens, e.cache_write_tokens) AS cache_write_tokens,
    COALESCE(e.cost_usd, s.cost_usd) AS cost_usd,
    CASE WHEN COALESCE(s.errors, 0) > COALESCE(e.errors, 0) THEN s.errors ELSE COALESCE(e.errors, 0) END AS errors,
    COALESCE(s.models, e.models) AS models,
    s.agent_name AS agent_name,
    COALESCE(s.service_name, e.service_name) AS service_name,
    COALESCE(s.user_id, e.user_id) AS user_id
FROM span_side s
FULL OUTER JOIN event_side e ON s.session_id = e.session_id";

/// Registers the views on a session that already has `stored_spans`, `stored_logs`,
/// `traces`, `prices` and the `model_cost` function.
/// The governance ledger: one row per thing an agent touched (`agent_actions/`), computed
/// from tool spans (not Claude Code's, which repeat its events) and the tool events of
/// Claude Code and Codex. The struct fields of `tool_actions(…)` become columns.
const AGENT_ACTIONS_VIEW: &str = "CREATE VIEW agent_actions AS \
    SELECT time, session_id, trace_id, span_id, agent, \
      COALESCE(action['user'], user_id) AS \"user\", \
      action['repository'] AS repository, action['branch'] AS branch, \
      action['kind'] AS kind, action['target'] AS target, action['program'] AS program, \
      action['detail'] AS detail, action['decision'] AS decision, \
      action['decision_source'] AS decision_source, action['success'] AS success, day \
    FROM ( \
      SELECT start_time AS time, session_id, trace_id, span_id, \
        COALESCE(agent_name, service_name) AS agent, user_id, day, \
        unnest(tool_actions('span', tool_name, input, output, attributes, resource_attributes, \
          status_code <> 'error')) AS action \
      FROM stored_spans \
      WHERE span_type = 'tool' AND NOT starts_with(COALESCE(scope_name, ''), 'com.anthropic.claude_code') \
      UNION ALL \
      SELECT time, session_id, trace_id, span_id, service_name AS agent, user_id, day, \
        unnest(tool_actions(event_name, tool_name, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), \
          attributes, resource_attributes, success)) AS action \
      FROM stored_logs \
      WHERE event_name IN ('claude_code.tool_result', 'claude_code.tool_decision', \
        'codex.tool_result', 'codex.tool_decision') \
    )";

pub async fn register_views(context: &SessionContext) -> Result<()> {
    let span_columns = spans_schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect::<Vec<_>>();
    let log_columns = logs_schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect::<Vec<_>>();
    let statements = [
        with_cost_sql(
            "spans",
            "stored_spans",
            span_columns.into_iter(),
            &span_price(),
        ),
        with_cost_sql("logs", "stored_logs", log_columns.into_iter(), &log_price()),
        SESSIONS_VIEW.to_owned(),
        AGENT_ACTIONS_VIEW.to_owned(),
    ];
    for statement in statements {
        context.sql(&statement).await?.collect().await?;
    }
    Ok(())
}
