//! The eval harness: before a team switches its agents to a new model or new rules, replay
//! real recorded runs against the candidate and gate the switch on statistics.
//!
//! - [`recording`]: what an example keeps of a recorded trace (input, model calls with
//!   their messages and tools, tool calls with arguments and results, outcome);
//! - [`datasets`]: named, versioned sets of examples in the metadata store, built from a
//!   search, a SQL query or a list of trace ids ([`dataset_source`]);
//! - [`suite`]: the suite TOML (unknown keys are errors that name the key);
//! - [`providers`]: OpenAI Chat, OpenAI Responses and Anthropic Messages, streamed or
//!   not, retried; [`response_cache`] keeps their answers per epoch;
//! - [`gateway`]: the model gateway's translation, agent wire shape in and out (the
//!   `agent` replay mode's CLIs call the candidate through it);
//! - [`replay_step`], [`replay_trajectory`] and [`agent_replay`] (a real agent CLI behind
//!   the gateway, its output read by [`agent_transcript`], cloning only what
//!   [`repository_policy`] allows): the three replay modes; [`replay_trace`]
//!   traces every replay into Sextant (`eval.run_id`);
//! - [`scorers`] (one turn against another), [`judge`] (the LLM judge) and [`scoring`]
//!   (the set a suite names, the judges and ratios scored after a replay);
//! - [`stats`] and [`gate`]: exact McNemar, the cluster bootstrap, the verdict;
//! - [`run`], [`report`], [`runs`], [`schedule`]: running a suite, its JSON, JUnit and
//!   terminal report, stored runs, cron schedules inside `sextant serve`.

pub mod agent_replay;
pub mod agent_transcript;
pub mod dataset_source;
pub mod datasets;
pub mod error;
pub mod gate;
pub mod gateway;
pub mod http;
pub mod judge;
pub mod messages;
pub mod providers;
pub mod recording;
pub mod replay_step;
pub mod replay_trace;
pub mod replay_trajectory;
pub mod report;
pub mod repository_policy;
pub mod response_cache;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod scorers;
pub mod scoring;
pub mod side_outcome;
pub mod stats;
pub mod suite;
