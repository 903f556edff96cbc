//! Reading a shell command line the way a reviewer would: which programs it runs (a pipeline
//! `a | b && c` runs three), which hosts it reaches and which files it deletes.
//!
//! Not a shell: quotes (`'…'`, `"…"` with `\` escapes), operators (`|`, `||`, `&&`, `;`,
//! `&`, newlines) and subshells (`( … )`, `$( … )`, backticks) are enough to find the
//! programs; prefixes that run another program (`sudo`, `env`, `time`, `nohup`, `xargs`,
//! `VAR=value`) are looked through.

/// One program a command line runs, with its arguments (quotes removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCall {
    /// The program's name without its folder (`/usr/bin/curl` → `curl`).
    pub program: String,
    pub args: Vec<String>,
}

/// Words that run the program after them.
const WRAPPERS: &[&str] = &[
    "sudo", "env", "time", "nohup", "xargs", "exec", "command", "nice", "timeout", "doas",
];

/// The programs `command` runs, in order.
pub fn programs(command: &str) -> Vec<ProgramCall> {
    let mut calls = Vec::new();
    for segment in split_segments(command) {
        if let Some(call) = program_call(segment) {
            calls.push(call);
        }
    }
    calls
}

/// Splits into simple commands (words of one program each), quotes removed.
fn split_segments(command: &str) -> Vec<Vec<String>> {
    let mut segments = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut nested = Vec::new();
    let mut heredocs: Vec<String> = Vec::new();
    let mut chars = command.chars().peekable();
    let end_word = |word: &mut String, in_word: &mut bool, segments: &mut Vec<Vec<String>>| {
        if *in_word {
            segments
                .last_mut()
                .expect("one segment")
                .push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for quoted in chars.by_ref() {
                    if quoted == '\'' {
                        break;
                    }
                    word.push(quoted);
                }
            }
            '"' => {
                in_word = true;
                while let Some(quoted) = chars.next() {
                    match quoted {
                        '"' => break,
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                word.push(escaped);
                            }
                        }
                        // `"$(cmd)"` and `"`cmd`"` still run `cmd`.
                        '$' if chars.peek() == Some(&'(') => {
                            chars.next();
                            let inner = substitution(&mut chars, '(', ')');
                            word.push_str(&inner);
                            nested.push(inner);
                        }
                        '`' => {
                            let inner = substitution(&mut chars, '`', '`');
                            word.push_str(&inner);
                            nested.push(inner);
                        }
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(escaped) = chars.next()
                    && escaped != '\n'
                {
                    word.push(escaped);
                }
            }
            // `2>&1`, `>&2`, `&>file`: redirections, not operators.
            '&' if word.ends_with(['>', '<']) || chars.peek() == Some(&'>') => {
                in_word = true;
                word.push('&');
            }
            // `<<EOF`, `<<-'EOF'`: a here-document; its lines are data, not commands.
            '<' if !in_word && chars.peek() == Some(&'<') => {
                chars.next();
                if chars.peek() == Some(&'<') {
                    // `<<<word`: a here-string, one word of data.
                    chars.next();
                    continue;
                }
                if chars.peek() == Some(&'-') {
                    chars.next();
                }
                while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                    chars.next();
                }
                let mut delimiter = String::new();
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, ';' | '|' | '&' | ')') {
                        break;
                    }
                    chars.next();
                    if !matches!(next, '\'' | '"' | '\\') {
                        delimiter.push(next);
                    }
                }
                if !delimiter.is_empty() {
                    heredocs.push(delimiter);
                }
            }
            '\n' if !heredocs.is_empty() => {
                end_word(&mut word, &mut in_word, &mut segments);
                if !segments.last().expect("one segment").is_empty() {
                    segments.push(Vec::new());
                }
                // Skip each pending here-document's body, through its delimiter line.
                for delimiter in std::mem::take(&mut heredocs) {
                    let mut line = String::new();
                    for next in chars.by_ref() {
                        if next != '\n' {
                            line.push(next);
                            continue;
                        }
                        if line.trim() == delimiter {
                            break;
                        }
                        line.clear();
                    }
                }
            }
            '|' | '&' | ';' | '\n' | '(' | ')' | '`' => {
                end_word(&mut word, &mut in_word, &mut segments);
                if !segments.last().expect("one segment").is_empty() {
                    segments.push(Vec::new());
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                end_word(&mut word, &mut in_word, &mut segments);
                if !segments.last().expect("one segment").is_empty() {
                    segments.push(Vec::new());
                }
            }
            '#' if !in_word => {
                // A comment runs to the end of the line.
                for skipped in chars.by_ref() {
                    if skipped == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut in_word, &mut segments);
                if !segments.last().expect("one segment").is_empty() {
                    segments.push(Vec::new());
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut segments),
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut segments);
    segments.retain(|segment| !segment.is_empty());
    for inner in nested {
        segments.extend(split_segments(&inner));
    }
    segments
}

/// The text up to the `close` matching an already read `open` (nested pairs counted).
fn substitution(
    chars: &mut std::iter::Peekable<std::str::Chars>,
    open: char,
    close: char,
) -> String {
    let mut depth = 1;
    let mut inner = String::new();
    for c in chars.by_ref() {
        if c == close && (open == close || depth == 1) {
            break;
        }
        if open != close && c == open {
            depth += 1;
        } else if open != close && c == close {
            depth -= 1;
        }
        inner.push(c);
    }
    inner
}

fn program_call(words: Vec<String>) -> Option<ProgramCall> {
    let mut words = words.into_iter().peekable();
    loop {
        let word = words.next()?;
        if is_assignment(&word) || is_redirection(&word) {
            continue;
        }
        let program = word.rsplit('/').next().unwrap_or(&word).to_string();
        if WRAPPERS.contains(&program.as_str()) {
            // The wrapper's own options (`sudo -u root`, `timeout 10`) come before the program.
            while let Some(next) = words.peek() {
                if next.starts_with('-') || next.parse::<f64>().is_ok() || is_assignment(next) {
                    let option = words.next().unwrap_or_default();
                    if program == "sudo" && matches!(option.as_str(), "-u" | "-g") {
                        words.next();
                    }
                } else {
                    break;
                }
            }
            continue;
        }
        if program.is_empty() {
            continue;
        }
        return Some(ProgramCall {
            program,
            args: words.filter(|arg| !is_redirection(arg)).collect(),
        });
    }
}

/// `>out`, `2>&1`, `<in`, `&>log`.
fn is_redirection(word: &str) -> bool {
    word.starts_with("&>")
        || word
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .starts_with(['>', '<'])
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// A host a program reaches, with what was asked of it (the URL, or the operation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostContact {
    pub host: String,
    pub detail: String,
}

/// The hosts one program call reaches: URLs in its arguments, `git` remotes in scp form
/// (`git@github.com:org/repo`), package installs (their registry's host), `ssh`/`scp`.
pub fn hosts(call: &ProgramCall) -> Vec<HostContact> {
    let mut contacts = Vec::new();
    for arg in &call.args {
        if let Some(host) = url_host(arg) {
            contacts.push(HostContact {
                host,
                detail: arg.clone(),
            });
        }
    }
    let subcommand = call
        .args
        .iter()
        .find(|arg| !arg.starts_with('-'))
        .map(String::as_str);
    let registry = match (call.program.as_str(), subcommand) {
        ("npm" | "pnpm" | "yarn" | "npx", Some("install" | "i" | "add" | "ci" | "exec"))
        | ("npx", _) => Some("registry.npmjs.org"),
        ("pip" | "pip3" | "pipx" | "uv", Some("install" | "pip" | "add" | "sync")) => {
            Some("pypi.org")
        }
        ("cargo", Some("install" | "add" | "fetch" | "update")) => Some("index.crates.io"),
        ("gem", Some("install")) => Some("rubygems.org"),
        ("go", Some("get" | "install")) => Some("proxy.golang.org"),
        _ => None,
    };
    if let Some(registry) = registry
        && contacts.is_empty()
    {
        contacts.push(HostContact {
            host: registry.to_string(),
            detail: format!("{} {}", call.program, subcommand.unwrap_or_default()),
        });
    }
    if matches!(
        call.program.as_str(),
        "git" | "ssh" | "scp" | "rsync" | "sftp"
    ) {
        for arg in call.args.iter().filter(|arg| !arg.starts_with('-')) {
            if let Some(host) = scp_host(arg) {
                contacts.push(HostContact {
                    host,
                    detail: arg.clone(),
                });
            }
        }
    }
    contacts
}

/// The host of `text` when it is a URL (`scheme://[user@]host[:port]/…`), lowercased.
pub fn url_host(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    if !scheme_ok || scheme.eq_ignore_ascii_case("file") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    valid_host(host).then(|| host.to_ascii_lowercase())
}

/// `user@host:path` (scp and git's short form) or `user@host` (ssh).
fn scp_host(arg: &str) -> Option<String> {
    if arg.contains("://") {
        return None;
    }
    let (_, after_user) = arg.split_once('@')?;
    let host = after_user.split(':').next().unwrap_or_default();
    valid_host(host).then(|| host.to_ascii_lowercase())
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
}

/// The files a program call deletes (`rm`, `git rm`, `unlink`, `shred`), options skipped.
pub fn deleted_files(call: &ProgramCall) -> Vec<String> {
    let operands = |args: &[String]| -> Vec<String> {
        args.iter()
            .filter(|arg| !arg.starts_with('-'))
            .cloned()
            .collect()
    };
    match call.program.as_str() {
        "rm" | "unlink" | "shred" | "rmdir" => operands(&call.args),
        "git" if call.args.first().map(String::as_str) == Some("rm") => operands(&call.args[1..]),
        _ => Vec::new(),
    }
}
