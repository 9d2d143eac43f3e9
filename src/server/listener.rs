//! The accept loop: a bound on open connections, a TLS handshake and header-read deadline per
//! connection, HTTP/1.1 keep-alive, and a graceful stop.
//!
//! Stopping happens in three steps once the stop signal is raised: the listener closes (no new
//! connections); for a short grace period existing connections keep being served, each response
//! carrying `Connection: close` (added by the router while the server is stopping) so that busy
//! clients move off without racing a close; then idle connections are closed and in-flight
//! requests finish, within the shutdown timeout.

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// The per-connection limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Open connections at most; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to complete the TLS handshake and, for each request, its headers.
    pub header_read_timeout: Duration,
    /// How long existing connections are still served after the stop signal.
    pub grace: Duration,
    /// How long in-flight requests get to finish after that.
    pub shutdown_timeout: Duration,
}

/// Plain HTTP or TLS, with the configuration each new connection takes.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(Arc<super::tls::ConfigStore>),
}

/// Serves `router` on `listener` until `stop` turns true, then drains.
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    router: Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stop.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        while conns.try_join_next().is_some() {}
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let transport = transport.clone();
        let router = router.clone();
        let stop = stop.clone();
        conns.spawn(async move {
            connection(tcp, peer, transport, router, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(limits.grace + limits.shutdown_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = conns.len(),
            "shutdown timeout reached; closing the remaining connections"
        );
        conns.abort_all();
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    router: Router,
    limits: ConnLimits,
    stop: watch::Receiver<bool>,
) {
    match transport {
        Transport::Plain => http(tcp, router, limits, stop).await,
        Transport::Tls(config) => {
            let acceptor = config.acceptor();
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => http(tls, router, limits, stop).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn http<I>(io: I, router: Router, limits: ConnLimits, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        router.clone().oneshot(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => {}
    }
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = tokio::time::sleep(limits.grace) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
