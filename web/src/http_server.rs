//! The HTTP listener's connection loop: the router served over HTTP/1.1 with a cap on open
//! connections and a deadline for each request's head.
//!
//! `axum::serve` gives hyper no timer, so a client that opens a connection and sends a
//! request head one byte at a time (slowloris) holds it forever, and nothing bounds how
//! many connections are open. Here each connection is served by hyper's HTTP/1 builder
//! with a timer and `header_read_timeout` (the head must arrive within it, on every request
//! of a keep-alive connection), and takes a permit of `max_connections` before it is
//! accepted: past the cap new connections wait in the kernel's backlog, not in memory.
//! Graceful shutdown stops accepting, asks every connection to finish its request, and
//! waits for all permits to come back.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// What each HTTP listener allows.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Open connections at once; more wait to be accepted.
    pub max_connections: usize,
    /// A request's head (request line and headers) must arrive within this.
    pub header_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains the connections.
pub async fn serve_http<L>(
    mut listener: L,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) where
    L: axum::serve::Listener,
{
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max_connections));
    let (stop_connections, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (io, _remote) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|request: Request<Incoming>| request.map(Body::new))
                .map_err(|never: Infallible| match never {}),
        );
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = builder.serve_connection(TokioIo::new(io), service);
            let mut connection = std::pin::pin!(connection.with_upgrades());
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "http connection ended with an error");
                    }
                }
                () = stopped(&mut stopping) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_connections.send(true);
    // Every connection gives its permit back when it ends.
    let drained = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(drained).await;
}

/// Resolves once shutdown is signalled (or the sender is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}
