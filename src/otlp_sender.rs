//! Sends OTLP/HTTP export requests to a Sextant server, retrying after 429/503.
//! Used by `sextant bench`, `sextant demo` and `sextant loadgen` to go through the real
//! ingest path.

use std::time::{Duration, Instant};

/// An encoded export request and its content type.
pub struct OtlpBody {
    bytes: Vec<u8>,
    content_type: &'static str,
}

impl OtlpBody {
    pub fn protobuf(bytes: Vec<u8>) -> OtlpBody {
        OtlpBody {
            bytes,
            content_type: "application/x-protobuf",
        }
    }

    pub fn json(bytes: Vec<u8>) -> OtlpBody {
        OtlpBody {
            bytes,
            content_type: "application/json",
        }
    }
}

/// For callers that must get every request in (`demo`, `bench`): refusals only slow them.
pub const RETRY_FOREVER: u32 = u32::MAX;

/// One accepted export: how long it took, and how many 429/503 answers came before it.
pub struct ExportOutcome {
    pub latency: Duration,
    pub refusals: u64,
}

/// Posts `body` until it is accepted, waiting as `Retry-After` says after 429/503; gives up
/// after `max_attempts` refusals or on any other answer.
pub async fn export_with_retry(
    client: &reqwest::Client,
    url: &str,
    body: OtlpBody,
    max_attempts: u32,
) -> anyhow::Result<ExportOutcome> {
    let mut refusals = 0;
    loop {
        let sent = Instant::now();
        let response = client
            .post(url)
            .header("content-type", body.content_type)
            .body(body.bytes.clone())
            .send()
            .await?;
        match response.status().as_u16() {
            200 => {
                return Ok(ExportOutcome {
                    latency: sent.elapsed(),
                    refusals,
                });
            }
            429 | 503 if refusals + 1 < u64::from(max_attempts) => {
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
