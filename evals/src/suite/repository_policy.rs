//! Which recorded repositories agent replay may clone (`[agent] repositories`).
//!
//! A recording's `vcs.repository.url.full` is whatever an ingest key sent: cloning it and
//! running the suite's `outcome` inside would run that sender's code (a `build.rs`, a
//! Makefile, a test) on the eval machine. So a clone happens only from a repository that
//! a pattern of the suite allows. A pattern is a URL: its scheme and port must equal the
//! repository's, its host may use `*` for one or more labels (`*.acme.com`), and its path
//! may use `*` for anything (`https://github.com/acme/*`). `file://` URLs and absolute local
//! paths are allowed only by a pattern that names them (`file:///srv/repos/*`).
//!
//! Both sides are parsed as WHATWG URLs before matching, so the comparison is structural:
//! `https://github.com@evil.example/acme/x` has host `evil.example`, `acme/../x` is `x`, and
//! a path with an encoded slash or backslash, a query or a fragment is refused outright.

// reqwest's re-export of the `url` crate (WHATWG parsing), already built for the providers.
use reqwest::Url;

use crate::error::{EvalError, Result};

/// The schemes git may clone from here; anything else (`ext::`, `fd::`, helpers) is refused.
const CLONE_SCHEMES: &[&str] = &["https", "http", "ssh", "git", "file"];

/// The suite's allow-list of repositories.
#[derive(Debug, Clone, Default)]
pub struct RepositoryPolicy {
    patterns: Vec<RepositoryPattern>,
}

#[derive(Debug, Clone)]
struct RepositoryPattern {
    scheme: String,
    host: String,
    port: Option<u16>,
    path: String,
}

/// A repository the policy allows: the URL git is given (the normalized one that was
/// checked, never the recorded text) and its scheme, the only protocol git may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedRepository {
    pub url: String,
    pub scheme: String,
}

impl RepositoryPolicy {
    /// Parses the suite's patterns; a pattern that is not a URL or local path is an error.
    pub fn parse(patterns: &[String]) -> Result<RepositoryPolicy> {
        let patterns = patterns
            .iter()
            .map(|pattern| {
                let url = parse_repository_url(pattern).map_err(|why| {
                    EvalError::Invalid(format!("agent.repositories: {pattern:?} {why}"))
                })?;
                Ok(RepositoryPattern {
                    scheme: url.scheme().to_owned(),
                    host: url.host_str().unwrap_or_default().to_owned(),
                    port: url.port_or_known_default(),
                    path: url.path().to_owned(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RepositoryPolicy { patterns })
    }

    /// The repository to clone, or why it may not be: the message names the URL.
    pub fn check(&self, recorded_url: &str) -> std::result::Result<AllowedRepository, String> {
        let url = parse_repository_url(recorded_url).map_err(|why| {
            format!("refusing to clone the recorded repository {recorded_url:?}: it {why}")
        })?;
        let host = url.host_str().unwrap_or_default();
        let allowed = self.patterns.iter().any(|pattern| {
            pattern.scheme == url.scheme()
                && pattern.port == url.port_or_known_default()
                && host_matches(&pattern.host, host)
                && glob_matches(&pattern.path, url.path())
        });
        if !allowed {
            return Err(format!(
                "refusing to clone the recorded repository {recorded_url:?}: it is not allowed by \
                 [agent] repositories (add a pattern such as \"{}://{}/*\" if you trust what \
                 it runs, or set agent.workdir)",
                url.scheme(),
                host
            ));
        }
        Ok(AllowedRepository {
            url: url.to_string(),
            scheme: url.scheme().to_owned(),
        })
    }
}

/// A git repository location as a URL: `scheme://…`, scp-like `user@host:path` (as ssh), or
/// an absolute local path (as `file://`). `Err` says why not, to follow "it".
fn parse_repository_url(text: &str) -> std::result::Result<Url, String> {
    if text.is_empty() || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("is empty or has spaces or control characters".into());
    }
    if text.starts_with('-') {
        return Err("starts with '-'".into());
    }
    let url = if text.contains("://") {
        Url::parse(text).map_err(|error| format!("is not a URL ({error})"))?
    } else if text.starts_with('/') {
        // Through the parser again, which resolves `..` (a file path is taken as it is).
        let file = Url::from_file_path(text).map_err(|()| "is not an absolute path".to_owned())?;
        Url::parse(file.as_str()).map_err(|error| format!("is not a URL ({error})"))?
    } else if let Some((authority, path)) = scp_like(text) {
        Url::parse(&format!("ssh://{authority}/{path}"))
            .map_err(|error| format!("is not a URL ({error})"))?
    } else {
        return Err("is not a URL, an scp-like address or an absolute path".into());
    };
    if !CLONE_SCHEMES.contains(&url.scheme()) {
        return Err(format!(
            "uses scheme {:?} (git may clone over {})",
            url.scheme(),
            CLONE_SCHEMES.join(", ")
        ));
    }
    if url.scheme() != "file" && url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or fragment".into());
    }
    let path = url.path().to_ascii_lowercase();
    if path.contains("%2f") || path.contains("%5c") || path.contains('\\') {
        return Err("has an encoded slash or a backslash in its path".into());
    }
    Ok(url)
}

/// `git@github.com:acme/repo.git` → (`git@github.com`, `acme/repo.git`).
fn scp_like(text: &str) -> Option<(&str, &str)> {
    let (authority, path) = text.split_once(':')?;
    let valid = !authority.is_empty() && !authority.contains('/') && !path.starts_with('/');
    valid.then_some((authority, path))
}

/// A host pattern: exact (case-insensitive, as URLs lowercase hosts), or `*` standing for one
/// or more whole labels at the front (`*.acme.com` matches `git.acme.com`, not `acme.com`).
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|front| front.len() > 1 && front.ends_with('.')),
        None => pattern == host,
    }
}

/// `*` matches any run of characters (slashes included); everything else literally.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(patterns: &[&str]) -> RepositoryPolicy {
        RepositoryPolicy::parse(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>())
            .expect("valid patterns")
    }

    #[test]
    fn allowed_repositories_match_scheme_host_and_path() {
        let policy = policy(&["https://github.com/acme/*", "ssh://git.acme.com/*"]);
        for url in [
            "https://github.com/acme/widgets",
            "https://github.com/acme/widgets.git",
            "https://GitHub.com/acme/team/widgets",
            "git@git.acme.com:tools/cli.git",
        ] {
            assert!(policy.check(url).is_ok(), "{url}");
        }
        let allowed = policy.check("git@git.acme.com:tools/cli.git").unwrap();
        assert_eq!(allowed.url, "ssh://git@git.acme.com/tools/cli.git");
        assert_eq!(allowed.scheme, "ssh");
    }

    #[test]
    fn everything_else_is_refused_naming_the_url() {
        let policy = policy(&["https://github.com/acme/*", "https://*.acme.com/*"]);
        for url in [
            "https://github.com/evil/widgets",
            "http://github.com/acme/widgets",
            "https://github.com:8443/acme/widgets",
            "https://github.com@evil.example/acme/widgets",
            "https://github.com/acme/../evil/widgets",
            "https://github.com/acme/%2e%2e/evil/widgets",
            "https://github.com/acme/x%2F..%2F..%2Fevil",
            "https://github.com/acme/x?y=1",
            "https://acme.com/x",
            "https://evilacme.com/x",
            "file:///tmp/evil",
            "/tmp/evil",
            "ext::sh -c touch% /tmp/pwned",
            "ext::sh",
            "--upload-pack=touch /tmp/pwned",
            "relative/path",
            "",
        ] {
            let error = policy.check(url).expect_err(url);
            assert!(error.contains(&format!("{url:?}")), "{error}");
        }
        assert!(policy.check("https://git.acme.com/x").is_ok());
    }

    #[test]
    fn local_repositories_need_a_pattern_that_names_them() {
        let policy = policy(&["file:///srv/repos/*", "/home/ci/fixtures/*"]);
        assert!(policy.check("file:///srv/repos/app").is_ok());
        assert!(policy.check("/srv/repos/app").is_ok());
        assert!(policy.check("/home/ci/fixtures/app").is_ok());
        assert!(policy.check("/srv/repos/../../etc").is_err());
        assert!(policy.check("file:///srv/other").is_err());
        assert!(RepositoryPolicy::default().check("/srv/repos/app").is_err());
    }

    #[test]
    fn bad_patterns_are_suite_errors() {
        let error = RepositoryPolicy::parse(&["github.com/acme".into()]).unwrap_err();
        assert!(error.to_string().contains("agent.repositories"), "{error}");
        assert!(RepositoryPolicy::parse(&["ftp://host/x".into()]).is_err());
    }

    #[test]
    fn globs_match_anywhere_but_anchor_both_ends() {
        assert!(glob_matches("/acme/*", "/acme/x/y"));
        assert!(glob_matches("/acme/*.git", "/acme/x.git"));
        assert!(!glob_matches("/acme/*.git", "/acme/x"));
        assert!(glob_matches("/acme/x", "/acme/x"));
        assert!(!glob_matches("/acme/x", "/acme/xy"));
        assert!(glob_matches("/a*b*c", "/aXbYc"));
        assert!(!glob_matches("/a*bc", "/abc/d"));
    }
}
