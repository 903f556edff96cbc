//! A deterministic generator of coding-agent traces: same seed and config, same bytes.
//!
//! A session is several prompts (traces) by one user to one agent sharing a session id;
//! each run is planned once (`run_plan.rs`: model calls whose resent history grows turn by
//! turn, tool calls that read, grep, edit with unified diffs, run the tests and fetch
//! pages, sub-agents, 429/overloaded retries, failures of five kinds) and then emitted in
//! one of three conventions — OTel GenAI (`emit_genai.rs`), OpenInference
//! (`emit_openinference.rs`) or Claude Code's own spans (`emit_claude_code.rs`) — so the
//! normalizer is exercised, not bypassed. Each trace comes with the [`RunSummary`] tests
//! expect to read back after ingest.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::config::{Convention, GeneratorConfig};
use crate::random::SplitMix64;
use crate::run_plan::{Planner, RunPlan, RunSummary, SessionFacts, model_for};
use crate::text::TextGenerator;

#[derive(Debug)]
pub struct GeneratedTrace {
    pub request: ExportTraceServiceRequest,
    pub span_count: usize,
    /// The log events that go with the spans (Claude Code runs: prompts, API requests
    /// with their cost, tool results).
    pub logs: Option<ExportLogsServiceRequest>,
    pub summary: RunSummary,
}

#[derive(Debug)]
pub struct AgentTraceGenerator {
    random: SplitMix64,
    text: TextGenerator,
    config: GeneratorConfig,
    system_prompts: Vec<String>,
    /// The session being generated and how many of its prompts are still to come.
    session: Option<(SessionFacts, u64)>,
}

/// The run's spans in its convention, as one export request.
pub fn emit(plan: &RunPlan) -> ExportTraceServiceRequest {
    match plan.convention {
        Convention::GenAi => crate::emit_genai::export_run(plan),
        Convention::OpenInference => crate::emit_openinference::export_run(plan),
        Convention::ClaudeCode => crate::emit_claude_code::export_run(plan),
    }
}

fn span_count(request: &ExportTraceServiceRequest) -> usize {
    request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum()
}

impl AgentTraceGenerator {
    /// The default mix (see [`GeneratorConfig::default`]).
    pub fn new(seed: u64) -> AgentTraceGenerator {
        AgentTraceGenerator::with_config(seed, GeneratorConfig::default())
    }

    pub fn with_config(seed: u64, config: GeneratorConfig) -> AgentTraceGenerator {
        let mut random = SplitMix64::new(seed);
        let text = TextGenerator::new(seed, 20_000);
        let system_prompts = (0..3)
            .map(|_| {
                let sentences = random.between(20, 60);
                format!(
                    "You are a careful coding agent. {}",
                    text.paragraph(&mut random, sentences)
                )
            })
            .collect();
        AgentTraceGenerator {
            random,
            text,
            config,
            system_prompts,
            session: None,
        }
    }

    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The next prompt of the current session (a new session when it is done).
    fn next_session_facts(&mut self) -> SessionFacts {
        if let Some((facts, remaining)) = &mut self.session
            && *remaining > 0
        {
            *remaining -= 1;
            facts.sequence += 1;
            return facts.clone();
        }
        let config = &self.config;
        let random = &mut self.random;
        let convention = {
            let total: u64 = config.conventions.iter().map(|(_, weight)| weight).sum();
            let mut ticket = random.below(total.max(1));
            let mut chosen = config.conventions[0].0;
            for (convention, weight) in &config.conventions {
                if ticket < *weight {
                    chosen = *convention;
                    break;
                }
                ticket -= weight;
            }
            chosen
        };
        let model = model_for(config, convention, random.next_u64());
        let session_id = {
            let (a, b) = (random.next_u64(), random.next_u64());
            format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                (b >> 48) | 0x8000,
                b & 0xffff_ffff_ffff
            )
        };
        let (low, high) = config.traces_per_session;
        let prompts = random.between(low.max(1), high.max(low.max(1)));
        let service = *random.pick(&config.services);
        let agent = *random.pick(&config.agents);
        let facts = SessionFacts {
            session_id,
            sequence: 1,
            user: format!("user-{}", random.below(config.users.max(1))),
            service,
            agent,
            convention,
            model,
            system_prompt: random.pick(&self.system_prompts).clone(),
        };
        self.session = Some((facts.clone(), prompts - 1));
        facts
    }

    /// Plans the next run (the next prompt of a session) starting at `start_ns`.
    pub fn plan(&mut self, start_ns: u64) -> RunPlan {
        let facts = self.next_session_facts();
        Planner {
            random: &mut self.random,
            text: &self.text,
            config: &self.config,
        }
        .plan(&facts, start_ns, None)
    }

    /// One agent run starting at `start_ns`, as one export request.
    pub fn trace(&mut self, start_ns: u64) -> GeneratedTrace {
        let plan = self.plan(start_ns);
        generated(&plan)
    }

    /// A run of about `spans` spans (OTel GenAI; a model call and a tool call per turn,
    /// the resent context compacted, files read kept small so the trace stays a few
    /// hundred megabytes): the big trace of the benchmarks.
    pub fn long_trace(&mut self, start_ns: u64, spans: usize) -> GeneratedTrace {
        let mut facts = self.next_session_facts();
        facts.convention = Convention::GenAi;
        self.session = None;
        let lean = GeneratorConfig {
            max_file_bytes: self.config.max_file_bytes.min(2_000),
            ..self.config.clone()
        };
        let plan = Planner {
            random: &mut self.random,
            text: &self.text,
            config: &lean,
        }
        .plan(&facts, start_ns, Some((spans as u64 / 2).max(2)));
        generated(&plan)
    }
}

fn generated(plan: &RunPlan) -> GeneratedTrace {
    let request = emit(plan);
    GeneratedTrace {
        span_count: span_count(&request),
        request,
        logs: (plan.convention == Convention::ClaudeCode)
            .then(|| crate::emit_claude_code::export_events(plan)),
        summary: plan.summary(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use opentelemetry_proto::tonic::common::v1::any_value;
    use prost::Message;

    use super::*;
    use crate::config::FailureKind;

    fn traces(seed: u64, count: usize) -> Vec<GeneratedTrace> {
        let mut generator = AgentTraceGenerator::with_config(seed, GeneratorConfig::small());
        (0..count)
            .map(|index| generator.trace(1_000_000_000_000 + index as u64 * 60_000_000_000))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_bytes() {
        let bytes = |seed| -> Vec<Vec<u8>> {
            traces(seed, 60)
                .iter()
                .map(|trace| trace.request.encode_to_vec())
                .collect()
        };
        assert_eq!(bytes(1), bytes(1));
        assert_ne!(bytes(1), bytes(2));
    }

    #[test]
    fn the_mix_is_what_the_config_says() {
        let generated = traces(5, 1_500);
        let runs = generated.len() as f64;
        let share = |count: usize| count as f64 / runs * 100.0;

        let failed: Vec<FailureKind> = generated
            .iter()
            .filter_map(|trace| trace.summary.failure)
            .collect();
        let failure_share = share(failed.len());
        assert!(
            (11.0..=19.0).contains(&failure_share),
            "{failure_share}% failed"
        );
        let kinds: BTreeSet<FailureKind> = failed.iter().copied().collect();
        assert_eq!(
            kinds.len(),
            FailureKind::ALL.len(),
            "every kind of failure: {kinds:?}"
        );

        let mut conventions: BTreeMap<Convention, usize> = BTreeMap::new();
        for trace in &generated {
            *conventions.entry(trace.summary.convention).or_default() += 1;
        }
        for (convention, weight) in &GeneratorConfig::small().conventions {
            let got = share(conventions.get(convention).copied().unwrap_or(0));
            assert!(
                (got - *weight as f64).abs() < 6.0,
                "{convention:?}: {got}% for weight {weight}"
            );
        }

        let models: BTreeSet<&str> = generated.iter().map(|trace| trace.summary.model).collect();
        assert_eq!(
            models.len(),
            GeneratorConfig::small().models.len(),
            "{models:?}"
        );
        let tools: BTreeSet<&str> = generated
            .iter()
            .filter(|trace| trace.summary.convention == Convention::GenAi)
            .flat_map(|trace| trace.summary.tools.iter().copied())
            .collect();
        assert_eq!(
            tools,
            [
                "bash",
                "edit_file",
                "grep",
                "read_file",
                "task",
                "web_fetch"
            ]
            .into_iter()
            .collect(),
            "every tool, sub-agents' tasks included"
        );
        let retried = generated
            .iter()
            .filter(|trace| {
                trace.request.resource_spans[0].scope_spans[0]
                    .spans
                    .iter()
                    .any(|span| {
                        span.status.as_ref().is_some_and(|s| {
                            s.message.starts_with("429") || s.message.starts_with("529")
                        })
                    })
            })
            .count();
        assert!(retried > 0, "some model calls are refused and retried");

        // Sessions: consecutive prompts share a session id, 1 to 5 of them.
        let mut session_sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for trace in &generated {
            *session_sizes.entry(&trace.summary.session_id).or_default() += 1;
        }
        assert!(session_sizes.values().all(|size| (1..=5).contains(size)));
        assert!(session_sizes.values().any(|size| *size > 1));
        let sizes: Vec<usize> = generated.iter().map(|trace| trace.span_count).collect();
        assert!(
            sizes.iter().min() < Some(&6) && sizes.iter().max() > Some(&40),
            "sizes vary"
        );
    }

    #[test]
    fn a_long_trace_has_the_spans_asked_for_with_bounded_context() {
        let mut generator = AgentTraceGenerator::with_config(9, GeneratorConfig::small());
        let trace = generator.long_trace(0, 3_000);
        assert!(
            (2_900..=3_300).contains(&trace.span_count),
            "{}",
            trace.span_count
        );
        let longest_input = trace.request.resource_spans[0].scope_spans[0]
            .spans
            .iter()
            .flat_map(|span| &span.attributes)
            .filter(|kv| kv.key == "gen_ai.input.messages")
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(text) => Some(text.len()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        assert!(
            longest_input < 200_000,
            "context compacted: {longest_input} bytes"
        );
    }

    #[test]
    fn conversation_history_grows_turn_by_turn() {
        let mut generator = AgentTraceGenerator::with_config(
            3,
            GeneratorConfig {
                conventions: vec![(Convention::GenAi, 1)],
                retry_percent: 0,
                sub_agent_percent: 0,
                ..GeneratorConfig::small()
            },
        );
        let trace = (0..20)
            .map(|_| generator.trace(0))
            .find(|trace| trace.span_count >= 7)
            .expect("a multi-turn trace");
        let spans = &trace.request.resource_spans[0].scope_spans[0].spans;
        let input_lengths: Vec<usize> = spans
            .iter()
            .filter(|span| span.name.starts_with("chat "))
            .filter_map(|span| {
                span.attributes
                    .iter()
                    .find(|kv| kv.key == "gen_ai.input.messages")
            })
            .filter_map(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(text) => Some(text.len()),
                _ => None,
            })
            .collect();
        assert!(
            input_lengths.windows(2).all(|pair| pair[0] < pair[1]),
            "{input_lengths:?}"
        );
    }
}
