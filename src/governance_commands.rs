//! `sextant actions` and `sextant alerts`: the governance ledger and its alerts from the
//! shell — an audit-ready export (`--format csv|json`) of what agents touched.

use std::path::Path;

use anyhow::Context;
use sextant_meta::alerts::STATES;
use sextant_meta::store::MetadataStore;
use sextant_query::agent_actions::listing::{ActionFilters, actions_sql};
use sextant_web::api::trace_list_params::parse_window_ns;
use sextant_web::query_slots::SqlSettings;

use crate::sql_command::{OutputFormat, run_sql};

#[derive(Debug, clap::Args)]
pub struct ActionsArgs {
    /// Only actions this recent: `90m`, `24h`, `30d`, `2w` [default: all].
    #[arg(long)]
    since: Option<String>,
    /// Only this kind: file_read, file_write, file_delete, command, network, mcp, decision,
    /// secret_exposed.
    #[arg(long)]
    kind: Option<String>,
    /// Only this session.
    #[arg(long)]
    session: Option<String>,
    /// Only this user.
    #[arg(long)]
    user: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Most rows printed, newest first.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
}

/// Prints the project's actions, newest first.
pub async fn run_actions(
    data_dir: &Path,
    project_id: &str,
    args: ActionsArgs,
    settings: &SqlSettings,
) -> anyhow::Result<()> {
    let limits = settings.limits(args.limit.max(1));
    let from_ns = match &args.since {
        Some(since) => {
            let window = parse_window_ns(since).with_context(|| {
                format!("invalid --since {since:?}: expected a window like 24h, 7d or 30d")
            })?;
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
            Some(now.saturating_sub(window))
        }
        None => None,
    };
    let filters = ActionFilters {
        from_ns,
        kind: args.kind,
        session_id: args.session,
        user: args.user,
        ..ActionFilters::default()
    };
    let sql = actions_sql(&filters, args.limit.max(1), 0);
    run_sql(data_dir, project_id, &sql, args.format, limits).await
}

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    /// Only alerts in this state: open, acknowledged, resolved.
    #[arg(long)]
    state: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Prints the project's alerts, newest first.
pub fn run_alerts(data_dir: &Path, project_id: &str, args: AlertsArgs) -> anyhow::Result<()> {
    if let Some(state) = &args.state
        && !STATES.contains(&state.as_str())
    {
        anyhow::bail!("--state {state:?} is not one of {}", STATES.join(", "));
    }
    let store = MetadataStore::open(data_dir).context("cannot open the metadata store")?;
    let alerts = store
        .alerts()
        .list(project_id, args.state.as_deref(), None, args.limit.max(1))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&alerts)?);
        return Ok(());
    }
    println!(
        "{:>6}  {:<8}  {:<13}  {:<24}  {:<10}  {:<11}  target",
        "id", "severity", "state", "policy", "kind", "session"
    );
    for alert in alerts {
        let time = chrono::DateTime::from_timestamp_millis(alert.time_ms)
            .map(|time| time.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        println!(
            "{:>6}  {:<8}  {:<13}  {:<24}  {:<10}  {:<11}  {}  ({time})",
            alert.id,
            alert.severity,
            alert.state,
            alert.policy,
            alert.kind,
            alert.session_id.as_deref().unwrap_or("-"),
            alert.target
        );
    }
    Ok(())
}
