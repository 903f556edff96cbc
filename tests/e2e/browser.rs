//! The web UI in a real headless Chromium, driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/run`; the `fantoccini` client) against `sextant demo`.
//!
//! An engineer's path: search for a failed run by a word in its tool output, open it, open
//! the failing tool span and read its output, open an edit and see the diff; filter by model.
//! A manager's: the dashboard's charts are drawn and its figures agree with `POST /api/sql`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::server::Server;

/// `chromedriver`: `SEXTANT_CHROMEDRIVER`, else Debian's. Under `CI=true` a missing driver or
/// browser fails the test instead of skipping it.
fn chromedriver() -> Option<PathBuf> {
    let driver = std::env::var_os("SEXTANT_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    if driver.exists() {
        return Some(driver);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "no chromedriver at {}: run .ci/run (it installs chromium and chromium-driver) or set SEXTANT_CHROMEDRIVER",
        driver.display()
    );
    eprintln!("skipping: no chromedriver at {} (not CI)", driver.display());
    None
}

/// A running chromedriver on a loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(binary: &PathBuf) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let deadline = Instant::now() + Duration::from_secs(30);
        sextant_evals::providers::http::install_crypto_provider();
        while reqwest::blocking::get(&status).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn headless_chromium(driver: &Driver) -> Client {
    let capabilities = json!({
        "goog:chromeOptions": {
            "binary": std::env::var("SEXTANT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]
        }
    });
    let Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a chromium session")
}

/// A failed demo run that has an edit (a diff) and whose first failing tool call is a
/// test run, found through SQL.
fn failed_run_with_a_diff(server: &Server) -> String {
    let rows = server.sql(
        "SELECT t.trace_id FROM traces t \
         JOIN spans s ON s.trace_id = t.trace_id AND s.tool_name = 'edit_file' \
         JOIN spans f ON f.trace_id = t.trace_id AND f.tool_name = 'bash' \
              AND f.status_message = 'exit status 101' \
         WHERE t.outcome = 'failed' AND NOT EXISTS (SELECT 1 FROM spans g WHERE g.trace_id = t.trace_id \
              AND g.span_type = 'tool' AND g.status_code = 'error' AND g.start_time < f.start_time) \
         GROUP BY t.trace_id, t.start_time ORDER BY t.start_time DESC LIMIT 1",
    );
    rows[0]["trace_id"]
        .as_str()
        .expect("the demo data has a failed run with an edit")
        .to_string()
}

/// The detail panel once the script has swapped in `span_id`'s content.
fn loaded_detail(span_id: &str) -> String {
    format!("#detail[aria-busy='false'] .span-detail[data-span='{span_id}']")
}

#[test]
fn engineer_finds_a_failed_run_reads_its_failing_tool_and_diff_and_filters_by_model() {
    let Some(driver_binary) = chromedriver() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_command(
        &["demo", "--traces", "40", "--seed", "15"],
        &dir.path().join("data"),
        "",
    );
    server.wait_for_count("SELECT count(DISTINCT trace_id) AS n FROM spans", 40);
    let trace_id = failed_run_with_a_diff(&server);
    let gpt5_runs = server.sql("SELECT count(*) AS n FROM traces WHERE array_has(models, 'gpt-5')")
        [0]["n"]
        .as_i64()
        .expect("count");
    let totals = server.sql(
        "SELECT count(*) AS runs, count(*) FILTER (WHERE outcome = 'failed') AS failed FROM traces \
         WHERE start_time >= now() - INTERVAL '30 days'",
    );
    let runs_in_30_days = totals[0]["runs"].as_i64().expect("runs");
    let failed_in_30_days = totals[0]["failed"].as_i64().expect("failed");
    let driver = Driver::start(&driver_binary);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let browser = headless_chromium(&driver).await;
        let outcome = async {
            // Search for failed runs by a word of the test output; the chosen run is listed.
            browser.goto(&server.url("/")).await?;
            let search = browser.find(Locator::Css(".filters input[name=q]")).await?;
            search.send_keys("panicked").await?;
            browser.find(Locator::Css(".filters input[name=status]")).await?.click().await?;
            browser.find(Locator::Css(".filters button[type=submit]")).await?.click().await?;
            // Wait for the results page itself (only it has snippets), not a link that the
            // unfiltered page may also have had.
            browser.wait().for_element(Locator::Css(".snippet b")).await?;
            let run_link = browser
                .find(Locator::Css(&format!("a[href='/traces/{trace_id}']")))
                .await?;
            let failed_rows = browser.find_all(Locator::Css("tr.run.failed")).await?;
            let all_rows = browser.find_all(Locator::Css("tr.run")).await?;
            assert!(!failed_rows.is_empty());
            assert_eq!(failed_rows.len(), all_rows.len(), "failed only");
            let snippet = browser.find(Locator::Css(".snippet b")).await?.text().await?;
            assert_eq!(snippet.to_lowercase(), "panicked");

            // Open it: the page opens on the failing span, whose output is shown.
            run_link.click().await?;
            browser.wait().for_element(Locator::Css("#spans")).await?;
            let failing_row = browser.find(Locator::Css(".span-row.type-tool.is-error")).await?;
            let failing_id = failing_row.attr("data-span").await?.expect("data-span");
            failing_row.find(Locator::Css("a.span-link")).await?.click().await?;
            let detail = browser
                .wait()
                .for_element(Locator::Css(&loaded_detail(&failing_id)))
                .await?;
            let detail_text = detail.text().await?;
            assert!(detail.attr("class").await?.unwrap_or_default().contains("is-error"));
            assert!(detail_text.contains("exit status 101"), "{detail_text}");
            assert!(detail_text.contains("test result: FAILED"), "{detail_text}");

            // An edit shows its diff as a diff.
            let edit_row = browser
                .find(Locator::XPath("//li[contains(@class,'type-tool')][.//span[@class='span-name'][contains(text(),'edit_file')]]"))
                .await?;
            let edit_id = edit_row.attr("data-span").await?.expect("data-span");
            edit_row.find(Locator::Css("a.span-link")).await?.click().await?;
            let detail = browser
                .wait()
                .for_element(Locator::Css(&loaded_detail(&edit_id)))
                .await?;
            let added = detail.find(Locator::Css("pre.diff .d-add")).await?;
            assert!(added.text().await?.starts_with('+'));
            assert!(browser.current_url().await?.as_str().contains(&format!("span={edit_id}")), "selection is in the URL");

            // Filter by model: the list holds exactly the runs that used it.
            browser.goto(&server.url("/?model=gpt-5")).await?;
            let rows = browser.find_all(Locator::Css("tr.run")).await?;
            assert_eq!(rows.len() as i64, gpt5_runs.min(50));
            for row in rows {
                let models = row.text().await?;
                assert!(models.contains("gpt-5"), "{models}");
            }
            // The dashboard draws its charts, and its figures are what SQL answers.
            browser.goto(&server.url("/dashboards?since=30d")).await?;
            browser.wait().for_element(Locator::Css("#cost-chart svg")).await?;
            let shown_runs = browser
                .find(Locator::Css("[data-figure=runs]"))
                .await?
                .text()
                .await?;
            assert_eq!(shown_runs, runs_in_30_days.to_string());
            let shown_failed = browser
                .find(Locator::Css("[data-figure=failed]"))
                .await?
                .text()
                .await?;
            assert_eq!(shown_failed, failed_in_30_days.to_string());

            // The failed run goes into an eval dataset, labelled critical, from its page.
            browser.goto(&server.url(&format!("/traces/{trace_id}"))).await?;
            let form = browser.find(Locator::Css("form.add-to-dataset")).await?;
            form.find(Locator::Css("input[name=dataset]")).await?.send_keys("from-the-ui").await?;
            form.find(Locator::Css("input[name=label]")).await?.send_keys("critical").await?;
            form.find(Locator::Css("select[name=expected] option[value=pass]")).await?.click().await?;
            form.find(Locator::Css("button[type=submit]")).await?.click().await?;
            let added = browser.wait().for_element(Locator::Css("form.add-to-dataset .added")).await?;
            assert_eq!(added.text().await?, "added to from-the-ui, version 1");
            Ok::<(), fantoccini::error::CmdError>(())
        }
        .await;
        let _ = browser.close().await;
        outcome.expect("browser steps");
    });
    let (status, dataset) = server.get_json("/api/datasets/from-the-ui");
    assert!(status.is_success(), "{dataset}");
    let example = &dataset["examples"][0];
    assert_eq!(example["trace_id"], trace_id.as_str(), "{dataset}");
    assert_eq!(example["label"], "critical");
    assert_eq!(example["expected"], "pass");
    assert!(
        example["llm_calls"].as_u64().unwrap_or(0) > 0,
        "the recording was copied in"
    );
}
