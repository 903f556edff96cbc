//! The JSON API under `/api`, each file one resource: [`traces`] (the trace list, one
//! trace, one span), [`sessions`], [`search`], [`sql`], [`usage`], [`datasets`], [`evals`],
//! [`audit`], [`actions`] (the governance ledger), [`alerts`] (what policies found); [`gateway`] is the model gateway agent replays call; [`trace_list_params`] the trace-list query string the
//! API and the runs page share.

pub mod actions;
pub mod alerts;
pub mod audit;
pub mod datasets;
pub mod evals;
pub mod gateway;
pub mod search;
pub mod sessions;
pub mod sql;
pub mod trace_list_params;
pub mod traces;
pub mod usage;
