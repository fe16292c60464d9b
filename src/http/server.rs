//! The accept loop: HTTP/1.1 connections with a header-read timer (which also ends
//! idle kept-alive connections), a cap on open connections, the peer address for
//! each request, and a graceful stop.
//!
//! Hand-written over hyper rather than `axum::serve`, which sets no timer and no
//! cap. HTTP/1.1 only, as before (axum's `http2` feature was never on): Fly's proxy
//! speaks HTTP/1.1 to the machine, and every timer here is an HTTP/1 one.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt as _;

/// What the loop needs besides the listener and the router.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The header-read (and idle) timer.
    pub header_read_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `stop` turns true, then stops accepting, asks
/// every connection to finish its request in flight and close, and returns once all
/// have closed. The caller bounds that wait (the drain time).
///
/// Over the cap the loop stops accepting rather than accepting and closing at once:
/// the extra connections wait in the kernel's listen queue and are served as soon as
/// one closes, so a burst past the cap is slowed, not failed, and a flood past the
/// queue is dropped by the kernel at no cost to the service.
pub async fn serve(listener: TcpListener, router: Router, options: ServeOptions, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(options.max_connections));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = stopped(&mut stop) => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        tokio::spawn(connection(stream, peer, router.clone(), options.clone(), stop.clone(), permit));
    }
    drop(listener);
    // Every connection holds a permit until it closes: all of them back means done.
    let all = u32::try_from(options.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    options: ServeOptions,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info::<SocketAddr>()` would insert.
        request.extensions_mut().insert(ConnectInfo(peer));
        let router = router.clone();
        async move { Ok::<_, Infallible>(router.oneshot(request).await.unwrap_or_else(|never| match never {})) }
    });
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => log_closed(result),
        () = stopped(&mut stop) => {
            // Finishes the request in flight, then closes; an idle connection closes now.
            conn.as_mut().graceful_shutdown();
            log_closed(conn.await);
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone), holding no borrow of it.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn log_closed(result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection closed with an error");
    }
}

/// Per-connection errors (the peer gave up) are the peer's; anything else (out of
/// file descriptors) is the machine's, and the loop pauses instead of spinning.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(err.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; pausing");
    tokio::time::sleep(Duration::from_millis(500)).await;
}
