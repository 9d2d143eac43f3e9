//! RG104 `invalid-condition`: A `successCondition` or `failureCondition` that Argo cannot compile: a syntax error, a name its environment lacks, or a type error for the query's result.

use super::catalog::{Fixture, Rule, Severity};
use super::template::error_consequence;
use super::Sink;
use crate::argo::template::Metric;
use crate::lang::condition::{Phase, ResultType};
use crate::lang::probe::{Probe, Table, Which};

/// RG104 `invalid-condition`.
pub static RG104: Rule = Rule {
    id: "RG104",
    name: "invalid-condition",
    severity: Severity::Deny,
    summary: "A `successCondition` or `failureCondition` that Argo cannot compile (a syntax error, a name its environment lacks, a type error for the query's result) or that errors on every result with samples.",
    doc: "Argo (`utils/evaluate/evaluate.go`, `EvalCondition`) compiles each condition with Go's expr against an environment \
         of `result` and the helpers `asInt`, `asFloat`, `isNaN`, `isInf`, `isNil`, `default`; Prometheus \
         (`metricproviders/prometheus/prometheus.go`, `processResponse`) binds `result` to a `[]float64` for a vector \
         query and a `float64` for a scalar one. Go's expr type-checks the whole expression when it compiles, so \
         `result < 0.5` on a vector, `result[0]` on a scalar, `$.statusCode` or `args.threshold` (a name, not a \
         `{{args.threshold}}` tag) fail on every measurement, even on a branch that is not taken: each measurement is \
         an Error, and once more than `consecutiveErrorLimit` come in a row the run errors and the rollout aborts. The condition is \
         checked against the type the query returns; when the type is not known (a templated query, another \
         provider) only syntax and names are. A condition that compiles but errors when it is evaluated on a \
         result with samples (`asFloat(result)` on a vector: Argo's `asFloat` takes a number or a string; \
         `result[0] / result[1] > 2` on a one-sample result is RG105's) is reported too: with a known result \
         type, it is evaluated on one sample and on several (or on a number), and when every such evaluation \
         errors, so does every measurement that has data.",
    help: "Fix the expression: for a vector query compare `result[0]` (guarded by `len(result)`), for a scalar query \
         compare `result`; write template arguments as `{{args.name}}`.",
    fixtures: FIXTURES,
};

pub(super) fn check(m: &Metric, table: &Table, ty: ResultType, out: &mut Sink) {
    if let Some((which, message)) = errors_with_data(table) {
        let key = which.key();
        out.report(
            &RG104,
            m.ptr(key),
            format!(
                "metric \"{}\": {key} errors in Argo on every result with samples ({message}); every measurement with data errors, and {}",
                m.name,
                error_consequence(m)
            ),
        );
    }
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

/// The condition and Argo's message when every probe with data (one sample, several, a number)
/// makes the measurement an Error.
fn errors_with_data(table: &Table) -> Option<(Which, &str)> {
    let mut rows = table
        .rows
        .iter()
        .filter(|r| matches!(r.probe, Probe::OneSample | Probe::Several | Probe::Number))
        .peekable();
    rows.peek()?;
    let mut first = None;
    for row in rows {
        match (row.measurement.phase, row.erred) {
            (Phase::Error, Some(which)) => {
                first.get_or_insert((which, row.measurement.message.as_deref().unwrap_or("error")));
            }
            _ => return None,
        }
    }
    first
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
    Fixture {
        name: "bad-vector-compared-as-number.yaml",
        text: r#"# A vector query's result compared as a number (Argo: Invalid operation on []float64).
# expect: 15:23 RG104 metric "error-rate": successCondition does not compile in Argo: Invalid operand
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
    successCondition: result < 0.05
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-name-argo-lacks.yaml",
        text: r#"# An argument written as a name, not as a {{args.threshold}} tag.
# expect: 15:23 RG104 successCondition does not compile in Argo: unknown name args
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
    successCondition: len(result) == 0 || result[0] >= args.threshold
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "bad-errors-on-every-sample.yaml",
        text: r#"# asFloat takes a number or a string, not the vector's []float64: every result with samples errors.
# expect: 15:23 RG104 successCondition errors in Argo on every result with samples
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
    successCondition: len(result) == 0 || asFloat(result) >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: sum(rate(http_ok{service="{{args.service}}"}[5m])) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-scalar-compared-as-number.yaml",
        text: r#"# A scalar query's result is a number.
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
    successCondition: result >= 0.95
    provider:
      prometheus:
        address: http://prometheus.monitoring:9090
        query: scalar(sum(rate(http_ok{service="{{args.service}}"}[5m])))
"#,
    },
];
