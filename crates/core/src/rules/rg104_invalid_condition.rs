//! RG104 `invalid-condition`: A `successCondition` or `failureCondition` that Argo cannot compile: a syntax error, a name its environment lacks, or a type error for the query's result.

use super::catalog::{Fixture, Rule, Severity};
use super::template::error_consequence;
use super::Sink;
use crate::argo::template::Metric;
use crate::lang::condition::ResultType;
use crate::lang::probe::Table;

/// RG104 `invalid-condition`.
pub static RG104: Rule = Rule {
    id: "RG104",
    name: "invalid-condition",
    severity: Severity::Deny,
    summary: "A `successCondition` or `failureCondition` that Argo cannot compile: a syntax error, a name its environment lacks, or a type error for the query's result.",
    doc: "Argo (`utils/evaluate/evaluate.go`, `EvalCondition`) compiles each condition with Go's expr against an environment \
         of `result` and the helpers `asInt`, `asFloat`, `isNaN`, `isInf`, `isNil`, `default`; Prometheus \
         (`metricproviders/prometheus/prometheus.go`, `processResponse`) binds `result` to a `[]float64` for a vector \
         query and a `float64` for a scalar one. Go's expr type-checks the whole expression when it compiles, so \
         `result < 0.5` on a vector, `result[0]` on a scalar, `$.statusCode` or `args.threshold` (a name, not a \
         `{{args.threshold}}` tag) fail on every measurement, even on a branch that is not taken: each measurement is \
         an Error, and after `consecutiveErrorLimit` of them the run errors and the rollout aborts. The condition is \
         checked against the type the query returns; when the type is not known (a templated query, another \
         provider) only syntax and names are.",
    help: "Fix the expression: for a vector query compare `result[0]` (guarded by `len(result)`), for a scalar query \
         compare `result`; write template arguments as `{{args.name}}`.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, table: &Table, ty: ResultType, out: &mut Sink) {
    for (which, err) in &table.compile_errors {
        let key = which.key();
        let hint = match ty {
            ResultType::Vector if err.starts_with("Invalid operand") || err.contains("[]float64") => {
                " (the query returns a vector, so result is a list of numbers, []float64: compare result[0], guarded by len(result) > 0)"
            }
            ResultType::Scalar if err.starts_with("Invalid operand for operator []") => {
                " (the query returns a scalar, so result is a number, float64: compare result directly)"
            }
            _ if err.starts_with("unknown name") => {
                " (Argo's conditions see only result, asInt, asFloat, isNaN, isInf, isNil, default and expr's builtins; write arguments as {{args.name}})"
            }
            _ => "",
        };
        out.report(
            &RG104,
            m.ptr(key),
            format!(
                "metric \"{}\": {key} does not compile in Argo: {err}{hint}; every measurement errors, and {}",
                m.name,
                error_consequence(m)
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG104, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-syntax-error.yaml",
        text: r#"# Two operators in a row.
# expect: 15:23 RG104 metric "error-rate"
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
    successCondition: len(result) == 0 || result[0] >= >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-valid-condition.yaml",
        text: r#"# A valid expression.
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
