//! RG106 `nan-unsafe-condition`: Conditions under which a NaN result counts as a success, without the condition testing `isNaN`.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::Metric;
use crate::lang::condition::Phase;
use crate::lang::probe::Table;

/// RG106 `nan-unsafe-condition`.
pub static RG106: Rule = Rule {
    id: "RG106",
    name: "nan-unsafe-condition",
    severity: Severity::Warn,
    summary: "Conditions under which a NaN result counts as a success, without the condition testing `isNaN`.",
    doc: "A ratio with no traffic is 0/0 = NaN, and every comparison with NaN is false. Argo \
         (`utils/evaluate/evaluate.go`, `EvaluateResult`) counts a measurement as successful when a failure-only \
         condition is false, or a success-only condition is true: `failureCondition: result[0] < 0.95` or \
         `successCondition: !(result[0] < 0.95)` then pass NaN, neither failing nor erroring. The conditions are \
         evaluated on a NaN result; when they call `isNaN` on it, passing NaN is taken as intended.",
    help: "Add a `successCondition` that NaN fails (`result[0] >= 0.95`), or test `isNaN(result[0])` explicitly.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, table: &Table, out: &mut Sink) {
    // With no condition at all RG103 speaks; NaN passing is intended when the conditions
    // asked isNaN on that result.
    if m.field("successCondition").is_none() && m.field("failureCondition").is_none() {
        return;
    }
    let Some(row) = table
        .rows
        .iter()
        .find(|r| r.probe.is_nan() && r.measurement.phase == Phase::Successful && !r.tested_nan)
    else {
        return;
    };
    let key = if m.field("failureCondition").is_some() {
        "failureCondition"
    } else {
        "successCondition"
    };
    out.report(
        &RG106,
        m.ptr(key),
        format!(
            "metric \"{}\": on {} (a ratio with no traffic, 0/0) the measurement is Successful: every comparison with NaN is false, so the {key} neither fails nor errors",
            m.name,
            row.probe.describe()
        ),
    );
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG106, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-failure-only.yaml",
        text: r#"# Only a failureCondition: NaN compares false and passes.
# expect: 15:23 RG106 metric "error-rate"
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
    failureCondition: len(result) > 0 && result[0] < 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-success-condition.yaml",
        text: r#"# A successCondition fails on NaN.
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
