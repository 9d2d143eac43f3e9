//! RG109 `endless-blocking-analysis`: A metric that runs forever (an `interval` and no `count`) inside a step or blue-green analysis.

use super::catalog::{Fixture, Rule, Severity};
use super::rollout::Run;
use super::Sink;
use crate::lookup::TemplateInfo;

/// RG109 `endless-blocking-analysis`.
pub static RG109: Rule = Rule {
    id: "RG109",
    name: "endless-blocking-analysis",
    severity: Severity::Deny,
    summary: "A metric that runs forever (an `interval` and no `count`) inside a step or blue-green analysis.",
    doc: "A step or blue-green promotion analysis blocks the rollout until it completes; a metric with an \
         interval and no count never completes, so the rollout never promotes. Only background analysis may run forever. \
         An experiment step's analysis blocks only when the experiment has no `duration` and the analysis is \
         `requiredForCompletion` (with a duration, Argo ends the runs when it elapses). Argo: a metric with an \
         `interval` and no `count` has no effective count (`Metric.EffectiveCount`, \
         `pkg/apis/rollouts/v1alpha1/analysis_types.go`), so `generateMetricTasks` (`analysis/analysis.go`) keeps \
         measuring it; a step analysis holds the step until its run completes (`reconcileStepBasedAnalysisRun`, \
         `rollout/analysis.go`); an experiment ends its runs at its duration and otherwise waits for the \
         `requiredForCompletion` ones (`assessAnalysisRuns`, `experiments/experiment.go`).",
    help: "Give the metric a `count`, or run the template as background analysis (`canary.analysis`).",
    fixtures: FIXTURES,
};

/// A metric that runs forever in an analysis the rollout waits for.
pub(super) fn check_run(run: &Run, at: &str, info: &TemplateInfo, out: &mut Sink) {
    if !run.block.blocking {
        return;
    }
    for m in info.metrics.iter().filter(|m| m.runs_forever) {
        out.report(
            &RG109,
            at,
            format!(
                "template \"{}\" metric \"{}\" has an interval and no count, so this blocking analysis never completes",
                info.name, m.name
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG109, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-forever-in-experiment.yaml",
        text: r#"# An experiment with no duration waits for a required analysis that never ends.
# expect: 41:13 RG109 template "forever" metric "forever" has an interval and no count, so this blocking analysis never completes
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: forever
spec:
  metrics:
  - name: forever
    interval: 1m
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      analysis:
        templates:
        - templateName: success-rate-nginx
          clusterScope: true
        args:
        - {name: service-name, value: web-canary}
        - {name: namespace, value: demo}
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
      - experiment:
          templates:
          - {name: canary, specRef: canary}
          analyses:
          - name: check
            templateName: forever
            requiredForCompletion: true
"#,
    },
    Fixture {
        name: "bad-forever-in-step.yaml",
        text: r#"# A step analysis that never completes.
# expect: 38:23 RG109 template "forever" metric "forever" has an interval and no count, so this blocking analysis never completes
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: forever
spec:
  metrics:
  - name: forever
    interval: 1m
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      analysis:
        templates:
        - templateName: success-rate-nginx
          clusterScope: true
        args:
        - {name: service-name, value: web-canary}
        - {name: namespace, value: demo}
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
      - analysis:
          templates: [{templateName: forever}]
"#,
    },
    Fixture {
        name: "good-forever-in-background.yaml",
        text: r#"# A metric with no count as background analysis: allowed.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: forever
spec:
  metrics:
  - name: forever
    interval: 1m
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      analysis:
        templates:
        - templateName: forever
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
"#,
    },
    Fixture {
        name: "good-forever-in-timed-experiment.yaml",
        text: r#"# With a duration the experiment ends the run.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: forever
spec:
  metrics:
  - name: forever
    interval: 1m
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok[5m])) / sum(rate(http_all[5m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      analysis:
        templates:
        - templateName: success-rate-nginx
          clusterScope: true
        args:
        - {name: service-name, value: web-canary}
        - {name: namespace, value: demo}
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
      - experiment:
          duration: 10m
          templates:
          - {name: canary, specRef: canary}
          analyses:
          - name: check
            templateName: forever
            requiredForCompletion: true
"#,
    },
];
