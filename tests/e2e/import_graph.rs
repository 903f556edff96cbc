//! The workspace's import graph, checked: crates depend one way (the layering in
//! ARCHITECTURE.md), and inside a crate no module imports another that imports it back,
//! directly or around a circle.
//!
//! Modules are files (`a/b.rs` is `a::b`; `a/mod.rs` is `a`). An import is any `crate::…`
//! or `super::…` path outside comments and the file's `#[cfg(test)] mod`, resolved to the
//! longest module it names. Cycles are looked for among the children of each module (the
//! crate root's top-level modules, then each folder's files): a child stands for
//! everything under it, and what it takes from its own parent does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each crate (its folder) and the workspace crates it may depend on.
const LAYERS: &[(&str, &[&str])] = &[
    ("meta", &[]),
    ("ingest", &[]),
    ("tracegen", &[]),
    ("query", &["ingest"]),
    ("evals", &["meta", "ingest", "query"]),
    ("web", &["meta", "ingest", "query", "evals"]),
    (
        ".",
        &["meta", "ingest", "query", "evals", "web", "tracegen"],
    ),
];

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn crates_depend_one_way_and_modules_import_without_cycles() {
    let mut problems = Vec::new();
    for (folder, allowed) in LAYERS {
        let manifest = std::fs::read_to_string(workspace().join(folder).join("Cargo.toml"))
            .expect("Cargo.toml");
        for dependency in workspace_dependencies(&manifest) {
            if !allowed.contains(&dependency.as_str()) {
                problems.push(format!("crate {folder} depends on {dependency}"));
            }
        }
        for cycle in module_cycles(&workspace().join(folder).join("src")) {
            problems.push(format!(
                "crate {folder}: modules import each other: {cycle}"
            ));
        }
    }
    let members = std::fs::read_to_string(workspace().join("Cargo.toml")).expect("Cargo.toml");
    for (folder, _) in LAYERS.iter().filter(|(folder, _)| *folder != ".") {
        assert!(
            members.contains(&format!("\"{folder}\"")),
            "{folder} is not a workspace member: update LAYERS"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_circle_of_imports_is_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("replay")).expect("dir");
    for (path, text) in [
        ("lib.rs", "pub mod a; pub mod b; pub mod replay; pub mod c;"),
        ("a.rs", "use crate::{b::Thing, c};"),
        // A comment naming crate::a and a test module importing it do not count.
        (
            "b.rs",
            "// crate::a\nuse crate::replay::step::X;\n#[cfg(test)]\nmod tests { use crate::a; }",
        ),
        ("c.rs", "pub struct C;"),
        ("replay/mod.rs", "pub mod step; pub mod agent;"),
        (
            "replay/step.rs",
            "use super::agent::Facts; use super::super::a::A;",
        ),
        ("replay/agent.rs", "use crate::replay::step::Outcome;"),
    ] {
        std::fs::write(src.join(path), text).expect("write");
    }
    assert_eq!(
        module_cycles(src),
        [
            "a → b → replay → a",
            "replay::agent → replay::step → replay::agent"
        ]
    );
}

/// The `sextant-*` crates a manifest's `[dependencies]` names, by folder.
fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
        } else if in_dependencies && let Some(rest) = line.strip_prefix("sextant-") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

type ModulePath = Vec<String>;

/// Every module of a crate's `src`, with its file.
fn modules(src: &Path) -> BTreeMap<ModulePath, PathBuf> {
    let mut found = BTreeMap::new();
    let mut folders = vec![src.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let relative = path
                .strip_prefix(src)
                .expect("under src")
                .with_extension("");
            let mut segments: ModulePath = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                segments.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                segments.pop();
            }
            found.insert(segments, path);
        }
    }
    found
}

/// The file's text without line comments and without its `#[cfg(test)] mod`.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        code.push_str(line.split("//").next().unwrap_or(""));
        code.push('\n');
    }
    let mut search_from = 0;
    while let Some(offset) = code[search_from..].find("#[cfg(test)]") {
        let at = search_from + offset;
        let after = code[at + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") {
            code.truncate(at);
            break;
        }
        search_from = at + 1;
    }
    code
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The path of identifiers at the start of `text` (`a::b::c`), and what follows it.
fn leading_path(text: &str) -> (Vec<String>, &str) {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest.chars().take_while(|c| is_ident_char(*c)).collect();
        if ident.is_empty() {
            break;
        }
        rest = &rest[ident.len()..];
        segments.push(ident);
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    (segments, rest)
}

/// The paths a `{ … }` use group names, each as its leading segments.
fn group_paths(text: &str) -> Vec<Vec<String>> {
    let mut depth = 0usize;
    let mut item_start = 1;
    let mut paths = Vec::new();
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                let (path, _) = leading_path(text[item_start..index].trim_start());
                if !path.is_empty() {
                    paths.push(path);
                }
                item_start = index + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    paths
}

/// The module paths a module's code names through `crate::` and `super::`.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut named = Vec::new();
    for (start, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let preceded_by_ident = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| is_ident_char(c) || c == ':');
        if preceded_by_ident {
            continue;
        }
        let mut base: Vec<String> = Vec::new();
        let mut rest = &code[start..];
        if let Some(after) = rest.strip_prefix("crate::") {
            rest = after;
        } else {
            base = module.to_vec();
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
        }
        let (path, after) = leading_path(rest);
        let prefix: Vec<String> = base.into_iter().chain(path).collect();
        if after.starts_with('{') {
            for item in group_paths(after) {
                named.push(prefix.iter().cloned().chain(item).collect());
            }
        } else {
            named.push(prefix);
        }
    }
    named
}

/// Each cycle among sibling modules, as `a → b → a` from its smallest module.
fn module_cycles(src: &Path) -> Vec<String> {
    let modules = modules(src);
    let mut imports: BTreeMap<&ModulePath, BTreeSet<&ModulePath>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code_of(&std::fs::read_to_string(file).expect("source"));
        for path in named_paths(&code, module) {
            let target = (1..=path.len())
                .rev()
                .find_map(|length| modules.get_key_value(&path[..length]).map(|(key, _)| key));
            if let Some(target) = target
                && target != module
            {
                imports.entry(module).or_default().insert(target);
            }
        }
    }
    let mut cycles = Vec::new();
    let parents: BTreeSet<&[String]> = modules
        .keys()
        .filter(|module| !module.is_empty())
        .map(|module| &module[..module.len() - 1])
        .collect();
    for parent in parents {
        let child_of = |module: &ModulePath| -> Option<ModulePath> {
            (module.len() > parent.len() && module.starts_with(parent))
                .then(|| module[..=parent.len()].to_vec())
        };
        let mut graph: BTreeMap<ModulePath, BTreeSet<ModulePath>> = BTreeMap::new();
        for (from, targets) in &imports {
            let Some(from_child) = child_of(from) else {
                continue;
            };
            for to_child in targets.iter().filter_map(|to| child_of(to)) {
                if to_child != from_child {
                    graph
                        .entry(from_child.clone())
                        .or_default()
                        .insert(to_child);
                }
            }
        }
        cycles.extend(cycles_of(&graph));
    }
    cycles.sort();
    cycles
}

/// A shortest circle through each set of modules that import each other, from its
/// smallest module.
fn cycles_of(graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<String> {
    let mut seen: BTreeSet<&ModulePath> = BTreeSet::new();
    let mut cycles = Vec::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        let Some(circle) = shortest_circle(graph, start) else {
            continue;
        };
        let names: Vec<String> = circle
            .iter()
            .copied()
            .chain(std::iter::once(start))
            .map(|module| module.join("::"))
            .collect();
        cycles.push(names.join(" → "));
        seen.extend(circle);
    }
    cycles
}

/// The modules of a shortest way from `start` back to itself, `start` first.
fn shortest_circle<'g>(
    graph: &'g BTreeMap<ModulePath, BTreeSet<ModulePath>>,
    start: &'g ModulePath,
) -> Option<Vec<&'g ModulePath>> {
    let mut previous: BTreeMap<&ModulePath, &ModulePath> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                let mut circle = vec![node];
                let mut at = node;
                while let Some(before) = previous.get(at) {
                    circle.push(before);
                    at = before;
                }
                circle.reverse();
                return Some(circle);
            }
            if !previous.contains_key(next) {
                previous.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    None
}
