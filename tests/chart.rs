//! The Helm chart through a real `helm` (`HELM`, or `helm` on PATH; `.ci/install-helm` installs
//! one): lint, render in every TLS mode, and check the rendered objects: the webhook
//! configurations, the certificates (with openssl), RBAC, the Deployment, the policy and the
//! templates from `policies/`, the values schema, `rollout-guard lint` over the result, and the
//! Kubernetes API schemas (`KUBERNETES_VALIDATE`; `.ci/install-kubernetes-validate`).

#[path = "support/fake_api.rs"]
mod fake_api;
mod support;

use rollout_guard::certs::service_names;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{b64, bin, dns_sans, repo, strict_crd_schema, verifies_for_host, TempDir};

const RELEASE: &str = "rg";
const NAMESPACE: &str = "guard-system";
/// The Service name the chart derives from the release name.
const SERVICE: &str = "rg-rollout-guard";

fn helm(args: &[&str]) -> std::process::Output {
    Command::new(support::HELM.path())
        .args(args)
        .output()
        .unwrap()
}

fn chart() -> String {
    repo().join("charts/rollout-guard").display().to_string()
}

/// `helm template` of the chart with `args`; `Err(stderr)` when helm refuses.
fn try_render(args: &[&str]) -> Result<Vec<Value>, String> {
    try_render_chart(&chart(), args)
}

fn try_render_chart(chart: &str, args: &[&str]) -> Result<Vec<Value>, String> {
    let out = helm(
        &[
            &["template", RELEASE, chart, "--namespace", NAMESPACE],
            args,
        ]
        .concat(),
    );
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(parse_stream(&String::from_utf8(out.stdout).unwrap()))
}

fn render(args: &[&str]) -> Vec<Value> {
    try_render(args).unwrap_or_else(|e| panic!("helm template {args:?} failed:\n{e}"))
}

fn parse_stream(text: &str) -> Vec<Value> {
    support::parse_yaml_stream(text)
}

fn all<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = all(docs, kind);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {kind}, found {}",
        found.len()
    );
    found[0]
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The only webhook of a webhook configuration.
fn webhook<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let hooks = one(docs, kind)["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    &hooks[0]
}

fn container(docs: &[Value]) -> &Value {
    let containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 1);
    &containers[0]
}

fn args(docs: &[Value]) -> Vec<String> {
    strings(&container(docs)["args"])
}

/// The value of `--flag=value` among the container's arguments.
fn flag(docs: &[Value], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    args(docs)
        .iter()
        .find_map(|a| a.strip_prefix(&prefix).map(str::to_string))
}

/// The Secret volume the serving certificate is mounted from, and where `--tls-cert` points.
fn mounted_tls_secret(docs: &[Value]) -> String {
    let pod = &one(docs, "Deployment")["spec"]["template"]["spec"];
    let cert = flag(docs, "--tls-cert").expect("--tls-cert");
    let key = flag(docs, "--tls-key").expect("--tls-key");
    let mount = container(docs)["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| cert.starts_with(m["mountPath"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("--tls-cert {cert} is not in a mounted volume"));
    let dir = mount["mountPath"].as_str().unwrap();
    assert_eq!(cert, format!("{dir}/tls.crt"));
    assert_eq!(key, format!("{dir}/tls.key"));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    volume["secret"]["secretName"].as_str().unwrap().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn rules_of(hook: &Value) -> Vec<(String, String, String, Vec<String>)> {
    let mut out = Vec::new();
    for rule in hook["rules"].as_array().unwrap() {
        for g in strings(&rule["apiGroups"]) {
            for v in strings(&rule["apiVersions"]) {
                for r in strings(&rule["resources"]) {
                    out.push((g.clone(), v.clone(), r, strings(&rule["operations"])));
                }
            }
        }
    }
    out.sort();
    out
}

/// Checks what every webhook must have, whatever the values.
fn check_webhook(docs: &[Value], kind: &str, path: &str) {
    let hook = webhook(docs, kind);
    let ops = vec!["CREATE".to_string(), "UPDATE".to_string()];
    let mut expected: Vec<_> = [
        ("apps", "v1", "deployments"),
        ("argoproj.io", "v1alpha1", "analysistemplates"),
        ("argoproj.io", "v1alpha1", "clusteranalysistemplates"),
        ("argoproj.io", "v1alpha1", "rollouts"),
    ]
    .iter()
    .map(|(g, v, r)| (g.to_string(), v.to_string(), r.to_string(), ops.clone()))
    .collect();
    expected.sort();
    let mut reviewed: Vec<_> = rollout_guard::manifest::Kind::ALL
        .iter()
        .map(|k| {
            (
                k.group().into(),
                k.version().into(),
                k.plural().into(),
                ops.clone(),
            )
        })
        .collect();
    reviewed.sort();
    assert_eq!(
        expected, reviewed,
        "the chart's webhooks review exactly Kind::ALL"
    );
    assert_eq!(rules_of(hook), expected, "{kind} rules");
    assert_eq!(hook["sideEffects"], "None");
    assert_eq!(hook["admissionReviewVersions"], json!(["v1"]));
    let service = &hook["clientConfig"]["service"];
    assert_eq!(service["path"], path);
    assert_eq!(service["namespace"], NAMESPACE);
    // The webhook calls the chart's Service, on a port that reaches the container's TLS port.
    let svc = one(docs, "Service");
    assert_eq!(service["name"], svc["metadata"]["name"]);
    assert_eq!(svc["metadata"]["namespace"], NAMESPACE);
    let port = svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == service["port"])
        .expect("the webhook's port is a Service port");
    let container_port = container(docs)["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == port["targetPort"])
        .expect("the Service port targets a named container port");
    let addr = flag(docs, "--addr").unwrap();
    assert_eq!(
        addr.rsplit(':').next().unwrap(),
        container_port["containerPort"].to_string(),
        "serve --addr listens on the port the Service sends to"
    );
    // Never the kube-system or the release namespace, whatever else is selected.
    let excluded = excluded_namespaces(hook);
    for ns in ["kube-system", NAMESPACE] {
        assert!(
            excluded.contains(&ns.to_string()),
            "{kind} must leave out {ns}"
        );
    }
}

fn excluded_namespaces(hook: &Value) -> Vec<String> {
    let exprs = hook["namespaceSelector"]["matchExpressions"]
        .as_array()
        .unwrap();
    let not_in = exprs
        .iter()
        .find(|e| e["key"] == "kubernetes.io/metadata.name" && e["operator"] == "NotIn")
        .expect("a NotIn kubernetes.io/metadata.name expression");
    strings(&not_in["values"])
}

fn ca_bundle(hook: &Value) -> Option<&str> {
    hook["clientConfig"]["caBundle"].as_str()
}

fn expected_sans() -> Vec<String> {
    let mut names = service_names(SERVICE, NAMESPACE);
    names.sort();
    names
}

/// `helm lint --strict` with `extra` values passes.
fn helm_lint_strict_passes(extra: &[&str]) {
    require!(support::HELM);
    let out = helm(&[&["lint", "--strict", &chart()], extra].concat());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "helm lint --strict {extra:?}:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("0 chart(s) failed"), "{text}");
}

// In every TLS mode.
cases! {
    helm_lint_strict_passes:
    helm_lint_strict_passes_in_generate_mode => (&[]),
    helm_lint_strict_passes_in_cert_manager_mode => (&["--set", "tls.mode=certManager"]),
    helm_lint_strict_passes_in_secret_mode => (&[
        "--set",
        "tls.mode=secret",
        "--set",
        "tls.secretName=mine",
        "--set",
        "tls.caBundle=Q0E=",
    ]),
    helm_lint_strict_passes_with_a_service_monitor_and_one_replica => (&[
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "replicaCount=1",
    ]),
}

#[test]
fn generate_mode_serves_a_certificate_for_the_service_the_webhooks_call() {
    require!(support::HELM, support::OPENSSL);
    let docs = render(&[]);
    check_webhook(&docs, "MutatingWebhookConfiguration", "/mutate");
    check_webhook(&docs, "ValidatingWebhookConfiguration", "/validate");

    let secret = one(&docs, "Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(
        mounted_tls_secret(&docs),
        secret["metadata"]["name"].as_str().unwrap()
    );
    let data = &secret["data"];
    let ca = b64(data["ca.crt"].as_str().unwrap());
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let bundle = ca_bundle(webhook(&docs, kind)).expect("caBundle");
        assert_eq!(b64(bundle), ca, "{kind} caBundle is the generated CA");
    }

    // The certificate is for exactly the names the Service is reached by, and chains to the CA.
    let dir = TempDir::new("chart-generate");
    std::fs::write(dir.join("ca.crt"), &ca).unwrap();
    std::fs::write(dir.join("tls.crt"), b64(data["tls.crt"].as_str().unwrap())).unwrap();
    std::fs::write(dir.join("tls.key"), b64(data["tls.key"].as_str().unwrap())).unwrap();
    let hook = webhook(&docs, "ValidatingWebhookConfiguration");
    let service = &hook["clientConfig"]["service"];
    let host = format!(
        "{}.{}.svc",
        service["name"].as_str().unwrap(),
        service["namespace"].as_str().unwrap()
    );
    assert_eq!(dns_sans(&dir.join("tls.crt")), expected_sans());
    verifies_for_host(&dir.join("ca.crt"), &dir.join("tls.crt"), &host).unwrap();
    let (cert_pub, key_pub) = support::public_keys(&dir.join("tls.crt"), &dir.join("tls.key"));
    assert_eq!(cert_pub, key_pub);

    // A new render (no cluster to look the Secret up in) makes a new CA: the pods roll with it.
    let again = render(&[]);
    assert_ne!(one(&again, "Secret")["data"]["ca.crt"], data["ca.crt"]);
    let checksum = |d: &[Value]| {
        one(d, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/tls"].clone()
    };
    assert_ne!(checksum(&docs), checksum(&again));
}

#[test]
fn default_webhook_settings() {
    require!(support::HELM);
    let docs = render(&[]);
    let mutating = webhook(&docs, "MutatingWebhookConfiguration");
    let validating = webhook(&docs, "ValidatingWebhookConfiguration");
    for hook in [mutating, validating] {
        assert_eq!(hook["failurePolicy"], "Fail");
        assert_eq!(hook["timeoutSeconds"], 5);
        assert!(hook.get("objectSelector").is_none());
        let mut excluded = excluded_namespaces(hook);
        excluded.sort();
        // kube-system, the release namespace and the default policy's exclusions.
        assert_eq!(
            excluded,
            [
                "guard-system",
                "kube-node-lease",
                "kube-public",
                "kube-system"
            ]
        );
        assert_eq!(
            hook["namespaceSelector"]["matchExpressions"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    assert_eq!(mutating["reinvocationPolicy"], "IfNeeded");
    assert!(validating.get("reinvocationPolicy").is_none());
}

#[test]
fn webhook_settings_and_selectors_from_values() {
    require!(support::HELM);
    let dir = TempDir::new("chart-selectors");
    let values = write(
        &dir,
        "values.yaml",
        r#"
webhook:
  failurePolicy: Ignore
  timeoutSeconds: 10
  namespaceSelector:
    matchLabels: {team: payments}
    matchExpressions:
      - {key: rollout-guard.io/enforce, operator: NotIn, values: ["false"]}
  objectSelector:
    matchExpressions:
      - {key: rollout-guard.io/skip, operator: DoesNotExist}
"#,
    );
    let docs = render(&["-f", values.to_str().unwrap()]);
    for (kind, path) in [
        ("MutatingWebhookConfiguration", "/mutate"),
        ("ValidatingWebhookConfiguration", "/validate"),
    ] {
        check_webhook(&docs, kind, path);
        let hook = webhook(&docs, kind);
        assert_eq!(hook["failurePolicy"], "Ignore");
        assert_eq!(hook["timeoutSeconds"], 10);
        let selector = &hook["namespaceSelector"];
        assert_eq!(selector["matchLabels"], json!({"team": "payments"}));
        assert!(selector["matchExpressions"].as_array().unwrap().contains(
            &json!({"key": "rollout-guard.io/enforce", "operator": "NotIn", "values": ["false"]})
        ));
        assert_eq!(
            hook["objectSelector"],
            json!({"matchExpressions": [{"key": "rollout-guard.io/skip", "operator": "DoesNotExist"}]})
        );
    }

    // Only the validating webhook when mutation is off.
    let docs = render(&["--set", "webhook.mutating=false"]);
    assert!(all(&docs, "MutatingWebhookConfiguration").is_empty());
    check_webhook(&docs, "ValidatingWebhookConfiguration", "/validate");
}

#[test]
fn cert_manager_mode_issues_the_certificate_and_injects_the_ca() {
    require!(support::HELM);
    let docs = render(&["--set", "tls.mode=certManager"]);
    assert!(
        all(&docs, "Secret").is_empty(),
        "cert-manager writes the Secret"
    );
    let cert = one(&docs, "Certificate");
    assert_eq!(cert["apiVersion"], "cert-manager.io/v1");
    let mut dns = strings(&cert["spec"]["dnsNames"]);
    dns.sort();
    assert_eq!(dns, expected_sans());
    assert_eq!(
        cert["spec"]["secretName"].as_str().unwrap(),
        mounted_tls_secret(&docs)
    );
    let issuer = one(&docs, "Issuer");
    assert_eq!(issuer["spec"], json!({"selfSigned": {}}));
    assert_eq!(
        cert["spec"]["issuerRef"]["name"],
        issuer["metadata"]["name"]
    );
    assert_eq!(cert["spec"]["issuerRef"]["kind"], "Issuer");
    let cert_ref = format!(
        "{}/{}",
        cert["metadata"]["namespace"].as_str().unwrap(),
        cert["metadata"]["name"].as_str().unwrap()
    );
    for (kind, path) in [
        ("MutatingWebhookConfiguration", "/mutate"),
        ("ValidatingWebhookConfiguration", "/validate"),
    ] {
        check_webhook(&docs, kind, path);
        let config = one(&docs, kind);
        assert_eq!(
            config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            cert_ref.as_str()
        );
        assert_eq!(
            ca_bundle(webhook(&docs, kind)),
            None,
            "cert-manager injects caBundle"
        );
    }

    // An existing ClusterIssuer: no Issuer of ours.
    let docs = render(&[
        "--set",
        "tls.mode=certManager",
        "--set",
        "tls.certManager.issuerRef.name=corp-ca",
        "--set",
        "tls.certManager.issuerRef.kind=ClusterIssuer",
    ]);
    assert!(all(&docs, "Issuer").is_empty());
    assert_eq!(
        one(&docs, "Certificate")["spec"]["issuerRef"],
        json!({"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"})
    );
}

#[test]
fn secret_mode_uses_certificates_from_the_certs_command() {
    require!(support::HELM, support::OPENSSL);
    // The certificate made by `rollout-guard certs` for the chart's Service is the one the chart
    // mounts, and the caBundle it prints is the one the webhooks trust.
    let dir = TempDir::new("chart-secret");
    let out = bin()
        .args([
            "certs",
            "--service",
            SERVICE,
            "--namespace",
            NAMESPACE,
            "--out",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bundle = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let docs = render(&[
        "--set",
        "tls.mode=secret",
        "--set",
        "tls.secretName=rg-serving",
        "--set",
        &format!("tls.caBundle={bundle}"),
    ]);
    assert!(all(&docs, "Secret").is_empty() && all(&docs, "Certificate").is_empty());
    assert_eq!(mounted_tls_secret(&docs), "rg-serving");
    for (kind, path) in [
        ("MutatingWebhookConfiguration", "/mutate"),
        ("ValidatingWebhookConfiguration", "/validate"),
    ] {
        check_webhook(&docs, kind, path);
        let hook = webhook(&docs, kind);
        assert_eq!(ca_bundle(hook), Some(bundle.as_str()));
        let svc = &hook["clientConfig"]["service"];
        let host = format!(
            "{}.{}.svc",
            svc["name"].as_str().unwrap(),
            svc["namespace"].as_str().unwrap()
        );
        verifies_for_host(&dir.join("ca.crt"), &dir.join("tls.crt"), &host).unwrap();
    }
    assert_eq!(dns_sans(&dir.join("tls.crt")), expected_sans());

    // Without the Secret's name or CA, helm refuses and says which value is missing.
    let err = try_render(&[
        "--set",
        "tls.mode=secret",
        "--set",
        &format!("tls.caBundle={bundle}"),
    ])
    .unwrap_err();
    assert!(err.contains("secretName"), "{err}");
    let err = try_render(&[
        "--set",
        "tls.mode=secret",
        "--set",
        "tls.secretName=rg-serving",
    ])
    .unwrap_err();
    assert!(err.contains("caBundle"), "{err}");
}

/// `--set SET` is refused by the values schema, naming `name`.
fn values_schema_rejects(set: &str, name: &str) {
    require!(support::HELM);
    let err = try_render(&["--set", set]).expect_err(set);
    assert!(err.contains("schema"), "--set {set}: {err}");
    assert!(
        err.contains(name),
        "--set {set}: the error must name {name}:\n{err}"
    );
}

cases! {
    values_schema_rejects:
    values_schema_rejects_a_replica_count_not_a_number => ("replicaCount=banana", "replicaCount"),
    values_schema_rejects_an_unknown_tls_mode => ("tls.mode=selfsigned", "tls/mode"),
    values_schema_rejects_an_unknown_failure_policy => ("webhook.failurePolicy=Maybe", "webhook/failurePolicy"),
    values_schema_rejects_a_timeout_over_30_seconds => ("webhook.timeoutSeconds=60", "webhook/timeoutSeconds"),
    values_schema_rejects_an_unknown_rule_setting => ("policy.rules.RG105=loud", "policy/rules/RG105"),
    values_schema_rejects_an_unknown_rule => ("policy.rules.RG9=off", "RG9"),
    values_schema_rejects_an_unknown_log_format => ("logFormat=xml", "logFormat"),
    values_schema_rejects_an_unknown_value => ("replicas=3", "replicas"),
}

#[test]
fn values_schema_runs_at_lint_time_too() {
    require!(support::HELM);
    // The same check runs at install and lint time.
    let out = helm(&["lint", &chart(), "--set", "replicaCount=banana"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("replicaCount"));
}

#[test]
fn rbac_is_read_only_on_exactly_the_watched_resources() {
    require!(support::HELM);
    let docs = render(&[]);
    let role = one(&docs, "ClusterRole");
    assert_eq!(
        role["rules"],
        json!([{
            "apiGroups": ["argoproj.io"],
            "resources": ["rollouts", "analysistemplates", "clusteranalysistemplates"],
            "verbs": ["get", "list", "watch"]
        }])
    );
    assert!(all(&docs, "Role").is_empty() && all(&docs, "RoleBinding").is_empty());
    let binding = one(&docs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = one(&docs, "ServiceAccount");
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}])
    );
    assert!(args(&docs).contains(&"--cluster".to_string()));
    assert_eq!(pod["automountServiceAccountToken"], true);

    // Without the cluster watch: no RBAC, no token, no --cluster.
    let docs = render(&["--set", "cluster.enabled=false"]);
    assert!(all(&docs, "ClusterRole").is_empty() && all(&docs, "ClusterRoleBinding").is_empty());
    assert!(!args(&docs).contains(&"--cluster".to_string()));
    assert_eq!(
        one(&docs, "Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"],
        false
    );
}

#[test]
fn deployment_is_highly_available_and_locked_down() {
    require!(support::HELM);
    let docs = render(&[]);
    let deploy = one(&docs, "Deployment");
    let pod = &deploy["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(
        deploy["spec"]["selector"]["matchLabels"],
        one(&docs, "Service")["spec"]["selector"]
    );

    let anti = &pod["spec"]["affinity"]["podAntiAffinity"]
        ["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        anti["labelSelector"]["matchLabels"],
        deploy["spec"]["selector"]["matchLabels"]
    );
    for (k, v) in deploy["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&labels[k], v);
    }

    let pdb = one(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deploy["spec"]["selector"]["matchLabels"]
    );
    // One replica: a PDB of minAvailable 1 would block every drain, so there is none.
    assert!(all(&render(&["--set", "replicaCount=1"]), "PodDisruptionBudget").is_empty());

    let c = container(&docs);
    for kind in ["requests", "limits"] {
        for res in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][res].is_string(),
                "resources.{kind}.{res}"
            );
        }
    }
    let metrics_port = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .unwrap()["containerPort"]
        .clone();
    assert_eq!(
        flag(&docs, "--metrics-addr").unwrap(),
        format!("0.0.0.0:{metrics_port}")
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"],
        json!({"path": "/healthz", "port": "metrics"})
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"],
        json!({"path": "/readyz", "port": "metrics"})
    );

    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    let psc = &pod["spec"]["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert!(psc["runAsUser"].as_i64().unwrap() > 0);

    // The policy comes from the chart's ConfigMap.
    let policy = flag(&docs, "--policy").unwrap();
    let (dir, file) = policy.rsplit_once('/').unwrap();
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == dir)
        .expect("--policy is in a mounted volume");
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let cm = one(&docs, "ConfigMap");
    assert_eq!(volume["configMap"]["name"], cm["metadata"]["name"]);
    assert!(cm["data"][file].is_string());
    assert_eq!(flag(&docs, "--log-format").unwrap(), "json");
}

/// The policy in the chart's ConfigMap, as JSON.
fn chart_policy(docs: &[Value]) -> Value {
    let text = one(docs, "ConfigMap")["data"]["policy.yaml"]
        .as_str()
        .unwrap();
    parse_stream(text).remove(0)
}

fn repo_yaml(rel: &str) -> Value {
    parse_stream(&std::fs::read_to_string(repo().join(rel)).unwrap()).remove(0)
}

#[test]
fn chart_policy_and_templates_are_the_ones_in_policies() {
    require!(support::HELM);
    // One source of truth: the chart reaches policies/ through a symlink.
    let link = repo().join("charts/rollout-guard/files/policies");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(
        link.canonicalize().unwrap(),
        repo().join("policies").canonicalize().unwrap()
    );

    let docs = render(&[]);
    assert_eq!(chart_policy(&docs), repo_yaml("policies/default.yaml"));

    let mut shipped: Vec<String> = std::fs::read_dir(repo().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("success-rate-") && n.ends_with(".yaml"))
        .collect();
    shipped.sort();
    assert!(!shipped.is_empty());
    let templates = all(&docs, "ClusterAnalysisTemplate");
    assert_eq!(templates.len(), shipped.len());
    for file in &shipped {
        let expected = repo_yaml(&format!("policies/{file}"));
        let mut got = templates
            .iter()
            .find(|t| t["metadata"]["name"] == expected["metadata"]["name"])
            .unwrap_or_else(|| panic!("{file} is not rendered"))
            .to_owned()
            .clone();
        // The chart adds its labels; everything else is the file's.
        assert_eq!(
            got["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "Helm"
        );
        got["metadata"].as_object_mut().unwrap().remove("labels");
        assert_eq!(got, expected, "{file}");
    }
    // The default policy names one of them.
    let default_template = &chart_policy(&docs)["spec"]["analysis"]["defaultTemplate"]["name"];
    assert!(templates
        .iter()
        .any(|t| &t["metadata"]["name"] == default_template));

    assert!(all(
        &render(&["--set", "analysisTemplates.enabled=false"]),
        "ClusterAnalysisTemplate"
    )
    .is_empty());
}

#[test]
fn packaged_chart_carries_the_policies() {
    require!(support::HELM);
    // `helm package` follows the symlink: the packaged chart renders the same policy.
    let dir = TempDir::new("chart-package");
    let out = helm(&["package", &chart(), "--destination", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tgz = dir.join("rollout-guard-0.1.0.tgz");
    let docs = try_render_chart(tgz.to_str().unwrap(), &[]).unwrap();
    assert_eq!(chart_policy(&docs), repo_yaml("policies/default.yaml"));
    assert_eq!(all(&docs, "ClusterAnalysisTemplate").len(), 3);
}

#[test]
fn values_override_the_policy() {
    require!(support::HELM);
    let dir = TempDir::new("chart-policy");
    let values = write(
        &dir,
        "values.yaml",
        r#"
policy:
  rules: {RG105: deny, RG301: "off"}
  defaultSteps: [{setWeight: 20}, {pause: {duration: 5m}}]
  defaultTemplate: {name: success-rate-istio, clusterScope: true}
  excludeNamespaces: [legacy, sandbox]
"#,
    );
    let docs = render(&["-f", values.to_str().unwrap()]);
    let policy = chart_policy(&docs);
    let mut expected = repo_yaml("policies/default.yaml");
    let spec = &mut expected["spec"];
    spec["rules"] = json!({"RG105": "deny", "RG301": "off"});
    spec["canary"]["defaultSteps"] = json!([{"setWeight": 20}, {"pause": {"duration": "5m"}}]);
    spec["analysis"]["defaultTemplate"] =
        json!({"name": "success-rate-istio", "clusterScope": true});
    spec["namespaces"]["exclude"] = json!(["legacy", "sandbox"]);
    assert_eq!(policy, expected);

    // The excluded namespaces never reach the webhooks either; kube-system and the release
    // namespace stay excluded.
    let mut excluded = excluded_namespaces(webhook(&docs, "ValidatingWebhookConfiguration"));
    excluded.sort();
    assert_eq!(
        excluded,
        ["guard-system", "kube-system", "legacy", "sandbox"]
    );

    // The binary accepts the rendered policy, and applies it: RG105 is deny under it.
    let text = one(&docs, "ConfigMap")["data"]["policy.yaml"]
        .as_str()
        .unwrap();
    let policy_file = write(&dir, "policy.yaml", text);
    let template = write(
        &dir,
        "template.yaml",
        r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: unguarded}
spec:
  metrics:
    - name: rate
      interval: 1m
      count: 5
      failureLimit: 2
      successCondition: result[0] >= 0.95
      provider:
        prometheus: {address: "http://prometheus:9090", query: "sum(rate(http_requests_total[5m]))"}
"#,
    );
    let lint = |policy: Option<&Path>| {
        let mut cmd = bin();
        cmd.args(["lint", "--format", "json"]);
        if let Some(p) = policy {
            cmd.arg("--policy").arg(p);
        }
        let out = cmd.arg(&template).output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        let rg105 = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "RG105")
            .map(|f| f["severity"].as_str().unwrap().to_string());
        (out.status.code(), rg105)
    };
    assert_eq!(lint(None), (Some(0), Some("warn".to_string())));
    assert_eq!(
        lint(Some(&policy_file)),
        (Some(1), Some("deny".to_string()))
    );
}

#[test]
fn rendered_chart_and_policies_pass_the_linter() {
    require!(support::HELM);
    let out = helm(&["template", RELEASE, &chart(), "--namespace", NAMESPACE]);
    assert!(out.status.success());
    for (name, input) in [("helm template", Some(out.stdout)), ("policies/", None)] {
        let mut cmd = bin();
        cmd.args(["lint", "--format", "json"]);
        match &input {
            Some(_) => cmd.arg("-").stdin(Stdio::piped()),
            None => cmd.arg(repo().join("policies")).stdin(Stdio::null()),
        };
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        if let Some(bytes) = &input {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes).unwrap();
        }
        let result = child.wait_with_output().unwrap();
        let doc: Value = serde_json::from_slice(&result.stdout).unwrap();
        let deny: Vec<&Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "deny")
            .collect();
        assert!(deny.is_empty(), "{name}: deny findings: {deny:#?}");
        assert_eq!(result.status.code(), Some(0), "{name}");
    }
}

#[test]
fn service_monitor_is_optional() {
    require!(support::HELM);
    assert!(all(&render(&[]), "ServiceMonitor").is_empty());
    let docs = render(&[
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prometheus",
    ]);
    let sm = one(&docs, "ServiceMonitor");
    let svc = one(&docs, "Service");
    assert_eq!(sm["metadata"]["labels"]["release"], "prometheus");
    for (k, v) in sm["spec"]["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(
            &svc["metadata"]["labels"][k], v,
            "the ServiceMonitor selects the Service"
        );
    }
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    assert!(svc["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == endpoint["port"] && p["targetPort"] == "metrics"));
}

#[test]
fn generate_mode_keeps_the_existing_certificate_on_upgrade() {
    require!(support::HELM);
    // First install: a new CA and certificate (no cluster to look in).
    let first = render(&[]);
    let mut secret = one(&first, "Secret").clone();
    // As helm install leaves it in the cluster: owned by the release.
    secret["metadata"]["annotations"] =
        json!({"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE});
    let checksum = |d: &[Value]| {
        one(d, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/tls"].clone()
    };

    // Upgrade against a cluster that holds that Secret: helm's lookup finds it and the chart
    // keeps it, so the caBundle still matches what the running pods serve and nothing rolls.
    let dir = TempDir::new("chart-upgrade");
    let api = fake_api::FakeApi::start(&dir, vec![secret.clone()]);
    let kubeconfig = api.kubeconfig.to_str().unwrap().to_string();
    let upgrade = |extra: &[&str]| {
        render(
            &[
                &[
                    "--dry-run=server",
                    "--disable-openapi-validation",
                    "--kubeconfig",
                    kubeconfig.as_str(),
                ],
                extra,
            ]
            .concat(),
        )
    };
    let second = upgrade(&[]);
    let name = secret["metadata"]["name"].as_str().unwrap().to_string();
    assert!(
        api.requests
            .lock()
            .unwrap()
            .contains(&format!("/api/v1/namespaces/{NAMESPACE}/secrets/{name}")),
        "helm looked the Secret up"
    );
    assert!(
        one(&second, "Secret")["data"] == secret["data"],
        "the upgrade kept the Secret's certificate and key"
    );
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        assert_eq!(
            ca_bundle(webhook(&second, kind)),
            secret["data"]["ca.crt"].as_str(),
            "{kind}"
        );
    }
    assert_eq!(checksum(&second), checksum(&first));
    // A values change that does not touch TLS keeps the certificate too.
    let third = upgrade(&["--set", "replicaCount=3"]);
    assert!(one(&third, "Secret")["data"] == secret["data"]);

    // A Secret without its key is not reused: a new, complete pair is made.
    secret["data"].as_object_mut().unwrap().remove("tls.key");
    let dir = TempDir::new("chart-upgrade-broken");
    let api = fake_api::FakeApi::start(&dir, vec![secret.clone()]);
    let fourth = render(&[
        "--dry-run=server",
        "--disable-openapi-validation",
        "--kubeconfig",
        api.kubeconfig.to_str().unwrap(),
    ]);
    let data = &one(&fourth, "Secret")["data"];
    assert_ne!(data["ca.crt"], secret["data"]["ca.crt"]);
    assert!(data["tls.key"].is_string());
}

#[test]
fn uninstall_leaves_no_webhook_configuration_behind() {
    require!(support::HELM);
    // helm uninstall deletes every release resource, but not hooks (which it does not track) nor
    // resources marked to be kept: the webhook configurations must be neither.
    for mode in ["generate", "certManager"] {
        let docs = render(&["--set", &format!("tls.mode={mode}")]);
        for doc in &docs {
            let annotations = &doc["metadata"]["annotations"];
            for key in ["helm.sh/hook", "helm.sh/resource-policy"] {
                assert!(
                    annotations.get(key).is_none(),
                    "{} {} has {key}",
                    doc["kind"],
                    doc["metadata"]["name"]
                );
            }
        }
        assert_eq!(all(&docs, "MutatingWebhookConfiguration").len(), 1);
        assert_eq!(all(&docs, "ValidatingWebhookConfiguration").len(), 1);
    }
}

#[test]
fn dockerfile_matches_the_chart() {
    require!(support::HELM);
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let docs = render(&[]);
    let pod = &one(&docs, "Deployment")["spec"]["template"]["spec"];
    let user = pod["securityContext"]["runAsUser"].to_string();
    assert!(
        dockerfile.contains(&format!("USER {user}:{user}")),
        "the image runs as the chart's runAsUser {user}"
    );
    for port in container(&docs)["ports"].as_array().unwrap() {
        let port = port["containerPort"].to_string();
        assert!(
            dockerfile
                .lines()
                .any(|l| l.starts_with("EXPOSE") && l.split_whitespace().any(|p| p == port)),
            "the image exposes {port}"
        );
    }
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/rollout-guard\"]"));
    assert_eq!(container(&docs)["image"], "rollout-guard:0.1.0");
}

/// The fenced block of `lang` that follows the first line containing `after` in the README.
fn readme_block(after: &str, lang: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find(after)
        .unwrap_or_else(|| panic!("README has no {after:?}"));
    let rest = &readme[start..];
    let open = rest.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
    let close = rest[open..].find("```").unwrap();
    rest[open..open + close].to_string()
}

#[test]
fn readme_install_section_is_true() {
    require!(support::HELM);
    // The install line renders.
    let install = readme_block("## Installing in a cluster", "sh");
    let line = install
        .lines()
        .find(|l| l.starts_with("helm install"))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &words[..4],
        ["helm", "install", "rg", "charts/rollout-guard"]
    );
    let chart = chart();
    let mut args = vec!["template", "rg", chart.as_str()];
    args.extend(
        words[4..]
            .iter()
            .filter(|w| !matches!(**w, "--create-namespace" | "--wait")),
    );
    let out = helm(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let docs = parse_stream(&String::from_utf8(out.stdout).unwrap());
    assert!(container(&docs)["image"]
        .as_str()
        .unwrap()
        .starts_with("registry.example.com/rollout-guard:"));

    // What the README says is injected is what `rollout-guard mutate` (the engine the webhook
    // runs) injects.
    let shown = parse_stream(&readme_block(
        "kubectl -n demo get rollout web -o yaml",
        "yaml",
    ))
    .remove(0);
    let out = bin()
        .arg("mutate")
        .arg(repo().join("examples/rollout-without-analysis.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mutated = parse_stream(&String::from_utf8(out.stdout).unwrap()).remove(0);
    assert_eq!(
        shown["metadata"]["annotations"],
        mutated["metadata"]["annotations"]
    );
    assert_eq!(shown["spec"]["strategy"], mutated["spec"]["strategy"]);

    // The template the README applies has exactly the deny finding the README shows.
    let dir = TempDir::new("readme-deny");
    let apply = readme_block("An AnalysisTemplate whose metric has no", "sh");
    let manifest = apply
        .split("<<'YAML'\n")
        .nth(1)
        .and_then(|s| s.split("YAML\n").next())
        .expect("a heredoc manifest");
    let file = write(&dir, "template.yaml", manifest);
    let out = bin()
        .args(["lint", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let denies: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "deny")
        .collect();
    assert_eq!(denies.len(), 1, "{denies:#?}");
    let shown = readme_block("An AnalysisTemplate whose metric has no", "text");
    let expected = format!(
        "1 finding: {} at {}: {}",
        denies[0]["rule"].as_str().unwrap(),
        denies[0]["pointer"].as_str().unwrap(),
        denies[0]["message"].as_str().unwrap()
    );
    assert!(
        shown.contains(&expected),
        "README shows:\n{shown}\nexpected: {expected}"
    );
}

/// The chart rendered with `extra` values (`name`) passes kubernetes-validate --strict.
///
/// kubernetes-validate carries the API's own schemas; --strict rejects unknown fields, as
/// kubectl's default server-side field validation does. The oldest Kubernetes the chart
/// supports (Chart.yaml kubeVersion) and the one the crate's API types target.
fn rendered_objects_pass_the_kubernetes_api_schemas_strictly(name: &str, extra: &[&str]) {
    let (_, validate) = require!(support::HELM, support::KUBERNETES_VALIDATE);
    let dir = TempDir::new("chart-kube-schemas");
    let out = helm(
        &[
            &["template", RELEASE, &chart(), "--namespace", NAMESPACE],
            extra,
        ]
        .concat(),
    );
    assert!(out.status.success());
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, &out.stdout).unwrap();
    for version in ["1.25.0", "1.34.0"] {
        let out = Command::new(&validate)
            .args(["--strict", "-k", version])
            .arg(&file)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !report.contains("did not validate"),
            "{name} against Kubernetes {version}:\n{report}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for kind in [
            "deployment",
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
            "service",
        ] {
            assert!(
                report.contains(&format!("passed for resource {kind}/")),
                "{name}: {kind} was not checked:\n{report}"
            );
        }
    }
}

cases! {
    rendered_objects_pass_the_kubernetes_api_schemas_strictly:
    generate_mode_objects_pass_the_kubernetes_api_schemas_strictly => (
        "generate",
        &["--set", "metrics.serviceMonitor.enabled=true"],
    ),
    cert_manager_mode_objects_pass_the_kubernetes_api_schemas_strictly => (
        "cert-manager",
        &["--set", "tls.mode=certManager"],
    ),
    secret_mode_objects_pass_the_kubernetes_api_schemas_strictly => (
        "secret",
        &[
            "--set",
            "tls.mode=secret",
            "--set",
            "tls.secretName=mine",
            "--set",
            "tls.caBundle=Q0E=",
            "--set",
            "cluster.enabled=false",
            "--set",
            "webhook.objectSelector.matchLabels.team=a",
        ],
    ),
}

#[test]
fn cluster_analysis_templates_pass_the_argo_crd_schema() {
    require!(support::HELM, support::SHARED);
    let schema = strict_crd_schema("cluster-analysis-template-crd.yaml");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let docs = render(&[]);
    let templates = all(&docs, "ClusterAnalysisTemplate");
    assert_eq!(templates.len(), 3);
    for t in templates {
        let errors: Vec<String> = validator
            .iter_errors(t)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", t["metadata"]["name"]);
    }
    // The strict schema does catch a misspelt field.
    let mut bad = all(&docs, "ClusterAnalysisTemplate")[0].clone();
    bad["spec"]["metrics"][0]["failurelimit"] = json!(2);
    assert!(!validator.is_valid(&bad));
}

#[test]
fn the_grace_period_covers_the_shutdown_delay_and_timeout() {
    require!(support::HELM);
    let grace = |args: &[&str]| {
        one(&render(args), "Deployment")["spec"]["template"]["spec"]
            ["terminationGracePeriodSeconds"]
            .as_i64()
    };
    // 5s + 20s + 5s by default; 1m30s + 1m + 5s; 2.5s rounds up.
    assert_eq!(grace(&[]), Some(30));
    assert_eq!(
        grace(&[
            "--set",
            "shutdown.delay=1m30s",
            "--set",
            "shutdown.timeout=1m"
        ]),
        Some(155)
    );
    assert_eq!(
        grace(&[
            "--set-string",
            "shutdown.delay=0",
            "--set",
            "shutdown.timeout=2500ms"
        ]),
        Some(8)
    );
    assert_eq!(
        grace(&["--set", "shutdown.terminationGracePeriodSeconds=99"]),
        Some(99)
    );
    // Shorter than what the drain needs: the kubelet would kill the webhook mid-drain.
    let err = try_render(&[
        "--set",
        "shutdown.delay=30s",
        "--set",
        "shutdown.terminationGracePeriodSeconds=30",
    ])
    .unwrap_err();
    assert!(err.contains("terminationGracePeriodSeconds (30) is shorter than shutdown.delay + shutdown.timeout + 5s (55)"), "{err}");
}
