//! `rollout-guard serve --cluster` as a process, its kubeconfig pointing at the scripted API
//! (tests/kube_mock) over HTTP on loopback, driven over real TLS: not ready until the first
//! lists, verdicts that use what the cluster holds, the catalog's age while the API server is
//! away, and a clear error when there is no configuration at all.

mod kube_mock;
mod support;

use kube_mock::KubeMock;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::serve::{connect, tls_file_args, Pki, Serve};
use support::{bin, TempDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A kubeconfig naming `server`.
fn kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: test, cluster: {{server: '{server}'}}}}]\nusers: [{{name: test, user: {{token: t}}}}]\ncontexts: [{{name: test, context: {{cluster: test, user: test}}}}]\ncurrent-context: test\n"
        ),
    )
    .unwrap();
    path
}

/// `serve --cluster` (a certificate for localhost in `dir`, `kubeconfig`, `HOME` in `dir`),
/// and a client trusting its CA.
struct Cluster {
    serve: Serve,
    tls: Arc<rustls::ClientConfig>,
}

impl Cluster {
    fn start(dir: &Path, kubeconfig: &Path) -> Cluster {
        let pki = Pki::new();
        pki.write(dir);
        let mut args = vec!["--cluster".to_string()];
        args.extend(tls_file_args(dir));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let serve = Serve::start_with(&args, |cmd| {
            cmd.env("KUBECONFIG", kubeconfig)
                .env("HOME", dir)
                .env_remove("KUBERNETES_SERVICE_HOST");
        });
        Cluster {
            serve,
            tls: pki.client(),
        }
    }

    /// GET on the plain metrics port: (status, body).
    async fn get(&self, path: &str) -> (u16, String) {
        let mut s = tokio::net::TcpStream::connect(self.serve.metrics_addr)
            .await
            .unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).await.unwrap();
        let status = text[9..12].parse().unwrap();
        (status, text.split_once("\r\n\r\n").unwrap().1.to_string())
    }

    async fn age(&self) -> f64 {
        let (_, metrics) = self.get("/metrics").await;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("rollout_guard_catalog_age_seconds "))
            .expect("the catalog age metric")
            .parse()
            .unwrap()
    }

    /// POSTs an AdmissionReview of `object` to /validate over TLS; the response part.
    async fn validate(&self, object: Value) -> Value {
        let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u-1", "operation": "CREATE", "namespace": "shop",
                        "kind": {"group": "", "version": "v1", "kind": object["kind"]},
                        "object": object}});
        let mut conn = connect(self.serve.addr, self.tls.clone()).await.unwrap();
        let v = conn.post("/validate", review.to_string()).await.json();
        v["response"].clone()
    }
}

async fn eventually(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let until = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rollout_without(arg_missing: bool) -> Value {
    let mut args = vec![json!({"name": "service-name", "value": "web-canary"})];
    if !arg_missing {
        args.push(json!({"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}));
    }
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
           "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                    "strategy": {"canary": {"canaryService": "web-canary", "stableService": "web-stable",
                        "steps": [{"setWeight": 20}, {"pause": {"duration": "1m"}}],
                        "analysis": {"templates": [{"templateName": "team-success-rate", "clusterScope": true}],
                                     "args": args}}}}})
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
}

fn texts(response: &Value) -> String {
    format!("{} {}", response["status"]["message"], response["warnings"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_cluster_reviews_against_what_the_cluster_holds() {
    let dir = TempDir::new("cluster-serve-ok");
    let mock = KubeMock::default();
    mock.apply(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "ClusterAnalysisTemplate",
        "metadata": {"name": "team-success-rate"},
        "spec": {"args": [{"name": "service-name"}, {"name": "namespace"}],
                 "metrics": [{"name": "rate", "interval": "1m", "count": 5, "failureLimit": 2,
                              "successCondition": "len(result) == 0 || result[0] >= 0.95",
                              "provider": {"prometheus": {"address": "http://prometheus:9090",
                                  "query": "sum(rate(x{s=\"{{args.service-name}}\",n=\"{{args.namespace}}\"}[5m]))"}}}]}
    }));
    mock.apply(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web-rollout", "namespace": "shop"},
        "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}
    }));
    // Unreachable at first: the webhook must not report ready on an empty catalog.
    mock.go_away();
    let addr = mock.serve_http().await;
    let server = Cluster::start(&dir, &kubeconfig(&dir, &format!("http://{addr}")));
    assert_eq!(server.get("/readyz").await.0, 503);
    mock.come_back();
    eventually("/readyz 200", Duration::from_secs(60), async || {
        server.get("/readyz").await.0 == 200
    })
    .await;
    // A watch may still be retrying a connection the outage broke: in sync shortly after.
    eventually("age 0", Duration::from_secs(60), async || {
        server.age().await == 0.0
    })
    .await;

    // A Rollout that omits a required argument of the in-cluster template is denied.
    let denied = server.validate(rollout_without(true)).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert!(texts(&denied).contains("RG111"), "{denied}");
    let allowed = server.validate(rollout_without(false)).await;
    assert_eq!(allowed["allowed"], true, "{allowed}");
    // A Deployment a Rollout manages gets no RG301 warning; a lonely one does.
    let managed = server.validate(deployment("web")).await;
    assert!(!texts(&managed).contains("RG301"), "{managed}");
    let lonely = server.validate(deployment("lonely")).await;
    assert_eq!(lonely["allowed"], true);
    assert!(texts(&lonely).contains("RG301"), "{lonely}");
    // The policy's default template is not in this cluster: injecting it is allowed (it may
    // come in the same apply), with a warning at the injected reference.
    let mut bare = rollout_without(false);
    bare["spec"]["strategy"]["canary"]
        .as_object_mut()
        .unwrap()
        .remove("analysis");
    let injected = server.validate(bare).await;
    assert_eq!(injected["allowed"], true, "{injected}");
    assert!(
        texts(&injected).contains("RG112 at /spec/strategy/canary/analysis/templates/0")
            && texts(&injected).contains("success-rate-nginx"),
        "{injected}"
    );

    // The API server goes away: the last known state keeps answering, the age grows.
    mock.go_away();
    eventually("a growing age", Duration::from_secs(60), async || {
        server.age().await >= 1.0
    })
    .await;
    assert_eq!(server.get("/readyz").await.0, 200);
    let still = server.validate(rollout_without(true)).await;
    assert!(texts(&still).contains("RG111"), "{still}");
}

#[test]
fn serve_cluster_without_any_configuration_says_so() {
    let dir = TempDir::new("cluster-serve-none");
    let out = bin()
        .args([
            "serve",
            "--cluster",
            "--addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", dir.join("missing"))
        .env("HOME", dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rollout-guard: error: no Kubernetes configuration found"),
        "{stderr}"
    );
}
