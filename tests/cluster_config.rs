//! How `serve --cluster` finds the API server: the kubeconfig named by `KUBECONFIG` (over a real
//! HTTP connection to the scripted API on loopback), and a clear error when there is neither a
//! kubeconfig nor an in-cluster service account. One test, because it changes the process's
//! environment.

mod kube_mock;
mod support;

use kube_mock::KubeMock;
use rollout_guard::cluster::ClusterLookup;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn kubeconfig_is_used_and_its_absence_is_a_clear_error() {
    let dir = support::TempDir::new("cluster-config");
    // Neither a kubeconfig nor a pod's service account.
    std::env::set_var("HOME", dir.path());
    std::env::set_var("KUBECONFIG", dir.join("missing-kubeconfig"));
    std::env::remove_var("KUBERNETES_SERVICE_HOST");
    std::env::remove_var("KUBERNETES_SERVICE_PORT");
    let message = match ClusterLookup::connect().await {
        Ok(_) => panic!("connected with no configuration"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.starts_with("no Kubernetes configuration found")
            && message.contains("KUBECONFIG")
            && message.contains("KUBERNETES_SERVICE_HOST"),
        "{message}"
    );

    // A kubeconfig pointing at the scripted API over HTTP.
    let mock = KubeMock::default();
    mock.apply(json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "latency", "namespace": "shop"},
        "spec": {"args": [{"name": "service-name"}], "metrics": []}
    }));
    let addr = mock.serve_http().await;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: test, cluster: {{server: 'http://{addr}'}}}}]\nusers: [{{name: test, user: {{token: not-checked}}}}]\ncontexts: [{{name: test, context: {{cluster: test, user: test}}}}]\ncurrent-context: test\n"
        ),
    )
    .unwrap();
    std::env::set_var("KUBECONFIG", &kubeconfig);
    let lookup = ClusterLookup::connect().await.expect("a client");
    tokio::time::timeout(Duration::from_secs(30), async {
        while !lookup.ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("ready over HTTP");
    assert!(lookup
        .snapshot()
        .template(false, "shop", "latency", "")
        .is_some());
}
