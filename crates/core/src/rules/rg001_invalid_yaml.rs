//! RG001 `invalid-yaml`: A file or document that is not valid YAML or JSON.

use super::catalog::{Fixture, Rule, Severity};
use crate::manifest::SyntaxError;

/// RG001 `invalid-yaml`.
pub static RG001: Rule = Rule {
    id: "RG001",
    name: "invalid-yaml",
    severity: Severity::Deny,
    summary: "A file or document that is not valid YAML or JSON.",
    doc: "The file cannot be parsed, so nothing in it can be checked and kubectl would refuse it too. \
         Unrendered Helm templates are the usual cause: `{{ }}` outside quotes is not YAML.",
    help: "Fix the syntax at the reported position; for a Helm chart lint the rendered output: `helm template . | rollout-guard lint -`.",
    fixtures: FIXTURES,
};

/// The message for a source that does not parse (the linter's parse finds it: see
/// [`crate::lint`]).
pub fn message(err: &SyntaxError) -> String {
    let mut message = format!("not valid YAML: {}", err.message);
    if err.helm_hint {
        message.push_str(
            " (this looks like an unrendered Helm template: render it first, `helm template . | rollout-guard lint -`)",
        );
    }
    message
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG001, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-unclosed-flow.yaml",
        text: r#"# An unclosed flow mapping is not YAML.
# expect: 6:5 RG001 not valid YAML: while parsing a flow mapping, did not find expected ',' or '}'
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web
spec: {}
"#,
    },
    Fixture {
        name: "good-valid-yaml.yaml",
        text: r#"# A well-formed template: nothing to report.
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
