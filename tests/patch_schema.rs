//! What the kube-apiserver does with a mutating webhook's answer: it applies the JSON Patch, then
//! validates the result against the Rollout CRD's schema. A field the schema does not know is
//! dropped without a word (or rejected, with strict field validation), and a wrong type fails the
//! request. So every Rollout the webhook patches (each in the shared corpus, each in the captured
//! AdmissionReviews, and one of each shape the mutation treats differently) is patched as the
//! webhook patches it and checked against Argo's real CRD schema, made strict: the patch must
//! add no error to those the manifest already had.

mod support;

use rollout_guard::engine::{self, Context};
use rollout_guard::manifest::{Kind, Object};
use rollout_guard::mutation;
use rollout_guard::policy::Policy;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use support::{reviewed_objects, strict_crd_schema};

/// One Rollout of each shape the mutation plans differently.
fn shapes() -> Vec<(String, Object)> {
    let pod = json!({"metadata": {"labels": {"app": "a"}},
                     "spec": {"containers": [{"name": "a", "image": "a:1"}]}});
    let base = |strategy: Option<Value>, annotations: Option<Value>| {
        let mut v = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "a", "namespace": "demo"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}}, "template": pod}});
        if let Some(s) = strategy {
            v["spec"]["strategy"] = s;
        }
        if let Some(a) = annotations {
            v["metadata"]["annotations"] = a;
        }
        v
    };
    let workload_ref = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "w", "namespace": "demo"},
        "spec": {"workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w"},
                 "strategy": {"canary": {"canaryService": "w-canary", "stableService": "w"}}}});
    [
        ("no strategy", base(None, None)),
        ("strategy: {}", base(Some(json!({})), None)),
        ("strategy: null", base(Some(Value::Null), None)),
        ("canary: {}", base(Some(json!({"canary": {}})), None)),
        (
            "canary with steps, no analysis",
            base(
                Some(json!({"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}})),
                None,
            ),
        ),
        (
            "canary with steps: []",
            base(Some(json!({"canary": {"steps": []}})), None),
        ),
        (
            "canary with analysis: {}",
            base(Some(json!({"canary": {"analysis": {}}})), None),
        ),
        (
            "canary with analysis templates: []",
            base(
                Some(json!({"canary": {"analysis": {"templates": []}}})),
                None,
            ),
        ),
        (
            "blue-green",
            base(
                Some(json!({"blueGreen": {"activeService": "a", "previewService": "a-preview"}})),
                None,
            ),
        ),
        ("annotations: {}", base(None, Some(json!({})))),
        (
            "an earlier mutated annotation",
            base(None, Some(json!({"rollout-guard.io/mutated": "steps"}))),
        ),
        ("workloadRef", workload_ref),
    ]
    .into_iter()
    .map(|(name, v)| (name.to_string(), Object::from_value(v).unwrap()))
    .collect()
}

fn errors(validator: &jsonschema::Validator, value: &Value) -> BTreeSet<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn patched_rollouts_pass_the_rollout_crd_schema() {
    require!(support::SHARED);
    let validator = jsonschema::validator_for(&strict_crd_schema("rollout-crd.yaml")).unwrap();
    let policy = Policy::embedded();
    let lookup = rollout_guard::lookup::shipped::lookup();
    let ctx = Context {
        policy: &policy,
        lookup: &lookup,
    };
    let mut rollouts = shapes();
    for dir in ["corpus", "fixtures/admission-reviews"] {
        rollouts.extend(
            reviewed_objects(&support::shared().join(dir))
                .into_iter()
                .filter(|(_, o)| o.kind == Kind::Rollout),
        );
    }

    let (mut patched, mut valid_before_and_after) = (0, 0);
    let mut problems = Vec::new();
    for (name, obj) in &rollouts {
        let review = engine::review(obj, &ctx);
        if review.denied() || review.patch.is_empty() {
            continue;
        }
        patched += 1;
        let after = mutation::apply(&obj.value, &review.patch)
            .unwrap_or_else(|e| panic!("{name}: the patch does not apply: {e}"));
        let before = errors(&validator, &obj.value);
        let new: BTreeSet<String> = errors(&validator, &after)
            .difference(&before)
            .cloned()
            .collect();
        if !new.is_empty() {
            problems.push(format!("{name}: {new:#?}"));
        }
        if before.is_empty() {
            valid_before_and_after += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "the patch breaks the CRD schema:\n{}",
        problems.join("\n")
    );
    assert!(patched >= 100, "only {patched} Rollouts were patched");
    assert!(
        valid_before_and_after >= 90,
        "only {valid_before_and_after} patched Rollouts were schema-valid to begin with"
    );
}

/// The check sees what the apiserver would drop or refuse: `bad` added to a valid Rollout's
/// steps fails the strict schema.
fn the_strict_schema_catches(bad: Value) {
    require!(support::SHARED);
    let validator = jsonschema::validator_for(&strict_crd_schema("rollout-crd.yaml")).unwrap();
    let (_, obj) = shapes().remove(4);
    assert!(errors(&validator, &obj.value).is_empty());
    let mut v = obj.value.clone();
    v["spec"]["strategy"]["canary"]["steps"]
        .as_array_mut()
        .unwrap()
        .push(bad.clone());
    assert!(!errors(&validator, &v).is_empty(), "{bad} passed");
}

cases! {
    the_strict_schema_catches:
    the_strict_schema_catches_a_misspelt_injection => (json!({"setweight": 10})),
    the_strict_schema_catches_a_mistyped_weight => (json!({"setWeight": "10"})),
    the_strict_schema_catches_a_mistyped_pause => (json!({"pause": {"duration": true}})),
}
