//! Step replay: each recorded model call's exact messages and tools — with the side's
//! system prompt when the suite replaces it — go to the model, and its turn is scored
//! against the turn the recording got. The recording itself can be a side too: its
//! turns scored against themselves, its own cost and latencies.

use std::collections::BTreeMap;

use sextant_meta::SharedMetadata;
use sextant_query::prices::{PriceTable, TokenUsage};

use crate::datasets::recording::Recording;
use crate::messages::{Turn, conversation, recorded_turn, tool_definition};
use crate::providers::response_cache;
use crate::providers::{ModelRequest, ProviderClient, json_params};
use crate::scoring::outcome::{SideOutcome, StepResult};
use crate::scoring::scorers::{Scorer, ToolDefinition, divergence};

pub(crate) fn scores(
    scorers: &[(String, Scorer)],
    recorded: &Turn,
    replayed: &Turn,
    tools: &[ToolDefinition],
) -> BTreeMap<String, f64> {
    scorers
        .iter()
        .map(|(name, scorer)| (name.clone(), scorer.score(recorded, replayed, tools)))
        .collect()
}

/// The recording as a side: its own turns, cost and latencies.
pub fn recorded_side(
    recording: &Recording,
    scorers: &[(String, Scorer)],
    pass_score: f64,
) -> SideOutcome {
    let steps = recording
        .llm_calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let turn = recorded_turn(&call.output);
            StepResult {
                step: index + 1,
                scores: scores(
                    scorers,
                    &turn,
                    &turn,
                    &tool_definitions(call.tool_definitions.as_ref()),
                ),
                recorded: turn.clone(),
                replayed: turn,
                divergence: None,
                latency_ms: call.duration_ns.unwrap_or(0) as f64 / 1e6,
                cached: false,
                judgements: BTreeMap::new(),
            }
        })
        .collect();
    let costs: Vec<f64> = recording
        .llm_calls
        .iter()
        .filter_map(|call| call.cost_usd)
        .collect();
    let cost = (!costs.is_empty()).then(|| costs.iter().sum());
    SideOutcome::from_steps(steps, pass_score, cost)
}

/// What a model side needs besides the recording.
pub struct ModelSide<'a> {
    pub client: &'a ProviderClient,
    pub metadata: &'a SharedMetadata,
    pub prices: &'a PriceTable,
    pub scorers: &'a [(String, Scorer)],
    pub pass_score: f64,
}

/// One model call's answer through the cache.
pub struct Asked {
    pub turn: Turn,
    pub latency_ms: f64,
    pub cached: bool,
    /// Priced from the price table; `None` when the model has no price.
    pub cost_usd: Option<f64>,
}

impl ModelSide<'_> {
    /// Sends one request (or takes its cached answer for this epoch).
    pub async fn ask(
        &self,
        request: &ModelRequest,
        epoch: u32,
    ) -> Result<Asked, crate::providers::ProviderError> {
        let response_cache::CachedAnswer {
            turn,
            latency_ms,
            cached,
        } = response_cache::ask(self.metadata, self.client, request, epoch).await?;
        let usage = TokenUsage {
            input: turn.input_tokens.unwrap_or(0),
            output: turn.output_tokens.unwrap_or(0),
            cache_read: 0,
            cache_write: 0,
            input_includes_cache: true,
        };
        let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
        let cost_usd = self.prices.cost(&self.client.config().model, now_ns, usage);
        Ok(Asked {
            turn,
            latency_ms,
            cached,
            cost_usd,
        })
    }

    /// The system prompt: the side's replacement, else the recorded one.
    pub fn system_prompt(&self, recorded: Option<&String>) -> Option<String> {
        self.client
            .config()
            .system_prompt
            .clone()
            .or_else(|| recorded.cloned())
    }

    /// Replays every recorded model call of `recording` against this side's model.
    pub async fn replay(&self, recording: &Recording, epoch: u32) -> SideOutcome {
        let config = self.client.config();
        let mut steps = Vec::new();
        let mut cost = Some(0.0);
        for (index, call) in recording.llm_calls.iter().enumerate() {
            let request = ModelRequest {
                system: self.system_prompt(call.system_prompt.as_ref()),
                messages: conversation(&call.messages),
                tools: tool_definitions(call.tool_definitions.as_ref()),
                params: json_params(&config.params),
            };
            let asked = match self.ask(&request, epoch).await {
                Ok(asked) => asked,
                Err(error) => return SideOutcome::void(format!("step {}: {error}", index + 1)),
            };
            cost = cost.zip(asked.cost_usd).map(|(total, call)| total + call);
            let recorded = recorded_turn(&call.output);
            steps.push(StepResult {
                step: index + 1,
                scores: scores(self.scorers, &recorded, &asked.turn, &request.tools),
                divergence: divergence(&recorded, &asked.turn),
                recorded,
                replayed: asked.turn,
                latency_ms: asked.latency_ms,
                cached: asked.cached,
                judgements: BTreeMap::new(),
            });
        }
        SideOutcome::from_steps(steps, self.pass_score, cost)
    }
}

/// Recorded tool definitions as (name, description, parameters).
pub fn tool_definitions(
    definitions: Option<&serde_json::Value>,
) -> Vec<(String, String, serde_json::Value)> {
    definitions
        .and_then(|definitions| definitions.as_array())
        .map(|definitions| definitions.iter().filter_map(tool_definition).collect())
        .unwrap_or_default()
}
