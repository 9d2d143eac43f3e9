//! RG112 `unknown-template`: An analysis that names a template rollout-guard cannot find.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::lookup::{Coverage, Lookup};

/// RG112 `unknown-template`.
pub static RG112: Rule = Rule {
    id: "RG112",
    name: "unknown-template",
    severity: Severity::Warn,
    summary: "An analysis that names a template rollout-guard cannot find.",
    doc: "The template is neither in the input nor among the shipped templates (with `serve --cluster`: not in \
         the cluster). It may already exist in the cluster, or come in the same apply, so this is a warning; if \
         it does not, the rollout is aborted when the analysis starts. An analysis the policy injects is \
         checked the same way, at the injected reference, and so is each experiment step analysis \
         (`templateName`, `clusterScope`). Argo looks each reference up when it creates the AnalysisRun \
         (`getAnalysisTemplatesFromRefs`, `rollout/analysis.go`): a template it cannot get is an error for the \
         rollout, not a skipped analysis.",
    help: "Check the template name and `clusterScope`, or lint the template together with the Rollout; for an \
         injected analysis, install the policy's default template (the Helm chart does).",
    fixtures: FIXTURES,
};

pub(super) fn check(lookup: &Lookup, cluster: bool, name: &str, at: String, out: &mut Sink) {
    let kind = if cluster {
        "ClusterAnalysisTemplate"
    } else {
        "AnalysisTemplate"
    };
    let consequence = match lookup.coverage() {
        Coverage::LintInput => "if it is not in the cluster either, the analysis fails to start",
        Coverage::Shipped => {
            "rollout-guard does not watch the cluster (serve --cluster), so it cannot tell whether it exists"
        }
        Coverage::Cluster => {
            "unless it is created in the same apply, the analysis fails to start"
        }
    };
    out.report(
        &RG112,
        at,
        format!(
            "{kind} \"{name}\" is not in {}; {consequence}",
            lookup.coverage().looked_in()
        ),
    );
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG112, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-unknown-experiment-template.yaml",
        text: r#"# An experiment analysis names no known template.
# expect: 27:13 RG112 ClusterAnalysisTemplate "nope" is not in the input or the shipped templates; if it is not in the cluster either, the analysis fails to start
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
            templateName: nope
            clusterScope: true
"#,
    },
    Fixture {
        name: "bad-unknown-template.yaml",
        text: r#"# No such template.
# expect: 14:11 RG112 ClusterAnalysisTemplate "success-rate-nope" is not in the input or the shipped templates; if it is not in the cluster either, the analysis fails to start
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
        - templateName: success-rate-nope
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
        name: "good-shipped-template.yaml",
        text: r#"# The shipped ClusterAnalysisTemplate is found.
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
];
