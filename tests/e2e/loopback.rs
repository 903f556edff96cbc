//! Serves an axum router on an ephemeral loopback port from its own runtime, for the
//! scripted model servers, in plain HTTP or over TLS; the server lives as long as the
//! returned runtime.

use std::sync::{Arc, Mutex};

use axum::Router;
use serde_json::Value;

/// JSON bodies POSTed to a webhook, in arrival order.
pub type Inbox = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver at `http://<address>/hook` keeping every JSON body it is sent.
pub fn webhook_on_loopback() -> (std::net::SocketAddr, tokio::runtime::Runtime, Inbox) {
    let received: Inbox = Arc::default();
    let inbox = received.clone();
    let hook = Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let inbox = inbox.clone();
            async move {
                inbox.lock().expect("inbox").push(body);
                "ok"
            }
        }),
    );
    let (address, runtime) = serve_on_loopback(hook);
    (address, runtime, received)
}

pub fn serve_on_loopback(router: Router) -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let (listener, runtime) = bind_loopback();
    let address = listener.local_addr().expect("address");
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, runtime)
}

/// The same over TLS: connections are handed to the router after their handshake.
pub fn serve_tls_on_loopback(
    router: Router,
    acceptor: tokio_rustls::TlsAcceptor,
) -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let (listener, runtime) = bind_loopback();
    let address = listener.local_addr().expect("address");
    let listener = {
        let _entered = runtime.enter();
        sextant_web::tls_listener::TlsListener::new(listener, acceptor).expect("TLS listener")
    };
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, runtime)
}

fn bind_loopback() -> (tokio::net::TcpListener, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    (listener, runtime)
}
