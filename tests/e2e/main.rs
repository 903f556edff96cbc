//! End-to-end tests of the `sextant` binary with real clients over loopback.

mod bad_input;
mod cli;
mod crash;
mod otel_exporter;
mod requests;
mod server;
