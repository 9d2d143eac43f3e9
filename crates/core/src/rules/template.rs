//! Rules for AnalysisTemplates and ClusterAnalysisTemplates: one function per rule, each
//! looking at one metric (or the whole template) with its arguments' defaults substituted.

use super::catalog::*;
use super::Sink;
use crate::argo::args;
use crate::lang::condition::{Phase, ResultType};
use crate::lang::probe::{self, Probe, Table, Which};
use crate::lang::prometheus_features::Feature;
use crate::lang::{duration, empty, promql};
use crate::lookup::scalar_text;
use crate::manifest::{pointer, Object};
use serde_json::Value;
use std::collections::HashMap;

/// Providers that decide success themselves, so conditions are optional for them.
const SELF_JUDGING_PROVIDERS: &[&str] = &["job", "kayenta", "plugin"];

/// An integer field that may be templated (`failureLimit: "{{args.limit}}"` is legal Argo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntField {
    Absent,
    Known(i64),
    /// Templated with no known value, or not a number: nothing can be said.
    Unknown,
}

/// One metric with what the rules need, arguments resolved where their defaults are known.
struct Metric<'a> {
    at: String,
    name: &'a str,
    value: &'a Value,
    defaults: &'a HashMap<String, String>,
    query_type: Option<promql::QueryType>,
}

impl<'a> Metric<'a> {
    fn field(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    /// A string field with known arguments substituted; `None` when absent or still templated.
    fn text(&self, key: &str) -> Option<String> {
        let raw = scalar_text(self.field(key)?)?;
        let resolved = args::substitute(&raw, |t| {
            self.defaults
                .get(t.name)
                .cloned()
                .unwrap_or_else(|| format!("{{{{args.{}}}}}", t.name))
        });
        (!args::is_templated(&resolved)).then(|| resolved.into_owned())
    }

    /// Like [`Metric::text`] for a field of another object inside the metric.
    fn text_at(&self, parent: &Value, key: &str) -> Option<String> {
        let raw = scalar_text(parent.get(key)?)?;
        let resolved = args::substitute(&raw, |t| {
            self.defaults
                .get(t.name)
                .cloned()
                .unwrap_or_else(|| format!("{{{{args.{}}}}}", t.name))
        });
        (!args::is_templated(&resolved)).then(|| resolved.into_owned())
    }

    fn int(&self, key: &str) -> IntField {
        match self.field(key) {
            None => IntField::Absent,
            Some(Value::Number(n)) => n.as_i64().map_or(IntField::Unknown, IntField::Known),
            Some(Value::String(_)) => match self.text(key) {
                // Argo's IntOrString.IntValue() reads a numeric string as its number.
                Some(s) => s.trim().parse().map_or(IntField::Unknown, IntField::Known),
                None => IntField::Unknown,
            },
            Some(_) => IntField::Unknown,
        }
    }

    fn provider(&self) -> Option<&'a str> {
        self.value
            .get("provider")?
            .as_object()?
            .keys()
            .next()
            .map(String::as_str)
    }

    fn prometheus(&self) -> Option<&'a Value> {
        self.value.pointer("/provider/prometheus")
    }

    fn ptr(&self, field: &str) -> String {
        format!("{}/{}", self.at, field)
    }
}

/// Runs every template rule; `features` are the Prometheus feature flags the policy enables.
pub(super) fn check(obj: &Object, features: &[Feature], out: &mut Sink) {
    let spec = obj.value.get("spec");
    let declared: Vec<&str> = spec
        .and_then(|s| s.get("args"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.get("name")?.as_str()).collect())
        .unwrap_or_default();
    let defaults: HashMap<String, String> = spec
        .and_then(|s| s.get("args"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some((
                        x.get("name")?.as_str()?.to_string(),
                        scalar_text(x.get("value")?)?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let Some(metrics) = spec
        .and_then(|s| s.get("metrics"))
        .and_then(Value::as_array)
    else {
        return;
    };
    rg110_undeclared_arguments(&obj.value, &declared, out);
    rg113_duplicate_metric_names(metrics, out);
    for (i, value) in metrics.iter().enumerate() {
        let mut m = Metric {
            at: format!("/spec/metrics/{i}"),
            name: value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)"),
            value,
            defaults: &defaults,
            query_type: None,
        };
        m.query_type = rg102_invalid_promql(&m, features, out);
        rg101_missing_failure_limit(&m, out);
        rg103_missing_condition(&m, out);
        let table = condition_table(&m);
        rg104_invalid_condition(&m, &table, out);
        rg105_unguarded_result_index(&m, &table, out);
        rg106_nan_unsafe_condition(&m, &table, out);
        rg107_invalid_duration(&m, out);
        rg108_unworkable_limits(&m, out);
        rg113_invalid_provider(&m, out);
        rg114_unreachable_failure_limit(&m, out);
    }
}

fn rg101_missing_failure_limit(m: &Metric, out: &mut Sink) {
    // A metric measured once (no interval, count at most 1: a one-shot job, say) has only one
    // sample; failureLimit 0 is then the only meaningful value, not an oversight.
    let once = m.field("interval").is_none()
        && matches!(m.int("count"), IntField::Absent | IntField::Known(..=1));
    if m.field("failureLimit").is_none() && !once {
        out.report(
            &RG101,
            &m.at,
            format!(
                "metric \"{}\" has no failureLimit: Argo defaults it to 0, so one failed measurement aborts the rollout",
                m.name
            ),
        );
    }
}

/// Returns the query's type when it parses, for the condition rules. A feature the policy's
/// Prometheus lacks is reported first, naming the flag, since promql-parser accepts (or, for
/// duration expressions, fails on) such queries without saying why.
fn rg102_invalid_promql(
    m: &Metric,
    features: &[Feature],
    out: &mut Sink,
) -> Option<promql::QueryType> {
    let query = m.prometheus()?.get("query")?.as_str()?;
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

fn rg103_missing_condition(m: &Metric, out: &mut Sink) {
    let self_judging = m
        .provider()
        .is_some_and(|p| SELF_JUDGING_PROVIDERS.contains(&p));
    if !self_judging
        && m.field("successCondition").is_none()
        && m.field("failureCondition").is_none()
    {
        out.report(
            &RG103,
            &m.at,
            format!(
                "metric \"{}\" has neither successCondition nor failureCondition: Argo counts every measurement as successful",
                m.name
            ),
        );
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
/// known; unknown when a tag without a value could change it, or for another provider.
fn result_type(m: &Metric) -> ResultType {
    let Some(query) = m
        .prometheus()
        .and_then(|p| p.get("query"))
        .and_then(Value::as_str)
    else {
        return ResultType::Unknown;
    };
    // A tag with no known value outside a string literal may be any PromQL at all.
    let unknown_tag = |name: &str| (!m.defaults.contains_key(name)).then(|| "x".to_string());
    if promql::values_matter(query, &unknown_tag) {
        return ResultType::Unknown;
    }
    match m.query_type {
        Some(promql::QueryType::Vector) => ResultType::Vector,
        Some(promql::QueryType::Scalar) => ResultType::Scalar,
        _ => ResultType::Unknown,
    }
}

/// The metric's conditions read against Argo's environment, for the rules that evaluate them.
fn condition_table(m: &Metric) -> Table {
    let self_judging = m
        .provider()
        .is_some_and(|p| SELF_JUDGING_PROVIDERS.contains(&p));
    if self_judging {
        return Table::default();
    }
    let success = condition_text(m, Which::Success);
    let failure = condition_text(m, Which::Failure);
    probe::table(success.as_deref(), failure.as_deref(), result_type(m))
}

/// What Argo does with a metric whose measurements error.
fn error_consequence(m: &Metric) -> String {
    let limit = match m.int("consecutiveErrorLimit") {
        IntField::Known(n) => format!("consecutiveErrorLimit ({n})"),
        _ => "consecutiveErrorLimit (default 4)".to_string(),
    };
    format!("after {limit} errors in a row the run errors and the rollout aborts")
}

fn rg104_invalid_condition(m: &Metric, table: &Table, out: &mut Sink) {
    let ty = result_type(m);
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

fn rg105_unguarded_result_index(m: &Metric, table: &Table, out: &mut Sink) {
    let Some(prom) = m.prometheus() else { return };
    let Some(row) = table.row(Probe::Empty) else {
        return;
    };
    let (Phase::Error, Some(which)) = (row.measurement.phase, row.erred) else {
        return;
    };
    let query = prom
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if empty::never_empty(query, &|name| m.defaults.get(name).cloned()) {
        return;
    }
    let key = which.key();
    out.report(
        &RG105,
        m.ptr(key),
        format!(
            "metric \"{}\": {key} errors on {} ({}): with no matching series the measurement errors; {}",
            m.name,
            Probe::Empty.describe(),
            row.measurement.message.as_deref().unwrap_or("error"),
            error_consequence(m)
        ),
    );
}

fn rg106_nan_unsafe_condition(m: &Metric, table: &Table, out: &mut Sink) {
    // With no condition at all RG103 speaks; NaN passing is intended when the conditions
    // asked isNaN on that result.
    if m.field("successCondition").is_none() && m.field("failureCondition").is_none() {
        return;
    }
    let Some(row) = table
        .rows
        .iter()
        .find(|r| r.probe.is_nan() && r.measurement.phase == Phase::Successful && !r.tested_nan)
    else {
        return;
    };
    let key = if m.field("failureCondition").is_some() {
        "failureCondition"
    } else {
        "successCondition"
    };
    out.report(
        &RG106,
        m.ptr(key),
        format!(
            "metric \"{}\": on {} (a ratio with no traffic, 0/0) the measurement is Successful: every comparison with NaN is false, so the {key} neither fails nor errors",
            m.name,
            row.probe.describe()
        ),
    );
}

fn rg107_invalid_duration(m: &Metric, out: &mut Sink) {
    for key in ["interval", "initialDelay"] {
        if let Some(text) = m.text(key) {
            if duration::go_seconds(&text).is_none() {
                out.report(
                    &RG107,
                    m.ptr(key),
                    format!(
                        "metric \"{}\": {key} \"{text}\" is not a Go duration (write it with a unit: 30s, 5m, 1h)",
                        m.name
                    ),
                );
            }
        }
    }
    if let IntField::Known(count) = m.int("count") {
        if count > 1 && m.field("interval").is_none() {
            out.report(
                &RG107,
                m.ptr("count"),
                format!(
                    "metric \"{}\": count {count} needs an interval between measurements",
                    m.name
                ),
            );
        }
    }
}

fn rg108_unworkable_limits(m: &Metric, out: &mut Sink) {
    let count = m.int("count");
    let success = m.int("consecutiveSuccessLimit");
    if let IntField::Known(f) = m.int("failureLimit") {
        if f == -1
            && !matches!(success, IntField::Known(s) if s > 0)
            && success != IntField::Unknown
        {
            out.report(
                &RG108,
                m.ptr("failureLimit"),
                format!(
                    "metric \"{}\": failureLimit -1 (no failure limit) is only valid with consecutiveSuccessLimit > 0",
                    m.name
                ),
            );
        } else if f < -1 {
            out.report(
                &RG108,
                m.ptr("failureLimit"),
                format!("metric \"{}\": failureLimit {f} is negative", m.name),
            );
        }
    }
    for key in [
        "inconclusiveLimit",
        "consecutiveErrorLimit",
        "consecutiveSuccessLimit",
        "count",
    ] {
        if let IntField::Known(v) = m.int(key) {
            if v < 0 {
                out.report(
                    &RG108,
                    m.ptr(key),
                    format!("metric \"{}\": {key} {v} is negative", m.name),
                );
            }
        }
    }
    // Argo's ValidateMetric (utils/analysis/factory.go) rejects the AnalysisRun when a bounded
    // count cannot hold the limits.
    let IntField::Known(c) = count else { return };
    if c <= 0 {
        return;
    }
    let failure = m.int("failureLimit");
    if let IntField::Known(f) = failure {
        if c < f {
            out.report(
                &RG108,
                m.ptr("failureLimit"),
                format!(
                    "metric \"{}\": count {c} is less than failureLimit {f}; Argo rejects the AnalysisRun (count must be >= failureLimit)",
                    m.name
                ),
            );
        }
    }
    for key in ["inconclusiveLimit", "consecutiveSuccessLimit"] {
        if let IntField::Known(v) = m.int(key) {
            if c < v {
                out.report(
                    &RG108,
                    m.ptr(key),
                    format!(
                        "metric \"{}\": count {c} is less than {key} {v}; Argo rejects the AnalysisRun (count must be >= {key})",
                        m.name
                    ),
                );
            }
        }
    }
    if let (IntField::Known(f), IntField::Known(s)) = (failure, success) {
        if f >= 0 && s >= 0 && c >= f && c >= s && c < f + s {
            out.report(
                &RG108,
                m.ptr("count"),
                format!(
                    "metric \"{}\": count {c} is less than failureLimit + consecutiveSuccessLimit ({f} + {s}); Argo rejects the AnalysisRun (count must be >= failureLimit + consecutiveSuccessLimit when both are set)",
                    m.name
                ),
            );
        }
    }
}

fn rg113_invalid_provider(m: &Metric, out: &mut Sink) {
    let Some(prom) = m.prometheus() else { return };
    if let Some(address) = m.text_at(prom, "address") {
        let ok = ["http://", "https://"]
            .iter()
            .any(|p| address.len() > p.len() && address.starts_with(p) && !address.contains(' '));
        if !ok {
            out.report(
                &RG113,
                m.ptr("provider/prometheus/address"),
                format!(
                    "metric \"{}\": Prometheus address \"{address}\" is not an http(s) URL",
                    m.name
                ),
            );
        }
    }
    if let Some(t) = prom.get("timeout").and_then(Value::as_i64) {
        if t < 0 {
            out.report(
                &RG113,
                m.ptr("provider/prometheus/timeout"),
                format!("metric \"{}\": Prometheus timeout {t} is negative", m.name),
            );
        }
    }
}

fn rg113_duplicate_metric_names(metrics: &[Value], out: &mut Sink) {
    let mut seen = HashMap::new();
    for (i, m) in metrics.iter().enumerate() {
        if let Some(name) = m.get("name").and_then(Value::as_str) {
            if let Some(first) = seen.insert(name, i) {
                out.report(
                    &RG113,
                    format!("/spec/metrics/{i}/name"),
                    format!("metric name \"{name}\" is used twice (metrics {first} and {i}); Argo rejects the template"),
                );
            }
        }
    }
}

fn rg114_unreachable_failure_limit(m: &Metric, out: &mut Sink) {
    if let (IntField::Known(count), IntField::Known(limit)) =
        (m.int("count"), m.int("failureLimit"))
    {
        if count > 0 && limit == count {
            out.report(
                &RG114,
                m.ptr("failureLimit"),
                format!(
                    "metric \"{}\": failureLimit {limit} with count {count} can never trip (Argo fails only when failures exceed the limit)",
                    m.name
                ),
            );
        }
    }
}

fn rg110_undeclared_arguments(template: &Value, declared: &[&str], out: &mut Sink) {
    let Some(metrics) = template.pointer("/spec/metrics") else {
        return;
    };
    let mut stack = vec![(metrics, String::from("/spec/metrics"))];
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
                && msg.contains("after consecutiveErrorLimit (default 4) errors in a row the run errors and the rollout aborts"),
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
