//! RG101 `missing-failure-limit`: A metric without an explicit `failureLimit`.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::{IntField, Metric};

/// RG101 `missing-failure-limit`.
pub static RG101: Rule = Rule {
    id: "RG101",
    name: "missing-failure-limit",
    severity: Severity::Deny,
    summary: "A metric without an explicit `failureLimit`.",
    doc: "Argo Rollouts defaults `failureLimit` to 0, so the first failed measurement aborts the rollout; \
         people who leave it out rarely mean that, and the analysis flaps on the first noisy sample. \
         A metric measured once is not reported: `count: 1`, or no `count` (or 0) and no `interval`, such as a \
         one-shot job (Argo's `Metric.EffectiveCount` in `pkg/apis/rollouts/v1alpha1/analysis_types.go` makes that \
         one measurement). With one measurement a `failureLimit` of 1 or more can never trip (Argo's \
         `assessMetricStatus` in `analysis/analysis.go` fails a metric only when its failures exceed the limit), \
         so the default 0 is the only limit that means anything there.",
    help: "Set `failureLimit` on the metric (for example `failureLimit: 3`) so that the number of tolerated failures is a decision.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, out: &mut Sink) {
    // A metric measured once has only one sample; failureLimit 0 is then the only meaningful
    // value, not an oversight.
    let once = match m.int("count") {
        IntField::Known(1) => true,
        IntField::Absent | IntField::Known(0) => m.field("interval").is_none(),
        _ => false,
    };
    if m.field("failureLimit").is_none() && !once {
        out.report(
            &RG101,
            &m.at,
            format!(
                "metric \"{}\" has no failureLimit: Argo defaults it to 0, so one failed measurement aborts the rollout",
                m.name
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG101, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-no-limit.yaml",
        text: r#"# Five measurements and no failureLimit: the first bad one aborts.
# expect: 11:5 RG101 metric "error-rate" has no failureLimit: Argo defaults it to 0, so one failed measurement aborts the rollout
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
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-explicit-limit.yaml",
        text: r#"# failureLimit is set.
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
        name: "good-single-measurement.yaml",
        text: r#"# Measured once (no interval, no count): failureLimit 0 is the only meaningful value.
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
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-count-one-with-interval.yaml",
        text: r#"# count: 1 is one measurement, interval or not: a failureLimit of 1 or more could never trip.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
spec:
  metrics:
  - name: smoke
    interval: 1m
    count: 1
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
"#,
    },
];
