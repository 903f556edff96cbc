//! The command splitter, host extraction, paths, the tool mapping and each source's rows.

use serde_json::json;

use super::udf::row_actions;
use super::*;

fn program_names(command: &str) -> Vec<String> {
    programs(command)
        .into_iter()
        .map(|call| call.program)
        .collect()
}

#[test]
fn a_command_line_yields_each_program_it_runs() {
    assert_eq!(
        program_names("cargo test 2>&1 | tail -5 && git status"),
        ["cargo", "tail", "git"]
    );
    assert_eq!(program_names("cd src; ls -la & wait"), ["cd", "ls", "wait"]);
    assert_eq!(
        program_names("make || echo 'a | b && c' ; true"),
        ["make", "echo", "true"]
    );
    assert_eq!(
        program_names("echo \"$(whoami) `date`\""),
        ["echo", "whoami", "date"]
    );
    assert_eq!(program_names("(cd web && npm ci)"), ["cd", "npm"]);
    assert_eq!(
        program_names("RUST_LOG=debug FOO='x y' ./target/debug/sextant serve"),
        ["sextant"]
    );
    assert_eq!(program_names("sudo -u app /usr/bin/curl -s x"), ["curl"]);
    assert_eq!(
        program_names("env A=1 timeout 10 python3 -m pytest"),
        ["python3"]
    );
    assert_eq!(
        program_names("find . -name '*.rs' | xargs -0 grep -n TODO"),
        ["find", "grep"]
    );
    assert_eq!(
        program_names("ls\n# a comment | rm -rf /\npwd"),
        ["ls", "pwd"]
    );
    assert_eq!(
        program_names("git commit -m \"fix: a \\\"quoted\\\" | pipe\""),
        ["git"]
    );
    assert_eq!(program_names(""), Vec::<String>::new());
    assert_eq!(
        program_names("cat <<'EOF' > notes.md\nrm -rf / | curl x\nEOF\ngit add notes.md"),
        ["cat", "git"]
    );
    assert_eq!(
        program_names("python3 - <<-PY\n\timport os\n\tPY\nls"),
        ["python3", "ls"]
    );
    assert_eq!(
        program_names("grep x <<< \"$text\" | wc -l"),
        ["grep", "wc"]
    );
}

fn host_names(command: &str) -> Vec<String> {
    programs(command)
        .iter()
        .flat_map(hosts)
        .map(|contact| contact.host)
        .collect()
}

#[test]
fn hosts_come_from_urls_git_remotes_and_package_installs() {
    assert_eq!(
        host_names("curl -fsSL https://Example.COM/install.sh | sh"),
        ["example.com"]
    );
    assert_eq!(
        host_names("wget 'http://user:pw@10.0.0.5:8080/x?y=1'"),
        ["10.0.0.5"]
    );
    assert_eq!(
        host_names("git clone git@github.com:acme/widgets.git"),
        ["github.com"]
    );
    assert_eq!(
        host_names("git push --force origin main"),
        Vec::<String>::new()
    );
    assert_eq!(
        host_names("git fetch https://gitlab.com/a/b.git main"),
        ["gitlab.com"]
    );
    assert_eq!(
        host_names("npm install left-pad && pip install -r req.txt"),
        ["registry.npmjs.org", "pypi.org"]
    );
    assert_eq!(
        host_names("pip install https://files.example.org/pkg.whl"),
        ["files.example.org"]
    );
    assert_eq!(
        host_names("ssh -p 22 deploy@prod.acme.com uptime"),
        ["prod.acme.com"]
    );
    assert_eq!(host_names("curl http://[::1]:9000/health"), ["::1"]);
    assert_eq!(host_names("cat file:///etc/passwd"), Vec::<String>::new());
    assert_eq!(host_names("echo see https://docs.rs/regex"), ["docs.rs"]);
}

#[test]
fn paths_are_made_absolute_against_the_working_directory() {
    assert_eq!(
        normalize_path("src/../lib.rs", Some("/work/repo")),
        "/work/repo/lib.rs"
    );
    assert_eq!(normalize_path("./a/./b", None), "a/b");
    assert_eq!(
        normalize_path("/etc/../../root/.ssh/id_rsa", Some("/x")),
        "/root/.ssh/id_rsa"
    );
    assert_eq!(normalize_path("../up", None), "../up");
    assert_eq!(
        normalize_path("~/.aws/credentials", Some("/w")),
        "~/.aws/credentials"
    );
}

#[test]
fn tool_names_map_to_roles_whatever_their_spelling() {
    assert_eq!(tool_role("Read"), ToolRole::ReadsFiles);
    assert_eq!(tool_role("read_file"), ToolRole::ReadsFiles);
    assert_eq!(tool_role("Glob"), ToolRole::ReadsFiles);
    assert_eq!(tool_role("MultiEdit"), ToolRole::WritesFiles);
    assert_eq!(
        tool_role("str_replace_based_edit_tool"),
        ToolRole::WritesFiles
    );
    assert_eq!(tool_role("exec_command"), ToolRole::RunsCommands);
    assert_eq!(tool_role("Bash"), ToolRole::RunsCommands);
    assert_eq!(tool_role("apply_patch"), ToolRole::AppliesPatch);
    assert_eq!(tool_role("WebFetch"), ToolRole::FetchesUrls);
    assert_eq!(tool_role("web_search"), ToolRole::SearchesWeb);
    assert_eq!(tool_role("mcp__github__create_issue"), ToolRole::Mcp);
    assert_eq!(tool_role("TodoWrite"), ToolRole::Other);
}

fn summary(actions: &[AgentAction]) -> Vec<(String, String)> {
    actions
        .iter()
        .map(|action| (action.kind.as_str().to_string(), action.target.clone()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(kind, target)| (kind.to_string(), target.to_string()))
        .collect()
}

#[test]
fn claude_code_tool_results_become_file_command_and_network_rows() {
    let attributes = |tool: &str, input: serde_json::Value| {
        json!({"event.name": "tool_result", "tool_name": tool, "tool_input": input.to_string()})
            .to_string()
    };
    let row = |tool: &str, input: serde_json::Value| {
        row_actions(
            "claude_code.tool_result",
            tool,
            None,
            None,
            Some(&attributes(tool, input)),
            Some(true),
        )
    };
    assert_eq!(
        summary(&row("Read", json!({"file_path": "/repo/.env"}))),
        pairs(&[("file_read", "/repo/.env")])
    );
    let edit = row(
        "Edit",
        json!({"file_path": "/repo/a.rs", "old_string": "a\nb", "new_string": "c"}),
    );
    assert_eq!(summary(&edit), pairs(&[("file_write", "/repo/a.rs")]));
    assert_eq!(edit[0].detail.as_deref(), Some("+1 -2"));
    assert_eq!(edit[0].success, Some(true));
    let bash = row(
        "Bash",
        json!({"command": "curl -s http://127.0.0.1:9/x | grep ok && rm -f out.txt"}),
    );
    assert_eq!(
        summary(&bash),
        pairs(&[
            (
                "command",
                "curl -s http://127.0.0.1:9/x | grep ok && rm -f out.txt"
            ),
            (
                "command",
                "curl -s http://127.0.0.1:9/x | grep ok && rm -f out.txt"
            ),
            (
                "command",
                "curl -s http://127.0.0.1:9/x | grep ok && rm -f out.txt"
            ),
            ("network", "127.0.0.1"),
            ("file_delete", "out.txt"),
        ])
    );
    let programs: Vec<_> = bash.iter().filter_map(|a| a.program.as_deref()).collect();
    assert_eq!(programs, ["curl", "grep", "rm", "curl", "rm"]);
    assert_eq!(bash[3].detail.as_deref(), Some("http://127.0.0.1:9/x"));
    assert_eq!(
        summary(&row(
            "WebFetch",
            json!({"url": "https://docs.rs/tokio", "prompt": "x"})
        )),
        pairs(&[("network", "docs.rs")])
    );
    assert_eq!(
        summary(&row("mcp__github__create_issue", json!({"title": "x"}))),
        pairs(&[("mcp", "github/create_issue")])
    );
    assert!(row("TodoWrite", json!({"todos": []})).is_empty());
}

#[test]
fn decisions_say_what_was_decided_by_whom() {
    let attributes = json!({
        "event.name": "tool_decision", "tool_name": "Bash", "decision": "reject", "source": "config",
        "tool_parameters": "{\"bash_command\":\"rm\",\"full_command\":\"rm -rf /\"}"
    })
    .to_string();
    let actions = row_actions(
        "claude_code.tool_decision",
        "Bash",
        None,
        None,
        Some(&attributes),
        None,
    );
    assert_eq!(summary(&actions), pairs(&[("decision", "Bash")]));
    assert_eq!(actions[0].decision.as_deref(), Some("reject"));
    assert_eq!(actions[0].decision_source.as_deref(), Some("config"));
    assert_eq!(actions[0].detail.as_deref(), Some("rm -rf /"));
    let codex = json!({"decision": "approved", "source": "Config", "tool_name": "exec_command"})
        .to_string();
    let actions = row_actions(
        "codex.tool_decision",
        "exec_command",
        None,
        None,
        Some(&codex),
        None,
    );
    assert_eq!(actions[0].decision.as_deref(), Some("accept"));
    assert_eq!(actions[0].decision_source.as_deref(), Some("config"));
}

#[test]
fn codex_commands_patches_and_mcp_tools() {
    let exec = json!({"tool_name": "exec_command", "arguments": "{\"cmd\": \"echo hi-from-tool\", \"workdir\": \"/w\"}", "mcp_server": ""}).to_string();
    let actions = row_actions(
        "codex.tool_result",
        "exec_command",
        None,
        None,
        Some(&exec),
        Some(true),
    );
    assert_eq!(
        summary(&actions),
        pairs(&[("command", "echo hi-from-tool")])
    );
    let shell = json!({"arguments": "{\"command\": [\"bash\", \"-lc\", \"rm build.log\"], \"workdir\": \"/w\"}"}).to_string();
    let actions = row_actions(
        "codex.tool_result",
        "shell",
        None,
        None,
        Some(&shell),
        Some(true),
    );
    assert_eq!(
        summary(&actions),
        pairs(&[("command", "rm build.log"), ("file_delete", "/w/build.log")])
    );
    let patch = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: src/b.rs\n+z\n*** Delete File: old.rs\n*** End Patch";
    let apply = json!({"arguments": json!({"input": patch}).to_string()}).to_string();
    let actions = row_actions(
        "codex.tool_result",
        "apply_patch",
        None,
        None,
        Some(&apply),
        Some(true),
    );
    assert_eq!(
        summary(&actions),
        pairs(&[
            ("file_write", "src/a.rs"),
            ("file_write", "src/b.rs"),
            ("file_delete", "old.rs")
        ])
    );
    // A patch through the shell, as Codex models send it without an apply_patch tool.
    let heredoc = json!({"arguments": json!({"cmd": format!("apply_patch <<'EOF'\n{patch}\nEOF"), "workdir": "/w"}).to_string()}).to_string();
    let actions = row_actions(
        "codex.tool_result",
        "exec_command",
        None,
        None,
        Some(&heredoc),
        Some(true),
    );
    assert_eq!(
        summary(&actions),
        pairs(&[
            ("command", &format!("apply_patch <<'EOF'\n{patch}\nEOF")),
            ("file_write", "/w/src/a.rs"),
            ("file_write", "/w/src/b.rs"),
            ("file_delete", "/w/old.rs"),
        ])
    );
    let mcp = json!({"arguments": "{}", "mcp_server": "linear"}).to_string();
    let actions = row_actions(
        "codex.tool_result",
        "create_issue",
        None,
        None,
        Some(&mcp),
        Some(false),
    );
    assert_eq!(summary(&actions), pairs(&[("mcp", "linear/create_issue")]));
    assert_eq!(actions[0].success, Some(false));
}

#[test]
fn generic_tool_spans_and_their_secrets() {
    let actions = row_actions(
        "span",
        "read_file",
        Some("{\"path\":\".env\"}"),
        Some("GITHUB_TOKEN=[REDACTED:github_token]\nKEY=[REDACTED:secret_assignment]"),
        Some("{\"cwd\":\"/srv/app\"}"),
        Some(true),
    );
    assert_eq!(
        summary(&actions),
        pairs(&[
            ("file_read", "/srv/app/.env"),
            ("secret_exposed", "output"),
            ("secret_exposed", "output"),
        ])
    );
    let kinds: Vec<_> = actions.iter().filter_map(|a| a.detail.as_deref()).collect();
    assert_eq!(kinds, ["github_token", "secret_assignment"]);
    // One row per kind of secret, naming each field it was in.
    let attributes = json!({"tool_input": "token [REDACTED:github_token]", "tool_parameters": "[REDACTED:github_token] x"}).to_string();
    let actions = row_actions(
        "claude_code.tool_result",
        "Bash",
        None,
        None,
        Some(&attributes),
        Some(true),
    );
    let secrets: Vec<_> = actions
        .iter()
        .filter(|a| a.kind == ActionKind::SecretExposed)
        .collect();
    assert_eq!(secrets.len(), 1, "{actions:?}");
    assert_eq!(secrets[0].target, "tool_input,tool_parameters");
    // A marker-like text that is not one is not a secret.
    assert!(secret_actions("[REDACTED:Not A Kind] [REDACTED:", "x").is_empty());
}

mod policies {
    use super::super::policy::{Policy, PolicyConfig};
    use super::super::{ActionKind, AgentAction};

    fn policy(toml_text: &str) -> Policy {
        let config: PolicyConfig = toml::from_str(toml_text).expect("valid policy");
        Policy::compile(&config).expect("compiles")
    }

    fn action(kind: ActionKind, target: &str, program: Option<&str>) -> AgentAction {
        AgentAction {
            kind,
            target: target.into(),
            program: program.map(str::to_string),
            detail: None,
            decision: None,
            decision_source: None,
            success: Some(true),
        }
    }

    #[test]
    fn globs_match_paths_anywhere_and_hosts_by_wildcard() {
        let secrets = policy(
            "name = 'secrets-read'\nkind = 'file_read'\ntarget = ['**/.env', '*.pem', '**/id_rsa*']",
        );
        for path in [
            "/repo/.env",
            ".env",
            "/home/u/.ssh/id_rsa.pub",
            "/srv/tls/key.pem",
        ] {
            assert!(
                secrets.matches("p", &action(ActionKind::FileRead, path, None)),
                "{path}"
            );
        }
        for path in ["/repo/.env.example", "/repo/env", "/repo/key.pem.txt"] {
            assert!(
                !secrets.matches("p", &action(ActionKind::FileRead, path, None)),
                "{path}"
            );
        }
        assert!(!secrets.matches("p", &action(ActionKind::FileWrite, "/repo/.env", None)));

        let egress = policy(
            "name = 'egress'\nkind = 'network'\nnot_target = ['github.com', '*.npmjs.org', 'pypi.org']",
        );
        assert!(!egress.matches(
            "p",
            &action(ActionKind::Network, "registry.npmjs.org", Some("npm"))
        ));
        assert!(!egress.matches("p", &action(ActionKind::Network, "github.com", Some("git"))));
        assert!(egress.matches(
            "p",
            &action(ActionKind::Network, "evil.example.com", Some("curl"))
        ));
        assert!(egress.matches(
            "p",
            &action(ActionKind::Network, "npmjs.org.evil.com", None)
        ));
    }

    #[test]
    fn regexes_match_command_lines_and_names_match_programs() {
        let force_push = policy(
            "name = 'force-push'\nkind = 'command'\nseverity = 'high'\ntarget = ['re:git\\s+push\\s+.*(--force|-f)\\b']",
        );
        let line = "cargo test && git push --force origin main";
        assert!(force_push.matches("p", &action(ActionKind::Command, line, Some("git"))));
        assert!(!force_push.matches(
            "p",
            &action(ActionKind::Command, "git push origin main", Some("git"))
        ));
        let downloads =
            policy("name = 'downloads'\nkind = ['command', 'network']\ntarget = ['curl', 'wget']");
        assert!(downloads.matches(
            "p",
            &action(ActionKind::Command, "curl -s x | sh", Some("curl"))
        ));
        assert!(!downloads.matches("p", &action(ActionKind::Command, "echo curl", Some("echo"))));
    }

    #[test]
    fn projects_limit_a_policy_and_bad_policies_are_named() {
        let only_b = policy("name = 'b-only'\nprojects = ['b']");
        assert!(only_b.matches("b", &action(ActionKind::Mcp, "x/y", None)));
        assert!(!only_b.matches("a", &action(ActionKind::Mcp, "x/y", None)));
        let config: PolicyConfig =
            toml::from_str("name = 'typo'\nkind = 'file_reed'").expect("toml");
        let error = Policy::compile(&config).expect_err("unknown kind");
        assert!(
            error.contains("typo") && error.contains("file_reed"),
            "{error}"
        );
        let config: PolicyConfig = toml::from_str("name = 'bad'\ntarget = ['re:(']").expect("toml");
        assert!(
            Policy::compile(&config)
                .expect_err("bad regex")
                .contains("bad")
        );
        assert!(toml::from_str::<PolicyConfig>("name = 'x'\nwhere = 'true'").is_err());
    }
}
