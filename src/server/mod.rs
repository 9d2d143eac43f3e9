//! `rollout-guard serve`: the admission webhook over TLS, with health, readiness and metrics.
//!
//! Two listeners: the webhook port (TLS: `/mutate`, `/validate`, `/healthz`, `/readyz`,
//! `/metrics`) and the metrics port (plain HTTP: `/metrics`, `/healthz`, `/readyz`). The handler
//! reads the catalog through a [`LookupSource`], so the cluster watch can replace the shipped
//! templates without the server knowing how the catalog is filled.

pub mod listener;
pub mod log;
pub mod metrics;
pub mod tls;

use crate::admission::{self, Webhook};
use crate::lookup::Lookup;
use crate::policy::Policy;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::BodyExt as _;
use listener::{ConnLimits, Transport};
use metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls::CertSource;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Where the handler gets the catalog of templates and Rollouts it reviews against.
///
/// `serve` uses [`ShippedLookup`] (the templates in `policies/`); the cluster watch provides its
/// own implementation. `snapshot` is called once per review and must be cheap (clone an `Arc`);
/// `ready` is what `/readyz` reports (for a watch: the initial list has been read).
pub trait LookupSource: Send + Sync + 'static {
    /// The catalog to review the next request against.
    fn snapshot(&self) -> Arc<Lookup>;
    /// True when the catalog is complete enough to answer reviews.
    fn ready(&self) -> bool;
    /// How long the catalog may have been out of date, for
    /// `rollout_guard_catalog_age_seconds`; `None` for a catalog that cannot go stale.
    fn age(&self) -> Option<Duration> {
        None
    }
}

/// A fixed catalog, always ready: the shipped ClusterAnalysisTemplates by default.
pub struct ShippedLookup(Arc<Lookup>);

impl ShippedLookup {
    /// The templates shipped in `policies/`.
    pub fn new() -> ShippedLookup {
        ShippedLookup(Arc::new(crate::lookup::shipped::lookup()))
    }

    /// A given catalog.
    pub fn with(lookup: Lookup) -> ShippedLookup {
        ShippedLookup(Arc::new(lookup))
    }
}

impl Default for ShippedLookup {
    fn default() -> Self {
        ShippedLookup::new()
    }
}

impl LookupSource for ShippedLookup {
    fn snapshot(&self) -> Arc<Lookup> {
        self.0.clone()
    }

    fn ready(&self) -> bool {
        true
    }
}

/// The cluster watch (`serve --cluster`) as the catalog source.
impl LookupSource for crate::cluster::ClusterLookup {
    fn snapshot(&self) -> Arc<Lookup> {
        crate::cluster::ClusterLookup::snapshot(self)
    }

    fn ready(&self) -> bool {
        crate::cluster::ClusterLookup::ready(self)
    }

    fn age(&self) -> Option<Duration> {
        Some(crate::cluster::ClusterLookup::age(self))
    }
}

/// The serving certificate: files, or an ephemeral one for local runs.
#[derive(Clone, Debug)]
pub enum TlsSetup {
    /// PEM files, reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
    /// A new CA and a certificate for `localhost` and `127.0.0.1`; the CA is written to
    /// a file whose path is printed with a ready `curl` line.
    Ephemeral,
}

/// Everything `serve` needs.
pub struct Config {
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub tls: TlsSetup,
    /// Require client certificates signed by this CA.
    pub client_ca: Option<PathBuf>,
    pub policy: Arc<Policy>,
    pub lookup: Arc<dyn LookupSource>,
    pub limits: ConnLimits,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// How often the certificate files are checked for changes.
    pub cert_poll_interval: Duration,
}

/// Request bodies above this are refused with 413: the apiserver sends up to 3 MiB.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Answering when the apiserver gives no `?timeout=` (its own default is 10 s).
const DEFAULT_REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

impl Config {
    /// The defaults of `rollout-guard serve` with no flags.
    pub fn new(policy: Policy) -> Config {
        Config {
            addr: ([0, 0, 0, 0], 8443).into(),
            metrics_addr: ([0, 0, 0, 0], 9090).into(),
            tls: TlsSetup::Ephemeral,
            client_ca: None,
            policy: Arc::new(policy),
            lookup: Arc::new(ShippedLookup::new()),
            limits: ConnLimits {
                max_connections: 1024,
                header_read_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                shutdown_delay: Duration::ZERO,
                shutdown_timeout: Duration::from_secs(20),
            },
            max_body_bytes: MAX_BODY_BYTES,
            cert_poll_interval: Duration::from_secs(1),
        }
    }
}

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Certs(#[from] crate::certs::CertError),
    #[error("cannot write the ephemeral CA certificate to {path}: {source}")]
    WriteCa {
        path: String,
        source: std::io::Error,
    },
}

struct App {
    policy: Arc<Policy>,
    lookup: Arc<dyn LookupSource>,
    metrics: Arc<Metrics>,
    stopping: AtomicBool,
    max_body_bytes: usize,
    /// The body bytes of the requests being read or reviewed, in KiB: what bounds the memory the
    /// reviews hold at once (see [`INFLIGHT_BODY_BYTES`]).
    inflight: Arc<Semaphore>,
    /// Reviews running at once on the blocking pool: they are CPU-bound, so more than a few per
    /// core only adds memory.
    reviewers: Arc<Semaphore>,
    /// The review itself: [`admission::handle`]; a test puts a failing one here to check that a
    /// panic in a review is answered and the server goes on.
    review: ReviewFn,
}

type ReviewFn =
    fn(Webhook, &[u8], &Policy, &Lookup) -> Result<admission::Outcome, admission::AdmissionError>;

/// The request bodies held at once, being read or reviewed. A review's peak memory is a small
/// multiple of its body (the body, the TLS and HTTP buffers, the decoded object with at most
/// [`admission::MAX_OBJECT_VALUES`] values, the response): about 6x, 22-29 MiB for a hostile
/// 4 MiB body (`huge_objects_are_denied_within_a_memory_bound` in `tests/webhook.rs`). With this
/// budget at most four such reviews are in flight, so the server peaks near 145 MiB however many
/// arrive at once, under the chart's 256 MiB limit with a wide margin.
pub const INFLIGHT_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Bodies up to this size are reviewed on the async worker that read them; larger ones on the
/// blocking pool. The captured Rollout review is 6 KB. The slowest 16 KiB review found (34
/// metrics, each with its own long conditions and query, nothing memoised yet) took 24 ms in a
/// release build; a 64 KiB one of the same shape took 85 ms, which is why the line is here.
pub const INLINE_REVIEW_BYTES: usize = 16 * 1024;

/// How a review failed inside rollout-guard.
enum Failed {
    Panic(Box<dyn std::any::Any + Send>),
    Cancelled(String),
}

/// What a request reserves of [`INFLIGHT_BODY_BYTES`], in KiB: its declared length (at least
/// 16 KiB, for what its review builds beside the body), or the whole limit when it declares
/// none.
fn reservation_kib(declared: Option<u64>, limit: usize) -> u32 {
    let bytes = declared
        .map_or(limit as u64, |n| n.min(limit as u64))
        .max(16 * 1024);
    bytes.div_ceil(1024) as u32
}

/// Runs the webhook until `shutdown` resolves, then stops gracefully (see [`listener`]).
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    let started = Instant::now();
    let metrics = Arc::new(Metrics::default());
    let (source, ephemeral_ca) = match &config.tls {
        TlsSetup::Files { cert, key } => (
            CertSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            None,
        ),
        TlsSetup::Ephemeral => {
            let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            let bundle = crate::certs::generate(&names, 30)?;
            (
                CertSource::Pem {
                    cert: bundle.cert_pem,
                    key: bundle.key_pem,
                },
                Some(bundle.ca_cert_pem),
            )
        }
    };
    let tls = tls::setup(source, config.client_ca.as_deref())?;
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })
    };
    let webhook_listener = bind(config.addr).await?;
    let metrics_listener = bind(config.metrics_addr).await?;
    let addr = webhook_listener.local_addr().unwrap_or(config.addr);
    let metrics_addr = metrics_listener.local_addr().unwrap_or(config.metrics_addr);

    let ca_file = match ephemeral_ca {
        Some(pem) => Some(write_ephemeral_ca(&pem, addr)?),
        None => None,
    };

    let app = Arc::new(App {
        policy: config.policy.clone(),
        lookup: config.lookup.clone(),
        metrics: metrics.clone(),
        stopping: AtomicBool::new(false),
        max_body_bytes: config.max_body_bytes,
        inflight: Arc::new(Semaphore::new(
            INFLIGHT_BODY_BYTES.max(config.max_body_bytes) / 1024,
        )),
        reviewers: Arc::new(Semaphore::new(crate::threads() * 2)),
        review: admission::handle,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let webhook = tokio::spawn(listener::serve(
        webhook_listener,
        Transport::Tls(tls.config.clone()),
        webhook_router(app.clone()),
        config.limits,
        metrics.clone(),
        stop_rx.clone(),
    ));
    let plain = tokio::spawn(listener::serve(
        metrics_listener,
        Transport::Plain,
        metrics_router(app.clone()),
        config.limits,
        metrics.clone(),
        stop_rx,
    ));
    let watcher = tokio::spawn(tls.watch(config.cert_poll_interval, metrics));
    tracing::info!(
        %addr,
        %metrics_addr,
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "rollout-guard webhook listening (https on addr, plain http metrics on metrics_addr)"
    );
    if let Some(ca) = &ca_file {
        print_ephemeral_help(ca, addr);
    }

    shutdown.await;
    tracing::info!(
        delay_ms = config.limits.shutdown_delay.as_millis() as u64,
        "shutdown signal: readiness off; accepting for the shutdown delay, then closing listeners and finishing in-flight requests"
    );
    app.stopping.store(true, Ordering::SeqCst);
    let _ = stop_tx.send(true);
    let _ = webhook.await;
    let _ = plain.await;
    watcher.abort();
    if let Some(ca) = ca_file {
        let _ = std::fs::remove_file(&ca);
        if let Some(dir) = ca.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
    tracing::info!("stopped");
    Ok(())
}

fn write_ephemeral_ca(pem: &str, addr: SocketAddr) -> Result<PathBuf, ServeError> {
    let dir = std::env::temp_dir().join(format!(
        "rollout-guard-{}-{}",
        std::process::id(),
        addr.port()
    ));
    let path = dir.join("ca.pem");
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, pem))
        .map_err(|source| ServeError::WriteCa {
            path: path.display().to_string(),
            source,
        })?;
    Ok(path)
}

/// An AdmissionReview for a bare Rollout, for the printed `curl` line.
const TRY_REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"try-1","operation":"CREATE","namespace":"demo","object":{"apiVersion":"argoproj.io/v1alpha1","kind":"Rollout","metadata":{"name":"demo"},"spec":{}}}}"#;

fn print_ephemeral_help(ca: &std::path::Path, addr: SocketAddr) {
    let host = if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        "localhost".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = format!("https://{host}:{}", addr.port());
    eprintln!(
        "rollout-guard: no --tls-cert/--tls-key: serving an ephemeral certificate for localhost and 127.0.0.1\n\
         rollout-guard: CA certificate: {ca}\n\
         rollout-guard: try: curl --cacert {ca} {url}/mutate -H 'Content-Type: application/json' -d '{TRY_REVIEW}'",
        ca = ca.display()
    );
}

fn webhook_router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/mutate",
            post(|State(app): State<Arc<App>>, req: Request| admit(app, Webhook::Mutate, req)),
        )
        .route(
            "/validate",
            post(|State(app): State<Arc<App>>, req: Request| admit(app, Webhook::Validate, req)),
        )
        .merge(health_routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            close_when_stopping,
        ))
        .with_state(app)
}

fn metrics_router(app: Arc<App>) -> Router {
    health_routes()
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(
            app.clone(),
            close_when_stopping,
        ))
        .with_state(app)
}

fn health_routes() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

async fn close_when_stopping(State(app): State<Arc<App>>, mut response: Response) -> Response {
    if app.stopping.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.stopping.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else if !app.lookup.ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "catalog not ready\n").into_response()
    } else {
        "ready\n".into_response()
    }
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    let mut text = app.metrics.render();
    if let Some(age) = app.lookup.age() {
        text.push_str(&metrics::catalog_age(age));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn not_found(req: Request) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        &format!(
            "no such endpoint: {} {} (the webhook serves POST /mutate and POST /validate)",
            req.method(),
            req.uri().path()
        ),
    )
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body =
        serde_json::to_vec(&serde_json::json!({ "error": message, "code": status.as_u16() }))
            .expect("an error serialises");
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The `?timeout=10s` the apiserver adds, less a margin for the trip back.
fn review_deadline(query: Option<&str>) -> Duration {
    let given = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("timeout="))
        .and_then(crate::lang::duration::go_seconds)
        .filter(|s| *s > 0.0 && *s <= 3600.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_REVIEW_TIMEOUT);
    given.mul_f64(0.9)
}

/// A body above the limit is still read (and dropped) up to this size, so that a client that is
/// still sending sees the 413 rather than a reset connection.
const DRAIN_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a body the answer does not need and drops it, in the background, up to
/// [`DRAIN_MAX_BYTES`] and within `deadline`: a client still sending sees the answer, not a
/// reset connection.
fn drain_in_background(body: Body, deadline: Duration) {
    tokio::spawn(tokio::time::timeout(deadline, async move {
        let mut body = body;
        let mut seen = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    }));
}

/// How reading a body ended.
enum BodyRead {
    Complete(Vec<u8>),
    TooLarge,
    Failed(String),
}

/// Reads the body up to `limit` bytes into one buffer (sized from `Content-Length`); past the
/// limit it keeps reading and dropping, up to [`DRAIN_MAX_BYTES`].
async fn read_body(mut body: Body, declared: Option<u64>, limit: usize) -> BodyRead {
    let mut buf = Vec::with_capacity(declared.map_or(16 * 1024, |n| n.min(limit as u64) as usize));
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return BodyRead::Failed(e.to_string()),
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen <= limit as u64 {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_MAX_BYTES {
                return BodyRead::TooLarge;
            }
        }
    }
    if seen > limit as u64 {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buf)
    }
}

async fn admit(app: Arc<App>, webhook: Webhook, req: Request) -> Response {
    let started = Instant::now();
    let deadline = review_deadline(req.uri().query());
    let limit = app.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = |close: bool| {
        let mut r = json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body larger than the {limit}-byte limit"),
        );
        if close {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    };
    // A body declared too large is answered at once, not after it has arrived (or failed to).
    // What the client is still sending is read and dropped in the background, up to
    // DRAIN_MAX_BYTES and the deadline, so that a client busy sending sees the 413 instead of
    // a connection reset; then the connection closes.
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_MAX_BYTES) {
            drain_in_background(req.into_body(), deadline);
        }
        return too_large(true);
    }
    let body = req.into_body();
    let Ok(Ok(_reserved)) = tokio::time::timeout(
        deadline,
        app.inflight
            .clone()
            .acquire_many_owned(reservation_kib(declared, limit)),
    )
    .await
    else {
        app.metrics.reviews_shed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            webhook = webhook.as_str(),
            "reviews in flight hold the memory budget; answering 503"
        );
        // The client may still be sending: read its body and drop it, so that it reads the
        // 503 rather than a reset (shed answers were lost that way), then close.
        if declared.is_none_or(|n| n <= DRAIN_MAX_BYTES) {
            drain_in_background(body, deadline);
        }
        let mut r = json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "rollout-guard is reviewing as many requests as its memory budget allows; retry",
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    };
    let bytes = match tokio::time::timeout(deadline, read_body(body, declared, limit))
        .await
    {
        Err(_) => {
            return json_error(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the request body did not arrive within {:.1}s (the request's ?timeout=, less a margin)",
                    deadline.as_secs_f64()
                ),
            )
        }
        Ok(BodyRead::TooLarge) => return too_large(false),
        Ok(BodyRead::Failed(e)) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request body: {e}"),
            )
        }
        Ok(BodyRead::Complete(bytes)) => bytes,
    };
    let lookup = app.lookup.snapshot();
    let (policy, review) = (app.policy.clone(), app.review);
    let reviewed = if bytes.len() <= INLINE_REVIEW_BYTES {
        // A small review takes less time than handing it to another thread and back: with
        // every review on the blocking pool, bench/webhook.sh measured the server's CPU per
        // /validate at 82 us against 45 us inline, and 37% fewer requests/s. Its worst case is
        // bounded by the body size and the checker boundary. A panic is caught here as below.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            review(webhook, &bytes, &policy, &lookup)
        }))
        .map_err(Failed::Panic)
    } else {
        // Off the async workers, so that a long review cannot stall the connections they
        // serve, with a panic caught there as a 500 rather than a dropped connection.
        let Ok(_reviewer) = app.reviewers.clone().acquire_owned().await else {
            return json_error(StatusCode::SERVICE_UNAVAILABLE, "the server is stopping");
        };
        tokio::task::spawn_blocking(move || review(webhook, &bytes, &policy, &lookup))
            .await
            .map_err(|join| match join.try_into_panic() {
                Ok(payload) => Failed::Panic(payload),
                Err(e) => Failed::Cancelled(e.to_string()),
            })
    };
    match reviewed {
        Ok(Ok(outcome)) => {
            let elapsed = started.elapsed();
            let m = &app.metrics;
            m.record_review(
                webhook,
                outcome.kind,
                &outcome.operation,
                outcome.allowed,
                elapsed,
            );
            let mut rules = String::new();
            for f in &outcome.findings {
                m.record_finding(f.rule, f.severity);
                if !rules.is_empty() {
                    rules.push(',');
                }
                rules.push_str(f.rule.id);
            }
            tracing::info!(
                webhook = webhook.as_str(),
                uid = %outcome.uid,
                kind = outcome.kind.map_or("other", |k| k.as_str()),
                namespace = %outcome.namespace,
                name = %outcome.name,
                operation = admission::operation_name(&outcome.operation),
                allowed = outcome.allowed,
                patched = outcome.patched,
                rules = %rules,
                duration_us = elapsed.as_micros() as u64,
                "review"
            );
            (
                [(header::CONTENT_TYPE, "application/json")],
                Body::from(outcome.body),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(webhook = webhook.as_str(), error = %e, "bad admission request");
            json_error(StatusCode::BAD_REQUEST, &e.to_string())
        }
        Err(failed) => {
            app.metrics.review_panics.fetch_add(1, Ordering::Relaxed);
            let why = match failed {
                Failed::Panic(payload) => crate::lang::boundary::panic_text(payload.as_ref()),
                Failed::Cancelled(e) => e,
            };
            tracing::error!(webhook = webhook.as_str(), panic = %why, "review failed inside rollout-guard");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("rollout-guard failed while reviewing this request ({why}); the webhook goes on serving, and this is a bug to report"),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    fn app(review: ReviewFn) -> Arc<App> {
        Arc::new(App {
            policy: Arc::new(Policy::embedded()),
            lookup: Arc::new(ShippedLookup::new()),
            metrics: Arc::new(Metrics::default()),
            stopping: AtomicBool::new(false),
            max_body_bytes: MAX_BODY_BYTES,
            inflight: Arc::new(Semaphore::new(INFLIGHT_BODY_BYTES / 1024)),
            reviewers: Arc::new(Semaphore::new(2)),
            review,
        })
    }

    async fn post(app: &Arc<App>, path: &str) -> (StatusCode, String) {
        post_body(app, path, TRY_REVIEW.to_string()).await
    }

    async fn post_body(app: &Arc<App>, path: &str, body: String) -> (StatusCode, String) {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let resp = webhook_router(app.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_panic_in_a_review_is_a_500_and_the_next_review_is_served() {
        fn failing(
            _: Webhook,
            _: &[u8],
            _: &Policy,
            _: &Lookup,
        ) -> Result<admission::Outcome, admission::AdmissionError> {
            panic!("a rule indexed past the end")
        }
        let broken = app(failing);
        let (status, body) = post(&broken, "/validate").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("(a rule indexed past the end)"),
            "{v}"
        );
        // A body past INLINE_REVIEW_BYTES is reviewed on the blocking pool: the same answer.
        let large = format!("{TRY_REVIEW}{}", " ".repeat(INLINE_REVIEW_BYTES));
        let (status, body) = post_body(&broken, "/validate", large).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body.contains("(a rule indexed past the end)"), "{body}");
        assert!(broken
            .metrics
            .render()
            .contains("rollout_guard_review_panics_total 2\n"));
        // The same server state answers the next review.
        let (status, body) = post(&broken, "/healthz").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "")
        );
        let (status, body) = post(&app(admission::handle), "/mutate").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    #[test]
    fn deadline_follows_the_apiserver_timeout() {
        assert_eq!(
            review_deadline(Some("timeout=5s")),
            Duration::from_millis(4500)
        );
        assert_eq!(
            review_deadline(Some("a=b&timeout=30s")),
            Duration::from_secs(27)
        );
        assert_eq!(review_deadline(None), Duration::from_secs(9));
        assert_eq!(review_deadline(Some("timeout=zz")), Duration::from_secs(9));
    }
}
