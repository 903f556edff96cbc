//! Sextant's read path.
//!
//! [`session::project_session`] builds a DataFusion session that sees one project's spans;
//! [`sql::run_read_only_sql`] runs user SQL on it; [`search::search_spans`] runs a
//! full-text query over the partition indexes and fetches the matching rows from Parquet;
//! [`trace::load_trace`] assembles one trace in tree order.

pub mod error;
pub mod rows;
pub mod search;
pub mod session;
pub mod sql;
pub mod trace;

pub use error::{QueryError, Result};
