//! Data shipped with Sextant.
//!
//! - `fixtures/`: one OTLP/JSON capture per convention, used by the normalizer's snapshot tests;
//! - [`agent_traces`]: a deterministic generator of coding-agent traces (OTel GenAI
//!   convention) with realistic text, used by `sextant bench`.

pub mod agent_traces;
pub mod random;
pub mod text;
