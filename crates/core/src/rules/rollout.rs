//! Rules for Rollouts: strategy and steps, and the analysis templates they reference.

use super::catalog::*;
use super::Sink;
use crate::argo::rollout::{analysis_blocks, AnalysisBlock};
use crate::lang::{duration, promql};
use crate::lookup::{scalar_text, Coverage, Lookup, TemplateInfo};
use crate::manifest::Object;
use serde_json::Value;

/// Step actions; a step needs at least one.
const STEP_KINDS: &[&str] = &[
    "setWeight",
    "pause",
    "experiment",
    "analysis",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
];
/// The actions Argo allows only one of per step (`setCanaryScale` and the route steps may
/// accompany one of them, as in Argo's own APISIX example).
const EXCLUSIVE_STEP_KINDS: &[&str] = &["setWeight", "pause", "experiment", "analysis", "plugin"];

/// Runs every Rollout rule.
pub(super) fn check(obj: &Object, lookup: &Lookup, out: &mut Sink) {
    rg204_invalid_strategy(&obj.value, out);
    rg203_invalid_steps(&obj.value, out);
    for block in analysis_blocks(&obj.value) {
        check_references(obj, &block, lookup, out);
    }
}

/// The references of the analysis blocks at or under the `injected` pointers.
pub(super) fn check_injected(obj: &Object, injected: &[&str], lookup: &Lookup, out: &mut Sink) {
    let under = |at: &str, block: &str| {
        at.strip_prefix(block)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    for block in analysis_blocks(&obj.value) {
        if injected.iter().any(|at| under(&block.at, at)) {
            check_references(obj, &block, lookup, out);
        }
    }
}

/// An argument the Rollout passes to an analysis.
struct Passed<'a> {
    name: &'a str,
    value: Option<String>,
    /// `valueFrom` (a secret, a field of the Rollout, the pod template hash) fills it at run time.
    value_from: bool,
}

/// An argument of the AnalysisRun Argo would create: the templates' arguments flattened, then
/// filled from what the Rollout passes.
struct Merged<'a> {
    name: &'a str,
    value: Option<String>,
    value_from: bool,
    /// The first template that declares it.
    template: &'a str,
}

/// The run's arguments as Argo builds them (`FlattenTemplates`, then `MergeArgs`): the
/// AnalysisTemplates' arguments in order, then the ClusterAnalysisTemplates'; a later
/// declaration replaces an earlier one that has no value. The Rollout's arguments then fill the
/// declared ones only; one it passes with neither `value` nor `valueFrom` fills nothing.
fn merge_args<'a>(templates: &[(String, &'a TemplateInfo)], passed: &[Passed]) -> Vec<Merged<'a>> {
    let mut merged: Vec<Merged> = Vec::new();
    let in_argo_order = templates
        .iter()
        .filter(|(_, t)| !t.cluster_scope)
        .chain(templates.iter().filter(|(_, t)| t.cluster_scope));
    for (_, t) in in_argo_order {
        for a in &t.args {
            let arg = Merged {
                name: &a.name,
                value: a.value.clone(),
                value_from: !a.required && a.value.is_none(),
                template: &t.name,
            };
            match merged.iter_mut().find(|m| m.name == a.name) {
                Some(prev) if prev.value.is_none() => {
                    let template = prev.template;
                    *prev = Merged { template, ..arg };
                }
                Some(_) => {}
                None => merged.push(arg),
            }
        }
    }
    for p in passed {
        if let Some(m) = merged.iter_mut().find(|m| m.name == p.name) {
            if p.value.is_some() {
                m.value.clone_from(&p.value);
            } else if p.value_from {
                m.value_from = true;
            }
        }
    }
    merged
}

fn check_references(obj: &Object, group: &AnalysisBlock, lookup: &Lookup, out: &mut Sink) {
    let passed: Vec<Passed> = group
        .args
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| {
                    Some(Passed {
                        name: x.get("name")?.as_str()?,
                        value: x.get("value").and_then(scalar_text),
                        value_from: x.get("valueFrom").is_some_and(|v| !v.is_null()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    for (at, t) in &group.refs {
        let at = at.clone();
        let Some(name) = t.get("templateName").and_then(Value::as_str) else {
            continue;
        };
        let cluster = t
            .get("clusterScope")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match lookup.template(cluster, &obj.namespace, name, &obj.origin) {
            Some(info) => found.push((at, info)),
            None => rg112_unknown_template(lookup, cluster, name, at, out),
        }
    }
    let merged = merge_args(&found, &passed);
    // RG111
    for m in merged.iter().filter(|m| m.value.is_none() && !m.value_from) {
        out.report(
            &RG111,
            &group.at,
            format!(
                "template \"{}\" requires argument \"{}\", which this analysis does not pass",
                m.template, m.name
            ),
        );
    }
    // In a lint run every template in the catalog that is not shipped was reviewed with this
    // Rollout and reports its own mistakes; templates from the cluster were not.
    let reviewed_here = lookup.coverage() == Coverage::LintInput;
    for (at, info) in &found {
        let name = &info.name;
        // RG110: Argo fills only declared arguments, so a tag no template of this analysis
        // declares fails the run whatever the Rollout passes.
        if !reviewed_here {
            for used in info
                .used_args
                .iter()
                .filter(|u| !merged.iter().any(|m| m.name == u.as_str()))
            {
                let passes = if passed.iter().any(|p| p.name == used.as_str()) {
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
        // RG109
        if group.blocking {
            for m in info.metrics.iter().filter(|m| m.runs_forever) {
                out.report(
                    &RG109,
                    at,
                    format!(
                        "template \"{name}\" metric \"{}\" has an interval and no count, so this blocking analysis never completes",
                        m.name
                    ),
                );
            }
        }
        // RG102 with the values the run would have. In a lint run the template's own check has
        // already judged the query with its defaults: report here only what the passed values
        // break.
        let defaults = |n: &str| {
            info.args
                .iter()
                .find(|a| a.name == n)
                .and_then(|a| a.value.clone())
        };
        let with_passed = |n: &str| {
            merged
                .iter()
                .find(|m| m.name == n)
                .and_then(|m| m.value.clone())
        };
        for m in &info.metrics {
            let Some(query) = &m.query else { continue };
            let judged = !reviewed_here
                || (promql::values_matter(query, &with_passed)
                    && promql::check(query, &defaults).is_ok());
            if !judged {
                continue;
            }
            if let Err(problem) = promql::check(query, &with_passed) {
                out.report(
                    &RG102,
                    &group.at,
                    format!(
                        "with the arguments this Rollout passes, template \"{name}\" metric \"{}\" has an invalid query: {problem}",
                        m.name
                    ),
                );
            }
        }
    }
}

fn rg112_unknown_template(lookup: &Lookup, cluster: bool, name: &str, at: String, out: &mut Sink) {
    let kind = if cluster {
        "ClusterAnalysisTemplate"
    } else {
        "AnalysisTemplate"
    };
    let consequence = match lookup.coverage() {
        Coverage::LintInput => "if it is not in the cluster either, the analysis fails to start",
        Coverage::Shipped => {
            "rollout-guard does not watch the cluster (serve --cluster), so it cannot tell whether it exists"
        }
        Coverage::Cluster => {
            "unless it is created in the same apply, the analysis fails to start"
        }
    };
    out.report(
        &RG112,
        at,
        format!(
            "{kind} \"{name}\" is not in {}; {consequence}",
            lookup.coverage().looked_in()
        ),
    );
}

fn rg204_invalid_strategy(rollout: &Value, out: &mut Sink) {
    let Some(strategy) = rollout.pointer("/spec/strategy").filter(|s| !s.is_null()) else {
        return;
    };
    let canary = strategy.get("canary").filter(|v| !v.is_null());
    let blue_green = strategy.get("blueGreen").filter(|v| !v.is_null());
    match (canary, blue_green) {
        (Some(_), Some(_)) => out.report(
            &RG204,
            "/spec/strategy",
            "strategy sets both canary and blueGreen; a Rollout uses exactly one",
        ),
        (None, None) => out.report(
            &RG204,
            "/spec/strategy",
            "strategy sets neither canary nor blueGreen; a Rollout uses exactly one",
        ),
        _ => {}
    }
    fn text<'a>(v: Option<&'a Value>, k: &str) -> Option<&'a str> {
        v.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    if let (Some(c), Some(s)) = (text(canary, "canaryService"), text(canary, "stableService")) {
        if c == s {
            out.report(
                &RG204,
                "/spec/strategy/canary/canaryService",
                format!("canaryService and stableService are both \"{c}\"; they must be different Services"),
            );
        }
    }
    if let Some(c) = canary {
        rg204_traffic_routing_services(c, |k| text(canary, k).is_some(), out);
    }
    if blue_green.is_some() {
        match (text(blue_green, "activeService"), text(blue_green, "previewService")) {
            (None, _) => out.report(
                &RG204,
                "/spec/strategy/blueGreen",
                "blueGreen has no activeService; Argo requires one",
            ),
            (Some(a), Some(p)) if a == p => out.report(
                &RG204,
                "/spec/strategy/blueGreen/previewService",
                format!("activeService and previewService are both \"{a}\"; they must be different Services"),
            ),
            _ => {}
        }
    }
}

/// Argo's `requireCanaryStableServices` (pkg/apis/rollouts/validation/validation.go): a canary
/// with `trafficRouting` needs both Services, unless it routes through an Istio DestinationRule
/// (subsets, not Services) or uses `pingPong`. Argo reports each missing one at its field.
fn rg204_traffic_routing_services(canary: &Value, set: impl Fn(&str) -> bool, out: &mut Sink) {
    let present = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    let routing = canary.get("trafficRouting");
    if !present(routing)
        || present(routing.and_then(|r| r.pointer("/istio/destinationRule")))
        || present(canary.get("pingPong"))
    {
        return;
    }
    let routers: Vec<&str> = routing
        .and_then(Value::as_object)
        .map(|r| {
            r.keys()
                .map(String::as_str)
                .filter(|k| *k != "managedRoutes")
                .collect()
        })
        .unwrap_or_default();
    let with = if routers.is_empty() {
        String::new()
    } else {
        format!(" ({})", routers.join(", "))
    };
    for key in ["stableService", "canaryService"] {
        if !set(key) {
            out.report(
                &RG204,
                format!("/spec/strategy/canary/{key}"),
                format!(
                    "canary uses trafficRouting{with} but sets no {key}; Argo rejects the Rollout: \"Canary service and Stable service must to be set to use Traffic Routing\""
                ),
            );
        }
    }
}

fn rg203_invalid_steps(rollout: &Value, out: &mut Sink) {
    let Some(steps) = rollout
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
    else {
        return;
    };
    for (i, step) in steps.iter().enumerate() {
        let at = format!("/spec/strategy/canary/steps/{i}");
        let Some(map) = step.as_object() else {
            out.report(&RG203, at, format!("step {i} is not a mapping"));
            continue;
        };
        let kinds: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| EXCLUSIVE_STEP_KINDS.contains(k))
            .collect();
        if kinds.len() > 1 {
            out.report(
                &RG203,
                &at,
                format!(
                    "step {i} sets {}; each step must do exactly one thing",
                    kinds.join(" and ")
                ),
            );
        } else if !map.keys().any(|k| STEP_KINDS.contains(&k.as_str())) {
            out.report(
                &RG203,
                &at,
                format!("step {i} sets no action (one of {})", STEP_KINDS.join(", ")),
            );
        }
        if let Some(w) = map.get("setWeight") {
            match w.as_i64() {
                Some(w) if (0..=100).contains(&w) => {}
                _ => out.report(
                    &RG203,
                    format!("{at}/setWeight"),
                    format!("step {i}: setWeight {w} is not a whole number between 0 and 100"),
                ),
            }
        }
        if let Some(d) = map
            .get("pause")
            .and_then(|p| p.get("duration"))
            .filter(|d| !d.is_null())
        {
            match duration::pause_seconds(d) {
                Some(s) if s >= 0.0 => {}
                _ => out.report(
                    &RG203,
                    format!("{at}/pause/duration"),
                    format!("step {i}: pause duration {d} is neither whole seconds nor a Go duration such as 30s or 5m"),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testing::{findings, ids};

    const TEMPLATE: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: rate}\nspec:\n  args: [{name: svc}]\n  metrics:\n  - name: m\n    interval: 1m\n    failureLimit: 1\n    successCondition: result[0] > 0\n    provider: {prometheus: {address: 'http://p', query: 'sum(x{s=\"{{args.svc}}\"})'}}\n---\n";

    fn rollout(strategy: &str) -> String {
        format!("{TEMPLATE}apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: r}}\nspec:\n  strategy:\n{strategy}")
    }

    const GOOD: &str = "    canary:\n      canaryService: c\n      stableService: s\n      analysis:\n        templates: [{templateName: rate}]\n        args: [{name: svc, value: c}]\n      steps:\n      - setWeight: 20\n      - pause: {duration: 30}\n      - pause: {duration: 1m}\n";

    #[test]
    fn good_rollout_passes() {
        assert!(
            findings(&rollout(GOOD)).is_empty(),
            "{:?}",
            findings(&rollout(GOOD))
        );
    }

    #[test]
    fn rg109_forever_metric_in_a_step() {
        let s = "    canary:\n      steps:\n      - analysis:\n          templates: [{templateName: rate}]\n          args: [{name: svc, value: c}]\n";
        assert_eq!(ids(&rollout(s)), ["RG109"]);
    }

    #[test]
    fn rg111_missing_argument() {
        assert_eq!(
            ids(&rollout(
                &GOOD.replace("        args: [{name: svc, value: c}]\n", "")
            )),
            ["RG111"]
        );
    }

    #[test]
    fn rg112_unknown_template() {
        assert_eq!(
            ids(&rollout(
                &GOOD.replace("templateName: rate", "templateName: nope")
            )),
            ["RG112"]
        );
        assert_eq!(
            ids(&rollout(&GOOD.replace(
                "{templateName: rate}",
                "{templateName: rate, clusterScope: true}"
            ))),
            ["RG112"]
        );
    }

    #[test]
    fn rg102_with_passed_values() {
        assert_eq!(
            ids(&rollout(&GOOD.replace("value: c}", "value: 'a\"b'}"))),
            ["RG102"]
        );
    }

    #[test]
    fn rg203_steps() {
        assert_eq!(
            ids(&rollout(&GOOD.replace("setWeight: 20", "setWeight: 120"))),
            ["RG203"]
        );
        assert_eq!(
            ids(&rollout(&GOOD.replace("duration: 30}", "duration: soon}"))),
            ["RG203"]
        );
        assert_eq!(
            ids(&rollout(
                &GOOD.replace("- setWeight: 20", "- {setWeight: 20, pause: {}}")
            )),
            ["RG203"]
        );
    }

    #[test]
    fn rg204_strategy() {
        assert_eq!(
            ids(&rollout(
                &GOOD.replace("canaryService: c", "canaryService: s")
            )),
            ["RG204"]
        );
        assert_eq!(
            ids(&rollout(
                "    blueGreen: {activeService: a, previewService: b}\n    canary: {}\n"
            )),
            ["RG204"]
        );
        assert_eq!(
            ids(&rollout(
                "    blueGreen: {activeService: a, previewService: a}\n"
            )),
            ["RG204"]
        );
        assert_eq!(ids(&rollout("    {}\n")), ["RG204"]);
    }

    #[test]
    fn rg204_traffic_routing_needs_both_services() {
        let nginx = GOOD
            .replace("      canaryService: c\n      stableService: s\n", "")
            .replace(
                "    canary:\n",
                "    canary:\n      trafficRouting: {nginx: {stableIngress: web}}\n",
            );
        assert_eq!(
            findings(&rollout(&nginx)),
            [
                ("RG204".into(), "/spec/strategy/canary/stableService".into()),
                ("RG204".into(), "/spec/strategy/canary/canaryService".into())
            ]
        );
        let one = GOOD.replace("      stableService: s\n", "").replace(
            "    canary:\n",
            "    canary:\n      trafficRouting: {smi: {}}\n",
        );
        assert_eq!(
            findings(&rollout(&one)),
            [("RG204".into(), "/spec/strategy/canary/stableService".into())]
        );
        // Argo's exceptions: an Istio DestinationRule routes by subset, pingPong by its own pair.
        for exempt in [
            "{istio: {virtualService: {name: v}, destinationRule: {name: d, canarySubsetName: c, stableSubsetName: s}}}",
            "{alb: {ingress: i, rootService: r, servicePort: 80}}\n      pingPong: {pingService: a, pongService: b}",
        ] {
            let r = GOOD
                .replace("      canaryService: c\n      stableService: s\n", "")
                .replace("    canary:\n", &format!("    canary:\n      trafficRouting: {exempt}\n"));
            assert!(ids(&rollout(&r)).is_empty(), "{exempt}: {:?}", findings(&rollout(&r)));
        }
    }

    fn experiment(analysis: &str, duration: &str) -> String {
        format!("    canary:\n      steps:\n      - experiment:\n{duration}          templates: [{{name: canary, specRef: canary}}]\n          analyses:\n          - {analysis}\n")
    }

    #[test]
    fn experiment_analyses_are_resolved() {
        let good = "{name: a, templateName: rate, args: [{name: svc, value: c}]}";
        assert!(ids(&rollout(&experiment(good, ""))).is_empty());
        // RG112 at the entry that names the template.
        assert_eq!(
            findings(&rollout(&experiment(&good.replace("rate", "nope"), ""))),
            [(
                "RG112".into(),
                "/spec/strategy/canary/steps/0/experiment/analyses/0".into()
            )]
        );
        assert_eq!(
            ids(&rollout(&experiment(
                &good.replace("rate,", "rate, clusterScope: true,"),
                ""
            ))),
            ["RG112"]
        );
        // RG111: the entry's own args are what the run gets.
        assert_eq!(
            ids(&rollout(&experiment("{name: a, templateName: rate}", ""))),
            ["RG111"]
        );
        // RG109: the experiment waits for a required analysis only when it has no duration.
        let required = good.replace("rate,", "rate, requiredForCompletion: true,");
        assert_eq!(ids(&rollout(&experiment(&required, ""))), ["RG109"]);
        assert!(ids(&rollout(&experiment(&required, "          duration: 5m\n"))).is_empty());
    }
}
