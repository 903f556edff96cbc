//! The eval harness: before a team switches its agents to a new model or new rules, replay
//! real recorded runs against the candidate and gate the switch on statistics.
//!
//! Landed so far:
//! - [`recording`]: what an example keeps of a recorded trace (input, model calls with
//!   their messages and tools, tool calls with arguments and results, outcome);
//! - [`datasets`]: named, versioned sets of examples in the metadata store, built from a
//!   search, a SQL query or a list of trace ids ([`dataset_source`]);
//! - [`suite`]: the suite TOML (unknown keys are errors that name the key);
//! - [`stats`]: exact McNemar, the cluster bootstrap and the minimum detectable effect
//!   the gate decides with.
//!
//! Providers, replay modes, scorers, the gate itself and schedules come next (see the
//! eval issue); ARCHITECTURE.md says what is where.

pub mod dataset_source;
pub mod datasets;
pub mod error;
pub mod gate;
pub mod messages;
pub mod providers;
pub mod recording;
pub mod replay_step;
pub mod replay_trajectory;
pub mod report;
pub mod response_cache;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod scorers;
pub mod stats;
pub mod suite;
