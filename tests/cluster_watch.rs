//! The cluster watch against a scripted API server (kube's client over `tower_test::mock`):
//! the first list, changes, deletions, a watch that ends and resumes, history compacted under
//! it (410 Gone and a new list), an API server that goes away and comes back, and RBAC that
//! does not allow reading a kind. Time is Tokio's paused clock, so backoff costs nothing and
//! the catalog's age is exact.

mod kube_mock;

use kube_mock::KubeMock;
use rollout_guard::cluster::ClusterLookup;
use rollout_guard::engine::{review, Context};
use rollout_guard::manifest::Object;
use rollout_guard::policy::Policy;
use serde_json::{json, Value};
use std::time::Duration;

fn cluster_template(name: &str, args: &[&str]) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterAnalysisTemplate",
        "metadata": {"name": name, "uid": "u", "managedFields": [{"manager": "kubectl"}]},
        "spec": {
            "args": args.iter().map(|a| json!({"name": a})).collect::<Vec<_>>(),
            "metrics": [{"name": "rate", "interval": "1m", "count": 5, "failureLimit": 2,
                         "successCondition": "len(result) == 0 || result[0] >= 0.95",
                         "provider": {"prometheus": {"address": "http://prometheus:9090",
                             "query": "sum(rate(http{svc=\"{{args.service-name}}\"}[5m]))"}}}]
        }
    })
}

fn template(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"args": [{"name": "service-name"}],
                 "metrics": [{"name": "m", "interval": "1m", "failureLimit": 1,
                              "successCondition": "result[0] > 0",
                              "provider": {"prometheus": {"address": "http://p:9090",
                                  "query": "sum(up{job=\"{{args.service-name}}\"})"}}}]}
    })
}

fn rollout(namespace: &str, name: &str, deployment: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
                 "strategy": {"canary": {"steps": [{"setWeight": 50}]}}}
    })
}

/// Waits (on the paused clock) until `ready` holds; fails after ten virtual minutes.
async fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while !ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn count(requests: &[String], pattern: &str) -> usize {
    requests.iter().filter(|r| r.contains(pattern)).count()
}

fn lists(mock: &KubeMock) -> usize {
    mock.requests()
        .iter()
        .filter(|r| !r.contains("watch=true"))
        .count()
}

/// A Rollout passing no arguments to `success-rate`, as the webhook would receive it.
fn incoming_rollout() -> Object {
    Object::from_value(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"strategy": {"canary": {
            "steps": [{"setWeight": 50}, {"pause": {"duration": "1m"}}],
            "analysis": {"templates": [{"templateName": "success-rate", "clusterScope": true}]}}}}
    }))
    .unwrap()
}

/// A mock holding one template of each kind and one Rollout, and a synced catalog over it.
async fn synced() -> (KubeMock, ClusterLookup) {
    let mock = KubeMock::default();
    mock.apply(cluster_template("success-rate", &["service-name"]));
    mock.apply(template("shop", "latency"));
    mock.apply(rollout("shop", "web-rollout", "web"));
    let lookup = ClusterLookup::start(mock.start());
    assert!(!lookup.ready(), "not ready before the first lists");
    wait_for("the first lists", || lookup.ready()).await;
    (mock, lookup)
}

#[tokio::test(start_paused = true)]
async fn first_list_then_changes_and_deletions() {
    let (mock, lookup) = synced().await;
    let c = lookup.snapshot();
    assert_eq!((c.templates(), c.workload_refs()), (2, 1));
    assert!(c.template(true, "shop", "success-rate", "").is_some());
    assert!(c.template(false, "shop", "latency", "").is_some());
    assert!(c.manages("shop", "web") && !c.manages("other", "web"));
    assert_eq!(lookup.age(), Duration::ZERO);

    // kube's own request shapes: a paged list of each kind in all namespaces, then a watch from
    // the list's resourceVersion with bookmarks.
    let requests = mock.requests();
    for plural in ["analysistemplates", "clusteranalysistemplates", "rollouts"] {
        let list = format!("GET /apis/argoproj.io/v1alpha1/{plural}?");
        assert_eq!(
            count(&requests, &format!("{list}&limit=500")),
            1,
            "{requests:#?}"
        );
    }
    wait_for("three watches", || {
        count(&mock.requests(), "watch=true") == 3
    })
    .await;
    let watch = mock
        .requests()
        .into_iter()
        .find(|r| r.contains("/rollouts?") && r.contains("watch=true"))
        .unwrap();
    assert!(
        watch.contains("resourceVersion=3") && watch.contains("allowWatchBookmarks=true"),
        "{watch}"
    );

    // The engine's verdict on an incoming Rollout uses what the watch saw.
    let policy = Policy::embedded();
    let verdict = |lookup: &ClusterLookup| {
        let snapshot = lookup.snapshot();
        let r = review(
            &incoming_rollout(),
            &Context {
                policy: &policy,
                lookup: &snapshot,
            },
        );
        r.findings.iter().map(|f| f.rule.id).collect::<Vec<_>>()
    };
    assert_eq!(verdict(&lookup), ["RG111"]);

    // Added.
    mock.apply(template("shop", "errors"));
    wait_for("the added template", || {
        lookup
            .snapshot()
            .template(false, "shop", "errors", "")
            .is_some()
    })
    .await;
    // Updated: the template now also requires `namespace`.
    mock.apply(cluster_template(
        "success-rate",
        &["service-name", "namespace"],
    ));
    wait_for("the updated template", || {
        lookup
            .snapshot()
            .template(true, "", "success-rate", "")
            .is_some_and(|t| t.args.len() == 2)
    })
    .await;
    assert_eq!(verdict(&lookup), ["RG111", "RG111"]);
    mock.apply(rollout("shop", "web-rollout", "api"));
    wait_for("the updated Rollout", || {
        lookup.snapshot().manages("shop", "api")
    })
    .await;
    assert!(!lookup.snapshot().manages("shop", "web"));
    // Deleted.
    mock.delete("ClusterAnalysisTemplate", "", "success-rate");
    mock.delete("Rollout", "shop", "web-rollout");
    wait_for("the deletions", || {
        let c = lookup.snapshot();
        c.template(true, "", "success-rate", "").is_none() && c.workload_refs() == 0
    })
    .await;
    assert_eq!(verdict(&lookup), ["RG112"]);
    assert_eq!(
        lists(&mock),
        3,
        "changes arrive on the watches, no new list"
    );
}

#[tokio::test(start_paused = true)]
async fn a_watch_that_ends_resumes_from_where_it_was() {
    let (mock, lookup) = synced().await;
    wait_for("three watches", || {
        count(&mock.requests(), "watch=true") == 3
    })
    .await;
    mock.end_watches();
    mock.apply(template("shop", "after-the-end"));
    wait_for("the change made while no watch was open", || {
        lookup
            .snapshot()
            .template(false, "shop", "after-the-end", "")
            .is_some()
    })
    .await;
    assert_eq!(
        lists(&mock),
        3,
        "resumed from its resourceVersion, not listed again"
    );
    assert!(count(&mock.requests(), "watch=true") >= 6);
    assert_eq!(lookup.age(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn gone_410_lists_again_and_drops_what_was_deleted_meanwhile() {
    let (mock, lookup) = synced().await;
    wait_for("three watches", || {
        count(&mock.requests(), "watch=true") == 3
    })
    .await;
    // The open watches are told their history is gone: each kind is listed again.
    mock.compact();
    wait_for("three new lists", || lists(&mock) == 6).await;
    wait_for("the catalog in sync again", || {
        lookup.age() == Duration::ZERO
    })
    .await;
    assert_eq!(lookup.snapshot().templates(), 2);

    // A deletion the client never sees as an event: it happens while the server is away, and
    // the history is compacted before the client comes back.
    mock.go_away();
    wait_for("the failure noticed", || !lookup.failures().is_empty()).await;
    mock.delete("AnalysisTemplate", "shop", "latency");
    mock.apply(template("shop", "created-meanwhile"));
    mock.compact();
    mock.come_back();
    wait_for("the re-list", || {
        let c = lookup.snapshot();
        c.template(false, "shop", "latency", "").is_none()
            && c.template(false, "shop", "created-meanwhile", "").is_some()
    })
    .await;
    wait_for("the catalog in sync again", || {
        lookup.age() == Duration::ZERO
    })
    .await;
    assert!(lookup
        .snapshot()
        .template(true, "", "success-rate", "")
        .is_some());
}

#[tokio::test(start_paused = true)]
async fn an_api_server_that_goes_away_leaves_the_last_state_and_a_growing_age() {
    let (mock, lookup) = synced().await;
    wait_for("three watches", || {
        count(&mock.requests(), "watch=true") == 3
    })
    .await;
    let before = lookup.snapshot();
    mock.go_away();
    wait_for("the failure noticed", || lookup.failures().len() == 3).await;
    let failures = lookup.failures();
    assert!(
        failures.iter().all(|(_, e)| e.contains("connection")),
        "{failures:?}"
    );
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert!(
        lookup.age() >= Duration::from_secs(90),
        "{:?}",
        lookup.age()
    );
    let older = lookup.age();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(lookup.age() >= older + Duration::from_secs(30));
    // The webhook keeps answering from the last known state.
    assert!(lookup.ready());
    let now = lookup.snapshot();
    assert_eq!(
        (now.templates(), now.workload_refs()),
        (before.templates(), before.workload_refs())
    );
    assert!(now.manages("shop", "web"));

    // Back, in a quiet cluster: no event arrives, yet the accepted watches show it is in sync.
    let requests = mock.requests().len();
    mock.come_back();
    wait_for("the catalog in sync again", || {
        lookup.age() == Duration::ZERO
    })
    .await;
    assert!(lookup.failures().is_empty());
    assert!(mock.requests()[requests..]
        .iter()
        .all(|r| r.contains("watch=true")));
    mock.apply(rollout("shop", "api-rollout", "api"));
    wait_for("a change after the outage", || {
        lookup.snapshot().manages("shop", "api")
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_kind_it_may_not_read_is_named_and_keeps_it_unready() {
    let mock = KubeMock::default();
    mock.forbid("Rollout");
    let lookup = ClusterLookup::start(mock.start());
    wait_for("the failure", || !lookup.failures().is_empty()).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!lookup.ready());
    let (kind, error) = &lookup.failures()[0];
    assert_eq!(kind.as_str(), "Rollout");
    assert!(
        error.contains("needs get, list and watch on it") && error.contains("rollouts.argoproj.io"),
        "{error}"
    );
    assert!(lookup.age() >= Duration::from_secs(5));
}
