//! RG102 `invalid-promql`: A Prometheus `query` that is not valid PromQL, checked after `{{args.*}}` substitution.

use super::catalog::{Fixture, Rule, Severity};
use super::rollout::Run;
use super::Sink;
use crate::argo::template::Metric;
use crate::lang::prometheus_features::Feature;
use crate::lang::promql;
use crate::lookup::TemplateInfo;

/// RG102 `invalid-promql`.
pub static RG102: Rule = Rule {
    id: "RG102",
    name: "invalid-promql",
    severity: Severity::Deny,
    summary: "A Prometheus `query` that is not valid PromQL, checked after `{{args.*}}` substitution.",
    doc: "Argo only finds a broken query when the AnalysisRun runs and errors, in the middle of a rollout. \
         The query is parsed with the arguments' known values (template defaults or what the Rollout passes) \
         and type-fitting placeholders for the others. It is judged as Prometheus 3.x judges it: \
         `=~`/`!~` regexes with Go's RE2 grammar (`regexp/syntax/parse.go`: `a**`, `x{2}{3}`, `a{1001}`, \
         `[0--9]`, `(?x)` are errors, `a{,3}` is a literal); numbers with Go's `strconv.ParseFloat` \
         (`promql/parser/parse.go` `number`: `1e1000` is out of range), `@` timestamps within int64 and \
         number durations within int64 nanoseconds; experimental functions and aggregators (`limitk`, \
         `info`, `sort_by_label`, `mad_over_time`, ...; `promql/parser/functions.go` `Experimental`), \
         `fill()` modifiers and duration expressions are refused unless the policy's \
         `spec.prometheus.features` lists the `--enable-feature` flag your Prometheus runs with \
         (`promql-experimental-functions`, `promql-binop-fill-modifiers`, `promql-duration-expr`).",
    help: "Fix the query; `promtool` or the Prometheus UI show the same parse error.",
    fixtures: FIXTURES,
};

/// Returns the query's type when it parses, for the condition rules. A feature the policy's
/// Prometheus lacks is reported first, naming the flag, since promql-parser accepts (or, for
/// duration expressions, fails on) such queries without saying why.
pub(super) fn check(m: &Metric, features: &[Feature], out: &mut Sink) -> Option<promql::QueryType> {
    let query = m.query()?;
    let known = |name: &str| m.defaults.get(name).cloned();
    match promql::disabled_feature(query, features).and_then(|()| promql::check(query, &known)) {
        Ok(t) => Some(t),
        Err(problem) => {
            out.report(
                &RG102,
                m.ptr("provider/prometheus/query"),
                format!(
                    "metric \"{}\": query is not valid PromQL: {problem}",
                    m.name
                ),
            );
            None
        }
    }
}

/// The template's queries with the values the run would have. In a lint run the template's own
/// check has already judged the query with its defaults: report here only what the passed
/// values break.
pub(super) fn check_run(run: &Run, info: &TemplateInfo, out: &mut Sink) {
    let defaults = |n: &str| {
        info.args
            .iter()
            .find(|a| a.name == n)
            .and_then(|a| a.value.clone())
    };
    let with_passed = |n: &str| {
        run.merged
            .iter()
            .find(|m| m.name == n)
            .and_then(|m| m.value.clone())
    };
    for m in &info.metrics {
        let Some(query) = &m.query else { continue };
        let judged = !run.reviewed_here
            || (promql::values_matter(query, &with_passed)
                && promql::check(query, &defaults).is_ok());
        if !judged {
            continue;
        }
        if let Err(problem) = promql::check(query, &with_passed) {
            out.report(
                &RG102,
                &run.block.at,
                format!(
                    "with the arguments this Rollout passes, template \"{}\" metric \"{}\" has an invalid query: {problem}",
                    info.name, m.name
                ),
            );
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG102, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-unbalanced-query.yaml",
        text: r#"# A missing parenthesis.
# expect: 19:16 RG102 metric "error-rate": query is not valid PromQL: unclosed left parenthesis
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
        query: sum(rate(http_ok{service="{{args.service}}"}[5m]) / sum(rate(http_all{service="{{args.service}}"}[5m]))
"#,
    },
    Fixture {
        name: "good-valid-query.yaml",
        text: r#"# The query parses after argument substitution.
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
