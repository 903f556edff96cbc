//! The eval harness: before a team switches its agents to a new model or new rules, replay
//! real recorded runs against the candidate and gate the switch on statistics.
//!
//! The flow, one room each:
//!
//! - [`suite`]: the suite TOML (unknown keys are errors that name the key);
//! - [`datasets`]: named, versioned sets of examples (stored by `sextant_meta`), built from
//!   a search, a SQL query or a list of trace ids ([`datasets::source`]); each example keeps
//!   a [`datasets::recording`] of its trace (input, model calls with their messages and
//!   tools, tool calls with arguments and results, outcome);
//! - [`providers`]: OpenAI Chat, OpenAI Responses and Anthropic Messages, streamed or
//!   not, retried, over [`providers::http`]; [`providers::response_cache`] keeps their
//!   answers per epoch;
//! - [`gateway`]: the model gateway's translation, agent wire shape in and out (the
//!   `agent` replay mode's CLIs call the candidate through it);
//! - [`replay`]: the three modes — [`replay::step`], [`replay::trajectory`] and
//!   [`replay::agent`] (a real agent CLI behind the gateway) — each giving a
//!   [`scoring::outcome::SideOutcome`]; [`replay::spans`] traces every replay into Sextant (spans
//!   built with [`otlp_spans`], which the gateway's call spans share);
//! - [`scoring`]: [`scoring::scorers`] (one turn against another), [`scoring::judge`] (the
//!   LLM judge), a side's [`scoring::outcome`], and the set a suite names;
//! - [`gate`]: exact McNemar and the cluster bootstrap ([`gate::stats`]), the verdict;
//! - [`report`]: the run's JSON, JUnit and terminal report, and stored runs;
//! - [`run`] runs a suite through all of these; [`schedule`] runs suites on cron
//!   schedules inside `sextant serve`; [`messages`] is the conversation every room shares.

pub mod datasets;
pub mod error;
pub mod gate;
pub mod gateway;
pub mod messages;
pub mod otlp_spans;
pub mod providers;
pub mod replay;
pub mod report;
pub mod run;
pub mod schedule;
pub mod scoring;
pub mod suite;
