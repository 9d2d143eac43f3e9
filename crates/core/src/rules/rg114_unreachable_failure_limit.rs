//! RG114 `unreachable-failure-limit`: A `failureLimit` that can never trip: `failureLimit` equal to `count`.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::{IntField, Metric};

/// RG114 `unreachable-failure-limit`.
pub static RG114: Rule = Rule {
    id: "RG114",
    name: "unreachable-failure-limit",
    severity: Severity::Deny,
    summary: "A `failureLimit` that can never trip: `failureLimit` equal to `count`.",
    doc: "Argo fails a metric only when failures exceed the limit (`failed > failureLimit`), so with \
         `count: 3, failureLimit: 3` all three measurements can fail and the analysis still succeeds. \
         A `failureLimit` above `count` is RG108's: Argo rejects that AnalysisRun outright.",
    help: "Make `failureLimit` smaller than `count` (for example `count: 5, failureLimit: 2`).",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, out: &mut Sink) {
    if let (IntField::Known(count), IntField::Known(limit)) =
        (m.int("count"), m.int("failureLimit"))
    {
        if count > 0 && limit == count {
            out.report(
                &RG114,
                m.ptr("failureLimit"),
                format!(
                    "metric \"{}\": failureLimit {limit} with count {count} can never trip (Argo fails only when failures exceed the limit)",
                    m.name
                ),
            );
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG114, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-limit-equals-count.yaml",
        text: r#"# failureLimit 5 of count 5 never trips.
# expect: 14:19 RG114 metric "error-rate": failureLimit 5 with count 5 can never trip (Argo fails only when failures exceed the limit)
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
    failureLimit: 5
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-limit-below-count.yaml",
        text: r#"# failureLimit 2 of count 5.
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
