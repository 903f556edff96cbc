//! `sextant bench query --data-dir DIR`: the read path measured on a data dir built by
//! `sextant bench data` — search top-20 (a selective and a broad query), the `GROUP BY
//! model, day` aggregate (over the spans, and over the `llm_usage` rollups the dashboards
//! read), the trace list page, the biggest trace's skeleton, and the
//! render of the runs page (50 rows) and of that trace's page. The API calls and pages are
//! measured end to end over HTTP on loopback (the real listener, JSON or HTML bodies read
//! whole), beside the in-process calls behind them. Each figure gives its first call (the
//! first after the process started, with the page cache dropped first under
//! `--drop-caches`: cold) and the p50 and p99 of the warm repetitions that follow, one
//! request at a time; with fewer than 100 repetitions the tail is called the max, not p99.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sextant_ingest::layout::{DEFAULT_PROJECT, DataDir};
use sextant_ingest::pipeline::{IngestPipeline, PipelineConfig};
use sextant_ingest::request_budget::{DEFAULT_REQUEST_BUDGET_BYTES, RequestBudget};
use sextant_meta::AccessControl;
use sextant_query::search::{SearchRequest, search_spans};
use sextant_query::sql::{SqlLimits, run_read_only_sql};
use sextant_query::sql_context::project_context;
use sextant_query::trace::load_trace_skeleton;
use sextant_query::trace_list::{TraceListRequest, list_traces};
use sextant_web::http_server::{ConnectionLimits, serve_http};
use sextant_web::query_slots::{QuerySlots, SqlSettings};
use sextant_web::router::router;
use sextant_web::state::AppState;

use crate::bench::current_rss_bytes;

#[derive(Debug, clap::Args)]
pub struct QueryBenchArgs {
    /// A data dir built by `sextant bench data`.
    #[arg(long)]
    data_dir: PathBuf,
    /// Repetitions of each measurement (after one warm-up).
    #[arg(long, default_value_t = 30)]
    repetitions: usize,
    /// Print the figures as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Drop the kernel's page cache before each figure's first call (needs root), so the
    /// first call reads from disk.
    #[arg(long)]
    drop_caches: bool,
}

/// A selective search (a few hits: the timed-out test runs) and a broad one (most spans).
const SELECTIVE_SEARCH: &str = "\"timed out\"";
const BROAD_SEARCH: &str = "test";
const AGGREGATE: &str = "SELECT request_model, date_trunc('day', start_time) AS day, \
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd, \
    avg(CASE WHEN status_code = 'error' THEN 1.0 ELSE 0.0 END) AS error_rate \
    FROM spans WHERE span_type = 'llm' GROUP BY 1, 2";
/// The same figures from the per-file rollups the dashboards use (by response model, else
/// request model).
const USAGE_AGGREGATE: &str = "SELECT model, day, sum(input_tokens) AS input_tokens, \
    sum(output_tokens) AS output_tokens, sum(cost_usd) AS cost_usd, \
    sum(errors) * 1.0 / sum(calls) AS error_rate FROM llm_usage GROUP BY 1, 2";

#[derive(Debug, serde::Serialize)]
struct Figure {
    name: &'static str,
    /// The first call: the first after the process started (page cache dropped before it
    /// under `--drop-caches`).
    first_ms: f64,
    p50_ms: f64,
    /// Only from 100 repetitions or more; else `max_ms` is the tail.
    p99_ms: Option<f64>,
    max_ms: f64,
    /// What one repetition returned (hits, rows, spans, bytes).
    result: usize,
}

/// The trace rollup built from the data dir's files at start.
#[derive(Debug, serde::Serialize)]
struct RollupFigures {
    build_seconds: f64,
    /// The process's resident memory after the build minus before (what the rollup holds,
    /// roughly: freed memory the allocator keeps counts too).
    rss_growth_mib: f64,
}

/// Fewest repetitions a p99 is reported from.
const P99_SAMPLES: usize = 100;

/// Writes back dirty pages and drops the kernel's page cache; false where not allowed.
fn drop_page_cache() -> bool {
    let synced = std::process::Command::new("sync")
        .status()
        .is_ok_and(|status| status.success());
    synced && std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok()
}

/// Runs `work` once (the first call, cold with `drop_caches`), then `repetitions` times.
async fn measure<F, Fut>(
    name: &'static str,
    repetitions: usize,
    drop_caches: bool,
    mut work: F,
) -> anyhow::Result<Figure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<usize>>,
{
    if drop_caches && !drop_page_cache() {
        anyhow::bail!("cannot drop the page cache (needs root): run without --drop-caches");
    }
    let started = Instant::now();
    let mut result = work().await?;
    let first = started.elapsed();
    let mut times: Vec<Duration> = Vec::with_capacity(repetitions);
    for _ in 0..repetitions.max(1) {
        let started = Instant::now();
        result = work().await?;
        times.push(started.elapsed());
    }
    times.sort();
    let percentile = |p: f64| {
        let index = ((times.len() as f64 - 1.0) * p).round() as usize;
        times[index].as_secs_f64() * 1e3
    };
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    eprintln!(
        "  {name}: first {:.1} ms, p50 {:.1} ms",
        ms(first),
        percentile(0.5)
    );
    Ok(Figure {
        name,
        first_ms: ms(first),
        p50_ms: percentile(0.5),
        p99_ms: (times.len() >= P99_SAMPLES).then(|| percentile(0.99)),
        max_ms: percentile(1.0),
        result,
    })
}

pub async fn run_query_bench(args: QueryBenchArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::open(&args.data_dir).context("cannot open the data dir")?;
    let reps = args.repetitions;
    let cold = args.drop_caches;
    // The trace rollup built from the files, as a server does at start-up: how long a
    // restart takes to serve the trace list at full speed, and what it holds in memory.
    let rss_before = current_rss_bytes().unwrap_or(0);
    let started = Instant::now();
    let warm_dir = data_dir.clone();
    tokio::task::spawn_blocking(move || sextant_query::trace_rollup::warm(&warm_dir)).await??;
    let rollup = RollupFigures {
        build_seconds: started.elapsed().as_secs_f64(),
        rss_growth_mib: current_rss_bytes().unwrap_or(0).saturating_sub(rss_before) as f64
            / (1024.0 * 1024.0),
    };
    eprintln!(
        "trace rollup built in {:.1} s, RSS +{:.0} MiB",
        rollup.build_seconds, rollup.rss_growth_mib
    );
    let context = project_context(&data_dir, DEFAULT_PROJECT).await?;
    let spans = run_read_only_sql(
        &context,
        "SELECT count(*) AS n FROM spans",
        SqlLimits::rows(1),
    )
    .await?;
    let biggest = run_read_only_sql(
        &context,
        "SELECT trace_id, count(*) AS n FROM spans GROUP BY trace_id ORDER BY n DESC LIMIT 1",
        SqlLimits::rows(1),
    )
    .await?;
    let rows = sextant_query::batch_output::batches_to_json_rows(&spans.batches)?;
    let span_count = rows
        .first()
        .and_then(|row| row.get("n"))
        .and_then(|n| n.as_i64())
        .unwrap_or(0);
    let rows = sextant_query::batch_output::batches_to_json_rows(&biggest.batches)?;
    let big_trace = rows
        .first()
        .and_then(|row| row.get("trace_id"))
        .and_then(|id| id.as_str())
        .context("the data dir holds no spans")?
        .to_string();
    eprintln!("{span_count} spans; the biggest trace is {big_trace}");

    let (data_dir, big_trace) = (&data_dir, big_trace.as_str());
    let search = |query: &'static str| {
        move || async move {
            let request = SearchRequest {
                query: query.into(),
                limit: 20,
                ..SearchRequest::default()
            };
            Ok(search_spans(data_dir, DEFAULT_PROJECT, &request)?
                .hits
                .len())
        }
    };
    let mut figures = vec![
        measure(
            "search top-20, selective",
            reps,
            cold,
            search(SELECTIVE_SEARCH),
        )
        .await?,
        measure("search top-20, broad", reps, cold, search(BROAD_SEARCH)).await?,
    ];
    for (name, sql) in [
        ("GROUP BY model, day (llm spans)", AGGREGATE),
        ("GROUP BY model, day (llm_usage)", USAGE_AGGREGATE),
    ] {
        figures.push(
            measure(name, reps, cold, || async move {
                let context = project_context(data_dir, DEFAULT_PROJECT).await?;
                let output = run_read_only_sql(&context, sql, SqlLimits::rows(10_000)).await?;
                Ok(output.batches.iter().map(|batch| batch.num_rows()).sum())
            })
            .await?,
        );
    }
    figures.push(
        measure("trace list, first page of 50", reps, cold, || async move {
            let request = TraceListRequest {
                limit: 50,
                ..TraceListRequest::default()
            };
            Ok(list_traces(data_dir, DEFAULT_PROJECT, &request)
                .await?
                .traces
                .len())
        })
        .await?,
    );
    figures.push(
        measure("biggest trace, skeleton", reps, cold, || async move {
            let context = project_context(data_dir, DEFAULT_PROJECT).await?;
            Ok(load_trace_skeleton(&context, big_trace).await?.spans.len())
        })
        .await?,
    );

    // The API and the pages end to end: the real router on a loopback listener, bodies
    // read whole by an HTTP client.
    let state = AppState {
        pipeline: Arc::new(IngestPipeline::open(
            data_dir.clone(),
            PipelineConfig::default(),
        )?),
        access: Arc::new(AccessControl::open(&args.data_dir)?),
        body_limit_bytes: 16 * 1024 * 1024,
        secure_cookies: false,
        gateway: Default::default(),
        request_budget: RequestBudget::new(DEFAULT_REQUEST_BUDGET_BYTES),
        query_slots: Arc::new(QuerySlots::new(SqlSettings::default())),
        public_url: None,
        alerts: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_http(
        listener,
        router(state.clone()),
        ConnectionLimits::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let get = |path: String| {
        let (client, url) = (client.clone(), format!("http://{address}{path}"));
        move || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let response = client.get(&url).send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                Ok(response.bytes().await?.len())
            }
        }
    };
    let http_figures = [
        (
            "HTTP search top-20, selective",
            format!("/api/search?limit=20&q={}", "%22timed%20out%22"),
        ),
        (
            "HTTP search top-20, broad",
            format!("/api/search?limit=20&q={BROAD_SEARCH}"),
        ),
        (
            "HTTP trace list, first page of 50",
            "/api/traces?limit=50".to_owned(),
        ),
        (
            "HTTP biggest trace, skeleton",
            format!("/api/traces/{big_trace}?skeleton=true"),
        ),
        ("HTTP runs page (50 rows)", "/".to_owned()),
        ("HTTP biggest trace's page", format!("/traces/{big_trace}")),
    ];
    for (name, path) in http_figures {
        figures.push(measure(name, reps, cold, get(path)).await?);
    }
    let _ = stop.send(());
    server.await?;
    state.pipeline.shutdown();

    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "spans": span_count, "biggest_trace": big_trace, "trace_rollup": rollup,
                "figures": figures,
            }))?
        );
    } else {
        let tail = if reps >= P99_SAMPLES {
            "p99 ms"
        } else {
            "max ms"
        };
        println!(
            "{span_count} spans · trace rollup built in {:.1} s, RSS +{:.0} MiB",
            rollup.build_seconds, rollup.rss_growth_mib
        );
        println!("first call, then {reps} warm repetitions each");
        println!(
            "{:<36} {:>9} {:>9} {:>9} {:>10}",
            "figure", "first ms", "p50 ms", tail, "result"
        );
        for figure in &figures {
            println!(
                "{:<36} {:>9.1} {:>9.1} {:>9.1} {:>10}",
                figure.name,
                figure.first_ms,
                figure.p50_ms,
                figure.p99_ms.unwrap_or(figure.max_ms),
                figure.result
            );
        }
    }
    Ok(())
}
