//! RG107 `invalid-duration`: Bad durations: `interval` or `initialDelay` not Go durations, or `count > 1` without `interval`.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::{IntField, Metric};
use crate::lang::duration;

/// RG107 `invalid-duration`.
pub static RG107: Rule = Rule {
    id: "RG107",
    name: "invalid-duration",
    severity: Severity::Deny,
    summary: "Bad durations: `interval` or `initialDelay` not Go durations, or `count > 1` without `interval`.",
    doc: "Metric durations are Go durations with a unit (`30s`, `5m`); Argo rejects the AnalysisRun otherwise, \
         and it refuses `count > 1` without an `interval`.",
    help: "Write durations with a unit (`1m`, `90s`) and set `interval` whenever `count` is above 1.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, out: &mut Sink) {
    for key in ["interval", "initialDelay"] {
        if let Some(text) = m.text(key) {
            if duration::go_seconds(&text).is_none() {
                out.report(
                    &RG107,
                    m.ptr(key),
                    format!(
                        "metric \"{}\": {key} \"{text}\" is not a Go duration (write it with a unit: 30s, 5m, 1h)",
                        m.name
                    ),
                );
            }
        }
    }
    if let IntField::Known(count) = m.int("count") {
        if count > 1 && m.field("interval").is_none() {
            out.report(
                &RG107,
                m.ptr("count"),
                format!(
                    "metric \"{}\": count {count} needs an interval between measurements",
                    m.name
                ),
            );
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG107, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-bare-interval.yaml",
        text: r#"# A metric interval without a unit.
# expect: 12:15 RG107 metric "error-rate": interval "60" is not a Go duration (write it with a unit: 30s, 5m, 1h)
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
  - name: service
  metrics:
  - name: error-rate
    interval: "60"
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-go-durations.yaml",
        text: r#"# Durations with units.
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
    initialDelay: 30s
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
];
