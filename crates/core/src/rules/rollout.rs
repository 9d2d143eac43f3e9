//! The Rollout pass: strategy and steps (RG203, RG204), and for every analysis the Rollout runs,
//! the AnalysisRun Argo would build from it ([`Run`]) checked against the templates it names
//! (RG102, RG109, RG110, RG111, RG112).

use super::{rg102_invalid_promql as rg102, rg109_endless_blocking_analysis as rg109};
use super::{rg110_undeclared_argument as rg110, rg111_missing_template_argument as rg111};
use super::{rg112_unknown_template as rg112, rg203_invalid_step as rg203};
use super::{rg204_invalid_strategy as rg204, Sink};
use crate::argo::rollout::{analysis_blocks, AnalysisBlock};
use crate::argo::scalar_text;
use crate::lookup::{Coverage, Lookup, TemplateInfo};
use crate::manifest::Object;
use serde_json::Value;

/// Runs every Rollout rule.
pub(super) fn check(obj: &Object, lookup: &Lookup, out: &mut Sink) {
    rg204::check(&obj.value, out);
    rg203::check(&obj.value, out);
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

/// One analysis block as the AnalysisRun Argo would create from it.
pub(super) struct Run<'a> {
    pub block: &'a AnalysisBlock<'a>,
    /// The arguments the block passes.
    pub passed: Vec<Passed<'a>>,
    /// The templates found, each with the pointer of its reference.
    pub found: Vec<(String, &'a TemplateInfo)>,
    /// The run's arguments: the templates' merged, filled from `passed`.
    pub merged: Vec<Merged<'a>>,
    /// True in a lint run, where every template in the lookup that is not shipped was reviewed
    /// with this Rollout and reports its own mistakes; templates from the cluster were not.
    pub reviewed_here: bool,
}

/// An argument the Rollout passes to an analysis.
pub(super) struct Passed<'a> {
    pub name: &'a str,
    pub value: Option<String>,
    /// `valueFrom` (a secret, a field of the Rollout, the pod template hash) fills it at run time.
    pub value_from: bool,
}

/// An argument of the AnalysisRun Argo would create: the templates' arguments flattened, then
/// filled from what the Rollout passes.
pub(super) struct Merged<'a> {
    pub name: &'a str,
    pub value: Option<String>,
    pub value_from: bool,
    /// The first template that declares it.
    pub template: &'a str,
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

fn check_references<'a>(
    obj: &Object,
    block: &'a AnalysisBlock<'a>,
    lookup: &'a Lookup,
    out: &mut Sink,
) {
    let passed: Vec<Passed> = block
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
    for (at, t) in &block.refs {
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
            None => rg112::check(lookup, cluster, name, at, out),
        }
    }
    let merged = merge_args(&found, &passed);
    let run = Run {
        block,
        passed,
        found,
        merged,
        reviewed_here: lookup.coverage() == Coverage::LintInput,
    };
    rg111::check_run(&run, out);
    for (at, info) in &run.found {
        rg110::check_run(&run, at, info, out);
        rg109::check_run(&run, at, info, out);
        rg102::check_run(&run, info, out);
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
