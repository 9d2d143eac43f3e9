//! The I/O edge of the cluster catalog: `kube::runtime` watchers on the three kinds, each
//! object summarised as it arrives, and an HTTP layer that notes when the API server answers.

use super::store::{Change, Store, Summary, SyncState, WATCHED};
use crate::manifest::{Kind, Object};
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use kube::api::{Api, ApiResource};
use kube::core::{DynamicResourceScope, ObjectMeta, Resource};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;
use std::task::{Context, Poll};

/// How many changes are applied before a snapshot is published, at most. A burst (the first
/// list, a re-list) is applied in batches; a single event is published at once.
const BATCH: usize = 512;

fn api_resource(kind: Kind) -> ApiResource {
    ApiResource {
        group: kind.group().into(),
        version: kind.version().into(),
        api_version: kind.api_version().into(),
        kind: kind.as_str().into(),
        plural: kind.plural().into(),
    }
}

/// The part of a watched object that is read: the metadata the watch needs and the part of its
/// spec `S` names. serde skips every other field while parsing, so a Rollout's pod template, the
/// `last-applied-configuration` annotation (the whole object again) and the managed fields are
/// never held, not even for the length of a list page.
#[derive(Clone, Debug, Deserialize)]
struct Watched<S> {
    #[serde(deserialize_with = "slim_metadata")]
    metadata: ObjectMeta,
    #[serde(default)]
    spec: S,
}

/// Reads only the metadata fields the watch uses: the name and namespace for the catalog, the
/// resourceVersion for resuming a watch.
fn slim_metadata<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Slim {
        name: Option<String>,
        namespace: Option<String>,
        resource_version: Option<String>,
    }
    let slim = Slim::deserialize(d)?;
    Ok(ObjectMeta {
        name: slim.name,
        namespace: slim.namespace,
        resource_version: slim.resource_version,
        ..ObjectMeta::default()
    })
}

/// The one field of a Rollout's spec the catalog needs.
#[derive(Clone, Debug, Default, Deserialize)]
struct RolloutSpec {
    #[serde(rename = "workloadRef", default)]
    workload_ref: Value,
}

impl<S: Clone> Resource for Watched<S> {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }
    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }
    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }
    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }
    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The spec part of a watched object, as the JSON the catalog's summaries read.
trait SpecValue {
    fn into_spec(self) -> Value;
}

impl SpecValue for Value {
    fn into_spec(self) -> Value {
        self
    }
}

impl SpecValue for RolloutSpec {
    fn into_spec(self) -> Value {
        serde_json::json!({ "workloadRef": self.workload_ref })
    }
}

fn summarise<S: SpecValue>(kind: Kind, w: Watched<S>) -> Option<Summary> {
    let obj = Object {
        kind,
        namespace: w.metadata.namespace.unwrap_or_default(),
        name: w.metadata.name.unwrap_or_default(),
        value: serde_json::json!({ "spec": w.spec.into_spec() }),
        origin: String::new(),
    };
    Summary::from_object(&obj)
}

fn change<S: SpecValue>(kind: Kind, event: Event<Watched<S>>) -> Option<Change> {
    Some(match event {
        Event::Init => Change::Relist,
        Event::InitApply(w) => Change::Listed(summarise(kind, w)?),
        Event::InitDone => Change::ListDone,
        Event::Apply(w) => Change::Applied(summarise(kind, w)?),
        Event::Delete(w) => Change::Deleted {
            namespace: w.metadata.namespace.unwrap_or_default(),
            name: w.metadata.name.unwrap_or_default(),
        },
    })
}

type Step = (Kind, Result<Change, String>);

/// One kind's watch, with kube's default backoff between failed attempts, objects summarised.
fn watch_kind<S>(client: Client, kind: Kind) -> impl Stream<Item = Step> + Send
where
    S: SpecValue + Clone + Default + std::fmt::Debug + serde::de::DeserializeOwned,
    S: Send + Sync + 'static,
{
    let api: Api<Watched<S>> = Api::all_with(client, &api_resource(kind));
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |item| async move {
            match item {
                Ok(event) => change(kind, event).map(|c| (kind, Ok(c))),
                Err(e) => Some((kind, Err(describe(kind, &e)))),
            }
        })
}

/// A watch error as a person can act on it.
fn describe(kind: Kind, error: &watcher::Error) -> String {
    let resource = format!("{}.{}", kind.plural(), kind.group());
    let status = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(s) => Some(s.code),
            _ => None,
        },
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    };
    match status {
        Some(403) => format!(
            "{error}: the service account may not read {resource}: it needs get, list and watch on it"
        ),
        Some(404) => format!(
            "{error}: the API server does not serve {resource}/{}: are the Argo Rollouts CRDs installed?",
            kind.version()
        ),
        _ => error.to_string(),
    }
}

/// Runs the three watches into `store` until the task is dropped.
pub async fn run(client: Client, mut store: Store, state: Arc<SyncState>) {
    let watches = futures::stream::select_all([
        watch_kind::<Value>(client.clone(), Kind::AnalysisTemplate).boxed(),
        watch_kind::<Value>(client.clone(), Kind::ClusterAnalysisTemplate).boxed(),
        watch_kind::<RolloutSpec>(client, Kind::Rollout).boxed(),
    ]);
    let mut batches = watches.ready_chunks(BATCH);
    while let Some(batch) = batches.next().await {
        for (kind, step) in batch {
            match step {
                Ok(change) => store.apply(kind, change),
                Err(error) => state.mark_failed(kind, error),
            }
        }
        store.publish();
    }
}

/// A tower layer over the client's HTTP service that tells [`SyncState`] when the API server
/// accepts a watch. After a failure, kube's watcher resumes the watch where it stopped and
/// reports nothing until the next change; in a quiet cluster this answer is the only sign that
/// the catalog is current again.
#[derive(Clone)]
pub struct SyncLayer {
    pub state: Arc<SyncState>,
}

impl<S> tower::Layer<S> for SyncLayer {
    type Service = SyncService<S>;
    fn layer(&self, inner: S) -> SyncService<S> {
        SyncService {
            inner,
            state: self.state.clone(),
        }
    }
}

/// See [`SyncLayer`].
#[derive(Clone)]
pub struct SyncService<S> {
    inner: S,
    state: Arc<SyncState>,
}

/// The watched kind a request watches, if it is a watch of one.
fn watched_kind(uri: &http::Uri) -> Option<Kind> {
    let watching = uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true"));
    let path = uri.path().strip_prefix("/apis/argoproj.io/v1alpha1/")?;
    let resource = path.rsplit('/').next()?;
    watching
        .then(|| WATCHED.into_iter().find(|k| k.plural() == resource))
        .flatten()
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for SyncService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let kind = watched_kind(req.uri());
        let state = self.state.clone();
        let response = self.inner.call(req);
        Box::pin(async move {
            let response = response.await?;
            if let Some(kind) = kind {
                if response.status().is_success() {
                    state.mark_ok(kind);
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_requests_are_recognised() {
        let kind = |u: &str| watched_kind(&u.parse().unwrap());
        assert_eq!(
            kind("/apis/argoproj.io/v1alpha1/rollouts?&watch=true&resourceVersion=5"),
            Some(Kind::Rollout)
        );
        assert_eq!(
            kind("/apis/argoproj.io/v1alpha1/clusteranalysistemplates?watch=true"),
            Some(Kind::ClusterAnalysisTemplate)
        );
        assert_eq!(kind("/apis/argoproj.io/v1alpha1/rollouts?&limit=500"), None);
        assert_eq!(kind("/apis/apps/v1/deployments?watch=true"), None);
    }

    #[test]
    fn a_rollout_keeps_only_its_workload_ref() {
        let w: Watched<RolloutSpec> = serde_json::from_value(serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r", "namespace": "a"},
            "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}
        }))
        .unwrap();
        assert_eq!(
            summarise(Kind::Rollout, w),
            Some(Summary::Rollout {
                namespace: "a".into(),
                name: "r".into(),
                workload: Some("web".into())
            })
        );
        let bare: Watched<RolloutSpec> =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "r"}})).unwrap();
        assert!(matches!(
            summarise(Kind::Rollout, bare),
            Some(Summary::Rollout { workload: None, .. })
        ));
    }
}
