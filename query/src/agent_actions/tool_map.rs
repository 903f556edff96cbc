//! Which tool does what: the mapping from a tool's name to the kind of action it takes, for
//! Claude Code, Codex and the tools of OTel GenAI / OpenInference agents. Names are compared
//! without case, `-` and `_`, so `read_file`, `ReadFile` and `read-file` are one tool.
//! docs/governance.md has the table as users read it.

/// What a tool does, before its arguments are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolRole {
    /// Reads files (`Read`, `Grep`, `Glob`, `read_file`, …).
    ReadsFiles,
    /// Writes or edits files (`Write`, `Edit`, `MultiEdit`, `NotebookEdit`, …).
    WritesFiles,
    /// Applies a patch naming its files (Codex `apply_patch`).
    AppliesPatch,
    /// Runs a shell command (`Bash`, `exec_command`, `shell`, …).
    RunsCommands,
    /// Fetches a URL (`WebFetch`, `fetch`, `http_request`, …).
    FetchesUrls,
    /// Searches the web (`WebSearch`, `web_search`).
    SearchesWeb,
    /// A tool of an MCP server (`mcp__server__tool`).
    Mcp,
    /// Anything else: not an action on the outside world Sextant can name.
    Other,
}

const READS: &[&str] = &[
    "read",
    "readfile",
    "view",
    "viewfile",
    "cat",
    "grep",
    "glob",
    "ls",
    "listdir",
    "listdirectory",
    "listfiles",
    "searchfiles",
    "filesearch",
    "grepsearch",
    "codebasesearch",
    "notebookread",
    "openfile",
];
const WRITES: &[&str] = &[
    "write",
    "writefile",
    "createfile",
    "edit",
    "editfile",
    "multiedit",
    "notebookedit",
    "strreplace",
    "strreplaceeditor",
    "strreplacebasededittool",
    "replaceinfile",
    "insertcontent",
    "searchreplace",
];
const COMMANDS: &[&str] = &[
    "bash",
    "shell",
    "execcommand",
    "exec",
    "runcommand",
    "runterminalcmd",
    "terminal",
    "executecommand",
    "localshell",
    "runshellcommand",
    "containerexec",
    "sh",
    "zsh",
    "powershell",
    "command",
];
const FETCHES: &[&str] = &[
    "webfetch",
    "fetch",
    "fetchurl",
    "httprequest",
    "httpget",
    "browse",
    "curl",
];
const WEB_SEARCHES: &[&str] = &["websearch", "searchweb", "googlesearch", "bravesearch"];

/// The tool's role from its name.
pub fn tool_role(tool_name: &str) -> ToolRole {
    if tool_name.starts_with("mcp__") {
        return ToolRole::Mcp;
    }
    let key: String = tool_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let key = key.as_str();
    if key == "applypatch" {
        ToolRole::AppliesPatch
    } else if READS.contains(&key) {
        ToolRole::ReadsFiles
    } else if WRITES.contains(&key) {
        ToolRole::WritesFiles
    } else if COMMANDS.contains(&key) {
        ToolRole::RunsCommands
    } else if FETCHES.contains(&key) {
        ToolRole::FetchesUrls
    } else if WEB_SEARCHES.contains(&key) {
        ToolRole::SearchesWeb
    } else {
        ToolRole::Other
    }
}
