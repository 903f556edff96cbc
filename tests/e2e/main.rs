//! End-to-end tests of the `sextant` binary with real clients over loopback.

mod access;
mod agent_replay;
mod agent_telemetry;
mod bad_input;
mod browser;
mod claude_code;
mod cli;
mod codex_governance;
mod crash;
mod evals;
mod governance;
mod hostile_load;
mod import_graph;
mod local_model;
mod loopback;
mod otel_exporter;
mod python_sdk;
mod redaction;
mod requests;
mod scripted_anthropic;
mod scripted_fixer;
mod scripted_models;
mod server;
mod tls;
