//! Sextant's write path.
//!
//! The storage engine. OTLP traces, logs and metrics, received by the server
//! (`sextant_web::otlp`, which authorizes them), are decoded by
//! [`otlp_decode`] (every body's bytes taken from one [`request_budget`] first), normalized into [`span::CanonicalSpan`], [`log_row::CanonicalLog`] and
//! [`metric_row::CanonicalMetricPoint`] rows ([`normalized_rows`]) by [`normalize`], made durable in the write-ahead log
//! ([`wal`], [`wal_record`]) by the [`pipeline`], then flushed to Parquet
//! ([`parquet_writer`], [`schema`]) and the full-text index ([`index`]) under the
//! [`layout`] of the data directory. [`recovery`] and [`checkpoint`] make a crash lose
//! nothing that was acknowledged. [`maintenance`] compacts small files ([`compaction`]) and
//! drops partitions past a project's [`retention`] in the background.
//!
//! Entry point: [`pipeline::IngestPipeline::open`]. No network and no metadata here: the
//! receivers live with the server, projects and keys in `sextant_meta`.

pub mod arrow_columns;
pub mod checkpoint;
pub mod compaction;
pub mod error;
pub mod index;
pub mod layout;
pub mod log_row;
pub mod maintenance;
pub mod metric_row;
pub mod normalize;
pub mod normalized_rows;
pub mod otlp_decode;
#[cfg(test)]
mod otlp_fuzz;
pub mod parquet_writer;
pub mod pipeline;
pub mod recovery;
pub mod redact;
pub mod request_budget;
pub mod retention;
pub mod row_observer;
pub mod schema;
pub mod span;
pub mod stored_hit;
pub mod table;
pub mod text_tokenizer;
pub mod time_window;
pub mod wal;
pub mod wal_record;

pub use error::{ErrorCode, IngestError, Result};
