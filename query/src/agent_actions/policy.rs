//! Policies over the ledger: rules in the server config that turn an action into an alert.
//!
//! ```toml
//! [[policies]]
//! name = "secrets-read"
//! severity = "high"                       # info | low | medium | high | critical
//! kind = "file_read"                      # one kind, or a list; default: any
//! target = ["**/.env", "**/*.pem"]        # any of these (default: any target)
//! not_target = ["/repo/.env.example"]     # … and none of these
//! projects = ["payments"]                 # default: every project, each on its own
//! notify = ["sec-team"]                   # `[[notifiers]]` by name
//! ```
//!
//! A pattern is a glob (`*` within one path segment, `**` across segments, `?` one
//! character; a pattern without `/` also matches a path's last segment, so `*.pem` matches
//! `/srv/key.pem`), or a regular expression after `re:`. Host wildcards are globs:
//! `*.npmjs.org`. A pattern matches the action's target, or its program (`target = ["curl"]`
//! on `command` actions matches every line that runs curl).

use regex::Regex;
use serde::Deserialize;

use super::{ActionKind, AgentAction};

/// How bad a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One kind or several.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `[[policies]]` as written in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    pub kind: Option<OneOrMany>,
    #[serde(default)]
    pub target: Vec<String>,
    #[serde(default)]
    pub not_target: Vec<String>,
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub notify: Vec<String>,
}

fn default_severity() -> Severity {
    Severity::Medium
}

/// A policy ready to match actions.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub severity: Severity,
    kinds: Vec<ActionKind>,
    target: Vec<Regex>,
    not_target: Vec<Regex>,
    projects: Vec<String>,
    pub notify: Vec<String>,
}

const KINDS: [ActionKind; 8] = [
    ActionKind::FileRead,
    ActionKind::FileWrite,
    ActionKind::FileDelete,
    ActionKind::Command,
    ActionKind::Network,
    ActionKind::Mcp,
    ActionKind::Decision,
    ActionKind::SecretExposed,
];

impl Policy {
    /// Checks and compiles one policy; the error names the policy and what is wrong.
    pub fn compile(config: &PolicyConfig) -> Result<Policy, String> {
        let name = &config.name;
        if name.trim().is_empty() {
            return Err("a policy needs a name".into());
        }
        let kinds = match &config.kind {
            None => Vec::new(),
            Some(OneOrMany::One(kind)) => vec![kind_named(name, kind)?],
            Some(OneOrMany::Many(kinds)) => kinds
                .iter()
                .map(|kind| kind_named(name, kind))
                .collect::<Result<_, _>>()?,
        };
        let patterns = |patterns: &[String]| -> Result<Vec<Regex>, String> {
            patterns
                .iter()
                .map(|pattern| {
                    pattern_regex(pattern)
                        .map_err(|error| format!("policy {name:?}: pattern {pattern:?}: {error}"))
                })
                .collect()
        };
        Ok(Policy {
            name: name.clone(),
            severity: config.severity,
            kinds,
            target: patterns(&config.target)?,
            not_target: patterns(&config.not_target)?,
            projects: config.projects.clone(),
            notify: config.notify.clone(),
        })
    }

    /// Whether `action`, in `project`, is one this policy alerts on.
    pub fn matches(&self, project: &str, action: &AgentAction) -> bool {
        if !self.projects.is_empty() && !self.projects.iter().any(|p| p == project) {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.contains(&action.kind) {
            return false;
        }
        let hit = |patterns: &[Regex]| {
            patterns.iter().any(|pattern| {
                pattern.is_match(&action.target)
                    || action
                        .program
                        .as_deref()
                        .is_some_and(|program| pattern.is_match(program))
            })
        };
        (self.target.is_empty() || hit(&self.target)) && !hit(&self.not_target)
    }
}

fn kind_named(policy: &str, kind: &str) -> Result<ActionKind, String> {
    KINDS
        .into_iter()
        .find(|known| known.as_str() == kind)
        .ok_or_else(|| {
            let known: Vec<&str> = KINDS.iter().map(|kind| kind.as_str()).collect();
            format!(
                "policy {policy:?}: unknown kind {kind:?}; one of {}",
                known.join(", ")
            )
        })
}

/// A pattern as an anchored regex: `re:<regex>` as written (unanchored), else a glob.
fn pattern_regex(pattern: &str) -> Result<Regex, regex::Error> {
    if let Some(regex) = pattern.strip_prefix("re:") {
        return Regex::new(regex);
    }
    let mut body = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    body.push_str("(?:.*/)?");
                } else {
                    body.push_str(".*");
                }
            }
            '*' => body.push_str("[^/]*"),
            '?' => body.push_str("[^/]"),
            other => body.push_str(&regex::escape(&other.to_string())),
        }
    }
    // A pattern without `/` also matches the last segment of a path (`*.pem`, `.env`).
    let anchored = if pattern.contains('/') {
        format!("^{body}$")
    } else {
        format!("^(?:.*/)?{body}$")
    };
    Regex::new(&anchored)
}
