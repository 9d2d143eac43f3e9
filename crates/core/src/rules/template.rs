//! The template pass: every rule about AnalysisTemplates and ClusterAnalysisTemplates, run on
//! each metric (or the whole template) with its arguments' defaults substituted, and the reading
//! of a metric's conditions that RG104, RG105 and RG106 share.

use super::rg105_unguarded_result_index as rg105;
use super::{rg101_missing_failure_limit as rg101, rg102_invalid_promql as rg102};
use super::{rg103_missing_condition as rg103, rg104_invalid_condition as rg104};
// The rule is about conditions unsafe on NaN; nothing here is `unsafe` Rust.
#[allow(clippy::unsafe_removed_from_name)]
use super::rg106_nan_unsafe_condition as rg106;
use super::{rg107_invalid_duration as rg107, rg108_unworkable_limits as rg108};
use super::{rg110_undeclared_argument as rg110, rg113_invalid_provider as rg113};
use super::{rg114_unreachable_failure_limit as rg114, Sink};
use crate::argo::args;
use crate::argo::template::{IntField, Metric, Template};
use crate::lang::condition::ResultType;
use crate::lang::probe::{self, Table, Which};
use crate::lang::prometheus_features::Feature;
use crate::lang::promql::{self, QueryType};
use crate::manifest::Object;

/// Runs every template rule; `features` are the Prometheus feature flags the policy enables.
pub(super) fn check(obj: &Object, features: &[Feature], out: &mut Sink) {
    let template = Template::of(&obj.value);
    let declared = template.declared_args();
    let defaults = template.arg_defaults();
    let Some(metrics) = template.metrics() else {
        return;
    };
    rg110::check_template(&obj.value, &declared, out);
    rg113::check_names(metrics, out);
    for (i, value) in metrics.iter().enumerate() {
        let m = Metric::new(i, value, &defaults);
        let query_type = rg102::check(&m, features, out);
        rg101::check(&m, out);
        rg103::check(&m, out);
        let ty = result_type(&m, query_type);
        let table = condition_table(&m, ty);
        rg104::check(&m, &table, ty, out);
        rg105::check(&m, &table, out);
        rg106::check(&m, &table, out);
        rg107::check(&m, out);
        rg108::check(&m, out);
        rg113::check(&m, out);
        rg114::check(&m, out);
    }
}

/// Each condition the metric sets, by its key, with its text (unknown arguments as `1`).
fn condition_text(m: &Metric, which: Which) -> Option<String> {
    let raw = m.field(which.key())?.as_str()?;
    let text = args::substitute(raw, |t| {
        m.defaults
            .get(t.name)
            .cloned()
            .unwrap_or_else(|| "1".into())
    });
    Some(text.into_owned())
}

/// The type Argo binds `result` to: Prometheus's vector or scalar when the query's type is
/// known (`query_type`, from RG102's parse); unknown when a tag without a value could change
/// it, or for another provider.
fn result_type(m: &Metric, query_type: Option<QueryType>) -> ResultType {
    let Some(query) = m.query() else {
        return ResultType::Unknown;
    };
    // A tag with no known value outside a string literal may be any PromQL at all.
    let unknown_tag = |name: &str| (!m.defaults.contains_key(name)).then(|| "x".to_string());
    if promql::values_matter(query, &unknown_tag) {
        return ResultType::Unknown;
    }
    match query_type {
        Some(QueryType::Vector) => ResultType::Vector,
        Some(QueryType::Scalar) => ResultType::Scalar,
        _ => ResultType::Unknown,
    }
}

/// The metric's conditions read against Argo's environment, for the rules that evaluate them.
fn condition_table(m: &Metric, ty: ResultType) -> Table {
    if m.judges_itself() {
        return Table::default();
    }
    let success = condition_text(m, Which::Success);
    let failure = condition_text(m, Which::Failure);
    probe::table(success.as_deref(), failure.as_deref(), ty)
}

/// What Argo does with a metric whose measurements error.
pub(super) fn error_consequence(m: &Metric) -> String {
    let limit = match m.int("consecutiveErrorLimit") {
        IntField::Known(n) => format!("consecutiveErrorLimit ({n})"),
        _ => "consecutiveErrorLimit (default 4)".to_string(),
    };
    // Argo's assessMetricStatus (analysis/analysis.go): the metric errors once its errors in a
    // row exceed the limit.
    format!("once more than {limit} errors come in a row the run errors and the rollout aborts")
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{findings, ids};

    fn template(metric: &str) -> String {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {{name: t}}\nspec:\n  args:\n  - name: svc\n  - name: limit\n    value: \"2\"\n  metrics:\n{metric}"
        )
    }

    const GOOD: &str = "  - name: ok\n    interval: 1m\n    count: 5\n    failureLimit: 2\n    successCondition: len(result) == 0 || result[0] >= 0.95\n    provider:\n      prometheus:\n        address: http://prometheus:9090\n        query: sum(rate(http{svc=\"{{args.svc}}\"}[5m]))\n";

    #[test]
    fn good_metric_passes_every_rule() {
        assert!(
            ids(&template(GOOD)).is_empty(),
            "{:?}",
            findings(&template(GOOD))
        );
    }

    fn with(from: &str, to: &str) -> Vec<String> {
        let t = template(&GOOD.replace(from, to));
        ids(&t)
    }

    #[test]
    fn rg101() {
        assert_eq!(with("    failureLimit: 2\n", ""), ["RG101"]);
        assert!(with("failureLimit: 2", "failureLimit: \"{{args.limit}}\"").is_empty());
    }

    #[test]
    fn rg102() {
        assert_eq!(with("[5m]))", "[5m])"), ["RG102"]);
    }

    #[test]
    fn rg102_follows_the_policy_s_prometheus_features() {
        use crate::lang::prometheus_features::Feature;
        let t = template(&GOOD.replace("sum(rate(", "limitk(1, rate("));
        let obj = crate::rules::testing::objects(&t).pop().unwrap();
        let run = |features: &[Feature]| {
            let mut sink = crate::rules::Sink::default();
            super::check(&obj, features, &mut sink);
            sink.findings
        };
        let refused = run(&[]);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].rule.id, "RG102");
        assert_eq!(
            refused[0].pointer,
            "/spec/metrics/0/provider/prometheus/query"
        );
        assert!(
            refused[0]
                .message
                .contains("--enable-feature=promql-experimental-functions"),
            "{}",
            refused[0].message
        );
        assert!(run(&[Feature::PromqlExperimentalFunctions]).is_empty());
        // A Go regex Rust would reject is valid; one Go rejects is RG102 with Go's reason.
        assert!(with("svc=\"{{args.svc}}\"", "svc=~\"a{,3}|b\"").is_empty());
        let bad = findings(&template(
            &GOOD.replace("svc=\"{{args.svc}}\"", "svc=~\"a**\""),
        ));
        assert_eq!(
            bad,
            [(
                "RG102".to_string(),
                "/spec/metrics/0/provider/prometheus/query".to_string()
            )]
        );
    }

    #[test]
    fn rg103() {
        assert_eq!(
            with(
                "    successCondition: len(result) == 0 || result[0] >= 0.95\n",
                ""
            ),
            ["RG103"]
        );
    }

    #[test]
    fn rg104() {
        assert_eq!(with(">= 0.95", ">= >= 0.95"), ["RG104"]);
    }

    #[test]
    fn rg104_scalar_indexed() {
        let t = template(
            &GOOD
                .replace("query: sum(", "query: scalar(sum(")
                .replace("[5m]))", "[5m])))")
                .replace("len(result) == 0 || result[0] >= 0.95", "result[0] >= 0.95"),
        );
        assert_eq!(ids(&t), ["RG104"]);
    }

    #[test]
    fn rg105() {
        assert_eq!(
            with("len(result) == 0 || result[0]", "result[0]"),
            ["RG105"]
        );
        assert!(with("[5m]))\n", "[5m])) or vector(1)\n").is_empty());
    }

    #[test]
    fn rg106() {
        assert_eq!(
            with(
                "successCondition: len(result) == 0 || result[0] >= 0.95",
                "failureCondition: len(result) > 0 && result[0] < 0.9"
            ),
            ["RG106"]
        );
        assert!(with(
            "successCondition: len(result) == 0 || result[0] >= 0.95",
            "failureCondition: len(result) > 0 && (isNaN(result[0]) || result[0] < 0.9)"
        )
        .is_empty());
    }

    /// The messages of the findings of `rule` on the template.
    fn messages(yaml: &str, rule: &str) -> Vec<String> {
        let objs = crate::rules::testing::objects(yaml);
        let mut sink = crate::rules::Sink::default();
        super::check(&objs[0], &[], &mut sink);
        sink.findings
            .into_iter()
            .filter(|f| f.rule.id == rule)
            .map(|f| f.message)
            .collect()
    }

    const SUCCESS: &str = "successCondition: len(result) == 0 || result[0] >= 0.95";

    fn condition(text: &str) -> Vec<String> {
        with(SUCCESS, text)
    }

    #[test]
    fn rg104_vector_compared_as_number() {
        // Go's expr rejects []float64 < float64 at compile time: every measurement errors.
        assert_eq!(condition("successCondition: result < 0.5"), ["RG104"]);
        assert_eq!(
            condition("successCondition: len(result) == 0 || result < 0.5"),
            ["RG104"]
        );
        assert_eq!(condition("failureCondition: result >= 0.5"), ["RG104"]);
        let msg = &messages(
            &template(&GOOD.replace(SUCCESS, "successCondition: result < 0.5")),
            "RG104",
        )[0];
        assert!(
            msg.contains("[]float64") && msg.contains("result[0]"),
            "{msg}"
        );
        assert!(msg.contains("consecutiveErrorLimit (default 4)"), "{msg}");
    }

    #[test]
    fn rg104_names_argo_lacks() {
        assert_eq!(
            condition("successCondition: \"$.statusCode == 200\""),
            ["RG104"]
        );
        assert_eq!(
            condition("successCondition: len(result) == 0 || result[0] < args.threshold"),
            ["RG104"]
        );
        let msg = &messages(
            &template(&GOOD.replace(
                SUCCESS,
                "successCondition: len(result) == 0 || result[0] < args.limit",
            )),
            "RG104",
        )[0];
        assert!(
            msg.contains("unknown name args") && msg.contains("{{args.name}}"),
            "{msg}"
        );
        // A tag is substituted before Argo compiles the condition.
        assert!(
            condition("successCondition: len(result) == 0 || result[0] < {{args.limit}}")
                .is_empty()
        );
        // Argo's helpers are in the environment.
        assert!(condition(
            "successCondition: len(result) == 0 || (!isNaN(result[0]) && !isInf(result[0]) && result[0] >= asFloat(\"0.9\"))"
        )
        .is_empty());
    }

    #[test]
    fn rg105_guard_by_evaluation_order() {
        // result[0] is evaluated first and errors before the guard is reached.
        assert_eq!(
            condition("successCondition: result[0] >= 0.9 || len(result) == 0"),
            ["RG105"]
        );
        assert!(condition("successCondition: len(result) == 0 || result[0] >= 0.9").is_empty());
        let msg = &messages(
            &template(&GOOD.replace(
                SUCCESS,
                "successCondition: result[0] >= 0.9 || len(result) == 0",
            )),
            "RG105",
        )[0];
        assert!(
            msg.contains("errors on an empty result")
                && msg.contains("index out of range")
                && msg.contains("once more than consecutiveErrorLimit (default 4) errors come in a row the run errors and the rollout aborts"),
            "{msg}"
        );
    }

    #[test]
    fn rg105_is_nil_is_no_guard() {
        // Prometheus passes an empty, non-nil []float64: isNil(result) is false.
        assert_eq!(
            condition("successCondition: isNil(result) || result[0] >= 0.9"),
            ["RG105"]
        );
        assert_eq!(
            condition("successCondition: result == nil || result[0] >= 0.9"),
            ["RG105"]
        );
    }

    #[test]
    fn unknown_result_type_checks_only_what_holds_for_every_type() {
        // The whole query is an argument without a value: it may be a vector or a scalar.
        let q = "sum(rate(http{svc=\"{{args.svc}}\"}[5m]))";
        let templated = |cond: &str| {
            ids(&template(
                &GOOD.replace(SUCCESS, cond).replace(q, "\"{{args.svc}}\""),
            ))
        };
        assert!(templated("successCondition: result < 0.5").is_empty());
        // Indexing rules out a scalar, so the empty vector still breaks it.
        assert_eq!(templated("successCondition: result[0] >= 0.95"), ["RG105"]);
        assert_eq!(templated("successCondition: result < args.x"), ["RG104"]);
    }

    #[test]
    fn rg105_never_empty_query() {
        let unguarded = GOOD.replace(SUCCESS, "successCondition: result[0] >= 0.95");
        let query = "sum(rate(http{svc=\"{{args.svc}}\"}[5m]))";
        let with_query = |q: &str| ids(&template(&unguarded.replace(query, q)));
        assert_eq!(with_query(query), ["RG105"]);
        assert!(with_query(&format!("{query} or on() vector(0)")).is_empty());
        // The fallback under `/` does not help: the division drops unmatched series.
        assert_eq!(
            with_query(&format!("({query} or on() vector(0)) / sum(rate(b[5m]))")),
            ["RG105"]
        );
    }

    #[test]
    fn rg105_errors_of_the_failure_condition() {
        assert_eq!(
            condition("failureCondition: result[0] < 0.9 && len(result) > 0"),
            ["RG105", "RG106"]
        );
        let f = findings(&template(&GOOD.replace(
            SUCCESS,
            "failureCondition: result[0] < 0.9 && len(result) > 0",
        )));
        assert!(
            f.iter()
                .all(|(_, p)| p == "/spec/metrics/0/failureCondition"),
            "{f:?}"
        );
    }

    #[test]
    fn rg106_nan_neither_fails_nor_errors() {
        // NaN compares false, so a success condition written as a negation passes it.
        assert_eq!(
            condition("successCondition: len(result) == 0 || !(result[0] < 0.95)"),
            ["RG106"]
        );
        // Asking isNaN makes passing NaN a decision, not an accident.
        assert!(condition(
            "successCondition: len(result) == 0 || isNaN(result[0]) || !(result[0] < 0.95)"
        )
        .is_empty());
        // Both conditions: NaN satisfies neither, the measurement is Inconclusive, not passed.
        assert!(condition(
            "successCondition: len(result) == 0 || result[0] >= 0.95\n    failureCondition: len(result) > 0 && result[0] < 0.5"
        )
        .is_empty());
        let msg = &messages(
            &template(&GOOD.replace(
                SUCCESS,
                "failureCondition: len(result) > 0 && result[0] < 0.9",
            )),
            "RG106",
        )[0];
        assert!(
            msg.contains("a NaN result") && msg.contains("Successful"),
            "{msg}"
        );
    }

    #[test]
    fn rg107() {
        assert_eq!(with("interval: 1m", "interval: \"60\""), ["RG107"]);
        assert_eq!(with("    interval: 1m\n", ""), ["RG107"]);
        assert!(with("interval: 1m", "interval: \"{{args.svc}}\"").is_empty());
    }

    #[test]
    fn rg108() {
        assert_eq!(with("failureLimit: 2", "failureLimit: -1"), ["RG108"]);
        assert!(with(
            "failureLimit: 2",
            "failureLimit: -1\n    consecutiveSuccessLimit: 3"
        )
        .is_empty());
        assert_eq!(
            with(
                "failureLimit: 2",
                "failureLimit: 2\n    inconclusiveLimit: -2"
            ),
            ["RG108"]
        );
        assert_eq!(
            with(
                "failureLimit: 2",
                "failureLimit: 2\n    consecutiveSuccessLimit: 9"
            ),
            ["RG108"]
        );
    }

    #[test]
    fn rg108_count_below_failure_plus_success_limit_is_rejected_by_argo() {
        let t = template(&GOOD.replace(
            "count: 5\n    failureLimit: 2",
            "count: 2\n    failureLimit: 1\n    consecutiveSuccessLimit: 2",
        ));
        let found = findings(&t);
        assert_eq!(found, [("RG108".into(), "/spec/metrics/0/count".into())]);
        let objs = crate::rules::testing::objects(&t);
        let mut sink = crate::rules::Sink::default();
        super::check(&objs[0], &[], &mut sink);
        let message = &sink.findings[0].message;
        assert!(
            message.contains("Argo rejects the AnalysisRun"),
            "{message}"
        );
        // Enough room for both, or one of them unset or -1: accepted.
        for ok in [
            "count: 3\n    failureLimit: 1\n    consecutiveSuccessLimit: 2",
            "count: 2\n    failureLimit: 1",
            "count: 2\n    failureLimit: -1\n    consecutiveSuccessLimit: 2",
        ] {
            let t = template(&GOOD.replace("count: 5\n    failureLimit: 2", ok));
            assert!(ids(&t).is_empty(), "{ok}: {:?}", findings(&t));
        }
    }

    #[test]
    fn rg108_count_below_failure_limit_is_rejected_not_rg114() {
        assert_eq!(
            with(
                "count: 5\n    failureLimit: 2",
                "count: 3\n    failureLimit: 5"
            ),
            ["RG108"]
        );
        assert_eq!(
            with(
                "count: 5\n    failureLimit: 2",
                "count: 3\n    failureLimit: 3"
            ),
            ["RG114"]
        );
    }

    #[test]
    fn rg110() {
        assert_eq!(with("{{args.svc}}", "{{ args.nope }}"), ["RG110"]);
    }

    #[test]
    fn rg113() {
        assert_eq!(with("http://prometheus:9090", "prometheus:9090"), ["RG113"]);
        assert_eq!(
            with(
                "http://prometheus:9090\n",
                "http://prometheus:9090\n        timeout: -5\n"
            ),
            ["RG113"]
        );
        let twice = template(&format!("{GOOD}{GOOD}"));
        assert_eq!(ids(&twice), ["RG113"]);
    }

    #[test]
    fn rg114() {
        assert_eq!(with("failureLimit: 2", "failureLimit: 5"), ["RG114"]);
        assert!(with("failureLimit: 2", "failureLimit: 4").is_empty());
    }

    #[test]
    fn job_metrics_need_no_condition() {
        let t =
            template("  - name: j\n    failureLimit: 1\n    provider:\n      job: {spec: {}}\n");
        assert!(ids(&t).is_empty());
    }
}
