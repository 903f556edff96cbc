//! Sextant's read path.
//!
//! [`sql_context::project_context`] builds a DataFusion context that sees one project's spans,
//! logs and metrics, with the [`views`] (`traces`, `sessions`, cost from [`prices`]), the
//! `search()` table function ([`search_table`]), and Parquet read through
//! [`live_files_store`] (only files not superseded by compaction nor dropped by retention);
//! [`sql::run_read_only_sql`] runs user SQL on it within [`sql::SqlLimits`] (rows, bytes,
//! time; amplifying functions bounded in `bounded_functions`, constants copied into rows in
//! `constant_copies`); [`search::search_spans`] runs a full-text query over the partition indexes and fetches the matching rows from Parquet
//! (found through [`row_locator`]; indexes and Parquet footers stay open across
//! searches, in `open_indexes` and [`parquet_footers`]); [`trace::load_trace`] assembles one trace in tree order;
//! [`trace_list::list_traces`] pages through traces with filters;
//! [`session_detail::load_session`] assembles one conversation; [`usage_rollup`] answers
//! `llm_usage` (model calls per hour and model) from per-file sums kept across queries.

pub mod agent_actions;
pub mod batch_output;
mod bounded_functions;
mod constant_copies;
pub mod dashboard;
pub mod error;
pub mod event_costs;
mod file_cache;
pub mod live_files_store;
mod open_indexes;
pub mod parquet_footers;
pub mod prices;
pub mod project_usage;
mod pushdown;
pub mod result_bytes;
pub mod row_locator;
pub mod search;
pub mod search_table;
pub mod session_detail;
pub mod sql;
pub mod sql_context;
pub mod trace;
pub mod trace_days;
pub mod trace_list;
mod trace_part;
pub mod trace_rollup;
pub mod trace_summary;
pub mod traces_table;
pub mod usage_rollup;
pub mod views;

pub use datafusion::execution::context::SessionContext;
pub use error::{QueryError, Result};
