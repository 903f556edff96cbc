//! Credentials never reach disk: every text field of spans and logs is scanned at ingest,
//! before the write-ahead log, and each secret is replaced by `[REDACTED:<kind>]`.
//!
//! Agents read `.env` files, print tokens and paste keys into commands; all of it arrives
//! in prompts, tool inputs and outputs and attributes. [`Redactor`] holds the built-in
//! detectors (`detectors.rs`: well-known token formats, PEM private keys, `password=`-style
//! assignments) plus the operator's own (`[[redaction.patterns]]` in the server config);
//! `otlp.rs` walks an export request and redacts it in place. The stored text keeps only
//! the marker, which is how later readers (the `agent_actions` ledger's `secret_exposed`
//! rows) learn that and where a secret was seen, never its value.
//!
//! Detection is the `regex` crate. One regex, the alternation of every detector, answers
//! "any secret here?" in one pass over the text — almost every field: no. Each detector
//! starts with a literal (a token's prefix, `://`, a key name), so that pass is a literal
//! search, not a regex walk: 1.3 GB/s on agent text where a `RegexSet` of the same
//! patterns managed 0.43 (BENCHMARKS.md). Only text that may hold a secret is rewritten,
//! detector by detector.

mod detectors;
pub mod otlp;

use std::borrow::Cow;
use std::collections::BTreeMap;

use regex::Regex;

pub use detectors::BUILT_IN;
use detectors::starts_a_line_key;

/// The marker a secret of `kind` is replaced by.
pub fn marker(kind: &str) -> String {
    format!("[REDACTED:{kind}]")
}

/// The prefix every marker starts with.
pub const MARKER_PREFIX: &str = "[REDACTED:";

/// Text shorter than this holds no secret any detector recognises.
const MIN_SECRET_TEXT: usize = 8;

/// An operator's own secret format (`[[redaction.patterns]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPattern {
    /// The kind in the marker: lowercase letters, digits and `_`.
    pub name: String,
    /// A regular expression (Rust `regex` syntax); the whole match is redacted, or its
    /// first capture group when it has one.
    pub regex: String,
}

/// Why a redaction configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RedactionConfigError {
    #[error("redaction pattern name {0:?} must be 1–40 lowercase letters, digits or `_`")]
    BadName(String),
    #[error("redaction pattern {name:?}: {error}")]
    BadRegex { name: String, error: regex::Error },
    #[error("redaction pattern {0:?} matches the empty string")]
    MatchesEmpty(String),
}

struct CompiledDetector {
    kind: String,
    regex: Regex,
    group: usize,
    after_line_key: bool,
}

/// The detectors of one server, compiled.
pub struct Redactor {
    /// Every detector's pattern in one alternation: a cheap "maybe" before the real work.
    any: Regex,
    detectors: Vec<CompiledDetector>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.detectors.iter().map(|d| d.kind.as_str()).collect();
        formatter
            .debug_struct("Redactor")
            .field("kinds", &kinds)
            .finish()
    }
}

/// Secrets found in one text or request, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionTally {
    pub by_kind: BTreeMap<String, u64>,
}

impl RedactionTally {
    pub fn total(&self) -> u64 {
        self.by_kind.values().sum()
    }

    fn add(&mut self, kind: &str, count: u64) {
        *self.by_kind.entry(kind.to_string()).or_default() += count;
    }
}

impl Redactor {
    /// The built-in detectors only.
    pub fn built_in() -> Redactor {
        Redactor::with_patterns(&[]).expect("the built-in detectors compile")
    }

    /// The built-in detectors, then `custom` in their order.
    pub fn with_patterns(custom: &[CustomPattern]) -> Result<Redactor, RedactionConfigError> {
        let mut detectors = Vec::with_capacity(BUILT_IN.len() + custom.len());
        for detector in BUILT_IN {
            detectors.push(CompiledDetector {
                kind: detector.kind.to_string(),
                regex: Regex::new(detector.pattern).expect("built-in detector compiles"),
                group: detector.group,
                after_line_key: detector.after_line_key,
            });
        }
        for pattern in custom {
            let name_ok = !pattern.name.is_empty()
                && pattern.name.len() <= 40
                && pattern
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err(RedactionConfigError::BadName(pattern.name.clone()));
            }
            let regex =
                Regex::new(&pattern.regex).map_err(|error| RedactionConfigError::BadRegex {
                    name: pattern.name.clone(),
                    error,
                })?;
            if regex.is_match("") {
                return Err(RedactionConfigError::MatchesEmpty(pattern.name.clone()));
            }
            let group = usize::from(regex.captures_len() > 1);
            detectors.push(CompiledDetector {
                kind: pattern.name.clone(),
                regex,
                group,
                after_line_key: false,
            });
        }
        let alternation: Vec<String> = detectors
            .iter()
            .map(|detector| format!("(?:{})", detector.regex.as_str()))
            .collect();
        let any = Regex::new(&alternation.join("|")).expect("each detector compiled alone");
        Ok(Redactor { any, detectors })
    }

    /// `text` with every secret replaced by its marker, or `None` when it holds none.
    pub fn redact(&self, text: &str, tally: &mut RedactionTally) -> Option<String> {
        if text.len() < MIN_SECRET_TEXT || !self.any.is_match(text) {
            return None;
        }
        let mut current = Cow::Borrowed(text);
        for detector in &self.detectors {
            if !detector.regex.is_match(&current) {
                continue;
            }
            let (rewritten, count) = replace_secrets(detector, &current);
            if count > 0 {
                tally.add(&detector.kind, count);
                current = Cow::Owned(rewritten);
            }
        }
        match current {
            Cow::Owned(text) => Some(text),
            Cow::Borrowed(_) => None,
        }
    }
}

/// Replaces the secret part of each of `detector`'s matches in `text`; the count replaced.
fn replace_secrets(detector: &CompiledDetector, text: &str) -> (String, u64) {
    let marker = marker(&detector.kind);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut count = 0;
    for captures in detector.regex.captures_iter(text) {
        let Some(secret) = captures.get(detector.group) else {
            continue;
        };
        if detector.after_line_key && !starts_a_line_key(text, captures.get_match().start()) {
            continue;
        }
        if secret.is_empty() || text[secret.range()].starts_with(MARKER_PREFIX) {
            continue;
        }
        out.push_str(&text[copied..secret.start()]);
        out.push_str(&marker);
        copied = secret.end();
        count += 1;
    }
    out.push_str(&text[copied..]);
    (out, count)
}

#[cfg(test)]
mod tests;
