//! Data shipped with Sextant.
//!
//! - `fixtures/`: one OTLP/JSON capture per convention, used by the normalizer's snapshot tests;
//! - [`agent_traces`]: a deterministic generator of coding-agent sessions ([`config`] says
//!   the mix; [`run_plan`] plans each run; `emit_*` shape it in the OTel GenAI,
//!   OpenInference or Claude Code convention; [`otlp`] builds the spans), used by
//!   `sextant demo`, `bench` and `loadgen`;
//! - [`random`] and [`text`]: the seeded PRNG and the realistic text it draws;
//! - [`fuzz_input`]: seeds mutated by a fuzzer's bytes, for the fuzz targets of each crate.

pub mod agent_traces;
pub mod config;
pub mod emit_claude_code;
pub mod emit_genai;
pub mod emit_openinference;
pub mod emit_steps;
pub mod fuzz_input;
pub mod otlp;
pub mod random;
pub mod run_plan;
pub mod text;
