//! RG111 `missing-template-argument`: A Rollout that does not supply a required template argument.

use super::catalog::{Fixture, Rule, Severity};
use super::rollout::Run;
use super::Sink;

/// RG111 `missing-template-argument`.
pub static RG111: Rule = Rule {
    id: "RG111",
    name: "missing-template-argument",
    severity: Severity::Deny,
    summary: "A Rollout that does not supply a required template argument.",
    doc: "An argument with no `value` and no `valueFrom` in the template must come from the Rollout; \
         otherwise the AnalysisRun fails to start and the rollout is aborted. Checked for every analysis: \
         background, steps, blue-green, and each `analyses[]` entry of an experiment step (with its own `args`). \
         Argo flattens the templates' arguments (`flattenArgs`), lets the Rollout's `args` fill them by name \
         (`MergeArgs`) and refuses the run when one is still without a value (`ResolveArgs`: \
         `args.NAME was not resolved`), all in `utils/analysis/helpers.go`.",
    help: "Pass the argument in the Rollout's analysis `args`, or give it a default in the template.",
    fixtures: FIXTURES,
};

/// A declared argument of the run that has no value and that the Rollout does not fill.
pub(super) fn check_run(run: &Run, out: &mut Sink) {
    for m in run
        .merged
        .iter()
        .filter(|m| m.value.is_none() && !m.value_from)
    {
        out.report(
            &RG111,
            &run.block.at,
            format!(
                "template \"{}\" requires argument \"{}\", which this analysis does not pass",
                m.template, m.name
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG111, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-argument-missing.yaml",
        text: r#"# The step analysis passes nothing.
# expect: 41:11 RG111 template "needs-service" requires argument "service", which this analysis does not pass
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: needs-service
spec:
  args:
  - name: service
  metrics:
  - name: needs-service
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
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
          templates: [{templateName: needs-service}]
"#,
    },
    Fixture {
        name: "bad-experiment-argument-missing.yaml",
        text: r#"# An experiment analysis passes nothing.
# expect: 45:13 RG111 template "needs-service" requires argument "service", which this analysis does not pass
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: needs-service
spec:
  args:
  - name: service
  metrics:
  - name: needs-service
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
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
            templateName: needs-service
"#,
    },
    Fixture {
        name: "good-argument-passed.yaml",
        text: r#"# The Rollout passes the required argument.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: needs-service
spec:
  args:
  - name: service
  metrics:
  - name: needs-service
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
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
          templates: [{templateName: needs-service}]
          args: [{name: service, value: web-canary}]
"#,
    },
    Fixture {
        name: "good-experiment-argument-passed.yaml",
        text: r#"# The experiment analysis passes its argument.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: needs-service
spec:
  args:
  - name: service
  metrics:
  - name: needs-service
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
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
            templateName: needs-service
            args: [{name: service, value: web-canary}]
"#,
    },
];
