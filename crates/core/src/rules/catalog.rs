//! The rule catalog: every rule's id, name, default severity and documentation, in one place.
//! The README's rule table, `rollout-guard rules` and the SARIF driver are generated from here.

use serde::Serialize;
use std::fmt;

/// How a finding is treated: `deny` rejects (exit 1, admission denied), `warn` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Deny,
}

impl Severity {
    /// `deny` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Deny => "deny",
            Severity::Warn => "warn",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of the catalog.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, such as `RG101`.
    pub id: &'static str,
    /// Kebab-case name, such as `missing-failure-limit`.
    pub name: &'static str,
    /// Severity unless the policy overrides it.
    pub severity: Severity,
    /// One line: what the rule catches.
    pub summary: &'static str,
    /// A paragraph: why it matters and what Argo Rollouts does.
    pub doc: &'static str,
    /// What to do about a finding.
    pub help: &'static str,
}

macro_rules! rules {
    ($($ident:ident = $id:literal, $name:literal, $sev:ident, $summary:literal, $doc:literal, $help:literal;)*) => {
        $(
            #[doc = $summary]
            pub static $ident: Rule = Rule {
                id: $id,
                name: $name,
                severity: Severity::$sev,
                summary: $summary,
                doc: $doc,
                help: $help,
            };
        )*
        /// Every rule, in id order.
        pub static ALL: &[&Rule] = &[$(&$ident),*];
    };
}

rules! {
    RG001 = "RG001", "invalid-yaml", Deny,
        "A file or document that is not valid YAML or JSON.",
        "The file cannot be parsed, so nothing in it can be checked and kubectl would refuse it too. \
         Unrendered Helm templates are the usual cause: `{{ }}` outside quotes is not YAML.",
        "Fix the syntax at the reported position; for a Helm chart lint the rendered output: `helm template . | rollout-guard lint -`.";
    RG002 = "RG002", "duplicate-object", Warn,
        "Two objects in one directory (or stream) with the same kind, namespace and name.",
        "The API server holds one object per kind, namespace and name: applying both, the one applied last \
         replaces the other, which never runs. rollout-guard's catalog keeps one of them too, so references \
         (analysis templates, `workloadRef`) may be checked against the copy that will not be applied. \
         Usually a stale copy or a forgotten rename. Objects are compared within one directory (what one \
         `kubectl apply -f DIR` takes, and what the catalog resolves references within), so that overlays \
         and environments in sibling directories are not reported; objects that leave the namespace to \
         `kubectl -n` match only each other. The finding is on the later object and names the file and line \
         of both. Reported by the linter only: the webhook reviews one object at a time.",
        "Rename one of them, delete the stale copy, or give each its `metadata.namespace`.";
    RG101 = "RG101", "missing-failure-limit", Deny,
        "A metric without an explicit `failureLimit`.",
        "Argo Rollouts defaults `failureLimit` to 0, so the first failed measurement aborts the rollout; \
         people who leave it out rarely mean that, and the analysis flaps on the first noisy sample. \
         A metric measured once (no `interval`, and `count` absent or at most 1, such as a one-shot job) is \
         not reported: with one measurement a `failureLimit` of 1 or more can never trip (Argo fails only when \
         failures exceed the limit), so the default 0 is the only limit that means anything there.",
        "Set `failureLimit` on the metric (for example `failureLimit: 3`) so that the number of tolerated failures is a decision.";
    RG102 = "RG102", "invalid-promql", Deny,
        "A Prometheus `query` that is not valid PromQL, checked after `{{args.*}}` substitution.",
        "Argo only finds a broken query when the AnalysisRun runs and errors, in the middle of a rollout. \
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
        "Fix the query; `promtool` or the Prometheus UI show the same parse error.";
    RG103 = "RG103", "missing-condition", Deny,
        "A metric with neither `successCondition` nor `failureCondition`.",
        "Without a condition Argo Rollouts counts every measurement as successful, so the analysis can never fail the rollout.",
        "Add a `successCondition` such as `len(result) == 0 || result[0] >= 0.95` (and a `failureCondition` if needed).";
    RG104 = "RG104", "invalid-condition", Deny,
        "A `successCondition` or `failureCondition` that Argo cannot compile: a syntax error, a name its environment lacks, or a type error for the query's result.",
        "Argo (`utils/evaluate/evaluate.go`, `EvalCondition`) compiles each condition with Go's expr against an environment \
         of `result` and the helpers `asInt`, `asFloat`, `isNaN`, `isInf`, `isNil`, `default`; Prometheus \
         (`metricproviders/prometheus/prometheus.go`, `processResponse`) binds `result` to a `[]float64` for a vector \
         query and a `float64` for a scalar one. Go's expr type-checks the whole expression when it compiles, so \
         `result < 0.5` on a vector, `result[0]` on a scalar, `$.statusCode` or `args.threshold` (a name, not a \
         `{{args.threshold}}` tag) fail on every measurement, even on a branch that is not taken: each measurement is \
         an Error, and after `consecutiveErrorLimit` of them the run errors and the rollout aborts. The condition is \
         checked against the type the query returns; when the type is not known (a templated query, another \
         provider) only syntax and names are.",
        "Fix the expression: for a vector query compare `result[0]` (guarded by `len(result)`), for a scalar query \
         compare `result`; write template arguments as `{{args.name}}`.";
    RG105 = "RG105", "unguarded-result-index", Warn,
        "A condition that errors when the query returns an empty result.",
        "When a vector query matches no series (no traffic yet, a renamed label) Prometheus returns an empty vector, \
         which Argo (`metricproviders/prometheus/prometheus.go`, `processResponse`) passes as an empty, non-nil \
         `[]float64`; `result[0]` on it is Go expr's \"index out of range\" and the measurement errors \
         (`utils/evaluate/evaluate.go`, `EvaluateResult`). Errors count towards `consecutiveErrorLimit` (default 4), \
         not towards a verdict, then the run errors and the rollout aborts. The condition is evaluated on an empty \
         result in Argo's order: `len(result) == 0 || result[0] >= 0.9` is guarded, `result[0] >= 0.9 || \
         len(result) == 0` is not, and `isNil(result)` is no guard (Argo's `isNil` is false for an empty slice). A \
         query that can never be empty (`... or on() vector(0)` at its top) is not reported; the same fallback under \
         a vector operation, as in `(a or vector(0)) / b`, still can be empty.",
        "Guard the index first: `len(result) == 0 || result[0] >= 0.95`, or end the query with `or on() vector(1)`.";
    RG106 = "RG106", "nan-unsafe-condition", Warn,
        "Conditions under which a NaN result counts as a success, without the condition testing `isNaN`.",
        "A ratio with no traffic is 0/0 = NaN, and every comparison with NaN is false. Argo \
         (`utils/evaluate/evaluate.go`, `EvaluateResult`) counts a measurement as successful when a failure-only \
         condition is false, or a success-only condition is true: `failureCondition: result[0] < 0.95` or \
         `successCondition: !(result[0] < 0.95)` then pass NaN, neither failing nor erroring. The conditions are \
         evaluated on a NaN result; when they call `isNaN` on it, passing NaN is taken as intended.",
        "Add a `successCondition` that NaN fails (`result[0] >= 0.95`), or test `isNaN(result[0])` explicitly.";
    RG107 = "RG107", "invalid-duration", Deny,
        "Bad durations: `interval` or `initialDelay` not Go durations, or `count > 1` without `interval`.",
        "Metric durations are Go durations with a unit (`30s`, `5m`); Argo rejects the AnalysisRun otherwise, \
         and it refuses `count > 1` without an `interval`.",
        "Write durations with a unit (`1m`, `90s`) and set `interval` whenever `count` is above 1.";
    RG108 = "RG108", "unworkable-limits", Deny,
        "Limits that cannot work: negative limits, `-1` misuse, or a `count` too small for the limits.",
        "Follows Argo's `ValidateMetric` (utils/analysis/factory.go), which rejects the AnalysisRun, so the \
         analysis errors when it starts: negative limits; `failureLimit: -1` (no failure limit) without \
         `consecutiveSuccessLimit > 0`; and, for a bounded `count`, a count below `failureLimit`, below \
         `inconclusiveLimit` or `consecutiveSuccessLimit`, or below `failureLimit + consecutiveSuccessLimit` \
         when both are 0 or more (`count: 2, failureLimit: 1, consecutiveSuccessLimit: 2` is rejected).",
        "Use non-negative limits, pair `failureLimit: -1` with `consecutiveSuccessLimit`, and make `count` at least `failureLimit + consecutiveSuccessLimit`.";
    RG109 = "RG109", "endless-blocking-analysis", Deny,
        "A metric that runs forever (an `interval` and no `count`) inside a step or blue-green analysis.",
        "A step or blue-green promotion analysis blocks the rollout until it completes; a metric with an \
         interval and no count never completes, so the rollout never promotes. Only background analysis may run forever. \
         An experiment step's analysis blocks only when the experiment has no `duration` and the analysis is \
         `requiredForCompletion` (with a duration, Argo ends the runs when it elapses).",
        "Give the metric a `count`, or run the template as background analysis (`canary.analysis`).";
    RG110 = "RG110", "undeclared-argument", Deny,
        "`{{args.x}}` used in a template but `x` is not declared in `spec.args`.",
        "Argo fails the AnalysisRun when a template references an argument that it does not declare.",
        "Declare the argument in `spec.args` (with a default `value` if it has one).";
    RG111 = "RG111", "missing-template-argument", Deny,
        "A Rollout that does not supply a required template argument.",
        "An argument with no `value` and no `valueFrom` in the template must come from the Rollout; \
         otherwise the AnalysisRun fails to start and the rollout is aborted. Checked for every analysis: \
         background, steps, blue-green, and each `analyses[]` entry of an experiment step (with its own `args`).",
        "Pass the argument in the Rollout's analysis `args`, or give it a default in the template.";
    RG112 = "RG112", "unknown-template", Warn,
        "An analysis that names a template rollout-guard cannot find.",
        "The template is neither in the input nor among the shipped templates (with `serve --cluster`: not in \
         the cluster). It may already exist in the cluster, or come in the same apply, so this is a warning; if \
         it does not, the rollout is aborted when the analysis starts. An analysis the policy injects is \
         checked the same way, at the injected reference, and so is each experiment step analysis \
         (`templateName`, `clusterScope`).",
        "Check the template name and `clusterScope`, or lint the template together with the Rollout; for an \
         injected analysis, install the policy's default template (the Helm chart does).";
    RG113 = "RG113", "invalid-provider", Deny,
        "Prometheus provider fields: address not a URL, negative timeout, or duplicate metric names.",
        "Argo rejects templates with duplicate metric names; a Prometheus address must be an http(s) URL and \
         `timeout` a non-negative number of seconds.",
        "Use a full URL such as `http://prometheus.monitoring:9090`, a positive `timeout`, and unique metric names.";
    RG114 = "RG114", "unreachable-failure-limit", Deny,
        "A `failureLimit` that can never trip: `failureLimit` equal to `count`.",
        "Argo fails a metric only when failures exceed the limit (`failed > failureLimit`), so with \
         `count: 3, failureLimit: 3` all three measurements can fail and the analysis still succeeds. \
         A `failureLimit` above `count` is RG108's: Argo rejects that AnalysisRun outright.",
        "Make `failureLimit` smaller than `count` (for example `count: 5, failureLimit: 2`).";
    RG201 = "RG201", "missing-canary-steps", Warn,
        "A Rollout with no canary steps: the mutating webhook injects the policy's default steps.",
        "A canary with no steps shifts all traffic at once, which is a rolling update with extra moving parts. \
         rollout-guard's mutating webhook adds the policy's default steps; the linter reports what it would add.",
        "Write the steps yourself, or run `rollout-guard lint --fix` to add the policy's defaults.";
    RG202 = "RG202", "missing-analysis", Warn,
        "A Rollout with no analysis: the mutating webhook injects the policy's default analysis.",
        "Without analysis nothing measures the new version and a bad release is never rolled back automatically. \
         The mutating webhook adds a background analysis with the policy's default template. A Rollout has \
         analysis when a background, step, blue-green or experiment step analysis names a template \
         (`analysis: {}` or `templates: []` runs nothing). An experiment's analyses count: Argo aborts the \
         rollout when the step's Experiment fails or errors (`reconcileExperiments` in rollout/experiment.go), \
         and a failed AnalysisRun ends its Experiment as failed (`assessAnalysisRuns` in experiments/experiment.go). The linter, the webhook and `--fix` decide by \
         the same definition.",
        "Reference an analysis template, or run `rollout-guard lint --fix` to add the policy's default analysis.";
    RG203 = "RG203", "invalid-step", Deny,
        "Step errors: weight outside 0..100, several kinds in one step, bad pause duration.",
        "Argo rejects a step that sets more than one thing, a weight outside 0..100, and a pause duration that is \
         neither whole seconds nor a Go duration.",
        "Give each step exactly one action, weights between 0 and 100, and pauses like `30`, `30s` or `5m`.";
    RG204 = "RG204", "invalid-strategy", Deny,
        "Strategy errors: none or both strategies, canary service equal to stable, or traffic routing without both services.",
        "A Rollout needs exactly one of `canary` and `blueGreen`; the canary and stable services (or the \
         active and preview services) must differ, or both versions receive the same traffic. A canary with \
         `trafficRouting` (nginx, ALB, SMI, Istio with VirtualServices, a plugin, any router) needs both \
         `canaryService` and `stableService`; Argo rejects the Rollout otherwise (\"Canary service and Stable \
         service must to be set to use Traffic Routing\"), except with an Istio `destinationRule` or \
         `pingPong` (`requireCanaryStableServices` in pkg/apis/rollouts/validation/validation.go).",
        "Choose one strategy, give the two services different names, and set both `canaryService` and `stableService` when routing traffic.";
    RG301 = "RG301", "unmanaged-deployment", Warn,
        "A Deployment in a namespace that requires progressive delivery and no Rollout manages it.",
        "A plain Deployment updates with no canary and no analysis. A Deployment counts as managed when a Rollout \
         references it through `workloadRef`.",
        "Convert it to a Rollout, or reference it from a Rollout's `workloadRef`.";
}

/// The rule with this id, if any.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// The rule table in Markdown, as it stands in the README.
pub fn markdown_table() -> String {
    let mut out = String::from("| id | name | default | what it catches |\n|---|---|---|---|\n");
    for r in ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            r.id, r.name, r.severity, r.summary
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "catalog is in id order");
        for r in ALL {
            assert!(r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(!r.doc.is_empty() && !r.help.is_empty());
        }
    }

    #[test]
    fn docs_state_the_argo_behaviour_they_follow() {
        // The single-measurement exemption is behaviour (tests/rules/RG101), so the doc says it.
        assert!(RG101.doc.contains("measured once"), "{}", RG101.doc);
        for (rule, source) in [
            (&RG108, "utils/analysis/factory.go"),
            (&RG202, "rollout/experiment.go"),
            (&RG202, "experiments/experiment.go"),
            (&RG204, "pkg/apis/rollouts/validation/validation.go"),
        ] {
            assert!(rule.doc.contains(source), "{} cites {source}", rule.id);
        }
    }
}
