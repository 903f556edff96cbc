//! Model answers cached by request hash and epoch in the metadata store, so re-running a
//! suite sends nothing already answered (and costs nothing); a new epoch asks again.
//!
//! The hash covers the endpoint URL and the exact JSON body (model, messages, tools,
//! parameters). Only answers are cached, never failures.

use serde_json::Value;
use sextant_meta::SharedMetadata;

use crate::messages::Turn;
use crate::providers::{ModelRequest, ProviderClient, ProviderError};

/// A model's answer to one request, through the cache.
pub struct CachedAnswer {
    pub turn: Turn,
    /// The latency the answer had when it was fresh.
    pub latency_ms: f64,
    /// True when it came from the cache (nothing was sent).
    pub cached: bool,
}

/// Sends `request` to `client` unless this epoch already has its answer.
pub async fn ask(
    metadata: &SharedMetadata,
    client: &ProviderClient,
    request: &ModelRequest,
    epoch: u32,
) -> Result<CachedAnswer, ProviderError> {
    let (url, body) = client.wire_request(request);
    let hash = request_hash(&url, &body);
    if let Some((turn, latency_ms)) = lookup(metadata, &hash, epoch) {
        return Ok(CachedAnswer {
            turn,
            latency_ms,
            cached: true,
        });
    }
    let answer = client.complete(request).await?;
    let latency_ms = answer.latency.as_secs_f64() * 1e3;
    store(metadata, &hash, epoch, &answer.turn, latency_ms);
    Ok(CachedAnswer {
        turn: answer.turn,
        latency_ms,
        cached: false,
    })
}

/// The cache key of a request.
pub fn request_hash(url: &str, body: &Value) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(url.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.to_string().as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// A cached answer and the latency it had when it was fresh.
pub fn lookup(metadata: &SharedMetadata, hash: &str, epoch: u32) -> Option<(Turn, f64)> {
    let found = metadata.with(|store| store.response_cache().get(hash, epoch));
    let (turn, latency_ms) = found.ok().flatten()?;
    Some((serde_json::from_str(&turn).ok()?, latency_ms))
}

pub fn store(metadata: &SharedMetadata, hash: &str, epoch: u32, turn: &Turn, latency_ms: f64) {
    let Ok(text) = serde_json::to_string(turn) else {
        return;
    };
    let stored = metadata.with(|store| store.response_cache().put(hash, epoch, &text, latency_ms));
    if let Err(error) = stored {
        // A cache that cannot be written only costs a repeat call next time.
        tracing::warn!(%error, "cannot cache a model answer");
    }
}
