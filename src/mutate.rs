//! Defaulting: what the policy injects into a Rollout, as RFC 6902 JSON Patch operations.
//!
//! Every operation is an `add` of a field that is absent (or null), so nothing the manifest sets
//! is overwritten or reordered, and a mutated object needs no further mutation: the webhook is
//! safe with `reinvocationPolicy: IfNeeded`.

use crate::manifest::{Kind, Object};
use crate::policy::{AnalysisDefaults, ArgSource, Policy};
use crate::rules::{Rule, RG201, RG202};
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation};
use serde_json::{json, Map, Value};

/// The annotation a mutated object carries, naming what was injected.
pub const MUTATED_ANNOTATION: &str = "rollout-guard.io/mutated";

/// One thing the mutator adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injection {
    /// A whole canary strategy for a Rollout that has none.
    CanaryStrategy,
    /// The policy's default steps for a canary without steps.
    CanarySteps,
    /// A background analysis for a canary with no analysis anywhere.
    CanaryAnalysis,
    /// A prePromotionAnalysis for a blue-green Rollout with no analysis.
    PrePromotionAnalysis,
}

impl Injection {
    /// The name used in the `rollout-guard.io/mutated` annotation.
    pub fn label(self) -> &'static str {
        match self {
            Injection::CanaryStrategy => "canary-strategy",
            Injection::CanarySteps => "canary-steps",
            Injection::CanaryAnalysis => "canary-analysis",
            Injection::PrePromotionAnalysis => "prepromotion-analysis",
        }
    }
}

/// What the mutator would do to one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Mutation {
    /// What is injected, with the pointer of the added field.
    pub injections: Vec<(Injection, String)>,
    /// The patch, annotation included; empty when nothing is injected.
    pub patch: Vec<PatchOperation>,
}

/// Rollout gaps the policy cannot fill (it names no default analysis): reported, not patched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    pub rule: &'static Rule,
    pub pointer: String,
}

/// Plans the mutation of `obj`. `enabled(rule)` says whether RG201 (steps) and RG202 (analysis)
/// are in force for this object: a rule that is off, or ignored by annotation, injects nothing.
pub fn plan(
    obj: &Object,
    policy: &Policy,
    enabled: &dyn Fn(&Rule) -> bool,
) -> (Mutation, Vec<Gap>) {
    let mut m = Mutation::default();
    let mut gaps = Vec::new();
    if obj.kind != Kind::Rollout {
        return (m, gaps);
    }
    let Some(spec) = obj.value.get("spec").and_then(Value::as_object) else {
        return (m, gaps);
    };
    let steps_on = enabled(&RG201) && !policy.spec.canary.default_steps.is_empty();
    let analysis = policy.spec.analysis.as_ref().filter(|_| enabled(&RG202));
    let strategy = spec.get("strategy").filter(|v| !v.is_null());

    match strategy {
        None => {
            let mut canary = Map::new();
            if steps_on {
                canary.insert(
                    "steps".into(),
                    Value::Array(policy.spec.canary.default_steps.clone()),
                );
            }
            if let Some(a) = analysis {
                let steps = if steps_on {
                    policy.spec.canary.default_steps.len()
                } else {
                    0
                };
                canary.insert("analysis".into(), analysis_block(a, None, steps, true));
            }
            if !canary.is_empty() {
                add(
                    &mut m,
                    Injection::CanaryStrategy,
                    "/spec/strategy",
                    json!({ "canary": canary }),
                );
            }
            if analysis.is_none() && enabled(&RG202) {
                gaps.push(Gap {
                    rule: &RG202,
                    pointer: "/spec".into(),
                });
            }
        }
        Some(strategy) => {
            if let Some(canary) = strategy.get("canary") {
                plan_canary(
                    &mut m, &mut gaps, policy, canary, steps_on, analysis, enabled,
                );
            } else if let Some(bg) = strategy.get("blueGreen").and_then(Value::as_object) {
                let has_analysis = ["prePromotionAnalysis", "postPromotionAnalysis"]
                    .iter()
                    .any(|k| bg.get(*k).is_some_and(|v| !v.is_null()));
                if !has_analysis && enabled(&RG202) {
                    match analysis.filter(|_| policy.spec.blue_green.inject_pre_promotion_analysis)
                    {
                        Some(a) => {
                            let preview = bg.get("previewService").and_then(Value::as_str);
                            add(
                                &mut m,
                                Injection::PrePromotionAnalysis,
                                "/spec/strategy/blueGreen/prePromotionAnalysis",
                                analysis_block(a, preview, 0, false),
                            );
                        }
                        None => gaps.push(Gap {
                            rule: &RG202,
                            pointer: "/spec/strategy/blueGreen".into(),
                        }),
                    }
                }
            }
        }
    }
    if !m.injections.is_empty() {
        annotate(&mut m, obj);
    }
    (m, gaps)
}

#[allow(clippy::too_many_arguments)]
fn plan_canary(
    m: &mut Mutation,
    gaps: &mut Vec<Gap>,
    policy: &Policy,
    canary: &Value,
    steps_on: bool,
    analysis: Option<&AnalysisDefaults>,
    enabled: &dyn Fn(&Rule) -> bool,
) {
    let at = "/spec/strategy/canary";
    if canary.is_null() {
        // `canary:` with nothing under it: fill it as a whole.
        let mut fresh = Map::new();
        if steps_on {
            fresh.insert(
                "steps".into(),
                Value::Array(policy.spec.canary.default_steps.clone()),
            );
        }
        if let Some(a) = analysis {
            let n = if steps_on {
                policy.spec.canary.default_steps.len()
            } else {
                0
            };
            fresh.insert("analysis".into(), analysis_block(a, None, n, true));
        }
        if !fresh.is_empty() {
            add(m, Injection::CanaryStrategy, at, Value::Object(fresh));
        }
        return;
    }
    let Some(canary) = canary.as_object() else {
        return;
    };
    let existing_steps = canary.get("steps").and_then(Value::as_array);
    let mut steps = existing_steps.map_or(0, Vec::len);
    if existing_steps.is_none_or(Vec::is_empty)
        && steps_on
        && !canary
            .get("steps")
            .is_some_and(|s| !s.is_null() && !s.is_array())
    {
        add(
            m,
            Injection::CanarySteps,
            &format!("{at}/steps"),
            Value::Array(policy.spec.canary.default_steps.clone()),
        );
        steps = policy.spec.canary.default_steps.len();
    }
    let background = canary.get("analysis").is_some_and(|v| !v.is_null());
    let in_step = existing_steps.is_some_and(|s| {
        s.iter()
            .any(|step| step.get("analysis").is_some_and(|v| !v.is_null()))
    });
    if !background && !in_step && enabled(&RG202) {
        match analysis {
            Some(a) => {
                let service = canary.get("canaryService").and_then(Value::as_str);
                add(
                    m,
                    Injection::CanaryAnalysis,
                    &format!("{at}/analysis"),
                    analysis_block(a, service, steps, true),
                );
            }
            None => gaps.push(Gap {
                rule: &RG202,
                pointer: at.into(),
            }),
        }
    }
}

/// The analysis block the policy asks for. `service` is the canary (or preview) Service; when
/// it is unset the Rollout's own name stands in, read by Argo from `metadata.name`.
fn analysis_block(
    a: &AnalysisDefaults,
    service: Option<&str>,
    steps: usize,
    with_start: bool,
) -> Value {
    let field = |path: &str| json!({ "fieldRef": { "fieldPath": path } });
    let args: Vec<Value> = a
        .default_args
        .iter()
        .map(|arg| {
            if let Some(v) = &arg.value {
                return json!({ "name": arg.name, "value": v });
            }
            match arg.from {
                Some(ArgSource::CanaryService | ArgSource::PreviewService) => match service {
                    Some(s) if !s.is_empty() => json!({ "name": arg.name, "value": s }),
                    _ => json!({ "name": arg.name, "valueFrom": field("metadata.name") }),
                },
                Some(ArgSource::Name) => {
                    json!({ "name": arg.name, "valueFrom": field("metadata.name") })
                }
                Some(ArgSource::Namespace) | None => {
                    json!({ "name": arg.name, "valueFrom": field("metadata.namespace") })
                }
            }
        })
        .collect();
    let mut block = Map::new();
    let mut template = Map::new();
    template.insert("templateName".into(), json!(a.default_template.name));
    if a.default_template.cluster_scope {
        template.insert("clusterScope".into(), json!(true));
    }
    block.insert("templates".into(), json!([template]));
    if !args.is_empty() {
        block.insert("args".into(), Value::Array(args));
    }
    if with_start {
        if let Some(start) = a.starting_step.filter(|s| *s > 0 && (*s as usize) <= steps) {
            block.insert("startingStep".into(), json!(start));
        }
    }
    Value::Object(block)
}

fn add(m: &mut Mutation, what: Injection, path: &str, value: Value) {
    m.injections.push((what, path.to_string()));
    m.patch.push(add_op(path, value));
}

fn add_op(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::parse(path.to_string()).expect("mutator pointers are well-formed"),
        value,
    })
}

fn annotate(m: &mut Mutation, obj: &Object) {
    let label = m
        .injections
        .iter()
        .map(|(i, _)| i.label())
        .collect::<Vec<_>>()
        .join(",");
    let annotations = obj.value.pointer("/metadata/annotations");
    match annotations {
        Some(Value::Object(_)) => m.patch.push(add_op(
            &format!(
                "/metadata/annotations/{}",
                MUTATED_ANNOTATION.replace('/', "~1")
            ),
            json!(label),
        )),
        _ if obj.value.get("metadata").is_some_and(Value::is_object) => m.patch.push(add_op(
            "/metadata/annotations",
            json!({ MUTATED_ANNOTATION: label }),
        )),
        _ => {}
    }
}

/// Applies a mutation's patch to a copy of the object's value.
pub fn apply(value: &Value, patch: &[PatchOperation]) -> Result<Value, json_patch::PatchError> {
    let mut out = value.clone();
    json_patch::patch(&mut out, patch)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::objects;

    fn mutate(yaml: &str) -> (Vec<Injection>, Value) {
        let obj = objects(yaml).pop().unwrap();
        let (m, _) = plan(&obj, &Policy::embedded(), &|_| true);
        let out = apply(&obj.value, &m.patch).unwrap();
        (m.injections.into_iter().map(|(i, _)| i).collect(), out)
    }

    const HEAD: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec:\n  replicas: 1\n";

    #[test]
    fn no_strategy_gets_a_canary() {
        let (inj, out) = mutate(HEAD);
        assert_eq!(inj, [Injection::CanaryStrategy]);
        assert!(out
            .pointer("/spec/strategy/canary/steps/0/setWeight")
            .is_some());
        assert_eq!(
            out.pointer("/spec/strategy/canary/analysis/startingStep"),
            Some(&json!(1))
        );
        assert_eq!(
            out.pointer("/metadata/annotations/rollout-guard.io~1mutated"),
            Some(&json!("canary-strategy"))
        );
    }

    #[test]
    fn mutation_is_idempotent() {
        let (_, once) = mutate(HEAD);
        let yaml = serde_json::to_string(&once).unwrap();
        let (inj, twice) = mutate(&yaml);
        assert!(inj.is_empty());
        assert_eq!(once, twice);
    }

    #[test]
    fn step_analysis_counts_as_analysis() {
        let (inj, _) = mutate(&format!(
            "{HEAD}  strategy:\n    canary:\n      steps:\n      - analysis: {{templates: [{{templateName: t}}]}}\n"
        ));
        assert!(inj.is_empty());
    }

    #[test]
    fn blue_green_gets_pre_promotion_analysis_for_preview() {
        let (inj, out) = mutate(&format!(
            "{HEAD}  strategy:\n    blueGreen: {{activeService: a, previewService: p}}\n"
        ));
        assert_eq!(inj, [Injection::PrePromotionAnalysis]);
        assert_eq!(
            out.pointer("/spec/strategy/blueGreen/prePromotionAnalysis/args/0/value"),
            Some(&json!("p"))
        );
    }
}
