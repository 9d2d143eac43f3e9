//! RG103 `missing-condition`: A metric with neither `successCondition` nor `failureCondition`.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::template::Metric;

/// RG103 `missing-condition`.
pub static RG103: Rule = Rule {
    id: "RG103",
    name: "missing-condition",
    severity: Severity::Deny,
    summary: "A metric with neither `successCondition` nor `failureCondition`.",
    doc: "Without a condition Argo Rollouts counts every measurement as successful, so the analysis can never fail the rollout.",
    help: "Add a `successCondition` such as `len(result) == 0 || result[0] >= 0.95` (and a `failureCondition` if needed).",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, out: &mut Sink) {
    if !m.judges_itself()
        && m.field("successCondition").is_none()
        && m.field("failureCondition").is_none()
    {
        out.report(
            &RG103,
            &m.at,
            format!(
                "metric \"{}\" has neither successCondition nor failureCondition: Argo counts every measurement as successful",
                m.name
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG103, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-no-condition.yaml",
        text: r#"# No condition: every measurement succeeds.
# expect: 11:5 RG103 metric "error-rate" has neither successCondition nor failureCondition: Argo counts every measurement as successful
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
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-has-condition.yaml",
        text: r#"# A successCondition is set.
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
        name: "good-condition-through-merge-key.yaml",
        text: r#"# Both metrics take their condition and limits from a shared block through a merge key
# (`<<: *base`), which kubectl's YAML decoder resolves: each has a condition.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  metrics:
  - &base
    name: error-rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
  - <<: *base
    name: error-rate-again
"#,
    },
    Fixture {
        name: "bad-no-condition-through-merge-key.yaml",
        text: r#"# The shared block has no condition: the metric that merges it has none either, reported at
# the merge key's alias.
# expect: 11:5 RG103 metric "error-rate" has neither successCondition nor failureCondition
# expect: 20:5 RG103 metric "error-rate-again" has neither successCondition nor failureCondition
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  metrics:
  - &base
    name: error-rate
    interval: 1m
    count: 5
    failureLimit: 2
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
  - <<: *base
    name: error-rate-again
"#,
    },
];
