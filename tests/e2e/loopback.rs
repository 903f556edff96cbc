//! Serves an axum router on an ephemeral loopback port from its own runtime, for the
//! scripted model servers; the server lives as long as the returned runtime.

use axum::Router;

pub fn serve_on_loopback(router: Router) -> (std::net::SocketAddr, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let address = listener.local_addr().expect("address");
    runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, runtime)
}
