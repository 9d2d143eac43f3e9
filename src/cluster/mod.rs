//! Cluster awareness: a catalog filled by watching the cluster, for `serve --cluster`.
//!
//! Three `kube::runtime` watchers (AnalysisTemplates and Rollouts in every namespace,
//! ClusterAnalysisTemplates) feed a [`store::Store`] that keeps only the catalog's summaries
//! (argument names, metric summaries, workloadRefs) and publishes an immutable snapshot after
//! each batch of events. The admission path reads the latest snapshot: no API call, no lock held
//! while reviewing. When the API server goes away the last known state keeps answering, and
//! [`ClusterLookup::age`] says for how long it may have been stale.

pub mod store;
pub mod watch;

use crate::lookup::Lookup;
use kube::client::ClientBuilder;
use std::sync::Arc;
use std::time::Duration;
use store::{Store, SyncState};
use tokio::sync::watch as channel;

pub use crate::manifest::Kind;

/// Why the cluster catalog could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Neither a kubeconfig nor an in-cluster service account was found.
    #[error(
        "no Kubernetes configuration found: --cluster reads the kubeconfig (KUBECONFIG, or ~/.kube/config) \
         or, inside a pod, the service account (KUBERNETES_SERVICE_HOST and its token); {0}"
    )]
    NoConfig(#[source] kube::config::InferConfigError),
    /// The configuration was found but no client could be built from it.
    #[error("cannot build a Kubernetes client from the configuration: {0}")]
    Client(#[source] kube::Error),
}

/// The catalog the cluster holds, kept current by a watch task that runs while any clone of
/// this handle lives.
#[derive(Clone)]
pub struct ClusterLookup {
    inner: Arc<Inner>,
}

struct Inner {
    snapshots: channel::Receiver<Arc<Lookup>>,
    state: Arc<SyncState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ClusterLookup {
    /// Connects with the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or, in a pod, the service
    /// account, as `kube::Client::try_default` does, and starts watching. Must run inside a
    /// Tokio runtime.
    pub async fn connect() -> Result<ClusterLookup, ClusterError> {
        let config = kube::Config::infer()
            .await
            .map_err(ClusterError::NoConfig)?;
        let builder = ClientBuilder::try_from(config).map_err(ClusterError::Client)?;
        Ok(ClusterLookup::start(builder))
    }

    /// Starts watching through a client built from `builder` (a real connection, or a scripted
    /// one in tests). Must run inside a Tokio runtime.
    pub fn start<Svc, B>(builder: ClientBuilder<Svc>) -> ClusterLookup
    where
        Svc: tower::Service<http::Request<kube::client::Body>, Response = http::Response<B>>,
        Svc: Send + 'static,
        Svc::Future: Send + 'static,
        Svc::Error: Into<tower::BoxError>,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<tower::BoxError>,
    {
        let state = Arc::new(SyncState::default());
        let client = builder
            .with_layer(&watch::SyncLayer {
                state: state.clone(),
            })
            .build();
        let (store, snapshots) = Store::new(state.clone());
        let task = tokio::spawn(watch::run(client, store, state.clone()));
        ClusterLookup {
            inner: Arc::new(Inner {
                snapshots,
                state,
                task,
            }),
        }
    }

    /// The latest published catalog. Cheap: an `Arc` clone under a short read lock.
    pub fn snapshot(&self) -> Arc<Lookup> {
        self.inner.snapshots.borrow().clone()
    }

    /// True once the first list of every watched kind has completed (for `/readyz`).
    pub fn ready(&self) -> bool {
        self.inner.state.ready()
    }

    /// How long the catalog may have been out of date (`rollout_guard_catalog_age_seconds`):
    /// zero while every watch is healthy, the time since the first unresolved watch failure
    /// otherwise, and the time since start until the first lists complete.
    pub fn age(&self) -> Duration {
        self.inner.state.age()
    }

    /// The kinds whose watch is failing, with the last error of each.
    pub fn failures(&self) -> Vec<(Kind, String)> {
        self.inner.state.failures()
    }

    /// A receiver that wakes when a new snapshot is published.
    pub fn subscribe(&self) -> channel::Receiver<Arc<Lookup>> {
        self.inner.snapshots.clone()
    }
}
