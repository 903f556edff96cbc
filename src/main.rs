//! The `sextant` binary: a thin CLI over the ingest, query and web crates.

/// Prints a line for the person running the server. Unlike `println!`, a closed stdout
/// (a piped `| head`, a supervisor that stopped reading) is ignored instead of panicking.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod access_commands;
mod bench;
mod bench_data;
mod bench_query;
mod compact_command;
mod config;
mod dataset_command;
mod demo;
mod eval_command;
mod governance_commands;
mod loadgen;
mod otlp_sender;
mod serve;
mod sql_command;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ConfigFile, ServeConfig, ServeFlags};
use crate::sql_command::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "sextant",
    version,
    about = "Trace observability and evals for AI agents"
)]
struct Cli {
    /// TOML config file (flags and SEXTANT_* env override it).
    #[arg(long, global = true, env = "SEXTANT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct DataDirArg {
    /// Data directory [default: ./sextant-data].
    #[arg(long, env = "SEXTANT_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    data_dir: DataDirArg,
    /// OTLP/HTTP, API and UI listener [default: 127.0.0.1:4318].
    #[arg(long, env = "SEXTANT_HTTP_ADDR")]
    http_addr: Option<SocketAddr>,
    /// OTLP/gRPC listener [default: 127.0.0.1:4317].
    #[arg(long, env = "SEXTANT_GRPC_ADDR")]
    grpc_addr: Option<SocketAddr>,
    /// Allow a non-loopback address while no API key exists, leaving every project open
    /// to anyone who can reach it. Prefer `sextant keys create`.
    #[arg(long, env = "SEXTANT_INSECURE_OPEN")]
    insecure_open: bool,
    /// Serve HTTP and gRPC over TLS: the certificate chain (PEM).
    #[arg(long, env = "SEXTANT_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "SEXTANT_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The URL browsers reach this server at, if not a loopback address (e.g.
    /// https://traces.example.com behind a proxy); while no key exists, requests addressed
    /// to any other host get 421.
    #[arg(long, env = "SEXTANT_PUBLIC_URL")]
    public_url: Option<sextant_web::public_url::PublicUrl>,
}

impl ServeArgs {
    fn flags(self) -> ServeFlags {
        ServeFlags {
            config_path: None,
            data_dir: self.data_dir.data_dir,
            http_addr: self.http_addr,
            grpc_addr: self.grpc_addr,
            insecure_open: self.insecure_open,
            tls: self
                .tls_cert
                .zip(self.tls_key)
                .map(|(cert, key)| tls::TlsFiles { cert, key }),
            public_url: self.public_url,
        }
    }
}

#[derive(Debug, clap::Args)]
struct ProjectArg {
    /// The project to read.
    #[arg(long, default_value = sextant_ingest::layout::DEFAULT_PROJECT)]
    project: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Receive OTLP and serve the API.
    Serve(ServeArgs),
    /// Serve, with generated coding-agent traces of the last 14 days loaded.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        demo: demo::DemoArgs,
    },
    /// Merge small Parquet files and apply retention now (a running server does it itself).
    Compact {
        #[command(flatten)]
        args: compact_command::CompactArgs,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Run a read-only SQL query over the stored spans.
    Sql {
        sql: String,
        #[command(flatten)]
        data_dir: DataDirArg,
        #[command(flatten)]
        project: ProjectArg,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Measure Sextant (figures, not pass/fail).
    Bench {
        #[command(subcommand)]
        bench: BenchCommand,
    },
    /// Send generated agent traces to an OTLP endpoint at a steady rate; report acks,
    /// retries and latency.
    Loadgen(loadgen::LoadgenArgs),
    /// Full-text search over the stored spans (tantivy syntax, e.g. `tool:bash "cargo test"`).
    Search {
        query: String,
        #[command(flatten)]
        data_dir: DataDirArg,
        #[command(flatten)]
        project: ProjectArg,
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// What agents touched: files, commands, hosts, MCP tools, decisions, secrets seen
    /// (the `agent_actions` view), newest first; `--format csv|json` to export.
    Actions {
        #[command(flatten)]
        args: governance_commands::ActionsArgs,
        #[command(flatten)]
        data_dir: DataDirArg,
        #[command(flatten)]
        project: ProjectArg,
    },
    /// Alerts raised by `[[policies]]`, newest first.
    Alerts {
        #[command(flatten)]
        args: governance_commands::AlertsArgs,
        #[command(flatten)]
        data_dir: DataDirArg,
        #[command(flatten)]
        project: ProjectArg,
    },
    /// Create, list and revoke API keys (the key is shown once).
    Keys {
        #[command(subcommand)]
        command: access_commands::KeysCommand,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Create and list projects.
    Projects {
        #[command(subcommand)]
        command: access_commands::ProjectsCommand,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Eval datasets: named, versioned sets of recorded traces.
    Dataset {
        #[command(subcommand)]
        command: dataset_command::DatasetCommand,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Evals: replay a dataset against a candidate model and gate on the verdict.
    Eval {
        #[command(subcommand)]
        command: eval_command::EvalCommand,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
    /// Show the audit log: key changes, sign-ins, failed authentication.
    Audit {
        /// Only this project's entries.
        #[arg(long)]
        project: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        data_dir: DataDirArg,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// OTLP/HTTP ingest throughput, bytes on disk and memory, with realistic agent traces.
    Ingest(bench::IngestBenchArgs),
    /// Build a data dir of N generated spans (e.g. 1M, 10M) for the query benchmarks.
    Data(bench_data::DataBenchArgs),
    /// Search, aggregate, trace list, big-trace and page-render latencies on a built data dir.
    Query(bench_query::QueryBenchArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Every HTTPS client (model providers, webhooks) uses ring, like the server's TLS.
    sextant_evals::providers::http::install_crypto_provider();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEXTANT_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log redirected to a file or a collector stays text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let file = match &cli.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Serve(args) => {
            let mut flags = args.flags();
            flags.config_path = cli.config.clone();
            let config = ServeConfig::resolve(file, flags)?;
            runtime.block_on(serve::serve(config, None))
        }
        Command::Demo { serve, demo } => {
            let mut flags = serve.flags();
            flags.config_path = cli.config.clone();
            let config = ServeConfig::resolve(file, flags)?;
            runtime.block_on(serve::serve(config, Some(demo)))
        }
        Command::Sql {
            sql,
            data_dir,
            project,
            format,
            limit,
        } => {
            let limits = file.query.settings()?.limits(limit.max(1));
            let data_dir = resolve_data_dir(data_dir, file);
            runtime.block_on(sql_command::run_sql(
                &data_dir,
                &project.project,
                &sql,
                format,
                limits,
            ))
        }
        Command::Bench {
            bench: BenchCommand::Ingest(args),
        } => runtime.block_on(bench::run_ingest_bench(args)),
        Command::Bench {
            bench: BenchCommand::Data(args),
        } => runtime.block_on(bench_data::run_data_bench(args)),
        Command::Bench {
            bench: BenchCommand::Query(args),
        } => runtime.block_on(bench_query::run_query_bench(args)),
        Command::Loadgen(args) => runtime.block_on(loadgen::run_loadgen(args)),
        Command::Search {
            query,
            data_dir,
            project,
            format,
            limit,
        } => {
            let data_dir = resolve_data_dir(data_dir, file);
            sql_command::run_search(&data_dir, &project.project, &query, format, limit)
        }
        Command::Actions {
            args,
            data_dir,
            project,
        } => {
            let settings = file.query.settings()?;
            let data_dir = resolve_data_dir(data_dir, file);
            runtime.block_on(governance_commands::run_actions(
                &data_dir,
                &project.project,
                args,
                &settings,
            ))
        }
        Command::Alerts {
            args,
            data_dir,
            project,
        } => governance_commands::run_alerts(
            &resolve_data_dir(data_dir, file),
            &project.project,
            args,
        ),
        Command::Compact { args, data_dir } => {
            compact_command::run_compact(&resolve_data_dir(data_dir, file), args)
        }
        Command::Keys { command, data_dir } => {
            access_commands::run_keys(&resolve_data_dir(data_dir, file), command)
        }
        Command::Projects { command, data_dir } => {
            access_commands::run_projects(&resolve_data_dir(data_dir, file), command)
        }
        Command::Dataset { command, data_dir } => runtime.block_on(dataset_command::run_dataset(
            &resolve_data_dir(data_dir, file),
            command,
        )),
        Command::Eval { command, data_dir } => {
            let code = runtime.block_on(eval_command::run_eval(
                &resolve_data_dir(data_dir, file),
                command,
            ));
            std::process::exit(code);
        }
        Command::Audit {
            project,
            limit,
            data_dir,
        } => {
            access_commands::run_audit(&resolve_data_dir(data_dir, file), project.as_deref(), limit)
        }
    }
}

fn resolve_data_dir(arg: DataDirArg, file: ConfigFile) -> PathBuf {
    arg.data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_DATA_DIR))
}
