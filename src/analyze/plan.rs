//! What `analyze` will run, decided without I/O: the analyses of the input (templates given
//! alone, or a Rollout's analyses with their templates found as `lint` finds them), their
//! arguments merged and substituted as Argo does, and each metric's provider fields read.

use super::counting::Limits;
use crate::argo::scalar_text;
use crate::lang::duration::go_seconds;
use crate::lookup::Lookup;
use crate::manifest::{Kind, Object};
use serde_json::Value;

/// Argo's timeout when a Prometheus metric sets none (`NewPrometheusProvider`).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 30;

/// One analysis to run: a template given alone, or one analysis block of a Rollout.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// `AnalysisTemplate/name`, or `Rollout/name` and the block's pointer.
    pub object: String,
    pub at: Option<String>,
    pub templates: Vec<String>,
    /// Why the analysis cannot run at all.
    pub problem: Option<Problem>,
    pub metrics: Vec<Metric>,
    /// The argument names its templates declare (what `--arg` may set).
    pub declared_args: Vec<String>,
}

/// Why an analysis does not run.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// Something this tool needs from the user (an argument only the cluster knows, a template
    /// it cannot find): exit 2.
    Usage(String),
    /// What the AnalysisRun itself would report as its Error (`Unable to resolve metric
    /// arguments: ...`): exit 1.
    RunError(String),
}

/// One metric, arguments substituted.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub template: String,
    pub name: String,
    pub success: Option<String>,
    pub failure: Option<String>,
    /// `interval` in seconds.
    pub interval: Option<f64>,
    pub limits: Limits,
    /// Listed in the analysis's `dryRun`: Argo ignores its verdict.
    pub dry_run: bool,
    pub provider: Provider,
}

/// Where a metric's measurements come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Provider {
    Prometheus(Prometheus),
    /// A Prometheus metric Argo's provider rejects before any query (an address that is no
    /// URL, a negative timeout): every measurement is an Error with Argo's message.
    Rejected(String),
    /// Not run by this tool, and why; `provider` names it (`web`, `datadog`, ...).
    NotRun {
        provider: String,
        reason: String,
    },
}

/// The Prometheus provider's fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Prometheus {
    pub address: String,
    pub query: String,
    pub timeout_seconds: u64,
    pub headers: Vec<(String, String)>,
    /// `authentication.basicAuth`.
    pub basic_auth: Option<(String, String)>,
    /// `insecure`: skip certificate verification.
    pub insecure: bool,
}

/// Inputs that are not manifests.
#[derive(Clone, Debug, Default)]
pub struct Inputs<'a> {
    /// `--arg name=value`, applied last (over template defaults and a Rollout's args).
    pub args: &'a [(String, String)],
    /// `--prometheus URL`, replacing every metric's `address`.
    pub prometheus: Option<&'a str>,
    /// `ARGO_ROLLOUTS_PROMETHEUS_ADDRESS`, Argo's fallback when a metric has no address.
    pub env_address: Option<&'a str>,
}

/// The analyses of `objects`: every Rollout's analysis blocks, and every template no Rollout of
/// the input references. `catalog` and `templates` (the input's and the shipped ones) are where
/// references resolve.
pub fn plan(
    objects: &[Object],
    templates: &[Object],
    lookup: &Lookup,
    inputs: &Inputs,
) -> Vec<Analysis> {
    let mut out = Vec::new();
    let mut referenced: Vec<(Kind, String, String)> = Vec::new();
    for rollout in objects.iter().filter(|o| o.kind == Kind::Rollout) {
        // The blocks lint checks and the mutator counts: one definition of a Rollout's analyses.
        let blocks = crate::argo::rollout::analysis_blocks(&rollout.value);
        if blocks.is_empty() {
            out.push(Analysis {
                object: format!("Rollout/{}", rollout.name),
                at: None,
                templates: Vec::new(),
                problem: Some(Problem::Usage(
                    "the Rollout has no analysis, so there is nothing to run; nothing would stop a bad version (lint reports RG202)".into(),
                )),
                metrics: Vec::new(),
                declared_args: Vec::new(),
            });
        }
        for block in blocks {
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for (_, r) in &block.refs {
                let Some(name) = r.get("templateName").and_then(Value::as_str) else {
                    continue;
                };
                let cluster = r
                    .get("clusterScope")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let object = lookup
                    .template(cluster, &rollout.namespace, name, &rollout.origin)
                    .and_then(|info| {
                        templates.iter().find(|t| {
                            t.kind == info.kind()
                                && t.name == info.name
                                && t.namespace == info.namespace
                                && t.origin == info.origin
                        })
                    });
                match object {
                    Some(t) => {
                        referenced.push((t.kind, t.namespace.clone(), t.name.clone()));
                        found.push(t);
                    }
                    None => missing.push(format!(
                        "{} {name:?} is not in the input or the shipped templates (give its file too)",
                        if cluster { "ClusterAnalysisTemplate" } else { "AnalysisTemplate" }
                    )),
                }
            }
            let passed = passed_args(block.args, rollout);
            let dry_run = crate::manifest::pointer::get(&rollout.value, &block.at)
                .and_then(|b| b.get("dryRun"));
            let mut analysis = build(
                format!("Rollout/{}", rollout.name),
                Some(block.at),
                &found,
                &passed,
                dry_run,
                inputs,
            );
            if let Some(m) = missing.into_iter().next() {
                analysis.problem = Some(Problem::Usage(m));
            }
            out.push(analysis);
        }
    }
    for t in objects.iter().filter(|o| o.kind.is_template()) {
        if referenced
            .iter()
            .any(|(k, ns, n)| *k == t.kind && *ns == t.namespace && *n == t.name)
        {
            continue;
        }
        out.push(build(
            format!("{}/{}", t.kind.as_str(), t.name),
            None,
            &[t],
            &[],
            None,
            inputs,
        ));
    }
    out
}

/// An argument's value, or why it has none here.
type ArgValue = Result<String, String>;

/// The arguments a Rollout's analysis block passes, `valueFrom.fieldRef` read from the Rollout.
fn passed_args(args: Option<&Value>, rollout: &Object) -> Vec<(String, ArgValue)> {
    let list = args.and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .filter_map(|a| {
            let name = a.get("name")?.as_str()?.to_string();
            let value = if let Some(v) = a.get("value").and_then(scalar_text) {
                Ok(v)
            } else if let Some(path) = a.pointer("/valueFrom/fieldRef/fieldPath").and_then(Value::as_str) {
                field_ref(&rollout.value, path).ok_or_else(|| {
                    format!("the Rollout has no {path} (its valueFrom.fieldRef); pass --arg {name}=VALUE")
                })
            } else if a.pointer("/valueFrom/podTemplateHashValue").is_some() {
                Err(format!(
                    "its value is a pod template hash only the cluster knows; pass --arg {name}=VALUE"
                ))
            } else {
                return None;
            };
            Some((name, value))
        })
        .collect()
}

/// A Rollout field by Argo's `fieldRef` path: `metadata.name`, `metadata.labels['app']`,
/// `spec.template.metadata.labels.app`.
fn field_ref(rollout: &Value, path: &str) -> Option<String> {
    let mut v = rollout;
    let mut rest = path;
    while !rest.is_empty() {
        let (key, next) = if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']")?;
            (&r[..end], &r[end + 2..])
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        v = v.get(key)?;
        rest = next.strip_prefix('.').unwrap_or(next);
    }
    scalar_text(v)
}

/// Builds an analysis from its templates (Argo's `FlattenTemplates` and `MergeArgs`): metrics
/// in order, AnalysisTemplates' arguments before ClusterAnalysisTemplates', a later declaration
/// filling an earlier one without a value; then the Rollout's values, then `--arg`.
fn build(
    object: String,
    at: Option<String>,
    templates: &[&Object],
    passed: &[(String, ArgValue)],
    rollout_dry_run: Option<&Value>,
    inputs: &Inputs,
) -> Analysis {
    let mut analysis = Analysis {
        object,
        at,
        templates: templates
            .iter()
            .map(|t| format!("{}/{}", t.kind.as_str(), t.name))
            .collect(),
        problem: None,
        metrics: Vec::new(),
        declared_args: Vec::new(),
    };
    let spec = |t: &Object, k: &str| -> Vec<Value> {
        t.value
            .pointer(&format!("/spec/{k}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let ordered = templates
        .iter()
        .filter(|t| t.kind == Kind::AnalysisTemplate)
        .chain(
            templates
                .iter()
                .filter(|t| t.kind == Kind::ClusterAnalysisTemplate),
        );
    let mut args: Vec<(String, Option<ArgValue>)> = Vec::new();
    for t in ordered {
        for a in spec(t, "args") {
            let Some(name) = a.get("name").and_then(Value::as_str) else {
                continue;
            };
            let value = a.get("value").and_then(scalar_text).map(Ok).or_else(|| {
                a.get("valueFrom").filter(|v| !v.is_null()).map(|_| {
                    Err(format!(
                        "its value comes from a Secret in the cluster; pass --arg {name}=VALUE"
                    ))
                })
            });
            match args.iter_mut().find(|(n, _)| n == name) {
                Some((_, prev @ None)) => *prev = value,
                Some(_) => {}
                None => args.push((name.to_string(), value)),
            }
        }
    }
    analysis.declared_args = args.iter().map(|(n, _)| n.clone()).collect();
    for (name, value) in passed {
        if let Some((_, v)) = args.iter_mut().find(|(n, _)| n == name) {
            *v = Some(value.clone());
        }
    }
    for (name, value) in inputs.args {
        if let Some((_, v)) = args.iter_mut().find(|(n, _)| n == name) {
            *v = Some(Ok(value.clone()));
        }
    }
    let mut values = Vec::new();
    for (name, value) in &args {
        match value {
            Some(Ok(v)) => values.push((name.clone(), v.clone())),
            Some(Err(why)) => {
                analysis.problem = Some(Problem::Usage(format!(
                    "argument {name:?} has no value here: {why}"
                )));
                return analysis;
            }
            None => {
                // Argo: `argument "x" was not supplied`.
                analysis.problem = Some(Problem::Usage(format!(
                    "argument {name:?} was not supplied; pass --arg {name}=VALUE"
                )));
                return analysis;
            }
        }
    }
    let mut dry_run = Vec::new();
    for t in templates {
        dry_run.extend(spec(t, "dryRun"));
    }
    dry_run.extend(
        rollout_dry_run
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    );
    let dry_run: Vec<regex::Regex> = dry_run
        .iter()
        .filter_map(|d| d.get("metricName")?.as_str())
        .filter_map(|n| regex::Regex::new(&format!("^(?:{n})$")).ok())
        .collect();
    for t in templates {
        for raw in spec(t, "metrics") {
            let mut m = raw.clone();
            if let Err(e) = substitute(&mut m, &values) {
                analysis.problem = Some(Problem::RunError(format!(
                    "Unable to resolve metric arguments: {e}"
                )));
                return analysis;
            }
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if analysis.metrics.iter().any(|x| x.name == name) {
                analysis.problem = Some(Problem::RunError(format!(
                    "Analysis spec invalid: two metrics have the same name '{name}'"
                )));
                return analysis;
            }
            let dry = dry_run.iter().any(|r| r.is_match(&name));
            let template = format!("{}/{}", t.kind.as_str(), t.name);
            match metric(&m, template, name.clone(), dry, inputs) {
                Ok(metric) => analysis.metrics.push(metric),
                Err(why) => {
                    analysis.problem = Some(Problem::Usage(format!("metric {name}: {why}")));
                    return analysis;
                }
            }
        }
    }
    if analysis.metrics.is_empty() {
        analysis.problem = Some(Problem::Usage("its templates have no metrics".into()));
    } else if analysis
        .metrics
        .iter()
        .all(|m| matches!(m.provider, Provider::NotRun { .. }))
    {
        let names: Vec<String> = analysis
            .metrics
            .iter()
            .map(|m| match &m.provider {
                Provider::NotRun { provider, .. } => format!("{} ({provider})", m.name),
                _ => m.name.clone(),
            })
            .collect();
        analysis.problem = Some(Problem::Usage(format!(
            "none of its metrics can be run here: {}",
            names.join(", ")
        )));
    }
    analysis
}

/// Why a Prometheus metric with no address cannot run here: the address would come from the
/// controller's environment, which this tool cannot see.
const NO_ADDRESS: &str = "no Prometheus address: the metric sets none; pass --prometheus URL or set ARGO_ROLLOUTS_PROMETHEUS_ADDRESS";

/// Argo's `ResolveArgs` over every string of the metric: `{{args.x}}` (spaces allowed inside
/// the braces) becomes the value; any other tag fails the run.
fn substitute(v: &mut Value, args: &[(String, String)]) -> Result<(), String> {
    match v {
        Value::String(s) => {
            if s.contains("{{") {
                *s = resolve(s, args)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter_mut().try_for_each(|x| substitute(x, args)),
        Value::Object(map) => map.values_mut().try_for_each(|x| substitute(x, args)),
        _ => Ok(()),
    }
}

fn resolve(text: &str, args: &[(String, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}").map(|c| c + open + 2) else {
            break;
        };
        out.push_str(&rest[..open]);
        let tag = &rest[open + 2..close];
        let value = tag
            .trim()
            .strip_prefix("args.")
            .and_then(|name| args.iter().find(|(n, _)| n == name))
            .map(|(_, v)| v.as_str());
        match value {
            Some(v) => out.push_str(v),
            None => return Err(format!("failed to resolve {{{{{tag}}}}}")),
        }
        rest = &rest[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// An int-or-string field (`count: "5"` is allowed).
fn int_field(m: &Value, key: &str) -> Option<i64> {
    match m.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// One metric of the analysis; `Err` when it cannot run here for want of something only the
/// user can give (see [`provider`]).
fn metric(
    m: &Value,
    template: String,
    name: String,
    dry_run: bool,
    inputs: &Inputs,
) -> Result<Metric, String> {
    let text = |k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let interval_text = text("interval");
    let interval = interval_text
        .as_deref()
        .and_then(go_seconds)
        .filter(|s| *s > 0.0);
    let count = int_field(m, "count").filter(|c| *c > 0);
    let limits = Limits {
        count: match count {
            Some(c) => Some(c.clamp(1, i64::from(u32::MAX)) as u32),
            None if interval_text.is_none() => Some(1),
            None => None,
        },
        failure_limit: int_field(m, "failureLimit").unwrap_or(0),
        inconclusive_limit: int_field(m, "inconclusiveLimit").unwrap_or(0),
        consecutive_error_limit: int_field(m, "consecutiveErrorLimit").unwrap_or(4),
        consecutive_success_limit: int_field(m, "consecutiveSuccessLimit").unwrap_or(0),
    };
    Ok(Metric {
        template,
        name,
        success: text("successCondition"),
        failure: text("failureCondition"),
        interval,
        limits,
        dry_run,
        provider: provider(m.get("provider"), inputs)?,
    })
}

/// The metric's provider; `Err` with [`NO_ADDRESS`] when it is Prometheus with no address
/// anywhere, a usage problem rather than anything Argo would record.
fn provider(p: Option<&Value>, inputs: &Inputs) -> Result<Provider, String> {
    let not_run = |provider: &str, reason: String| {
        Ok(Provider::NotRun {
            provider: provider.to_string(),
            reason,
        })
    };
    let Some(map) = p.and_then(Value::as_object) else {
        return not_run("none", "the metric has no provider".into());
    };
    let Some(prom) = map.get("prometheus") else {
        let name = map.keys().next().cloned().unwrap_or_else(|| "none".into());
        return not_run(
            &name,
            format!("only Prometheus metrics are run; this one uses the {name} provider"),
        );
    };
    let s = |k: &str| {
        prom.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if prom.get("rangeQuery").is_some_and(|v| !v.is_null()) {
        return not_run(
            "prometheus",
            "rangeQuery metrics are not run by analyze yet".into(),
        );
    }
    if prom
        .pointer("/authentication/sigv4")
        .is_some_and(|v| !v.is_null())
    {
        return not_run(
            "prometheus",
            "authentication.sigv4 (Amazon Managed Prometheus) is not supported by analyze".into(),
        );
    }
    if prom.pointer("/authentication/oauth2/tokenUrl").is_some() {
        return not_run(
            "prometheus",
            "authentication.oauth2 is not supported by analyze; pass a token with a header instead"
                .into(),
        );
    }
    let address = match (inputs.prometheus, s("address")) {
        (Some(url), _) => url.to_string(),
        (None, a) if !a.is_empty() => a,
        (None, _) => inputs.env_address.unwrap_or_default().to_string(),
    };
    if address.is_empty() {
        return Err(NO_ADDRESS.into());
    }
    if !is_url(&address) {
        // Argo's own message (`NewPrometheusAPI`), typo included.
        return Ok(Provider::Rejected(
            "prometheus address is not is url format".into(),
        ));
    }
    let timeout_seconds = match prom.get("timeout").and_then(Value::as_i64) {
        Some(t) if t < 0 => {
            return Ok(Provider::Rejected(
                "prometheus timeout should not be negative".into(),
            ))
        }
        Some(t) => t as u64,
        None => DEFAULT_TIMEOUT_SECONDS,
    };
    let headers = prom
        .get("headers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| {
            Some((
                h.get("key")?.as_str()?.to_string(),
                h.get("value")?.as_str()?.to_string(),
            ))
        })
        .collect();
    let basic_auth = prom.pointer("/authentication/basicAuth").and_then(|b| {
        let user = b.get("username").and_then(Value::as_str)?;
        Some((
            user.to_string(),
            b.get("password")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        ))
    });
    Ok(Provider::Prometheus(Prometheus {
        address,
        query: s("query"),
        timeout_seconds,
        headers,
        basic_auth,
        insecure: prom
            .get("insecure")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }))
}

/// Argo's `IsUrl`: a scheme and a host.
pub fn is_url(s: &str) -> bool {
    match s.split_once("://") {
        Some((scheme, rest)) => {
            !scheme.is_empty() && !rest.split(['/', '?', '#']).next().unwrap_or("").is_empty()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::objects;

    const T: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: rate}\nspec:\n  args: [{name: svc}, {name: ns, value: prod}]\n  metrics:\n  - name: m\n    interval: 30s\n    count: \"5\"\n    failureLimit: 2\n    successCondition: result[0] >= {{ args.min }}\n    provider: {prometheus: {address: 'http://p:9090', timeout: 5, headers: [{key: X-Scope, value: '{{args.ns}}'}], query: 'sum(x{s=\"{{args.svc}}\",n=\"{{ args.ns }}\"})'}}\n  - name: w\n    provider: {web: {url: 'http://x'}}\n";

    fn analyses(text: &str, args: &[(String, String)]) -> Vec<Analysis> {
        let objs = objects(text);
        let mut lookup = Lookup::default();
        objs.iter().for_each(|o| lookup.add(o));
        let inputs = Inputs {
            args,
            ..Inputs::default()
        };
        plan(&objs, &objs, &lookup, &inputs)
    }

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_template_alone_needs_its_arguments() {
        let a = analyses(T, &[]);
        assert_eq!(a.len(), 1);
        assert!(
            matches!(&a[0].problem, Some(Problem::Usage(m)) if m.contains("--arg svc=VALUE")),
            "{a:?}"
        );
    }

    #[test]
    fn an_undeclared_tag_fails_the_run_as_argo_does() {
        let a = analyses(T, &args(&[("svc", "web")]));
        assert_eq!(
            a[0].problem,
            Some(Problem::RunError(
                "Unable to resolve metric arguments: failed to resolve {{ args.min }}".into()
            ))
        );
    }

    #[test]
    fn substitution_and_provider_fields() {
        let text = T.replace("{{ args.min }}", "0.95");
        let a = analyses(&text, &args(&[("svc", "web"), ("ns", "staging")]));
        assert_eq!(a[0].problem, None);
        let m = &a[0].metrics[0];
        assert_eq!(m.limits.count, Some(5));
        assert_eq!(m.limits.failure_limit, 2);
        assert_eq!(m.interval, Some(30.0));
        let Provider::Prometheus(p) = &m.provider else {
            panic!()
        };
        assert_eq!(
            p.query, "sum(x{s=\"web\",n=\"staging\"})",
            "--arg wins over the default"
        );
        assert_eq!(p.headers, [("X-Scope".to_string(), "staging".to_string())]);
        assert_eq!(p.timeout_seconds, 5);
        assert!(
            matches!(&a[0].metrics[1].provider, Provider::NotRun { provider, .. } if provider == "web")
        );
        assert_eq!(
            a[0].metrics[1].limits.count,
            Some(1),
            "no interval, no count: one measurement"
        );
    }

    #[test]
    fn a_rollout_passes_its_args_and_field_refs() {
        let text = format!(
            "{}---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: web, labels: {{app: shop}}}}\nspec:\n  strategy:\n    canary:\n      steps:\n      - analysis:\n          templates: [{{templateName: rate}}]\n          args: [{{name: svc, valueFrom: {{fieldRef: {{fieldPath: \"metadata.labels['app']\"}}}}}}]\n",
            T.replace("{{ args.min }}", "1")
        );
        let a = analyses(&text, &[]);
        assert_eq!(
            a.len(),
            1,
            "the referenced template is not analysed alone: {a:?}"
        );
        assert_eq!(a[0].object, "Rollout/web");
        assert_eq!(
            a[0].at.as_deref(),
            Some("/spec/strategy/canary/steps/0/analysis")
        );
        let Provider::Prometheus(p) = &a[0].metrics[0].provider else {
            panic!("{a:?}")
        };
        assert_eq!(p.query, "sum(x{s=\"shop\",n=\"prod\"})");
    }

    #[test]
    fn every_analysis_block_of_a_rollout() {
        let text = format!(
            "{}---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: bg}}\nspec:\n  strategy:\n    blueGreen:\n      prePromotionAnalysis: {{templates: [{{templateName: rate}}], args: [{{name: svc, value: a}}]}}\n      postPromotionAnalysis: {{templates: [{{templateName: rate}}, {{templateName: gone}}], args: [{{name: svc, value: b}}]}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: c}}\nspec:\n  strategy:\n    canary:\n      analysis: {{templates: [{{templateName: rate}}], args: [{{name: svc, valueFrom: {{podTemplateHashValue: Latest}}}}]}}\n",
            T.replace("{{ args.min }}", "1")
        );
        let a = analyses(&text, &[]);
        let at: Vec<_> = a.iter().map(|a| a.at.as_deref().unwrap_or("")).collect();
        assert_eq!(
            at,
            [
                "/spec/strategy/blueGreen/prePromotionAnalysis",
                "/spec/strategy/blueGreen/postPromotionAnalysis",
                "/spec/strategy/canary/analysis"
            ]
        );
        assert_eq!(a[0].problem, None);
        assert!(
            matches!(&a[1].problem, Some(Problem::Usage(m)) if m.contains("\"gone\"")),
            "{:?}",
            a[1]
        );
        assert!(
            matches!(&a[2].problem, Some(Problem::Usage(m)) if m.contains("pod template hash")),
            "{:?}",
            a[2]
        );
        // --arg fills what only the cluster knows.
        let a = analyses(&text, &args(&[("svc", "c")]));
        assert_eq!(a[2].problem, None);
    }

    #[test]
    fn what_cannot_run_here_is_a_usage_problem() {
        let usage = |text: &str| -> String {
            match &analyses(text, &[])[0].problem {
                Some(Problem::Usage(m)) => m.clone(),
                other => panic!("{other:?}"),
            }
        };
        let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: bare}\nspec:\n  strategy:\n    canary:\n      steps: [{setWeight: 20}]\n";
        assert!(usage(rollout).contains("no analysis"), "{}", usage(rollout));
        let web = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: w}\nspec:\n  metrics:\n  - name: smoke\n    provider: {web: {url: 'http://x'}}\n";
        assert_eq!(
            usage(web),
            "none of its metrics can be run here: smoke (web)"
        );
        let no_address = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: p}\nspec:\n  metrics:\n  - name: up\n    provider: {prometheus: {query: up}}\n";
        assert!(usage(no_address).contains("--prometheus URL"));
        // What Argo's provider itself rejects is a measurement Error, not a usage problem.
        let typo = no_address.replace("{query: up}", "{address: 'prometheus:9090', query: up}");
        let a = analyses(&typo, &[]);
        assert_eq!(a[0].problem, None);
        assert_eq!(
            a[0].metrics[0].provider,
            Provider::Rejected("prometheus address is not is url format".into())
        );
    }

    #[test]
    fn address_override_and_checks() {
        let text = T.replace("{{ args.min }}", "1");
        let objs = objects(&text);
        let lookup = Lookup::default();
        let a = args(&[("svc", "x")]);
        let inputs = Inputs {
            args: &a,
            prometheus: Some("http://127.0.0.1:1"),
            env_address: None,
        };
        let p = plan(&objs, &objs, &lookup, &inputs);
        let Provider::Prometheus(p) = &p[0].metrics[0].provider else {
            panic!()
        };
        assert_eq!(p.address, "http://127.0.0.1:1");
        assert!(!is_url("prometheus:9090") && !is_url("http://") && is_url("https://p/x"));
    }
}
