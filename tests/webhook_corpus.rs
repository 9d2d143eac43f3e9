//! The webhook reviews what it decodes of an AdmissionReview, which leaves out the members of
//! `engine::UNREAD`. For every object of the shared corpus and the captured reviews, given
//! the bookkeeping the apiserver adds (managed fields, kubectl's last-applied annotation), the
//! webhook's findings and patch must equal the engine's on the whole object; and the engine's
//! review must not change when those members are removed, which is what makes leaving them out
//! safe (a rule that starts reading one fails here).

mod support;

use base64::Engine as _;
use rollout_guard::admission::{self, Webhook};
use rollout_guard::engine::{self, Context, Unread, UNREAD};
use rollout_guard::manifest::Object;
use rollout_guard::policy::Policy;
use serde_json::{json, Value};
use support::reviewed_objects;

/// `value` without the members of `engine::UNREAD`, as the webhook decodes it.
fn prune(value: &mut Value) {
    fn walk(value: &mut Value, unread: &[Unread]) {
        let Some(map) = value.as_object_mut() else {
            return;
        };
        for u in unread {
            if u.inside.is_empty() {
                map.shift_remove(u.key);
            } else if let Some(inner) = map.get_mut(u.key) {
                walk(inner, u.inside);
            }
        }
    }
    walk(value, UNREAD);
}

/// `value` as the apiserver sends it after a `kubectl apply`.
fn as_applied(mut value: Value) -> Value {
    let applied = value.to_string();
    let api_version = value["apiVersion"].clone();
    let meta = &mut value["metadata"];
    if !meta.is_object() {
        return value;
    }
    meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = applied.into();
    meta["managedFields"] = json!([{"manager": "kubectl-client-side-apply", "operation": "Update",
        "apiVersion": api_version, "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:annotations": {".": {}}}, "f:spec": {".": {}}}}]);
    value
}

fn object(value: Value, namespace: &str) -> Object {
    admission::object_of(value, namespace).expect("a reviewed kind")
}

#[test]
fn the_webhook_reviews_every_corpus_object_as_the_engine_does() {
    require!(support::SHARED);
    let policy = Policy::embedded();
    let lookup = rollout_guard::lookup::shipped::lookup();
    let ctx = Context {
        policy: &policy,
        lookup: &lookup,
    };
    let mut objects = reviewed_objects(&support::shared().join("corpus"));
    objects.extend(reviewed_objects(
        &support::shared().join("fixtures/admission-reviews"),
    ));
    let (mut with_template, mut with_findings, mut patched) = (0, 0, 0);
    for (name, obj) in objects {
        let namespace = if obj.namespace.is_empty() {
            "demo".to_string()
        } else {
            obj.namespace.clone()
        };
        let full = as_applied(obj.value);
        let offline = engine::review(&object(full.clone(), &namespace), &ctx);

        let mut pruned = full.clone();
        prune(&mut pruned);
        with_template += usize::from(full.pointer("/spec/template").is_some());
        assert_eq!(
            engine::review(&object(pruned, &namespace), &ctx),
            offline,
            "{name}: the review reads a member engine::UNREAD says is unread"
        );

        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE", "namespace": namespace, "object": full}});
        let outcome = admission::handle(
            Webhook::Mutate,
            body.to_string().as_bytes(),
            &policy,
            &lookup,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(outcome.findings, offline.findings, "{name}");
        let response: Value = serde_json::from_slice(&outcome.body).unwrap();
        let patch = response["response"]["patch"].as_str().map(|p| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        });
        let expected = (!offline.denied() && !offline.patch.is_empty())
            .then(|| serde_json::to_value(&offline.patch).unwrap());
        assert_eq!(patch, expected, "{name}");
        with_findings += usize::from(!offline.findings.is_empty());
        patched += usize::from(patch.is_some());
    }
    // Enough of the corpus went through for the comparison to mean something.
    assert!(
        with_template >= 100,
        "{with_template} objects had a pod template"
    );
    assert!(with_findings >= 100, "{with_findings} objects had findings");
    assert!(patched >= 50, "{patched} objects were patched");
}

#[test]
fn pruning_removes_only_the_unread_members() {
    let mut v = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "r", "managedFields": [{}],
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "a": "b"}},
        "spec": {"template": {"spec": {}}, "strategy": {"canary": {}}}});
    prune(&mut v);
    assert_eq!(
        v,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "r", "annotations": {"a": "b"}},
            "spec": {"strategy": {"canary": {}}}})
    );
}
