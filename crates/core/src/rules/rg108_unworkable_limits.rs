//! RG108 `unworkable-limits`: Limits that cannot work: negative limits, `-1` misuse, or a `count` too small for the limits.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::{IntField, Metric};

/// RG108 `unworkable-limits`.
pub static RG108: Rule = Rule {
    id: "RG108",
    name: "unworkable-limits",
    severity: Severity::Deny,
    summary: "Limits that cannot work: negative limits, `-1` misuse, or a `count` too small for the limits.",
    doc: "Follows Argo's `ValidateMetric` (utils/analysis/factory.go), which rejects the AnalysisRun, so the \
         analysis errors when it starts: negative limits; `failureLimit: -1` (no failure limit) without \
         `consecutiveSuccessLimit > 0`; and, for a bounded `count`, a count below `failureLimit`, below \
         `inconclusiveLimit` or `consecutiveSuccessLimit`, or below `failureLimit + consecutiveSuccessLimit` \
         when both are 0 or more (`count: 2, failureLimit: 1, consecutiveSuccessLimit: 2` is rejected).",
    help: "Use non-negative limits, pair `failureLimit: -1` with `consecutiveSuccessLimit`, and make `count` at least `failureLimit + consecutiveSuccessLimit`.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, out: &mut Sink) {
    let count = m.int("count");
    let success = m.int("consecutiveSuccessLimit");
    if let IntField::Known(f) = m.int("failureLimit") {
        if f == -1
            && !matches!(success, IntField::Known(s) if s > 0)
            && success != IntField::Unknown
        {
            out.report(
                &RG108,
                m.ptr("failureLimit"),
                format!(
                    "metric \"{}\": failureLimit -1 (no failure limit) is only valid with consecutiveSuccessLimit > 0",
                    m.name
                ),
            );
        } else if f < -1 {
            out.report(
                &RG108,
                m.ptr("failureLimit"),
                format!("metric \"{}\": failureLimit {f} is negative", m.name),
            );
        }
    }
    for key in [
        "inconclusiveLimit",
        "consecutiveErrorLimit",
        "consecutiveSuccessLimit",
        "count",
    ] {
        if let IntField::Known(v) = m.int(key) {
            if v < 0 {
                out.report(
                    &RG108,
                    m.ptr(key),
                    format!("metric \"{}\": {key} {v} is negative", m.name),
                );
            }
        }
    }
    // Argo's ValidateMetric (utils/analysis/factory.go) rejects the AnalysisRun when a bounded
    // count cannot hold the limits.
    let IntField::Known(c) = count else { return };
    if c <= 0 {
        return;
    }
    let failure = m.int("failureLimit");
    if let IntField::Known(f) = failure {
        if c < f {
            out.report(
                &RG108,
                m.ptr("failureLimit"),
                format!(
                    "metric \"{}\": count {c} is less than failureLimit {f}; Argo rejects the AnalysisRun (count must be >= failureLimit)",
                    m.name
                ),
            );
        }
    }
    for key in ["inconclusiveLimit", "consecutiveSuccessLimit"] {
        if let IntField::Known(v) = m.int(key) {
            if c < v {
                out.report(
                    &RG108,
                    m.ptr(key),
                    format!(
                        "metric \"{}\": count {c} is less than {key} {v}; Argo rejects the AnalysisRun (count must be >= {key})",
                        m.name
                    ),
                );
            }
        }
    }
    if let (IntField::Known(f), IntField::Known(s)) = (failure, success) {
        if f >= 0 && s >= 0 && c >= f && c >= s && c < f + s {
            out.report(
                &RG108,
                m.ptr("count"),
                format!(
                    "metric \"{}\": count {c} is less than failureLimit + consecutiveSuccessLimit ({f} + {s}); Argo rejects the AnalysisRun (count must be >= failureLimit + consecutiveSuccessLimit when both are set)",
                    m.name
                ),
            );
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG108, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-count-below-failure-limit.yaml",
        text: r#"# Argo: count must be >= failureLimit.
# expect: 14:19 RG108 metric "error-rate": count 3 is less than failureLimit 4; Argo rejects the AnalysisRun (count must be >= failureLimit)
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
    count: 3
    failureLimit: 4
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-count-below-failure-plus-success.yaml",
        text: r#"# Argo: count must be >= failureLimit + consecutiveSuccessLimit.
# expect: 13:12 RG108 metric "error-rate": count 2 is less than failureLimit + consecutiveSuccessLimit (1 + 2); Argo rejects the AnalysisRun (count must be >= failureLimit + consecutiveSuccessLimit when both are set)
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
    count: 2
    failureLimit: 1
    consecutiveSuccessLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-limits-through-alias.yaml",
        text: r#"# Both metrics share anchored limits; each finding is placed at its own alias use, not at the anchor.
# expect: 12:12 RG108 metric "first": count 2 is less than failureLimit + consecutiveSuccessLimit (1 + 2); Argo rejects the AnalysisRun (count must be >= failureLimit + consecutiveSuccessLimit when both are set)
# expect: 24:30 RG108 metric "second": count 1 is less than consecutiveSuccessLimit 2; Argo rejects the AnalysisRun (count must be >= consecutiveSuccessLimit)
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: aliased
spec:
  metrics:
  - name: first
    interval: 1m
    count: 2
    failureLimit: 1
    consecutiveSuccessLimit: &limits 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider: &prom
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
  - name: second
    interval: 1m
    count: 1
    failureLimit: 0
    consecutiveSuccessLimit: *limits
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider: *prom
"#,
    },
    Fixture {
        name: "bad-negative-limit.yaml",
        text: r#"# A negative inconclusiveLimit.
# expect: 15:24 RG108 metric "error-rate": inconclusiveLimit -1 is negative
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
    inconclusiveLimit: -1
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-room-for-both-limits.yaml",
        text: r#"# count 3 holds failureLimit 1 + consecutiveSuccessLimit 2.
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
    count: 3
    failureLimit: 1
    consecutiveSuccessLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
];
