//! What the cluster catalog costs with 10,000 AnalysisTemplates and 10,000 Rollouts in the
//! cluster, listed through the real watch code (kube's client, paged lists of 500) from the
//! scripted API. Prints the heap the catalog keeps, the process RSS, what keeping the whole
//! objects would have cost, and how fast single changes reach a published snapshot.
//!
//! Run: `cargo test --release --test cluster_memory -- --ignored --nocapture`

mod kube_mock;

use kube_mock::KubeMock;
use rollout_guard::cluster::ClusterLookup;
use serde_json::{json, Value};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The allocator the binary uses (mimalloc), counting the bytes live.
struct Counting;

static INNER: mimalloc::MiMalloc = mimalloc::MiMalloc;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { INNER.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { INNER.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { INNER.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const OBJECTS: usize = 10_000;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Metadata as a kubectl-applied object carries it: labels, the last-applied annotation (the
/// whole object again) and managed fields.
fn metadata(name: String, namespace: String, spec: &Value, kind: &str) -> Value {
    let applied = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": kind,
                         "metadata": {"name": name, "namespace": namespace}, "spec": spec});
    json!({
        "name": name, "namespace": namespace, "uid": format!("0b5c3f0e-{name}"),
        "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z",
        "labels": {"app.kubernetes.io/name": name, "team": namespace},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()},
        "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update",
                           "apiVersion": "argoproj.io/v1alpha1", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:spec": {"f:args": {}, "f:metrics": {}}}}]
    })
}

fn template(i: usize) -> Value {
    let spec = json!({
        "args": [{"name": "service-name"}, {"name": "namespace", "value": format!("team-{}", i % 100)},
                 {"name": "threshold", "value": "0.95"}],
        "metrics": [
            {"name": "success-rate", "interval": "1m", "count": 5, "failureLimit": 2,
             "successCondition": "len(result) == 0 || result[0] >= {{args.threshold}}",
             "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090", "timeout": 30,
                 "query": format!("sum(rate(http_requests_total{{service=\"{{{{args.service-name}}}}\",namespace=\"{{{{args.namespace}}}}\",code!~\"5..\",route=\"/api/v{i}\"}}[2m])) / sum(rate(http_requests_total{{service=\"{{{{args.service-name}}}}\",namespace=\"{{{{args.namespace}}}}\",route=\"/api/v{i}\"}}[2m]))")}}},
            {"name": "latency-p99", "interval": "1m", "count": 5, "failureLimit": 1,
             "successCondition": "len(result) == 0 || result[0] < 0.5",
             "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090",
                 "query": format!("histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{{service=\"{{{{args.service-name}}}}\",route=\"/api/v{i}\"}}[2m])) by (le))")}}}
        ]
    });
    let meta = metadata(
        format!("success-rate-{i}"),
        format!("team-{}", i % 100),
        &spec,
        "AnalysisTemplate",
    );
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": meta, "spec": spec})
}

/// Half the Rollouts carry their pod template, half point at a Deployment with workloadRef.
fn rollout(i: usize) -> Value {
    let mut spec = json!({
        "replicas": 3, "revisionHistoryLimit": 5,
        "selector": {"matchLabels": {"app": format!("app-{i}")}},
        "strategy": {"canary": {
            "canaryService": format!("app-{i}-canary"), "stableService": format!("app-{i}-stable"),
            "trafficRouting": {"nginx": {"stableIngress": format!("app-{i}")}},
            "analysis": {"templates": [{"templateName": format!("success-rate-{i}")}], "startingStep": 1,
                         "args": [{"name": "service-name", "value": format!("app-{i}-canary")}]},
            "steps": [{"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 33},
                      {"pause": {"duration": "1m"}}, {"setWeight": 66}, {"pause": {"duration": "1m"}}]}}
    });
    if i % 2 == 0 {
        spec["workloadRef"] =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("app-{i}")});
    } else {
        spec["template"] = json!({
            "metadata": {"labels": {"app": format!("app-{i}")}},
            "spec": {"serviceAccountName": "app", "containers": [{
                "name": "app", "image": format!("registry.example.com/team/app:{i}.0.0"),
                "ports": [{"containerPort": 8080, "name": "http"}],
                "env": (0..8).map(|e| json!({"name": format!("SETTING_{e}"), "value": format!("value-{i}-{e}")})).collect::<Vec<_>>(),
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
                "livenessProbe": {"httpGet": {"path": "/live", "port": "http"}, "periodSeconds": 10}}]}
        });
    }
    let meta = metadata(
        format!("app-{i}"),
        format!("team-{}", i % 100),
        &spec,
        "Rollout",
    );
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": meta, "spec": spec})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
async fn memory_with_10000_templates_and_10000_rollouts() {
    let mock = KubeMock::default();
    mock.generate("AnalysisTemplate", OBJECTS, template);
    mock.generate("Rollout", OBJECTS, rollout);
    let (heap0, rss0) = (LIVE.load(Ordering::Relaxed), rss());
    PEAK.store(heap0, Ordering::Relaxed);

    let started = Instant::now();
    let lookup = ClusterLookup::start(mock.start());
    while !lookup.ready() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let synced = started.elapsed();
    let snapshot = lookup.snapshot();
    assert_eq!(snapshot.templates(), OBJECTS);
    assert_eq!(snapshot.workload_refs(), OBJECTS / 2);
    drop(snapshot);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (heap1, rss1) = (LIVE.load(Ordering::Relaxed), rss());
    let peak = PEAK.load(Ordering::Relaxed);

    // Single changes, each published before the next is sent.
    let changes = 1_000;
    let t = Instant::now();
    for i in 0..changes {
        let mut obj = template(i);
        obj["metadata"]["name"] = json!(format!("changed-{i}"));
        mock.apply(obj);
        while lookup
            .snapshot()
            .template(
                false,
                &format!("team-{}", i % 100),
                &format!("changed-{i}"),
                "",
            )
            .is_none()
        {
            tokio::task::yield_now().await;
        }
    }
    let per_change = t.elapsed() / changes as u32;

    // For comparison: the same objects held whole, as a reflector of DynamicObjects would.
    let heap2 = LIVE.load(Ordering::Relaxed);
    let whole: Vec<Value> = (0..OBJECTS)
        .flat_map(|i| [template(i), rollout(i)])
        .collect();
    let whole_heap = LIVE.load(Ordering::Relaxed) - heap2;
    let json_bytes: usize = whole.iter().map(|v| v.to_string().len()).sum();
    drop(whole);

    println!("cluster catalog, {OBJECTS} AnalysisTemplates + {OBJECTS} Rollouts (half with workloadRef):");
    println!("  first lists to ready:         {synced:.2?}");
    println!(
        "  heap kept by the catalog:     {:.1} MiB ({} bytes per object)",
        mib(heap1 - heap0),
        (heap1 - heap0) / (2 * OBJECTS)
    );
    println!(
        "  heap peak while listing:      {:.1} MiB above the start (mock pages included)",
        mib(peak - heap0)
    );
    println!(
        "  process RSS:                  {:.1} MiB (before the watch {:.1} MiB, +{:.1} MiB)",
        mib(rss1),
        mib(rss0),
        mib(rss1.saturating_sub(rss0))
    );
    println!(
        "  the objects held whole:       {:.1} MiB of serde_json values ({:.1} MiB as JSON)",
        mib(whole_heap),
        mib(json_bytes)
    );
    println!("  one change to a new snapshot: {per_change:.2?} (mean of {changes}, through the mock API)");
}
