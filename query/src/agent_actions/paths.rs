//! File paths as an auditor compares them: relative paths joined to the agent's working
//! directory when it is known, `.` and `..` resolved lexically (nothing is read from disk:
//! the paths are another machine's).

/// `path` made absolute against `cwd` when it is relative and `cwd` is known, then
/// normalized (`a/./b/../c` → `a/c`; a `..` past the root stays at the root).
pub fn normalize_path(path: &str, cwd: Option<&str>) -> String {
    let path = path.trim();
    let joined = match cwd {
        Some(cwd) if !path.starts_with('/') && !path.starts_with('~') && cwd.starts_with('/') => {
            format!("{}/{path}", cwd.trim_end_matches('/'))
        }
        _ => path.to_string(),
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}
