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
    RG101 = "RG101", "missing-failure-limit", Deny,
        "A metric without an explicit `failureLimit`.",
        "Argo Rollouts defaults `failureLimit` to 0, so the first failed measurement aborts the rollout; \
         people who leave it out rarely mean that, and the analysis flaps on the first noisy sample.",
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
        "A `successCondition` or `failureCondition` that is not a valid expression, or that indexes a scalar result.",
        "Conditions are expr-language expressions evaluated against `result`. A syntax error, or `result[0]` on a query \
         that returns a scalar, makes every measurement an Error instead of a verdict.",
        "Fix the expression; for a scalar query compare `result` directly, for a vector query use `result[0]`.";
    RG105 = "RG105", "unguarded-result-index", Warn,
        "`result[0]` with no guard against an empty result.",
        "When the query matches no series (no traffic yet, a renamed label) Prometheus returns an empty vector and \
         `result[0]` errors; errors count towards `consecutiveErrorLimit`, not towards a verdict.",
        "Guard the index: `len(result) == 0 || result[0] >= 0.95`, or wrap the query in `or vector(1)`.";
    RG106 = "RG106", "nan-unsafe-condition", Warn,
        "A condition that cannot catch NaN: a failure-only condition passes on NaN.",
        "A ratio with no traffic is 0/0 = NaN, and every comparison with NaN is false: a metric with only a \
         `failureCondition` such as `result[0] < 0.95` then never fails.",
        "Add a `successCondition` (NaN fails it), or test `isNaN(result[0])` in the failure condition.";
    RG107 = "RG107", "invalid-duration", Deny,
        "Bad durations: `interval` or `initialDelay` not Go durations, or `count > 1` without `interval`.",
        "Metric durations are Go durations with a unit (`30s`, `5m`); Argo rejects the AnalysisRun otherwise, \
         and it refuses `count > 1` without an `interval`.",
        "Write durations with a unit (`1m`, `90s`) and set `interval` whenever `count` is above 1.";
    RG108 = "RG108", "unworkable-limits", Deny,
        "Limits that cannot work: negative limits, `-1` misuse, or a `count` too small for the limits.",
        "Argo rejects negative limits; `failureLimit: -1` (no failure limit) is only meaningful with \
         `consecutiveSuccessLimit > 0`; a `count` below `inconclusiveLimit` or `consecutiveSuccessLimit` can never reach it.",
        "Use non-negative limits, pair `failureLimit: -1` with `consecutiveSuccessLimit`, and make `count` large enough.";
    RG109 = "RG109", "endless-blocking-analysis", Deny,
        "A metric that runs forever (an `interval` and no `count`) inside a step or blue-green analysis.",
        "A step or blue-green promotion analysis blocks the rollout until it completes; a metric with an \
         interval and no count never completes, so the rollout never promotes. Only background analysis may run forever.",
        "Give the metric a `count`, or run the template as background analysis (`canary.analysis`).";
    RG110 = "RG110", "undeclared-argument", Deny,
        "`{{args.x}}` used in a template but `x` is not declared in `spec.args`.",
        "Argo fails the AnalysisRun when a template references an argument that it does not declare.",
        "Declare the argument in `spec.args` (with a default `value` if it has one).";
    RG111 = "RG111", "missing-template-argument", Deny,
        "A Rollout that does not supply a required template argument.",
        "An argument with no `value` and no `valueFrom` in the template must come from the Rollout; \
         otherwise the AnalysisRun fails to start and the rollout is aborted.",
        "Pass the argument in the Rollout's analysis `args`, or give it a default in the template.";
    RG112 = "RG112", "unknown-template", Warn,
        "An analysis that names a template rollout-guard cannot find.",
        "The template is neither in the input nor among the shipped templates (with `serve --cluster`: not in \
         the cluster). It may already exist in the cluster, or come in the same apply, so this is a warning; if \
         it does not, the rollout is aborted when the analysis starts. An analysis the policy injects is \
         checked the same way, at the injected reference.",
        "Check the template name and `clusterScope`, or lint the template together with the Rollout; for an \
         injected analysis, install the policy's default template (the Helm chart does).";
    RG113 = "RG113", "invalid-provider", Deny,
        "Prometheus provider fields: address not a URL, negative timeout, or duplicate metric names.",
        "Argo rejects templates with duplicate metric names; a Prometheus address must be an http(s) URL and \
         `timeout` a non-negative number of seconds.",
        "Use a full URL such as `http://prometheus.monitoring:9090`, a positive `timeout`, and unique metric names.";
    RG114 = "RG114", "unreachable-failure-limit", Deny,
        "A `failureLimit` that can never trip: `failureLimit >= count`.",
        "Argo fails a metric only when failures exceed the limit (`failed > failureLimit`), so with \
         `count: 3, failureLimit: 3` all three measurements can fail and the analysis still succeeds.",
        "Make `failureLimit` smaller than `count` (for example `count: 5, failureLimit: 2`).";
    RG201 = "RG201", "missing-canary-steps", Warn,
        "A Rollout with no canary steps: the mutating webhook injects the policy's default steps.",
        "A canary with no steps shifts all traffic at once, which is a rolling update with extra moving parts. \
         rollout-guard's mutating webhook adds the policy's default steps; the linter reports what it would add.",
        "Write the steps yourself, or run `rollout-guard lint --fix` to add the policy's defaults.";
    RG202 = "RG202", "missing-analysis", Warn,
        "A Rollout with no analysis: the mutating webhook injects the policy's default analysis.",
        "Without analysis nothing measures the new version and a bad release is never rolled back automatically. \
         The mutating webhook adds a background analysis with the policy's default template.",
        "Reference an analysis template, or run `rollout-guard lint --fix` to add the policy's default analysis.";
    RG203 = "RG203", "invalid-step", Deny,
        "Step errors: weight outside 0..100, several kinds in one step, bad pause duration.",
        "Argo rejects a step that sets more than one thing, a weight outside 0..100, and a pause duration that is \
         neither whole seconds nor a Go duration.",
        "Give each step exactly one action, weights between 0 and 100, and pauses like `30`, `30s` or `5m`.";
    RG204 = "RG204", "invalid-strategy", Deny,
        "Strategy errors: none or both strategies, or a canary service equal to the stable service.",
        "A Rollout needs exactly one of `canary` and `blueGreen`; the canary and stable services (or the \
         active and preview services) must differ, or both versions receive the same traffic.",
        "Choose one strategy and give the two services different names.";
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
}
