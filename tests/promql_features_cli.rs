//! RG102 and the policy's Prometheus feature flags, through the real CLI: a query using an
//! experimental function is denied under the default policy, naming the flag, and passes under
//! a policy that lists the flag.

mod support;

use serde_json::Value;
use std::path::PathBuf;

const TEMPLATE: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: top-errors
spec:
  metrics:
    - name: top-errors
      interval: 1m
      count: 5
      failureLimit: 2
      successCondition: len(result) == 0 || result[0] < 5
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(limitk(3, rate(http_errors_total[5m])))
"#;

fn lint(args: &[&str]) -> (Option<i32>, Value) {
    let out = support::bin()
        .args(["lint", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), doc)
}

#[test]
fn experimental_functions_follow_the_policy() {
    let d = support::TempDir::new("promql-features");
    let manifest = d.join("template.yaml");
    std::fs::write(&manifest, TEMPLATE).unwrap();
    let manifest = manifest.to_str().unwrap();

    let (code, doc) = lint(&[manifest]);
    assert_eq!(code, Some(1), "{doc}");
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{doc}");
    assert_eq!(findings[0]["rule"], "RG102");
    let message = findings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("limitk() is experimental")
            && message.contains("--enable-feature=promql-experimental-functions"),
        "{message}"
    );

    let default = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies/default.yaml"),
    )
    .unwrap();
    let enabled = default.replace(
        "    features: []",
        "    features: [promql-experimental-functions]",
    );
    assert_ne!(enabled, default, "the default policy lists no features");
    let policy = d.join("policy.yaml");
    std::fs::write(&policy, enabled).unwrap();
    let (code, doc) = lint(&["--policy", policy.to_str().unwrap(), manifest]);
    assert_eq!(code, Some(0), "{doc}");
    assert!(doc["findings"].as_array().unwrap().is_empty(), "{doc}");
}
