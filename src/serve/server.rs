//! The HTTP server under `narrate serve` (and the studio): any axum [`Router`] served over HTTP/1.1 on tokio with
//! hyper, so that no client can stall it.
//!
//! - Each connection must send a request head within [`Limits::header_timeout`] (hyper's header read timeout,
//!   which also closes idle keep-alive connections, so an idle connection costs a few seconds of a small task);
//!   a body has [`Limits::body_timeout`] (see [`read_body`]).
//! - Connections are accepted as they come, up to [`Limits::max_open`] open at once (idle ones included; more
//!   wait in the kernel's backlog). At most [`Limits::max_connections`] requests are served at once; more wait
//!   for a place. `GET /health` needs no place: it answers even when every place is taken, however many idle
//!   connections are open.
//! - An HTTP/2 preface or a malformed request ends its connection at once (hyper answers 400 or hangs up); the
//!   connection's task, socket and buffers go with it.
//! - Every accepted socket sends at once (TCP_NODELAY): no 40 ms delayed-ACK stall at the end of a response.
//! - SIGINT or SIGTERM stops accepting, lets requests in flight finish for up to [`Limits::grace`], and then
//!   returns in any case.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What one server allows each client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Longest wait for a request head (and for the next one on an idle keep-alive connection).
    pub header_timeout: Duration,
    /// Longest wait for a whole request body.
    pub body_timeout: Duration,
    /// Requests served at once (`/health` aside).
    pub max_connections: usize,
    /// Connections open at once, idle ones included.
    pub max_open: usize,
    /// How long requests in flight may go on after SIGINT/SIGTERM.
    pub grace: Duration,
    /// How long a request may take its retries: none starts whose wait would end later than this after the
    /// request came.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            max_connections: 256,
            max_open: 4096,
            grace: Duration::from_secs(3),
            deadline: Duration::from_secs(60),
        }
    }
}

/// Runs a server until SIGINT or SIGTERM: its own runtime, a listener on `bind`, and the app `make` builds once
/// the address (`IP:PORT`) is known (so it can print it, or know its own Origin). Work still running when it
/// stops (a backend call cannot be interrupted) ends with the process.
pub(crate) fn run(
    bind: SocketAddr,
    limits: Limits,
    make: impl FnOnce(&str) -> Router,
) -> crate::error::Result<()> {
    use crate::error::Error;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .thread_keep_alive(Duration::from_secs(2))
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the server's runtime: {e}")))?;
    let result = runtime.block_on(async {
        let listener = self::bind(bind).await.map_err(|e| {
            Error::Invalid(format!(
                "cannot listen on {bind}: {e}; choose another address with --bind"
            ))
        })?;
        let address = listener
            .local_addr()
            .map_or_else(|_| bind.to_string(), |a| a.to_string());
        let app = make(&address);
        serve(listener, app, limits, signalled()).await;
        Ok(())
    });
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// Binds a listening socket (port 0 picks a free port).
pub(crate) async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// Serves `app` on `listener` until `stop` completes, then shuts down gracefully within `limits.grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let open = Arc::new(Semaphore::new(limits.max_open.max(1)));
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let app = app.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let places = places.clone();
            async move {
                // `/health` answers however busy the server is; every other request waits for a place.
                if request.uri().path() == "/health" {
                    return next.run(request).await;
                }
                let _place = places.acquire_owned().await;
                next.run(request).await
            }
        },
    ));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(stop);
    loop {
        // While `max_open` connections are open, new ones wait in the backlog.
        let permit = tokio::select! {
            permit = open.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors or a connection reset before it was taken: wait a little, go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that hangs up or sends garbage ends only its own connection.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.grace, graceful.shutdown()).await;
}

/// Resolves on the first SIGINT or SIGTERM.
pub(crate) async fn signalled() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without signal handlers the default action (ending the process) still stops the server.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// Why a request body could not be read.
pub(crate) enum BodyError {
    TooLarge,
    TimedOut,
    Broken(String),
}

/// Reads a request body of at most `limit` bytes within `limits.body_timeout` (a declared Content-Length over
/// the limit is refused before anything is read).
pub(crate) async fn read_body(
    request: axum::extract::Request,
    limit: usize,
    limits: &Limits,
) -> Result<axum::body::Bytes, BodyError> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let read = axum::body::to_bytes(request.into_body(), limit);
    match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let text = e.to_string();
            let source = std::error::Error::source(&e).map(ToString::to_string);
            if text.contains("length limit") || source.is_some_and(|s| s.contains("length limit")) {
                Err(BodyError::TooLarge)
            } else {
                Err(BodyError::Broken(text))
            }
        }
    }
}
