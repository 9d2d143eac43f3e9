//! A minimal Kubernetes API on loopback for `helm template --dry-run=server`: version,
//! discovery for the kinds the chart renders, and GET of the Secrets it is given. Enough for
//! helm's `lookup`, which is what keeps a generated certificate across `helm upgrade`.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A resource: (plural name, kind, namespaced).
type Resource = (&'static str, &'static str, bool);

/// (group, version, resources) the chart's objects map to.
const RESOURCES: &[(&str, &str, &[Resource])] = &[
    (
        "",
        "v1",
        &[
            ("secrets", "Secret", true),
            ("configmaps", "ConfigMap", true),
            ("services", "Service", true),
            ("serviceaccounts", "ServiceAccount", true),
            ("namespaces", "Namespace", false),
        ],
    ),
    ("apps", "v1", &[("deployments", "Deployment", true)]),
    (
        "policy",
        "v1",
        &[("poddisruptionbudgets", "PodDisruptionBudget", true)],
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        &[
            ("clusterroles", "ClusterRole", false),
            ("clusterrolebindings", "ClusterRoleBinding", false),
        ],
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        &[
            (
                "mutatingwebhookconfigurations",
                "MutatingWebhookConfiguration",
                false,
            ),
            (
                "validatingwebhookconfigurations",
                "ValidatingWebhookConfiguration",
                false,
            ),
        ],
    ),
    (
        "argoproj.io",
        "v1alpha1",
        &[
            ("rollouts", "Rollout", true),
            ("analysistemplates", "AnalysisTemplate", true),
            ("clusteranalysistemplates", "ClusterAnalysisTemplate", false),
        ],
    ),
];

/// A running fake API server.
pub struct FakeApi {
    pub kubeconfig: PathBuf,
    /// Every request path served, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeApi {
    /// Serves `secrets` (full Secret objects) on a loopback port, for the life of the test
    /// process; writes a kubeconfig for it into `dir`.
    pub fn start(dir: &Path, secrets: Vec<Value>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &secrets, &seen);
            }
        });
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\n\
                 clusters: [{{name: fake, cluster: {{server: \"http://{addr}\"}}}}]\n\
                 users: [{{name: fake, user: {{token: fake}}}}]\n\
                 contexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]\n\
                 current-context: fake\n"
            ),
        )
        .unwrap();
        FakeApi {
            kubeconfig,
            requests,
        }
    }
}

fn serve(stream: TcpStream, secrets: &[Value], seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Headers are not needed; read up to the blank line (GETs have no body).
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    seen.lock().unwrap().push(path.clone());
    let (status, body) = respond(&path, secrets);
    let body = body.to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn respond(path: &str, secrets: &[Value]) -> (&'static str, Value) {
    let not_found = (
        "404 Not Found",
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
    );
    let resource_list = |group: &str, version: &str| {
        RESOURCES
            .iter()
            .find(|(g, v, _)| *g == group && *v == version)
            .map(|(g, v, list)| {
                let gv = if g.is_empty() { v.to_string() } else { format!("{g}/{v}") };
                let resources: Vec<Value> = list
                    .iter()
                    .map(|(name, kind, namespaced)| {
                        json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced,
                               "kind": kind, "verbs": ["get", "list", "watch", "create", "update", "delete"]})
                    })
                    .collect();
                json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
            })
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["version"] => (
            "200 OK",
            json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0", "platform": "linux/amd64"}),
        ),
        ["api"] => (
            "200 OK",
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        ),
        ["apis"] => {
            let groups: Vec<Value> = RESOURCES
                .iter()
                .filter(|(g, _, _)| !g.is_empty())
                .map(|(g, v, _)| {
                    let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
                    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            (
                "200 OK",
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            )
        }
        ["api", "v1"] => ("200 OK", resource_list("", "v1").unwrap()),
        ["apis", g, v] => resource_list(g, v).map_or(not_found.clone(), |l| ("200 OK", l)),
        ["api", "v1", "namespaces", ns, "secrets", name] => secrets
            .iter()
            .find(|s| s["metadata"]["namespace"] == *ns && s["metadata"]["name"] == *name)
            .map_or(not_found.clone(), |s| ("200 OK", s.clone())),
        _ => not_found,
    }
}
