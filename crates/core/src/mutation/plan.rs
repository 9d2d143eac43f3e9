//! Defaulting: what the policy injects into a Rollout, as RFC 6902 JSON Patch operations.
//!
//! Every operation is an `add`: of a field that is absent (or null), or of an item at the end of
//! an empty list; only the `rollout-guard.io/mutated` annotation may be rewritten, to merge its
//! labels. So nothing the manifest sets is overwritten or reordered, and a mutated object needs
//! no further mutation: the webhook is safe with `reinvocationPolicy: IfNeeded`.

use crate::argo::rollout::{self, has_analysis};
use crate::manifest::{pointer, Kind, Object};
use crate::policy::{AnalysisDefaults, ArgSource, Policy};
use crate::rules::rg202_missing_analysis::{NO_BLUE_GREEN_INJECTION, NO_DEFAULT_ANALYSIS};
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
    /// What is injected, each with the pointer of the block it fills.
    pub injections: Vec<(Injection, String)>,
    /// The patch, annotation included; empty when nothing is injected.
    pub patch: Vec<PatchOperation>,
}

/// Rollout gaps the policy cannot fill: reported, not patched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The rule the gap is reported under (RG202).
    pub rule: &'static Rule,
    /// Where the analysis is missing.
    pub pointer: String,
    /// Why nothing is injected.
    pub message: &'static str,
}

/// Plans the mutation of `obj`. `enabled(rule)` says whether RG201 (steps) and RG202 (analysis)
/// are in force for this object: a rule that is off, or ignored by annotation, injects nothing.
///
/// Only absent fields are added (a field set to null counts as absent, and so does an empty
/// analysis: `analysis: {}` or `templates: []` runs nothing). An empty list the manifest holds is
/// appended to, an empty analysis object gets the keys it lacks; nothing the manifest sets is
/// replaced or moved. The one exception is the `rollout-guard.io/mutated` annotation, whose
/// labels are merged.
pub fn plan(
    obj: &Object,
    policy: &Policy,
    enabled: &dyn Fn(&Rule) -> bool,
) -> (Mutation, Vec<Gap>) {
    let mut p = Planner {
        policy,
        rollout: &obj.value,
        steps_on: enabled(&RG201) && !policy.spec.canary.default_steps.is_empty(),
        analysis_on: enabled(&RG202),
        m: Mutation::default(),
        gaps: Vec::new(),
    };
    if obj.kind != Kind::Rollout {
        return (p.m, p.gaps);
    }
    if !rollout::has_spec(&obj.value) {
        return (p.m, p.gaps);
    }
    match rollout::strategy(&obj.value) {
        None => p.fresh_canary(rollout::STRATEGY, true),
        Some(s) if s.value.is_object() => match (s.canary, s.blue_green) {
            (None, None) => p.fresh_canary(rollout::CANARY, false),
            (Some(Value::Object(canary)), _) => p.canary(canary),
            (None, Some(Value::Object(bg))) => p.blue_green(bg),
            // A strategy that is not a mapping is RG204's to report, not ours to guess.
            _ => {}
        },
        Some(_) => {}
    }
    if !p.m.injections.is_empty() {
        annotate(&mut p.m, obj);
    }
    (p.m, p.gaps)
}

struct Planner<'a> {
    policy: &'a Policy,
    /// The Rollout being planned, as the manifest holds it.
    rollout: &'a Value,
    steps_on: bool,
    analysis_on: bool,
    m: Mutation,
    gaps: Vec<Gap>,
}

impl Planner<'_> {
    fn default_steps(&self) -> &[Value] {
        &self.policy.spec.canary.default_steps
    }

    /// The analysis defaults, when RG202 is in force and the policy has them.
    fn analysis(&self) -> Option<&AnalysisDefaults> {
        self.policy
            .spec
            .analysis
            .as_ref()
            .filter(|_| self.analysis_on)
    }

    fn gap(&mut self, pointer: &str, message: &'static str) {
        self.gaps.push(Gap {
            rule: &RG202,
            pointer: pointer.into(),
            message,
        });
    }

    fn inject(&mut self, what: Injection, at: &str) {
        self.m.injections.push((what, at.to_string()));
    }

    fn op(&mut self, path: &str, value: Value) {
        self.m.patch.push(add_op(path, value));
    }

    /// A whole canary for a Rollout without a strategy: at `/spec/strategy` (wrapped in
    /// `canary:`) or at `/spec/strategy/canary`.
    fn fresh_canary(&mut self, at: &str, wrap: bool) {
        let mut canary = Map::new();
        let mut steps = 0;
        if self.steps_on {
            steps = self.default_steps().len();
            canary.insert("steps".into(), Value::Array(self.default_steps().to_vec()));
        }
        match self.analysis() {
            Some(a) => {
                canary.insert(
                    "analysis".into(),
                    Value::Object(analysis_block(a, None, Some(steps))),
                );
            }
            None if self.analysis_on => self.gap(at, NO_DEFAULT_ANALYSIS),
            None => {}
        }
        if canary.is_empty() {
            return;
        }
        let value = if wrap {
            json!({ "canary": canary })
        } else {
            Value::Object(canary)
        };
        self.inject(Injection::CanaryStrategy, at);
        self.op(at, value);
    }

    fn canary(&mut self, canary: &Map<String, Value>) {
        const AT: &str = rollout::CANARY;
        let existing = rollout::canary_steps(canary);
        let mut steps = existing.map_or(0, <[Value]>::len);
        if existing.is_some_and(<[Value]>::is_empty) && self.steps_on {
            let defaults = self.default_steps().to_vec();
            self.inject(Injection::CanarySteps, rollout::STEPS);
            if canary.get("steps").is_some_and(Value::is_array) {
                // `steps: []`: append to the list the manifest holds.
                for (i, step) in defaults.iter().enumerate() {
                    self.op(&rollout::step_at(i), step.clone());
                }
            } else {
                self.op(rollout::STEPS, Value::Array(defaults.clone()));
            }
            steps = defaults.len();
        }
        if has_analysis(self.rollout, AT) || !self.analysis_on {
            return;
        }
        match self.analysis() {
            Some(a) => {
                let service = canary.get("canaryService").and_then(Value::as_str);
                let block = analysis_block(a, service, Some(steps));
                let at = format!("{AT}/analysis");
                self.fill_analysis(
                    Injection::CanaryAnalysis,
                    &at,
                    canary.get("analysis"),
                    block,
                );
            }
            None => self.gap(AT, NO_DEFAULT_ANALYSIS),
        }
    }

    fn blue_green(&mut self, bg: &Map<String, Value>) {
        const AT: &str = rollout::BLUE_GREEN;
        let pre = bg.get("prePromotionAnalysis");
        if has_analysis(self.rollout, AT) || !self.analysis_on {
            return;
        }
        if !self.policy.spec.blue_green.inject_pre_promotion_analysis {
            return self.gap(AT, NO_BLUE_GREEN_INJECTION);
        }
        match self.analysis() {
            Some(a) => {
                let preview = bg.get("previewService").and_then(Value::as_str);
                let block = analysis_block(a, preview, None);
                let at = format!("{AT}/prePromotionAnalysis");
                self.fill_analysis(Injection::PrePromotionAnalysis, &at, pre, block);
            }
            None => self.gap(AT, NO_DEFAULT_ANALYSIS),
        }
    }

    /// Puts `block` at `at`: the whole block when the field is absent, otherwise the keys and
    /// list items an empty analysis object lacks.
    fn fill_analysis(
        &mut self,
        what: Injection,
        at: &str,
        existing: Option<&Value>,
        block: Map<String, Value>,
    ) {
        let ops_before = self.m.patch.len();
        match existing {
            None | Some(Value::Null) => self.op(at, Value::Object(block)),
            Some(Value::Object(have)) => {
                for (key, value) in block {
                    match (have.get(&key), value) {
                        (None | Some(Value::Null), value) => {
                            self.op(&pointer::child(at, &key), value)
                        }
                        (Some(Value::Array(held)), Value::Array(items)) => {
                            let mut next = held.len();
                            for item in items {
                                // An argument the manifest already passes keeps its value.
                                let passed = held.iter().any(|h| {
                                    h.get("name").is_some() && h.get("name") == item.get("name")
                                });
                                if !passed {
                                    self.op(&format!("{}/{next}", pointer::child(at, &key)), item);
                                    next += 1;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            // An analysis that is not a mapping is left for the rules to report.
            Some(_) => {}
        }
        if self.m.patch.len() > ops_before {
            self.inject(what, at);
        }
    }
}

/// The analysis block the policy asks for. `service` is the canary (or preview) Service; when
/// it is unset the Rollout's own name stands in, read by Argo from `metadata.name`. `steps` is
/// the number of canary steps for a background analysis (None for blue-green): `startingStep`
/// is set only when it names one of them.
fn analysis_block(
    a: &AnalysisDefaults,
    service: Option<&str>,
    steps: Option<usize>,
) -> Map<String, Value> {
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
    if let (Some(steps), Some(start)) = (steps, a.starting_step) {
        // Argo counts steps from 0 and 0 is its default; a start past the last step would
        // never run the analysis.
        if start > 0 && (start as usize) < steps {
            block.insert("startingStep".into(), json!(start));
        }
    }
    block
}

fn add_op(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::parse(path.to_string()).expect("mutator pointers are well-formed"),
        value,
    })
}

/// Records what was injected in the `rollout-guard.io/mutated` annotation, keeping the labels
/// an earlier mutation left there.
fn annotate(m: &mut Mutation, obj: &Object) {
    let mut labels: Vec<&str> = Vec::new();
    for (injection, _) in &m.injections {
        if !labels.contains(&injection.label()) {
            labels.push(injection.label());
        }
    }
    let fresh = |labels: &[&str]| json!({ MUTATED_ANNOTATION: labels.join(",") });
    match obj.value.get("metadata") {
        None | Some(Value::Null) => m.patch.push(add_op(
            pointer::METADATA,
            json!({ "annotations": fresh(&labels) }),
        )),
        Some(Value::Object(meta)) => match meta.get("annotations") {
            None | Some(Value::Null) => m.patch.push(add_op(pointer::ANNOTATIONS, fresh(&labels))),
            Some(Value::Object(annotations)) => {
                let held = annotations.get(MUTATED_ANNOTATION).and_then(Value::as_str);
                let mut merged: Vec<&str> = held
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                for label in labels {
                    if !merged.contains(&label) {
                        merged.push(label);
                    }
                }
                let merged = merged.join(",");
                if held != Some(merged.as_str()) {
                    let path = pointer::child(pointer::ANNOTATIONS, MUTATED_ANNOTATION);
                    m.patch.push(add_op(&path, json!(merged)));
                }
            }
            // Annotations that are not a mapping: the API server rejects the object anyway.
            Some(_) => {}
        },
        Some(_) => {}
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
    fn experiment_analysis_counts_as_analysis_by_the_shared_definition() {
        let step = |analyses: &str| {
            format!("{HEAD}  strategy:\n    canary:\n      steps:\n      - experiment: {{templates: [{{name: c, specRef: canary}}], analyses: {analyses}}}\n")
        };
        let (inj, _) = mutate(&step("[{name: a, templateName: t}]"));
        assert!(inj.is_empty(), "{inj:?}");
        let (inj, _) = mutate(&step("[]"));
        assert_eq!(inj, [Injection::CanaryAnalysis]);
        let obj = objects(&step("[{name: a, templateName: t}]"))
            .pop()
            .unwrap();
        assert!(has_analysis(&obj.value, "/spec/strategy/canary"));
        assert!(!has_analysis(&obj.value, "/spec/strategy/blueGreen"));
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
        assert!(out
            .pointer("/spec/strategy/blueGreen/prePromotionAnalysis/startingStep")
            .is_none());
    }

    #[test]
    fn starting_step_must_name_an_existing_step() {
        // One step: index 1 does not exist, so no startingStep.
        let (_, out) = mutate(&format!(
            "{HEAD}  strategy:\n    canary:\n      steps: [{{setWeight: 20}}]\n"
        ));
        assert!(out.pointer("/spec/strategy/canary/analysis").is_some());
        assert!(out
            .pointer("/spec/strategy/canary/analysis/startingStep")
            .is_none());
        let (_, out) = mutate(&format!(
            "{HEAD}  strategy:\n    canary:\n      steps: [{{setWeight: 20}}, {{pause: {{}}}}]\n"
        ));
        assert_eq!(
            out.pointer("/spec/strategy/canary/analysis/startingStep"),
            Some(&json!(1))
        );
    }

    #[test]
    fn empty_analysis_counts_as_none_and_is_filled_not_replaced() {
        for analysis in ["{}", "{templates: []}", "{templates: [], startingStep: 0}"] {
            let (inj, out) = mutate(&format!(
                "{HEAD}  strategy:\n    canary:\n      steps: [{{setWeight: 5}}, {{pause: {{}}}}]\n      analysis: {analysis}\n"
            ));
            assert_eq!(inj, [Injection::CanaryAnalysis], "{analysis}");
            let a = out.pointer("/spec/strategy/canary/analysis").unwrap();
            assert_eq!(a["templates"][0]["templateName"], "success-rate-nginx");
            if analysis.contains("startingStep") {
                assert_eq!(a["startingStep"], 0, "the manifest's startingStep stays");
            }
        }
        // An empty step analysis is no analysis either.
        let (inj, _) = mutate(&format!(
            "{HEAD}  strategy:\n    canary:\n      steps: [{{analysis: {{templates: []}}}}]\n"
        ));
        assert_eq!(inj, [Injection::CanaryAnalysis]);
    }

    #[test]
    fn passed_arguments_keep_their_values() {
        let (_, out) = mutate(&format!(
            "{HEAD}  strategy:\n    canary:\n      steps: [{{setWeight: 5}}]\n      analysis:\n        templates: []\n        args: [{{name: service-name, value: mine}}]\n"
        ));
        let args = out.pointer("/spec/strategy/canary/analysis/args").unwrap();
        assert_eq!(args[0], json!({"name": "service-name", "value": "mine"}));
        assert_eq!(args[1]["name"], "namespace");
        assert_eq!(args.as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_annotation_names_what_was_injected_and_keeps_earlier_labels() {
        let yaml = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\n  annotations: {a: b, rollout-guard.io/mutated: canary-steps}\nspec:\n  strategy:\n    canary: {steps: [{setWeight: 5}]}\n";
        let (inj, out) = mutate(yaml);
        assert_eq!(inj, [Injection::CanaryAnalysis]);
        let annotations = out.pointer("/metadata/annotations").unwrap();
        assert_eq!(
            annotations,
            &json!({"a": "b", "rollout-guard.io/mutated": "canary-steps,canary-analysis"})
        );
    }

    #[test]
    fn workload_ref_rollouts_are_mutated_the_same_way() {
        let yaml = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: w}\nspec:\n  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: w}\n  strategy:\n    canary: {canaryService: w-canary}\n";
        let (inj, out) = mutate(yaml);
        assert_eq!(inj, [Injection::CanarySteps, Injection::CanaryAnalysis]);
        assert_eq!(
            out.pointer("/spec/strategy/canary/analysis/args/0/value"),
            Some(&json!("w-canary"))
        );
    }

    #[test]
    fn policy_without_analysis_or_blue_green_injection_reports_a_gap() {
        let obj = objects(&format!(
            "{HEAD}  strategy:\n    blueGreen: {{activeService: a}}\n"
        ))
        .pop()
        .unwrap();
        let mut policy = Policy::embedded();
        policy.spec.blue_green.inject_pre_promotion_analysis = false;
        let (m, gaps) = plan(&obj, &policy, &|_| true);
        assert!(m.patch.is_empty());
        assert_eq!(gaps.len(), 1);
        assert!(gaps[0].message.contains("injectPrePromotionAnalysis"));
        policy.spec.analysis = None;
        let obj = objects(HEAD).pop().unwrap();
        let (m, gaps) = plan(&obj, &policy, &|_| true);
        assert_eq!(m.injections.len(), 1, "the steps are still injected");
        assert_eq!(gaps[0].pointer, "/spec/strategy");
    }
}
