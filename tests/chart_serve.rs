//! The chart's configuration actually runs: `rollout-guard serve` started with the exact
//! arguments the rendered Deployment gives it, the certificate from the rendered Secret and the
//! policy from the rendered ConfigMap (paths and addresses moved to a temporary directory and
//! loopback), probed where the Deployment's probes point, and called over TLS the way the
//! kube-apiserver calls it: on the webhook configurations' paths, trusting only their caBundle,
//! checking the certificate for the Service's DNS name.

mod support;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::serve::Serve;
use support::{b64, bin, free_port, parse_yaml_stream, repo, TempDir};

const NAMESPACE: &str = "guard-system";

fn helm_template(args: &[&str]) -> Vec<Value> {
    let chart = repo().join("charts/rollout-guard");
    let out = Command::new(support::HELM.path())
        .args(["template", "rg"])
        .arg(&chart)
        .args(["--namespace", NAMESPACE])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_yaml_stream(&String::from_utf8(out.stdout).unwrap())
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{kind}");
    found[0]
}

/// Status code and body of an HTTP/1.1 response read to the end.
fn parse_response(raw: &[u8]) -> (u16, Vec<u8>) {
    let text = String::from_utf8_lossy(raw);
    let head_end = text.find("\r\n\r\n").expect("an HTTP response");
    let head = &text[..head_end];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    let mut body = raw[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap().trim(), 16)
                    .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[line_end + 2..line_end + 2 + size]);
            rest = &rest[line_end + 2 + size + 2..];
        }
        body = out;
    }
    (status, body)
}

fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(parse_response(&raw).0)
}

/// POSTs JSON over TLS as the kube-apiserver does: trusting only `ca_pem`, checking the
/// certificate for `server_name`.
fn https_post(
    addr: SocketAddr,
    server_name: &str,
    ca_pem: &[u8],
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let body = body.to_string();
    write!(
        tls,
        "POST {path}?timeout=5s HTTP/1.1\r\nHost: {server_name}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // A server that closes without close_notify still sent a whole response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("reading the response: {e}"),
    }
    let (status, body) = parse_response(&raw);
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, json)
}

fn review(uid: &str, object: Value) -> Value {
    let kind = object["kind"].as_str().unwrap().to_string();
    let plural = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "argoproj.io", "version": "v1alpha1", "kind": kind},
            "resource": {"group": "argoproj.io", "version": "v1alpha1", "resource": plural},
            "requestKind": {"group": "argoproj.io", "version": "v1alpha1", "kind": kind},
            "requestResource": {"group": "argoproj.io", "version": "v1alpha1", "resource": plural},
            "name": object["metadata"]["name"],
            "namespace": "demo",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

fn manifest(text: &str) -> Value {
    parse_yaml_stream(text).remove(0)
}

#[test]
fn serve_runs_with_the_charts_configuration() {
    require!(support::HELM);
    // The cluster watch needs an API server; everything else is the chart's default.
    let docs = helm_template(&["--set", "cluster.enabled=false"]);
    let dir = TempDir::new("chart-serve");
    let deploy = one(&docs, "Deployment");
    let container = &deploy["spec"]["template"]["spec"]["containers"][0];

    // Mounted files, as the kubelet would project them.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in container["volumeMounts"].as_array().unwrap() {
        let name = mount["name"].as_str().unwrap();
        let local = dir.join(name);
        std::fs::create_dir_all(&local).unwrap();
        let volume = deploy["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap();
        if let Some(secret) = volume["secret"]["secretName"].as_str() {
            let s = one(&docs, "Secret");
            assert_eq!(s["metadata"]["name"], secret);
            for (k, v) in s["data"].as_object().unwrap() {
                std::fs::write(local.join(k), b64(v.as_str().unwrap())).unwrap();
            }
        }
        if let Some(cm) = volume["configMap"]["name"].as_str() {
            let c = one(&docs, "ConfigMap");
            assert_eq!(c["metadata"]["name"], cm);
            for (k, v) in c["data"].as_object().unwrap() {
                std::fs::write(local.join(k), v.as_str().unwrap()).unwrap();
            }
        }
        mounts.push((mount["mountPath"].as_str().unwrap().to_string(), local));
    }

    // The Deployment's arguments, with container paths and ports moved to this machine.
    let port_of = |name: &str| {
        container["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["containerPort"]
            .as_u64()
            .unwrap()
    };
    let (https, metrics) = (port_of("https"), port_of("metrics"));
    let (local_https, local_metrics) = (free_port(), free_port());
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let mut a = a.as_str().unwrap().to_string();
            // A --flag=PATH under a mount: the longest mount path that holds it.
            if let Some((flag, value)) = a.clone().split_once('=') {
                if let Some((path, local)) = mounts
                    .iter()
                    .filter(|(p, _)| value.starts_with(&format!("{p}/")))
                    .max_by_key(|(p, _)| p.len())
                {
                    a = format!("{flag}={}{}", local.display(), &value[path.len()..]);
                }
            }
            a.replace(
                &format!("0.0.0.0:{https}"),
                &format!("127.0.0.1:{local_https}"),
            )
            .replace(
                &format!("0.0.0.0:{metrics}"),
                &format!("127.0.0.1:{local_metrics}"),
            )
        })
        .collect();
    assert_eq!(args[0], "serve");
    assert!(
        args.iter().any(|a| a.contains(&local_https.to_string()))
            && args.iter().any(|a| a.contains(&local_metrics.to_string())),
        "the chart passes both listen addresses: {args:?}"
    );
    let mut cmd = bin();
    cmd.args(&args);
    let server = Serve::spawn(cmd);

    // Ready where the readiness probe looks, live where the liveness probe looks.
    let metrics_addr: SocketAddr = format!("127.0.0.1:{local_metrics}").parse().unwrap();
    let readiness = container["readinessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap();
    let liveness = container["livenessProbe"]["httpGet"]["path"]
        .as_str()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Ok(200) = http_get(metrics_addr, readiness) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not ready on {readiness} after 20 s:\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(http_get(metrics_addr, liveness).unwrap(), 200);

    // Called as the kube-apiserver calls it.
    let hook = |kind: &str| one(&docs, kind)["webhooks"][0].clone();
    let mutating = hook("MutatingWebhookConfiguration");
    let validating = hook("ValidatingWebhookConfiguration");
    let service = &mutating["clientConfig"]["service"];
    let server_name = format!(
        "{}.{}.svc",
        service["name"].as_str().unwrap(),
        service["namespace"].as_str().unwrap()
    );
    let ca = b64(mutating["clientConfig"]["caBundle"].as_str().unwrap());
    let webhook_addr: SocketAddr = format!("127.0.0.1:{local_https}").parse().unwrap();

    let rollout = manifest(
        &std::fs::read_to_string(repo().join("examples/rollout-without-analysis.yaml")).unwrap(),
    );
    let (status, body) = https_post(
        webhook_addr,
        &server_name,
        &ca,
        mutating["clientConfig"]["service"]["path"]
            .as_str()
            .unwrap(),
        &review("u-1", rollout),
    );
    assert_eq!(status, 200, "{body}");
    let response = &body["response"];
    assert_eq!(response["uid"], "u-1");
    assert_eq!(response["allowed"], true, "{body}");
    assert_eq!(response["patchType"], "JSONPatch");
    let patch: Value = serde_json::from_slice(&b64(response["patch"].as_str().unwrap())).unwrap();
    let paths: Vec<&str> = patch
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"/spec/strategy/canary/steps"), "{paths:?}");

    let template = manifest(
        r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: error-rate, namespace: demo}
spec:
  metrics:
    - name: error-rate
      interval: 1m
      count: 5
      successCondition: len(result) == 0 || result[0] < 0.05
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
"#,
    );
    let (status, body) = https_post(
        webhook_addr,
        &server_name,
        &ca,
        validating["clientConfig"]["service"]["path"]
            .as_str()
            .unwrap(),
        &review("u-2", template),
    );
    assert_eq!(status, 200, "{body}");
    let response = &body["response"];
    assert_eq!(response["allowed"], false, "{body}");
    assert_eq!(response["status"]["code"], 403);
    let message = response["status"]["message"].as_str().unwrap();
    assert!(message.contains("RG101"), "{message}");
}

#[test]
fn serve_accepts_every_flag_the_chart_passes() {
    require!(support::HELM);
    // Default values (--cluster on) and every optional flag the chart can add.
    let docs = helm_template(&["--set", "extraArgs[0]=--shutdown-timeout=20s"]);
    let container = &one(&docs, "Deployment")["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "serve");
    assert!(args.contains(&"--cluster"), "{args:?}");
    let out = bin().args(["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for arg in &args[1..] {
        let flag = arg.split('=').next().unwrap();
        assert!(
            help.split_whitespace().any(|w| w == flag),
            "serve has no {flag} (the chart passes {arg})"
        );
    }
}
