//! RG002 `duplicate-object`: Two objects in one directory (or stream) with the same kind, namespace and name.

use super::catalog::{Fixture, Rule, Severity};

/// RG002 `duplicate-object`.
pub static RG002: Rule = Rule {
    id: "RG002",
    name: "duplicate-object",
    severity: Severity::Warn,
    summary: "Two objects in one directory (or stream) with the same kind, namespace and name.",
    doc: "The API server holds one object per kind, namespace and name: applying both, the one applied last \
         replaces the other, which never runs. rollout-guard's catalog keeps one of them too, so references \
         (analysis templates, `workloadRef`) may be checked against the copy that will not be applied. \
         Usually a stale copy or a forgotten rename. Objects are compared within one directory (what one \
         `kubectl apply -f DIR` takes, and what the catalog resolves references within), so that overlays \
         and environments in sibling directories are not reported; objects that leave the namespace to \
         `kubectl -n` match only each other. The finding is on the later object and names the file and line \
         of both. Reported by the linter only: the webhook reviews one object at a time.",
    help: "Rename one of them, delete the stale copy, or give each its `metadata.namespace`.",
    fixtures: FIXTURES,
};

/// The message for `named` (`Kind "name"`, with its namespace) found again at `here` after
/// `first` (file and line each); the linter compares the objects of a run (see [`crate::lint`]).
pub fn message(named: &str, first: (&str, usize), here: (&str, usize)) -> String {
    let ((first_file, first_line), (file, line)) = (first, here);
    format!(
        "{named} is defined twice in this run: at {first_file}:{first_line} and here at {file}:{line}; \
         applied together, the one applied last replaces the other, and rollout-guard resolves references to only one of them"
    )
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG002, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-same-template-twice.yaml",
        text: r#"# The same AnalysisTemplate twice in one file: the later replaces the earlier.
# expect: 24:9 RG002 AnalysisTemplate "error-rate" is defined twice in this run: at tests/rules/RG002/bad-same-template-twice.yaml:6 and here at tests/rules/RG002/bad-same-template-twice.yaml:24; applied together, the one applied last replaces the other, and rollout-guard resolves references to only one of them
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
---
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
        name: "good-distinct-names.yaml",
        text: r#"# Two templates with different names in one file.
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
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: latency
spec:
  args:
  - name: service
  metrics:
  - name: latency
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
