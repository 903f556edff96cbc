//! Starts the real `sextant` binary on a loopback port and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;

/// A running `sextant serve`, killed on drop.
pub struct Server {
    child: Child,
    /// Where its stderr goes, when a test reads its log.
    log_path: Option<std::path::PathBuf>,
    pub base_url: String,
    /// `http://host:port` of the OTLP/gRPC listener.
    pub grpc_url: String,
    client: reqwest::blocking::Client,
    /// `Authorization` sent with every request, once keys exist.
    authorization: Option<String>,
}

/// Runs `sextant <args> --data-dir <dir>` to completion and returns its stdout; panics
/// with its stderr if it fails.
pub fn sextant(args: &[&str], data_dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("SEXTANT_LOG", "warn")
        .output()
        .expect("run sextant");
    assert!(
        output.status.success(),
        "sextant {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// The tests send fixtures dated years back: unless a test sets the time window itself,
/// the server accepts any past time (the window has tests of its own).
fn accepting_fixture_times(config: &str) -> String {
    if config.contains("accept_past_days") {
        return config.to_owned();
    }
    if config.contains("[ingest]") {
        return config.replacen("[ingest]", "[ingest]\naccept_past_days = 0", 1);
    }
    format!("{config}\n[ingest]\naccept_past_days = 0\n")
}

impl Server {
    /// Starts `sextant serve` on an ephemeral loopback port; `config` is TOML for `--config`.
    pub fn start(data_dir: &Path, config: &str) -> Server {
        Server::start_command(&["serve"], data_dir, config)
    }

    /// Starts `sextant serve` logging what `filter` (an `SEXTANT_LOG` value) lets through
    /// to a file beside the data dir, for [`Server::log`] to read.
    pub fn start_logging(data_dir: &Path, config: &str, filter: &str) -> Server {
        Server::start_with(&["serve"], data_dir, config, Some(filter))
    }

    /// What the server has logged so far (started by [`Server::start_logging`]).
    pub fn log(&self) -> String {
        let path = self.log_path.as_ref().expect("started with start_logging");
        std::fs::read_to_string(path).expect("server log")
    }

    /// Starts `sextant <command…>` (`serve` or `demo` with its flags).
    pub fn start_command(command: &[&str], data_dir: &Path, config: &str) -> Server {
        Server::start_with(command, data_dir, config, None)
    }

    fn start_with(
        command: &[&str],
        data_dir: &Path,
        config: &str,
        log_filter: Option<&str>,
    ) -> Server {
        // reqwest (here and in the OpenTelemetry exporters) is built without a crypto
        // provider of its own: every test starts a server before building a client.
        sextant_evals::providers::http::install_crypto_provider();
        let config_path = data_dir.with_extension("toml");
        std::fs::write(&config_path, accepting_fixture_times(config)).expect("write config");
        let log_path = log_filter.map(|_| data_dir.with_extension("log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(command)
            .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--config")
            .arg(&config_path)
            .env("SEXTANT_LOG", log_filter.unwrap_or("warn"))
            .stdout(Stdio::piped())
            .stderr(match &log_path {
                Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
                None => Stdio::inherit(),
            })
            .spawn()
            .expect("spawn sextant");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut first_line = String::new();
        stdout
            .read_line(&mut first_line)
            .expect("read startup line");
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let address = |scheme: &str| {
            first_line
                .split_whitespace()
                .find_map(|word| word.strip_prefix(scheme))
                .map(str::to_string)
        };
        let missing = || panic!("no listener addresses in startup line {first_line:?}");
        // `https://` and `grpcs://` when serving TLS (gRPC over TLS is `https://` to tonic).
        let (base_url, grpc_url) = match (address("https://"), address("grpcs://")) {
            (Some(http), Some(grpc)) => (format!("https://{http}"), format!("https://{grpc}")),
            _ => (
                format!("http://{}", address("http://").unwrap_or_else(missing)),
                format!("http://{}", address("grpc://").unwrap_or_else(missing)),
            ),
        };
        Server {
            child,
            log_path,
            base_url,
            grpc_url,
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            authorization: None,
        }
    }

    /// The server's process id (to sample its memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `Authorization: Bearer <key>` with every later request of this helper.
    pub fn use_key(&mut self, key: &str) {
        self.authorization = Some(format!("Bearer {key}"));
    }

    fn authorized(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    /// Posts an OTLP protobuf export; returns the status code.
    pub fn export_protobuf(&self, request: &ExportTraceServiceRequest) -> reqwest::StatusCode {
        self.authorized(self.client.post(self.url("/v1/traces")))
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .expect("export")
            .status()
    }

    /// Runs SQL through `POST /api/sql` and returns the rows.
    pub fn sql(&self, sql: &str) -> Vec<Value> {
        let response = self
            .authorized(self.client.post(self.url("/api/sql?limit=1000000")))
            .json(&serde_json::json!({ "sql": sql }))
            .send()
            .expect("sql request");
        let status = response.status();
        let body: Value = response.json().expect("sql json");
        assert!(status.is_success(), "sql {sql:?} failed: {status} {body}");
        body["rows"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `SELECT count(*) AS n ...` reaches `expected` (data is flushed about
    /// every second). Not a timing assertion: the bound only stops a broken build hanging.
    pub fn wait_for_count(&self, count_sql: &str, expected: i64) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let count = self.sql(count_sql)[0]["n"].as_i64().unwrap_or(0);
            if count >= expected || Instant::now() > deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The value of one counter or gauge on `/metrics`, if it is there.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let metrics = self
            .client
            .get(self.url("/metrics"))
            .send()
            .expect("metrics")
            .text()
            .expect("metrics text");
        let prefix = format!("{name} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|value| value.trim().parse().ok())
    }

    pub fn get_json(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let response = self
            .authorized(self.client.get(self.url(path)))
            .send()
            .expect("get");
        let status = response.status();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
