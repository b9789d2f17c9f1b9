//! Serving the router on a TCP listener until shutdown: the hyper accept loop, with the
//! connection limits `axum::serve` does not offer (see [`ServeOptions`]), each connection
//! on a [`ClientSocket`](super::connection::ClientSocket).

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::connection::ClientSocket;

/// Connection-level limits, enforced by hyper before a request reaches the router.
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Time a client has to send a request's complete head (request line and headers);
    /// a slow-loris connection is closed after it. hyper starts the clock as soon as it
    /// waits for a head, so it is also the idle timeout of a keep-alive connection.
    pub header_read_timeout: Duration,
    /// Largest request head (request line, query string and headers) in bytes; a bigger
    /// one is answered 431 (with our error body) and the connection closed.
    pub max_head_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 64 << 10,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains open requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeOptions::default()).await
}

/// [`serve`] with explicit connection limits. `axum::serve` offers no header-read
/// timeout, so connections are driven by hyper directly.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pass, and try again shortly.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Closes gently (the client reads a 413 it answered before we read its body) and
        // gives hyper's own 400/414/431 our JSON body: see `connection`.
        let socket = ClientSocket::new(stream, options.max_head_bytes.max(8192));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(options.header_read_timeout)
            .max_buf_size(options.max_head_bytes.max(8192))
            .serve_connection(
                TokioIo::new(socket),
                TowerToHyperService::new(router.clone()),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
