//! What the watch keeps: the catalog being built from the watched kinds, how far each kind's
//! watch has got, and the snapshots handed to the engine. No I/O here: `watch` feeds it changes.

use crate::argo::rollout::workload_ref;
use crate::lookup::{Coverage, Lookup, TemplateInfo};
use crate::manifest::{Kind, Object};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The kinds the cluster watch follows, in the order of [`SyncState`]'s slots.
pub const WATCHED: [Kind; 3] = [
    Kind::AnalysisTemplate,
    Kind::ClusterAnalysisTemplate,
    Kind::Rollout,
];

fn slot(kind: Kind) -> usize {
    WATCHED.iter().position(|k| *k == kind).unwrap_or(0)
}

/// What the catalog keeps of one watched object. The object itself is dropped on arrival.
#[derive(Clone, Debug, PartialEq)]
pub enum Summary {
    Template(TemplateInfo),
    Rollout {
        namespace: String,
        name: String,
        /// The Deployment its `workloadRef` names.
        workload: Option<String>,
    },
}

impl Summary {
    /// Summarises an object the way the linter does (the same [`TemplateInfo::from_object`]
    /// and [`workload_ref`]), so that the webhook and the linter see the same facts.
    pub fn from_object(obj: &Object) -> Option<Summary> {
        match obj.kind {
            Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate => {
                Some(Summary::Template(TemplateInfo::from_object(obj)))
            }
            Kind::Rollout => Some(Summary::Rollout {
                namespace: obj.namespace.clone(),
                name: obj.name.clone(),
                workload: workload_ref(&obj.value).map(str::to_string),
            }),
            Kind::Deployment => None,
        }
    }

    fn add_to(self, lookup: &mut Lookup) {
        match self {
            Summary::Template(info) => lookup.add_template(info),
            Summary::Rollout {
                namespace,
                name,
                workload,
            } => lookup.set_workload_ref(&namespace, &name, workload.as_deref()),
        }
    }
}

/// One step of a kind's watch, as [`kube::runtime::watcher`] reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// A full list starts (the first, or again after the watch fell too far behind).
    Relist,
    /// An object of the list.
    Listed(Summary),
    /// The list is complete: objects it did not name are gone.
    ListDone,
    /// An object was created or changed.
    Applied(Summary),
    /// An object was deleted.
    Deleted { namespace: String, name: String },
}

/// How one kind's watch is doing.
#[derive(Clone, Debug, Default)]
struct KindSync {
    /// The first full list has completed.
    listed: bool,
    /// Since when the watch has been failing; `None` while it is healthy.
    failing_since: Option<Instant>,
    /// The last failure, for the log and for status.
    last_error: Option<String>,
}

/// Readiness and freshness of the watch, shared between the watch task, the HTTP layer that
/// sees the API server's answers, and the handle the server reads.
#[derive(Debug)]
pub struct SyncState {
    started: Instant,
    kinds: Mutex<[KindSync; 3]>,
}

impl Default for SyncState {
    fn default() -> Self {
        SyncState {
            started: Instant::now(),
            kinds: Mutex::default(),
        }
    }
}

impl SyncState {
    fn kinds(&self) -> MutexGuard<'_, [KindSync; 3]> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.kinds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True once the first list of every watched kind has completed.
    pub fn ready(&self) -> bool {
        self.kinds().iter().all(|k| k.listed)
    }

    /// How long the catalog may have been out of date: zero while every watch is healthy, the
    /// time since the first unresolved failure otherwise, and the time since start until the
    /// first lists complete.
    pub fn age(&self) -> Duration {
        let now = Instant::now();
        let kinds = self.kinds();
        if !kinds.iter().all(|k| k.listed) {
            return now - self.started;
        }
        kinds
            .iter()
            .filter_map(|k| k.failing_since)
            .map(|since| now - since)
            .max()
            .unwrap_or_default()
    }

    /// The last failure of each kind whose watch is failing.
    pub fn failures(&self) -> Vec<(Kind, String)> {
        WATCHED
            .iter()
            .zip(self.kinds().iter())
            .filter(|(_, k)| k.failing_since.is_some())
            .map(|(kind, k)| (*kind, k.last_error.clone().unwrap_or_default()))
            .collect()
    }

    /// The API server answered for `kind`: a watch event, a completed list, or a watch accepted.
    pub fn mark_ok(&self, kind: Kind) {
        let mut kinds = self.kinds();
        let k = &mut kinds[slot(kind)];
        if let Some(since) = k.failing_since.take() {
            tracing::info!(
                kind = kind.as_str(),
                after_seconds = since.elapsed().as_secs(),
                "catalog: the watch is back in sync"
            );
            k.last_error = None;
        }
    }

    /// The watch of `kind` failed; the catalog keeps its last known state.
    pub fn mark_failed(&self, kind: Kind, error: String) {
        let mut kinds = self.kinds();
        let k = &mut kinds[slot(kind)];
        let since = *k.failing_since.get_or_insert_with(Instant::now);
        tracing::warn!(
            kind = kind.as_str(),
            error = error.as_str(),
            failing_for_seconds = since.elapsed().as_secs(),
            "catalog: watch failed; answering from the last known state and retrying with backoff"
        );
        k.last_error = Some(error);
    }

    /// Notes that `kind`'s first list completed; true when that makes every kind listed.
    fn mark_listed(&self, kind: Kind) -> bool {
        let mut kinds = self.kinds();
        let was_ready = kinds.iter().all(|k| k.listed);
        kinds[slot(kind)].listed = true;
        !was_ready && kinds.iter().all(|k| k.listed)
    }
}

/// The catalog being built, and where its snapshots go.
pub struct Store {
    lookup: Lookup,
    /// Per kind, the objects of a list in progress; the catalog keeps the previous state of
    /// that kind until the list is complete.
    relist: [Option<Vec<Summary>>; 3],
    changed: bool,
    publish: watch::Sender<Arc<Lookup>>,
    state: Arc<SyncState>,
}

impl Store {
    /// An empty store, the receiver of its snapshots, and its sync state.
    pub fn new(state: Arc<SyncState>) -> (Store, watch::Receiver<Arc<Lookup>>) {
        let lookup = Lookup::new(Coverage::Cluster);
        let (publish, snapshots) = watch::channel(Arc::new(lookup.clone()));
        let store = Store {
            lookup,
            relist: Default::default(),
            changed: false,
            publish,
            state,
        };
        (store, snapshots)
    }

    /// Applies one change of `kind`'s watch to the working catalog (not yet published).
    pub fn apply(&mut self, kind: Kind, change: Change) {
        let i = slot(kind);
        match change {
            Change::Relist => self.relist[i] = Some(Vec::new()),
            Change::Listed(summary) => self.relist[i].get_or_insert_with(Vec::new).push(summary),
            Change::ListDone => {
                let listed = self.relist[i].take().unwrap_or_default();
                self.lookup.clear(kind);
                for summary in listed {
                    summary.add_to(&mut self.lookup);
                }
                if self.state.mark_listed(kind) {
                    tracing::info!(
                        templates = self.lookup.templates(),
                        workload_refs = self.lookup.workload_refs(),
                        "catalog: the first lists are complete; ready"
                    );
                }
                self.state.mark_ok(kind);
                self.changed = true;
            }
            Change::Applied(summary) => {
                summary.add_to(&mut self.lookup);
                self.state.mark_ok(kind);
                self.changed = true;
            }
            Change::Deleted { namespace, name } => {
                self.lookup.remove(kind, &namespace, &name);
                self.state.mark_ok(kind);
                self.changed = true;
            }
        }
    }

    /// Hands the engine a snapshot of the catalog if it changed since the last one. The
    /// catalog's tables are shared with the snapshot until the next change copies a shard.
    pub fn publish(&mut self) {
        if std::mem::take(&mut self.changed) {
            self.publish.send_replace(Arc::new(self.lookup.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::objects;

    fn template(ns: &str, name: &str) -> Summary {
        let yaml = format!("apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{args: [{{name: a}}]}}\n");
        Summary::from_object(&objects(&yaml)[0]).unwrap()
    }

    fn rollout(ns: &str, name: &str, deployment: &str) -> Summary {
        Summary::Rollout {
            namespace: ns.into(),
            name: name.into(),
            workload: Some(deployment.into()),
        }
    }

    #[tokio::test]
    async fn a_relist_replaces_a_kind_only_when_complete() {
        let state = Arc::new(SyncState::default());
        let (mut store, snapshots) = Store::new(state.clone());
        let t = Kind::AnalysisTemplate;
        store.apply(t, Change::Relist);
        store.apply(t, Change::Listed(template("a", "one")));
        store.apply(t, Change::Listed(template("a", "two")));
        store.publish();
        assert!(
            snapshots.borrow().is_empty(),
            "nothing before the list is done"
        );
        store.apply(t, Change::ListDone);
        store.publish();
        assert_eq!(snapshots.borrow().templates(), 2);
        assert!(
            !state.ready(),
            "Rollouts and ClusterAnalysisTemplates are not listed yet"
        );

        // Listed again after a gap: "one" was deleted meanwhile and is not listed.
        store.apply(t, Change::Relist);
        store.apply(t, Change::Listed(template("a", "two")));
        store.publish();
        assert_eq!(
            snapshots.borrow().templates(),
            2,
            "the old state until done"
        );
        store.apply(t, Change::ListDone);
        store.publish();
        let c = snapshots.borrow().clone();
        assert!(c.template(false, "a", "one", "").is_none());
        assert!(c.template(false, "a", "two", "").is_some());
        assert_eq!(c.coverage(), Coverage::Cluster);
    }

    #[tokio::test]
    async fn ready_after_every_kind_listed_and_rollouts_tracked() {
        let state = Arc::new(SyncState::default());
        let (mut store, snapshots) = Store::new(state.clone());
        for kind in WATCHED {
            store.apply(kind, Change::Relist);
            store.apply(kind, Change::ListDone);
        }
        assert!(state.ready());
        assert_eq!(state.age(), Duration::ZERO);
        let r = Kind::Rollout;
        store.apply(r, Change::Applied(rollout("a", "r", "web")));
        store.publish();
        assert!(snapshots.borrow().manages("a", "web"));
        store.apply(r, Change::Applied(rollout("a", "r", "api")));
        store.apply(
            r,
            Change::Deleted {
                namespace: "a".into(),
                name: "nothing".into(),
            },
        );
        store.publish();
        assert!(!snapshots.borrow().manages("a", "web"));
        assert!(snapshots.borrow().manages("a", "api"));
    }

    #[tokio::test(start_paused = true)]
    async fn age_counts_from_the_first_unresolved_failure() {
        let state = Arc::new(SyncState::default());
        let (mut store, _snapshots) = Store::new(state.clone());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(state.age(), Duration::from_secs(3), "not synced yet");
        for kind in WATCHED {
            store.apply(kind, Change::ListDone);
        }
        assert_eq!(state.age(), Duration::ZERO);
        state.mark_failed(Kind::Rollout, "connection refused".into());
        tokio::time::advance(Duration::from_secs(10)).await;
        state.mark_failed(Kind::Rollout, "connection refused".into());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(state.age(), Duration::from_secs(15));
        assert_eq!(
            state.failures(),
            [(Kind::Rollout, "connection refused".to_string())]
        );
        assert!(state.ready(), "the last known state still answers");
        state.mark_ok(Kind::Rollout);
        assert_eq!(state.age(), Duration::ZERO);
        assert!(state.failures().is_empty());
    }
}
