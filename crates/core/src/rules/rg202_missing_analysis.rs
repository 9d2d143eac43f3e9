//! RG202 `missing-analysis`: A Rollout with no analysis: the mutating webhook injects the policy's default analysis.

use super::catalog::{Fixture, Rule, Severity};

/// RG202 `missing-analysis`.
pub static RG202: Rule = Rule {
    id: "RG202",
    name: "missing-analysis",
    severity: Severity::Warn,
    summary: "A Rollout with no analysis: the mutating webhook injects the policy's default analysis.",
    doc: "Without analysis nothing measures the new version and a bad release is never rolled back automatically. \
         The mutating webhook adds a background analysis with the policy's default template. A Rollout has \
         analysis when a background, step, blue-green or experiment step analysis names a template \
         (`analysis: {}` or `templates: []` runs nothing). An experiment's analyses count: Argo aborts the \
         rollout when the step's Experiment fails or errors (`reconcileExperiments` in rollout/experiment.go), \
         and a failed AnalysisRun ends its Experiment as failed (`assessAnalysisRuns` in experiments/experiment.go). The linter, the webhook and `--fix` decide by \
         the same definition.",
    help: "Reference an analysis template, or run `rollout-guard lint --fix` to add the policy's default analysis.",
    fixtures: FIXTURES,
};

// The mutation plan finds the missing analysis (`crate::argo::rollout::has_analysis`) and
// injects the policy's (`crate::mutation::plan`), or reports why it cannot (a gap).

/// A canary with no analysis, given the policy's default.
pub const NO_ANALYSIS: &str =
    "the Rollout has no analysis: a background analysis with the policy's default template is injected";
/// A blue-green Rollout with no analysis, given the policy's default.
pub const NO_BLUE_GREEN_ANALYSIS: &str = "the blue-green Rollout has no analysis: a prePromotionAnalysis against the preview Service is injected";
/// A gap: no analysis, and the policy names none.
pub const NO_DEFAULT_ANALYSIS: &str =
    "the Rollout has no analysis, and the policy names no default analysis to inject";
/// A gap: a blue-green Rollout with no analysis, and the policy injects none.
pub const NO_BLUE_GREEN_INJECTION: &str = "the blue-green Rollout has no analysis, and the policy does not inject one (spec.blueGreen.injectPrePromotionAnalysis is false)";

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG202, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-no-analysis.yaml",
        text: r#"# No analysis anywhere: the default is injected.
# expect: 10:7 RG202 the Rollout has no analysis: a background analysis with the policy's default template is injected
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
"#,
    },
    Fixture {
        name: "good-background-analysis.yaml",
        text: r#"# A background analysis.
# expect: none
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
"#,
    },
    Fixture {
        name: "good-experiment-analysis.yaml",
        text: r#"# An experiment analysis gates the rollout: no analysis is injected.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
      - experiment:
          duration: 10m
          templates:
          - {name: canary, specRef: canary}
          analyses:
          - name: check
            templateName: success-rate-nginx
            clusterScope: true
            args:
            - {name: service-name, value: web-canary}
            - {name: namespace, value: demo}
"#,
    },
];
