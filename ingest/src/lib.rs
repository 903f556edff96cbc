//! Sextant's write path.
//!
//! OTLP arrives at [`otlp_http`], is decoded by [`otlp_decode`], normalized into
//! [`span::CanonicalSpan`] rows by [`normalize`], made durable in the write-ahead log
//! ([`wal`], [`wal_record`]) by the [`pipeline`], then flushed to Parquet
//! ([`parquet_writer`], [`schema`]) and the full-text index ([`index`]) under the
//! [`layout`] of the data directory. [`recovery`] and [`checkpoint`] make a crash lose
//! nothing that was acknowledged.
//!
//! Entry points: [`pipeline::IngestPipeline::open`] and [`otlp_http::otlp_router`].

pub mod checkpoint;
pub mod error;
pub mod index;
pub mod layout;
pub mod normalize;
pub mod otlp_decode;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod parquet_writer;
pub mod pipeline;
pub mod recovery;
pub mod schema;
pub mod span;
pub mod wal;
pub mod wal_record;

pub use error::{ErrorCode, IngestError, Result};
