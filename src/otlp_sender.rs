//! Sends OTLP/HTTP protobuf export requests to a Sextant server, retrying after 429/503.
//! Used by `sextant bench` and `sextant demo` to go through the real ingest path.

use std::time::{Duration, Instant};

/// One accepted export: how long it took, and how many 429/503 answers came before it.
pub struct ExportOutcome {
    pub latency: Duration,
    pub refusals: u64,
}

pub async fn export_with_retry(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> anyhow::Result<ExportOutcome> {
    let mut refusals = 0;
    loop {
        let sent = Instant::now();
        let response = client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .await?;
        match response.status().as_u16() {
            200 => {
                return Ok(ExportOutcome {
                    latency: sent.elapsed(),
                    refusals,
                });
            }
            429 | 503 => {
                refusals += 1;
                let wait_secs = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<u64>().ok())
                    .unwrap_or(1);
                tokio::time::sleep(
                    Duration::from_millis(200).max(Duration::from_secs(wait_secs) / 4),
                )
                .await;
            }
            status => anyhow::bail!("export failed with {status}: {}", response.text().await?),
        }
    }
}
