//! `sextant serve`: open the data dir, start the pipeline, background maintenance and the HTTP
//! and gRPC listeners, drain on SIGTERM.

use std::sync::Arc;

use anyhow::Context;
use sextant_evals::gateway::registry::GatewayRegistry;
use sextant_evals::schedule::{ServerGateway, spawn_schedules};
use sextant_evals::suite::Suite;
use sextant_ingest::layout::DataDir;
use sextant_ingest::maintenance::{MaintenanceConfig, MaintenanceTask};
use sextant_ingest::pipeline::IngestPipeline;
use sextant_ingest::request_budget::RequestBudget;
use sextant_ingest::row_observer::RowObserver;
use sextant_meta::AccessControl;
use sextant_web::alerts::AlertsEngine;
use sextant_web::otlp::grpc::{grpc_request_span, grpc_services};
use sextant_web::otlp::grpc_budget::GrpcBudgetLayer;
use sextant_web::otlp::grpc_connections::limit_connections;
use sextant_web::query_slots::QuerySlots;
use sextant_web::router::router;
use sextant_web::state::AppState;
use tonic::transport::server::TcpIncoming;

use crate::config::ServeConfig;
use crate::demo::{DemoArgs, load_demo_data};
use sextant_web::http_server::{ConnectionLimits, serve_http};
use sextant_web::tls_listener::TlsListener;

/// How often the config file is checked for changed policies and notifiers.
const RULES_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Reloads `[[policies]]` and `[[notifiers]]` when the config file changes; a file that does
/// not parse or check keeps the rules in force, and says why in the log.
fn watch_alert_rules(path: std::path::PathBuf, alerts: Arc<AlertsEngine>) {
    let modified = |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut seen = modified(&path);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(RULES_RELOAD_INTERVAL).await;
            let now = modified(&path);
            if now == seen {
                continue;
            }
            seen = now;
            match crate::config::ConfigFile::load(&path).and_then(|file| file.alert_rules()) {
                Ok(rules) => {
                    tracing::info!(
                        policies = rules.policies.len(),
                        notifiers = rules.notifiers.len(),
                        "policies reloaded"
                    );
                    alerts.replace(rules);
                }
                Err(error) => tracing::error!(
                    error = format!("{error:#}"),
                    "policies not reloaded; the previous ones stay in force"
                ),
            }
        }
    });
}

/// Open OTLP/gRPC connections at once (exporters keep one each).
const MAX_GRPC_CONNECTIONS: usize = 4096;

/// Runs the server until SIGTERM/Ctrl-C; with `demo`, also loads generated data into it.
pub async fn serve(config: ServeConfig, demo: Option<DemoArgs>) -> anyhow::Result<()> {
    let data_dir = DataDir::open(&config.data_dir)
        .with_context(|| format!("cannot open data dir {}", config.data_dir.display()))?;
    let access = Arc::new(
        AccessControl::open(data_dir.root())
            .context("cannot open the metadata store (projects and keys)")?
            .with_limits(config.limits.clone()),
    );
    check_open_mode_binds(&config, &access)?;
    let scheduled = load_scheduled_suites(&config.eval_suites)?;
    if demo.is_some() && config.tls.is_some() {
        anyhow::bail!("`demo` loads its data over plain HTTP; run it without --tls-cert/--tls-key");
    }
    // Policies watch tool calls as they are acknowledged; alerts go to the metadata store.
    let alerts = AlertsEngine::start(config.alert_rules.clone(), access.metadata().clone());
    if let Some(path) = &config.config_path {
        watch_alert_rules(path.clone(), alerts.clone());
    }
    let mut pipeline_config = config.pipeline.clone();
    pipeline_config.observer = Some(RowObserver(alerts.clone()));
    // A project keeping more than the window's days must be able to receive them.
    let longest_retention = access
        .with_store(|store| store.projects().retention_days())
        .unwrap_or_default()
        .into_iter()
        .map(|(_, days)| days)
        .max();
    if let Some(days) = longest_retention {
        pipeline_config.time_window = pipeline_config.time_window.reaching_back_at_least(days);
    }
    let pipeline =
        tokio::task::spawn_blocking(move || IngestPipeline::open(data_dir, pipeline_config))
            .await?
            .context("cannot start the ingest pipeline")?;
    let pipeline = Arc::new(pipeline);
    let gateway_registry = Arc::new(GatewayRegistry::default());
    let maintenance = MaintenanceTask::start(
        pipeline.data_dir().clone(),
        MaintenanceConfig::default(),
        {
            let access = access.clone();
            move || {
                access
                    .with_store(|store| store.projects().retention_days())
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "cannot read the projects' retention; nothing is dropped this pass");
                        Vec::new()
                    })
            }
        },
    )
    .context("cannot start background compaction")?;
    // The trace list's rollup is built from the span files when first used; build it now,
    // in the background, so the first page after a restart does not wait for it.
    {
        let data_dir = pipeline.data_dir().clone();
        tokio::task::spawn_blocking(move || {
            if let Err(error) = sextant_query::trace_rollup::warm(&data_dir) {
                tracing::warn!(%error, "cannot build the trace rollup ahead of the first page");
            }
        });
    }
    let request_budget = RequestBudget::new(config.request_budget_bytes);
    let state = AppState {
        pipeline: pipeline.clone(),
        access: access.clone(),
        body_limit_bytes: config.body_limit_bytes,
        secure_cookies: config.tls.is_some(),
        gateway: gateway_registry.clone(),
        request_budget: request_budget.clone(),
        query_slots: Arc::new(QuerySlots::new(config.sql)),
        public_url: config.public_url.clone(),
        alerts: Some(alerts.clone()),
    };
    let http_listener = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.http_addr))?;
    let grpc_listener = tokio::net::TcpListener::bind(config.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.grpc_addr))?;
    let http_addr = http_listener.local_addr()?;
    let grpc_addr = grpc_listener.local_addr()?;
    tracing::info!(http = %http_addr, grpc = %grpc_addr, data_dir = %config.data_dir.display(), tls = config.tls.is_some(), "sextant is serving");
    let (http_scheme, grpc_scheme) = if config.tls.is_some() {
        ("https", "grpcs")
    } else {
        ("http", "grpc")
    };
    crate::say!(
        "sextant listening on {http_scheme}://{http_addr} (OTLP/HTTP, API) and {grpc_scheme}://{grpc_addr} (OTLP/gRPC)"
    );

    // The server's own clients (demo data, scheduled agents) call it by a loopback
    // address when it listens on all of them: open mode answers only loopback hosts.
    let own_addr = own_address(http_addr);
    if let Some(demo) = demo {
        let data_dir = config.data_dir.clone();
        tokio::spawn(async move {
            if let Err(error) = load_demo_data(own_addr, data_dir, demo).await {
                tracing::error!(%error, "loading demo data failed");
            }
        });
    }

    // Scheduled agent suites point their CLIs at this server's own gateway, and their
    // telemetry here too unless the server needs keys (an agent's OTLP export has none).
    let server_url = format!("{http_scheme}://{own_addr}");
    let gateway = ServerGateway {
        url: server_url.clone(),
        registry: gateway_registry.clone(),
        otlp_endpoint: access.is_open_mode().then_some(server_url),
    };
    let schedules = spawn_schedules(
        access.metadata().clone(),
        pipeline.clone(),
        scheduled,
        gateway,
    );

    let (stop_grpc, grpc_stopped) = tokio::sync::oneshot::channel::<()>();
    let services = grpc_services(pipeline.clone(), access, config.body_limit_bytes);
    // A call must finish within the query limit's order of time; dead peers are found by
    // keep-alive pings; open connections are capped (`limit_connections`).
    let mut grpc_server = tonic::transport::Server::builder()
        .timeout(std::time::Duration::from_secs(120))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)))
        .trace_fn(grpc_request_span)
        .layer(GrpcBudgetLayer::new(
            request_budget.clone(),
            config.body_limit_bytes,
        ));
    if let Some(tls) = &config.tls {
        grpc_server = grpc_server
            .tls_config(tls.grpc_config()?)
            .context("invalid TLS certificate or key for gRPC")?;
    }
    let grpc = grpc_server
        .add_service(services.traces)
        .add_service(services.logs)
        .add_service(services.metrics)
        .serve_with_incoming_shutdown(
            limit_connections(TcpIncoming::from(grpc_listener), MAX_GRPC_CONNECTIONS),
            async {
                let _ = grpc_stopped.await;
            },
        );
    let grpc = tokio::spawn(grpc);
    let limits = ConnectionLimits::default();
    match &config.tls {
        Some(tls) => {
            let listener = TlsListener::new(http_listener, tls.http_acceptor()?)?;
            serve_http(listener, router(state), limits, shutdown_signal()).await
        }
        None => serve_http(http_listener, router(state), limits, shutdown_signal()).await,
    }
    let _ = stop_grpc.send(());
    for schedule in schedules {
        schedule.abort();
    }
    grpc.await??;
    tracing::info!("draining: flushing buffered spans");
    tokio::task::spawn_blocking(move || {
        maintenance.stop();
        pipeline.shutdown()
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Where the server's own clients reach it: the listening address, or loopback when it
/// listens on every address (`0.0.0.0`, `[::]`).
fn own_address(listening: std::net::SocketAddr) -> std::net::SocketAddr {
    match listening.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            (std::net::Ipv4Addr::LOCALHOST, listening.port()).into()
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            (std::net::Ipv6Addr::LOCALHOST, listening.port()).into()
        }
        _ => listening,
    }
}

/// The suites of `[evals] suites` that have a schedule; a bad suite file stops start-up.
fn load_scheduled_suites(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Suite>> {
    let mut scheduled = Vec::new();
    for path in paths {
        let suite = Suite::load(path)?;
        if suite.schedule.is_none() {
            tracing::warn!(suite = %path.display(), "suite has no schedule; run it with `sextant eval run`");
            continue;
        }
        tracing::info!(
            suite = suite.name,
            schedule = suite.schedule.as_deref().unwrap_or_default(),
            "eval suite scheduled"
        );
        scheduled.push(suite);
    }
    Ok(scheduled)
}

/// Open local mode (no key yet) serves everyone as the `default` project's admin: fine on
/// loopback, refused on any other address unless `--insecure-open` says so, loudly.
fn check_open_mode_binds(config: &ServeConfig, access: &AccessControl) -> anyhow::Result<()> {
    if !access.is_open_mode() {
        for addr in [config.http_addr, config.grpc_addr] {
            if !addr.ip().is_loopback() && config.tls.is_none() {
                tracing::warn!(%addr, "serving a non-loopback address without TLS: API keys and traces cross the network in clear text (pass --tls-cert and --tls-key)");
            }
        }
        return Ok(());
    }
    let data_dir = config.data_dir.display();
    for addr in [config.http_addr, config.grpc_addr] {
        if addr.ip().is_loopback() {
            continue;
        }
        if !config.insecure_open {
            anyhow::bail!(
                "refusing to listen on {addr}: no API key exists yet, so anyone who can reach it could read and write every trace.\n\
                 Create a key first:  sextant keys create --data-dir {data_dir} --project default --scope admin\n\
                 or bind a loopback address (--http-addr 127.0.0.1:4318 --grpc-addr 127.0.0.1:4317),\n\
                 or pass --insecure-open to serve without authentication (not recommended)."
            );
        }
        tracing::warn!(%addr, "INSECURE: serving without authentication on a non-loopback address (--insecure-open)");
        crate::say!(
            "WARNING: --insecure-open: {addr} serves every trace to anyone who can reach it, without authentication"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
