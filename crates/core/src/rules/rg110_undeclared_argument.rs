//! RG110 `undeclared-argument`: `{{args.x}}` used in a template but `x` is not declared in `spec.args`.

use super::catalog::{Fixture, Rule, Severity};
use super::rollout::Run;
use super::Sink;
use crate::argo::args;
use crate::argo::template::METRICS;
use crate::lookup::TemplateInfo;
use crate::manifest::pointer;
use serde_json::Value;

/// RG110 `undeclared-argument`.
pub static RG110: Rule = Rule {
    id: "RG110",
    name: "undeclared-argument",
    severity: Severity::Deny,
    summary: "`{{args.x}}` used in a template but `x` is not declared in `spec.args`.",
    doc: "Argo fails the AnalysisRun when a template references an argument that it does not declare.",
    help: "Declare the argument in `spec.args` (with a default `value` if it has one).",
    fixtures: FIXTURES,
};

pub(super) fn check_template(template: &Value, declared: &[&str], out: &mut Sink) {
    let Some(metrics) = crate::manifest::pointer::get(template, METRICS) else {
        return;
    };
    let mut stack = vec![(metrics, String::from(METRICS))];
    while let Some((v, at)) = stack.pop() {
        match v {
            Value::String(s) => {
                for tag in args::tags(s) {
                    if !declared.contains(&tag.name) {
                        out.report(
                            &RG110,
                            &at,
                            format!(
                                "{{{{args.{}}}}} is used but \"{}\" is not declared in spec.args",
                                tag.name, tag.name
                            ),
                        );
                    }
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate().rev() {
                    stack.push((x, format!("{at}/{i}")));
                }
            }
            Value::Object(map) => {
                for (k, x) in map.iter().rev() {
                    stack.push((x, pointer::child(&at, k)));
                }
            }
            _ => {}
        }
    }
}

/// Argo fills only declared arguments, so a tag no template of this analysis declares fails the
/// run whatever the Rollout passes. (In a lint run the template reports its own tags.)
pub(super) fn check_run(run: &Run, at: &str, info: &TemplateInfo, out: &mut Sink) {
    if run.reviewed_here {
        return;
    }
    let name = &info.name;
    for used in info
        .used_args
        .iter()
        .filter(|u| !run.merged.iter().any(|m| m.name == u.as_str()))
    {
        let passes = if run.passed.iter().any(|p| p.name == used.as_str()) {
            " (the value this analysis passes is ignored: Argo fills only declared arguments)"
        } else {
            ""
        };
        out.report(
            &RG110,
            at,
            format!(
                "template \"{name}\" uses {{{{args.{used}}}}} but no template of this analysis declares \"{used}\", so the AnalysisRun cannot resolve it{passes}"
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG110, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-undeclared-arg.yaml",
        text: r#"# {{args.namespace}} is not declared.
# expect: 19:16 RG110 {{args.namespace}} is used but "namespace" is not declared in spec.args
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
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}",namespace="{{args.namespace}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-declared-args.yaml",
        text: r#"# Every tag is declared.
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
