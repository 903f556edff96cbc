//! `sextant keys …`, `sextant projects …` and `sextant audit`: managing access from the
//! machine that holds the data dir (file access to it is the admin right).
//!
//! These work while the server runs: the server notices new and revoked keys on its next
//! request. Each change is written to the audit log with actor `cli`.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use sextant_ingest::layout::is_valid_project_id;
use sextant_meta::AccessControl;
use sextant_meta::audit::AuditEntry;
use sextant_meta::keys::{NO_PROJECT, Scope};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key for a project (or an operator key, of no project); prints it once.
    Create {
        /// The project the key is for (every scope but operator).
        #[arg(long)]
        project: Option<String>,
        /// ingest: send OTLP; read: API, SQL and UI; admin: both, plus the audit log;
        /// operator: no project's content, only every project's usage per day.
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        /// A note to tell keys apart in `keys list` (e.g. "ci-runner").
        #[arg(long)]
        name: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        #[arg(long)]
        project: Option<String>,
    },
    /// Revoke a key by id; it stops working at once, and its web sessions end.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// Create a project (letters, digits, `-` and `_`, at most 64).
    Create { id: String },
    /// List projects with their number of active keys and their retention.
    List,
    /// Keep a project's data for DAYS days (`off`: forever). Older days are dropped whole by
    /// the server's background maintenance (or `sextant compact`).
    Retention { id: String, days: String },
}

/// `off` or a positive number of days.
fn parse_retention(text: &str) -> anyhow::Result<Option<u32>> {
    if text == "off" {
        return Ok(None);
    }
    match text.parse::<u32>() {
        Ok(days) if days > 0 => Ok(Some(days)),
        _ => anyhow::bail!("invalid retention {text:?}: a number of days above 0, or off"),
    }
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    Scope::parse(text)
        .ok_or_else(|| format!("unknown scope {text:?}; use ingest, read, admin or operator"))
}

fn open(data_dir: &Path) -> anyhow::Result<AccessControl> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    AccessControl::open(data_dir)
        .with_context(|| format!("cannot open the metadata store in {}", data_dir.display()))
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|time| time.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

pub fn run_keys(data_dir: &Path, command: KeysCommand) -> anyhow::Result<()> {
    let access = open(data_dir)?;
    match command {
        KeysCommand::Create {
            project,
            scope,
            name,
        } => {
            let created = match (scope, project) {
                (Scope::Operator, None) => {
                    access.create_key(NO_PROJECT, scope, name.as_deref(), "cli")?
                }
                (Scope::Operator, Some(_)) => {
                    anyhow::bail!("an operator key belongs to no project: leave out --project")
                }
                (_, None) => anyhow::bail!("a {scope} key needs --project"),
                (_, Some(project)) => access.create_key(&project, scope, name.as_deref(), "cli")?,
            };
            let owner = match scope {
                Scope::Operator => "the whole instance".to_owned(),
                _ => format!("project {}", created.record.project_id),
            };
            eprintln!(
                "created {scope} key {} for {owner}; it is shown once, store it now:",
                created.record.id
            );
            crate::say!("{}", created.key);
        }
        KeysCommand::List { project } => {
            let keys = access.with_store(|store| store.keys().list(project.as_deref()))?;
            crate::say!(
                "{:<12}  {:<20}  {:<8}  {:<19}  {:<19}  name",
                "id",
                "project",
                "scope",
                "created (UTC)",
                "revoked (UTC)"
            );
            for key in keys {
                crate::say!(
                    "{:<12}  {:<20}  {:<8}  {:<19}  {:<19}  {}",
                    key.id,
                    key.project_id,
                    key.scope,
                    time(key.created_at_ms),
                    key.revoked_at_ms.map(time).unwrap_or_else(|| "-".into()),
                    key.name.unwrap_or_default()
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let record = access.revoke_key(&id, "cli")?;
            crate::say!("revoked key {id} of project {}", record.project_id);
        }
    }
    Ok(())
}

pub fn run_projects(data_dir: &Path, command: ProjectsCommand) -> anyhow::Result<()> {
    let access = open(data_dir)?;
    match command {
        ProjectsCommand::Create { id } => {
            if !is_valid_project_id(&id) {
                anyhow::bail!(
                    "invalid project id {id:?}: use lowercase letters, digits, '-' and '_' (at most 64)"
                );
            }
            if access.with_store(|store| store.projects().create(&id))? {
                access.audit(AuditEntry::now(
                    Some(&id),
                    "cli",
                    "project.create",
                    "ok",
                    "",
                ));
                crate::say!("created project {id}");
            } else {
                crate::say!("project {id} already exists");
            }
        }
        ProjectsCommand::List => {
            let projects = access.with_store(|store| store.projects().list())?;
            crate::say!(
                "{:<20}  {:<19}  {:<11}  retention",
                "project",
                "created (UTC)",
                "active keys"
            );
            for project in projects {
                let retention = project
                    .retention_days
                    .map_or("forever".to_owned(), |days| format!("{days} days"));
                crate::say!(
                    "{:<20}  {:<19}  {:<11}  {retention}",
                    project.id,
                    time(project.created_at_ms),
                    project.active_keys
                );
            }
        }
        ProjectsCommand::Retention { id, days } => {
            let days = parse_retention(&days)?;
            if !access.with_store(|store| store.projects().set_retention_days(&id, days))? {
                anyhow::bail!("no project {id:?}; create it with `sextant projects create {id}`");
            }
            let detail = days.map_or("off".to_owned(), |days| days.to_string());
            access.audit(AuditEntry::now(
                Some(&id),
                "cli",
                "project.retention",
                "ok",
                &detail,
            ));
            match days {
                Some(days) => crate::say!("project {id} keeps {days} days of data"),
                None => crate::say!("project {id} keeps its data forever"),
            }
        }
    }
    Ok(())
}

pub fn run_audit(data_dir: &Path, project: Option<&str>, limit: usize) -> anyhow::Result<()> {
    let access = open(data_dir)?;
    let entries = access.with_store(|store| store.audit().list(project, limit))?;
    for entry in entries {
        crate::say!(
            "{}  {:<12}  {:<16}  {:<14}  {:<6}  {}",
            time(entry.time_ms),
            entry.project_id.as_deref().unwrap_or("-"),
            entry.actor,
            entry.action,
            entry.outcome,
            entry.detail
        );
    }
    Ok(())
}
