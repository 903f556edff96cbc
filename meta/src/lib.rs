//! Sextant's metadata: what is small and relational, beside the spans — projects, API
//! keys, web sessions, the audit log, eval datasets, eval runs and the model response
//! cache — in one SQLite database per data dir, and the access control built on it.
//!
//! - [`store`]: the database ([`MetadataStore`], shared as [`SharedMetadata`]) and its
//!   migrations, gathered from the repositories below, each stating its
//!   [`schema_change::SchemaChange`]s;
//! - repositories, one per table family, each owning its schema: [`projects`], [`keys`],
//!   [`web_sessions`], [`audit`], [`datasets`], [`eval_runs`], [`response_cache`];
//! - [`access_control`]: "may this request do that, and as which project?" for every
//!   interface, with [`limits`], the per-project rate limits.
//!
//! No SQL leaves this crate: callers get typed methods, never a connection.

pub mod access_control;
pub mod alerts;
pub mod audit;
pub mod clock;
pub mod datasets;
pub mod eval_runs;
pub mod keys;
pub mod limits;
pub mod projects;
pub mod response_cache;
pub mod schema_change;
pub mod store;
pub mod web_sessions;

pub use access_control::{AccessControl, AuthFailure, Principal};
pub use projects::DEFAULT_PROJECT;
pub use store::{MetadataStore, SharedMetadata};

/// An error of the metadata database.
pub use rusqlite::Error as StoreError;
