//! The OTLP receivers, where exports meet the server: [`http`] (`POST /v1/traces`, `/v1/logs`,
//! `/v1/metrics`) and [`grpc`] (the collector services), each authorizing the request
//! (an `ingest` or `admin` key) and holding the project to its rate before handing the
//! decoded export to the storage engine's pipeline. A refusal says why ([`refusal`]).
//! gRPC bodies are taken from the request budget as tonic reads them ([`grpc_budget`]),
//! and connections are capped ([`grpc_connections`]).

pub mod grpc;
pub mod grpc_budget;
pub mod grpc_connections;
pub mod http;
pub mod refusal;
