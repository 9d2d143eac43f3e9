//! RG105 `unguarded-result-index`: A condition that errors when the query returns an empty result.

use super::catalog::{Fixture, Rule, Severity};
use super::template::error_consequence;
use super::Sink;
use crate::argo::template::Metric;
use crate::lang::condition::Phase;
use crate::lang::empty;
use crate::lang::probe::{Probe, Table};
use serde_json::Value;

/// RG105 `unguarded-result-index`.
pub static RG105: Rule = Rule {
    id: "RG105",
    name: "unguarded-result-index",
    severity: Severity::Warn,
    summary: "A condition that errors when the query returns an empty result, or fewer samples than it indexes.",
    doc: "When a vector query matches no series (no traffic yet, a renamed label) Prometheus returns an empty vector, \
         which Argo (`metricproviders/prometheus/prometheus.go`, `processResponse`) passes as an empty, non-nil \
         `[]float64`; `result[0]` on it is Go expr's \"index out of range\" and the measurement errors \
         (`utils/evaluate/evaluate.go`, `EvaluateResult`). Errors count towards `consecutiveErrorLimit` (default 4), \
         not towards a verdict, then the run errors and the rollout aborts. The condition is evaluated on an empty \
         result in Argo's order: `len(result) == 0 || result[0] >= 0.9` is guarded, `result[0] >= 0.9 || \
         len(result) == 0` is not, and `isNil(result)` is no guard (Argo's `isNil` is false for an empty slice). A \
         query that can never be empty (`... or on() vector(0)` at its top) is not reported; the same fallback under \
         a vector operation, as in `(a or vector(0)) / b`, still can be empty. The same holds for an index past \
         the first: `len(result) == 0 || result[1] >= 0.9` is guarded for an empty result but errors on a \
         one-sample one (one matching series) while it passes on several.",
    help: "Guard the index first: `len(result) == 0 || result[0] >= 0.95`, or end the query with `or on() vector(1)`.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, table: &Table, out: &mut Sink) {
    let Some(prom) = m.prometheus() else { return };
    let errs = |probe| {
        table
            .row(probe)
            .filter(|r| r.measurement.phase == Phase::Error)
            .and_then(|r| Some((r, r.erred?)))
    };
    let query = prom
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let empty = errs(Probe::Empty)
        .filter(|_| !empty::never_empty(query, &|name| m.defaults.get(name).cloned()));
    // A result of one sample that errors where several do not: an index past the first. When
    // several error too, every result with data does, which is RG104's.
    let short = || errs(Probe::OneSample).filter(|_| errs(Probe::Several).is_none());
    let Some((row, which)) = empty.or_else(short) else {
        return;
    };
    let key = which.key();
    let why = if row.probe == Probe::Empty {
        "with no matching series the measurement errors"
    } else {
        "with one matching series the measurement errors"
    };
    out.report(
        &RG105,
        m.ptr(key),
        format!(
            "metric \"{}\": {key} errors on {} ({}): {why}; {}",
            m.name,
            row.probe.describe(),
            row.measurement.message.as_deref().unwrap_or("error"),
            error_consequence(m)
        ),
    );
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG105, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-unguarded-index.yaml",
        text: r#"# result[0] with no guard.
# expect: 15:23 RG105 metric "error-rate"
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
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-guarded-index.yaml",
        text: r#"# The empty result is tested before result[0] is read.
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
    Fixture {
        name: "bad-index-before-guard.yaml",
        text: r#"# result[0] is evaluated before the guard that follows it.
# expect: 15:23 RG105 successCondition errors on an empty result
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
    successCondition: result[0] >= 0.95 || len(result) == 0
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-is-nil-is-no-guard.yaml",
        text: r#"# Argo passes an empty, non-nil list: isNil(result) is false on it.
# expect: 15:23 RG105 successCondition errors on an empty result
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
    successCondition: isNil(result) || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-second-sample-unguarded.yaml",
        text: r#"# result[1] on a result of one series: guarded for empty, not for one sample.
# expect: 15:23 RG105 successCondition errors on a one-sample result
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
    successCondition: len(result) == 0 || result[1] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-never-empty-query.yaml",
        text: r#"# The query falls back to vector(0) at its top: it is never empty.
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
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) or on() vector(0)
"#,
    },
    Fixture {
        name: "bad-fallback-under-division.yaml",
        text: r#"# The fallback is under a division: the quotient can still be empty.
# expect: 15:23 RG105 successCondition errors on an empty result
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
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: (sum(rate(http_ok{service="{{args.service}}"}[5m])) or vector(0)) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
];
