//! The accept loop: a bound on open connections that never leaves a client waiting, a TLS
//! handshake and header-read deadline per connection, HTTP/1.1 keep-alive with an idle timeout,
//! and a graceful stop.
//!
//! At the connection limit a new client is not left in the kernel's backlog (where it would wait
//! past the apiserver's timeout): the longest-idle keep-alive connection is closed to make room,
//! and when every connection is busy the new one is answered `503` with `Connection: close`.
//!
//! Stopping happens in three steps once the stop signal is raised: for the shutdown delay the
//! listener keeps accepting (Kubernetes takes a few seconds to remove a terminating pod from the
//! Service's endpoints, and clients keep coming until then), each response carrying
//! `Connection: close` (added by the router while the server is stopping) so that clients move
//! off; then the listener closes, idle connections close, and in-flight requests finish within
//! the shutdown timeout.

use super::metrics::Metrics;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// The per-connection limits.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    /// Open connections at most; past it an idle one is closed to make room, or the new one is
    /// answered 503.
    pub max_connections: usize,
    /// Time a client has to complete the TLS handshake and, for each request, its headers.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// How long the listener keeps accepting after the stop signal.
    pub shutdown_delay: Duration,
    /// How long in-flight requests get to finish after that.
    pub shutdown_timeout: Duration,
}

/// Plain HTTP or TLS, with the configuration each new connection takes.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(Arc<super::tls::ConfigStore>),
}

/// Connections past the limit that are being answered 503 at once; past this many more, a new
/// connection is closed without an answer.
const MAX_REFUSING: usize = 64;

/// One open connection as the accept loop sees it.
struct Conn {
    /// Requests being answered on it.
    busy: AtomicUsize,
    /// When it last finished a request (or opened).
    idle_since: Mutex<Instant>,
    /// Asks the connection to close once idle.
    close: Notify,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
            close: Notify::new(),
        }
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.busy.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.idle_since.lock().ok().map(|t| t.elapsed())
    }
}

/// The open connections, for closing the longest-idle one when the limit is reached.
#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    /// Asks the longest-idle connection to close; false when none is idle.
    fn evict_idle(&self) -> bool {
        let Ok(conns) = self.conns.lock() else {
            return false;
        };
        let oldest = conns
            .values()
            .filter_map(|c| c.idle_for().map(|d| (d, c)))
            .max_by_key(|(d, _)| *d);
        match oldest {
            Some((_, c)) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true, then drains.
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    router: Router,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let registry = Arc::new(Registry::default());
    let mut conns = JoinSet::new();
    let mut next_id = 0u64;
    let mut stopped_at: Option<tokio::time::Instant> = None;
    loop {
        let accept_until = async {
            match stopped_at {
                Some(at) => tokio::time::sleep_until(at + limits.shutdown_delay).await,
                None => std::future::pending().await,
            }
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s), if stopped_at.is_none() => {
                stopped_at = Some(tokio::time::Instant::now());
                continue;
            }
            _ = accept_until => break,
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
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                // At the limit: make room by closing the longest-idle connection, which frees
                // its permit within a moment; a client is never left queued behind idle ones.
                if registry.evict_idle() {
                    metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::timeout(
                        Duration::from_millis(100),
                        permits.clone().acquire_owned(),
                    )
                    .await
                    .ok()
                    .and_then(Result::ok)
                } else {
                    None
                }
            }
        };
        let transport = transport.clone();
        let stop = stop.clone();
        let Some(permit) = permit else {
            metrics.connections_refused.fetch_add(1, Ordering::Relaxed);
            match refusing.clone().try_acquire_owned() {
                Ok(slot) => {
                    conns.spawn(async move {
                        refuse(tcp, peer, transport, limits).await;
                        drop(slot);
                    });
                }
                Err(_) => drop(tcp),
            }
            continue;
        };
        let conn = Arc::new(Conn::new());
        next_id += 1;
        let id = next_id;
        if let Ok(mut all) = registry.conns.lock() {
            all.insert(id, conn.clone());
        }
        let router = router.clone();
        let registry = registry.clone();
        let metrics = metrics.clone();
        conns.spawn(async move {
            let shaken = tokio::select! {
                io = handshake(tcp, peer, transport, limits) => io,
                // Evicted before its handshake completed (a client that connected and sent
                // nothing counts as idle): its permit goes back at once, not at the deadline.
                _ = conn.close.notified() => None,
            };
            match shaken {
                Some(Io::Plain(s)) => http(s, router, limits, conn, &metrics, stop).await,
                Some(Io::Tls(s)) => http(*s, router, limits, conn, &metrics, stop).await,
                None => {}
            }
            if let Ok(mut all) = registry.conns.lock() {
                all.remove(&id);
            }
            drop(permit);
        });
    }
    drop(listener);
    // Idle connections close at once; busy ones finish what they are answering.
    if let Ok(all) = registry.conns.lock() {
        for c in all.values() {
            c.close.notify_one();
        }
    }
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
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

/// A connection after its TLS handshake.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

async fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    transport: Transport,
    limits: ConnLimits,
) -> Option<Io> {
    match transport {
        Transport::Plain => Some(Io::Plain(tcp)),
        Transport::Tls(config) => {
            let acceptor = config.acceptor();
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Some(Io::Tls(Box::new(tls))),
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    None
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    None
                }
            }
        }
    }
}

/// Answers the request of a connection past the limit with 503 and closes it, within a second
/// for the handshake and two for the request.
async fn refuse(tcp: TcpStream, peer: SocketAddr, transport: Transport, limits: ConnLimits) {
    let quick = ConnLimits {
        header_read_timeout: Duration::from_secs(1),
        ..limits
    };
    match handshake(tcp, peer, transport, quick).await {
        Some(Io::Plain(s)) => answer_503(s).await,
        Some(Io::Tls(s)) => answer_503(*s).await,
        None => {}
    }
}

async fn answer_503<I>(io: I)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let answer = |_req: hyper::Request<Incoming>| async {
        let body = r#"{"error":"rollout-guard is at its connection limit; retry","code":503}"#;
        hyper::Response::builder()
            .status(503)
            .header("content-type", "application/json")
            .header("connection", "close")
            .header("retry-after", "1")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                body.as_bytes(),
            )))
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(1))
        .keep_alive(false);
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        builder.serve_connection(TokioIo::new(io), hyper::service::service_fn(answer)),
    )
    .await;
}

async fn http<I>(
    io: I,
    router: Router,
    limits: ConnLimits,
    conn: Arc<Conn>,
    metrics: &Metrics,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tracked = conn.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let router = router.clone();
        let conn = tracked.clone();
        conn.busy.fetch_add(1, Ordering::SeqCst);
        async move {
            let response = router.oneshot(req).await;
            if let Ok(mut t) = conn.idle_since.lock() {
                *t = Instant::now();
            }
            conn.busy.fetch_sub(1, Ordering::SeqCst);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    let check_every =
        (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            _ = conn.close.notified() => break,
            // While the listener keeps accepting after the stop signal, this connection is
            // served on, each response saying `Connection: close`; it closes with the others.
            _ = stop.wait_for(|s| *s), if !stopping => stopping = true,
            _ = tokio::time::sleep(check_every) => {
                if conn.idle_for().is_some_and(|d| d >= limits.idle_timeout) {
                    metrics.idle_closed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    // An idle connection closes at once; a busy one after the response it is writing.
    served.as_mut().graceful_shutdown();
    let _ = served.await;
}
