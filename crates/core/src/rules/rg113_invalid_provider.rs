//! RG113 `invalid-provider`: Prometheus provider fields: address not a URL, negative timeout, or duplicate metric names.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::{Metric, METRICS};
use serde_json::Value;
use std::collections::HashMap;

/// RG113 `invalid-provider`.
pub static RG113: Rule = Rule {
    id: "RG113",
    name: "invalid-provider",
    severity: Severity::Deny,
    summary: "Prometheus provider fields: address not a URL, negative timeout, or duplicate metric names.",
    doc: "Argo rejects templates with duplicate metric names; a Prometheus address must be an http(s) URL and \
         `timeout` a non-negative number of seconds.",
    help: "Use a full URL such as `http://prometheus.monitoring:9090`, a positive `timeout`, and unique metric names.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, out: &mut Sink) {
    let Some(prom) = m.prometheus() else { return };
    if let Some(address) = m.text_at(prom, "address") {
        let ok = ["http://", "https://"]
            .iter()
            .any(|p| address.len() > p.len() && address.starts_with(p) && !address.contains(' '));
        if !ok {
            out.report(
                &RG113,
                m.ptr("provider/prometheus/address"),
                format!(
                    "metric \"{}\": Prometheus address \"{address}\" is not an http(s) URL",
                    m.name
                ),
            );
        }
    }
    if let Some(t) = prom.get("timeout").and_then(Value::as_i64) {
        if t < 0 {
            out.report(
                &RG113,
                m.ptr("provider/prometheus/timeout"),
                format!("metric \"{}\": Prometheus timeout {t} is negative", m.name),
            );
        }
    }
}

pub(super) fn check_names(metrics: &[Value], out: &mut Sink) {
    let mut seen = HashMap::new();
    for (i, m) in metrics.iter().enumerate() {
        if let Some(name) = m.get("name").and_then(Value::as_str) {
            if let Some(first) = seen.insert(name, i) {
                out.report(
                    &RG113,
                    format!("{METRICS}/{i}/name"),
                    format!("metric name \"{name}\" is used twice (metrics {first} and {i}); Argo rejects the template"),
                );
            }
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG113, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-address-not-url.yaml",
        text: r#"# No scheme.
# expect: 18:18 RG113 metric "error-rate": Prometheus address "prometheus.monitoring:9090" is not an http(s) URL
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: service
  metrics:
  - name: error-rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-address-through-alias.yaml",
        text: r#"# The bad provider is anchored in the first metric; the second metric's finding is at its *prom.
# expect: 17:18 RG113 metric "first": Prometheus address "prometheus.monitoring:9090" is not an http(s) URL
# expect: 24:15 RG113 metric "second": Prometheus address "prometheus.monitoring:9090" is not an http(s) URL
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: aliased
spec:
  metrics:
  - name: first
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider: &prom
      prometheus:
        address: prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
  - name: second
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider: *prom
"#,
    },
    Fixture {
        name: "good-url-address.yaml",
        text: r#"# An http URL.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: service
  metrics:
  - name: error-rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
];
