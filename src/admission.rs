//! AdmissionReview in, engine, AdmissionReview out: the webhook's pure core. No sockets, no
//! clock: the server reads the body, calls [`handle`] and writes the bytes it returns.
//!
//! The request is read into a small struct that keeps only what the webhook needs, with the
//! object parsed once, straight into the `serde_json::Value` the engine reviews (`oldObject`,
//! `userInfo` and the rest, and the object's members in [`engine::UNREAD`], are skipped by the
//! parser without building anything). The response
//! is written by hand-made serde structs rather than `kube::core::admission::AdmissionResponse`,
//! because kube-core serialises `patch` as an array of bytes (kube-rs issue 1781) where the API
//! wants base64.

use crate::engine::{self, Context, Finding, Review, Unread};
use crate::lookup::Lookup;
use crate::manifest::{Kind, Object};
use crate::policy::Policy;
use crate::rules::Severity;
use base64::Engine as _;
use kube::core::admission::Operation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::Cell;

/// Which endpoint a review came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Webhook {
    /// `POST /mutate`: the verdict, and the patch when the object is allowed.
    Mutate,
    /// `POST /validate`: the verdict only.
    Validate,
}

impl Webhook {
    /// The name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Mutate => "mutate",
            Webhook::Validate => "validate",
        }
    }
}

/// At most this many characters per warning (the kube-apiserver's own limit).
pub const MAX_WARNING_CHARS: usize = 120;
/// At most this many bytes in a denial's message (kubectl prints it whole).
pub const MAX_DENY_MESSAGE_BYTES: usize = 8192;
/// At most this many bytes of warnings in all.
pub const MAX_WARNINGS_BYTES: usize = 4096;

/// A body that is not an AdmissionReview the webhook can answer: the server sends 400 with
/// this message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdmissionError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body is not an admission.k8s.io/v1 AdmissionReview: {0}")]
    NotReview(String),
    #[error("the body nests JSON deeper than the 128 levels rollout-guard reads: {0}")]
    TooDeep(String),
    #[error("request.object is missing from a {0} request")]
    MissingObject(&'static str),
}

/// What one review decided, for the response, the metrics and the log line.
#[derive(Debug)]
pub struct Outcome {
    /// The AdmissionReview response, serialised.
    pub body: Vec<u8>,
    pub uid: String,
    /// The kind of a reviewed type (from the object, else from `request.kind`); `None` for
    /// other kinds.
    pub kind: Option<Kind>,
    pub operation: Operation,
    pub namespace: String,
    pub name: String,
    pub allowed: bool,
    /// Every finding of the review (empty when the request was allowed untouched).
    pub findings: Vec<Finding>,
    /// True when the response carries a patch.
    pub patched: bool,
}

#[derive(Deserialize)]
struct ReviewIn<'a> {
    #[serde(rename = "apiVersion", borrow)]
    api_version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    request: Option<RequestIn<'a>>,
}

#[derive(Deserialize)]
struct GroupVersionKind<'a> {
    #[serde(default, borrow)]
    group: Cow<'a, str>,
    #[serde(default, borrow)]
    version: Cow<'a, str>,
    #[serde(default, borrow)]
    kind: Cow<'a, str>,
}

impl GroupVersionKind<'_> {
    fn reviewed_kind(&self) -> Option<Kind> {
        let api_version = match self.group.as_ref() {
            "" => self.version.to_string(),
            g => format!("{g}/{}", self.version),
        };
        Kind::from_type(&api_version, &self.kind)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestIn<'a> {
    #[serde(borrow)]
    uid: Cow<'a, str>,
    #[serde(default, borrow)]
    kind: Option<GroupVersionKind<'a>>,
    operation: Operation,
    #[serde(default, borrow)]
    sub_resource: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    object: Option<ObjectValue>,
}

/// Most JSON values (objects, arrays, strings, numbers alike) a reviewed object may hold, the
/// members in [`engine::UNREAD`] not counted. The largest real Rollout in the shared corpus holds
/// a few hundred once its pod template is left out; this bound keeps the decoded object of even a
/// hostile 4 MiB request to a few MiB (a 4 MiB body of `[0,0,...]` is two million values).
pub const MAX_OBJECT_VALUES: usize = 100_000;
/// Deepest nesting of a reviewed object (serde_json itself stops at 128 for the whole body).
pub const MAX_OBJECT_DEPTH: usize = 64;

/// The request's object as the engine's `Value`, parsed in one pass without the members in
/// [`engine::UNREAD`] (the parser steps over them without building anything), and refused once
/// it holds more than [`MAX_OBJECT_VALUES`] values or nests deeper than [`MAX_OBJECT_DEPTH`],
/// before those are built.
struct ObjectValue(Result<Value, Oversize>);

/// The values decoded so far, and the first bound the object broke: past it nothing more is
/// built (the rest is only read past), and the answer is a denial that says which bound.
#[derive(Default)]
struct Budget {
    values: Cell<usize>,
    exceeded: Cell<Option<Oversize>>,
}

/// How a request's object is too large to review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Oversize {
    Values,
    Depth,
}

impl std::fmt::Display for Oversize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Oversize::Values => write!(
                f,
                "the object holds more than {MAX_OBJECT_VALUES} JSON values (its pod template, managed fields and last-applied copy not counted); the limit is {MAX_OBJECT_VALUES}"
            ),
            Oversize::Depth => write!(
                f,
                "the object is nested more than {MAX_OBJECT_DEPTH} levels deep; the limit is {MAX_OBJECT_DEPTH}"
            ),
        }
    }
}

impl<'de> Deserialize<'de> for ObjectValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let budget = Budget::default();
        let value = d.deserialize_any(Pruned {
            unread: engine::UNREAD,
            budget: &budget,
            depth: 0,
        })?;
        Ok(ObjectValue(match budget.exceeded.get() {
            Some(o) => Err(o),
            None => Ok(value),
        }))
    }
}

/// Reads a JSON value within the budget, leaving out the members `unread` names when it is an
/// object.
#[derive(Clone, Copy)]
struct Pruned<'b> {
    unread: &'static [Unread],
    budget: &'b Budget,
    depth: usize,
}

impl Pruned<'_> {
    /// Counts one value; false once the object is over a bound (then nothing more is built).
    fn spend(&self) -> bool {
        if self.budget.exceeded.get().is_some() {
            return false;
        }
        let used = self.budget.values.get() + 1;
        self.budget.values.set(used);
        let exceeded = if used > MAX_OBJECT_VALUES {
            Some(Oversize::Values)
        } else if self.depth > MAX_OBJECT_DEPTH {
            Some(Oversize::Depth)
        } else {
            None
        };
        self.budget.exceeded.set(exceeded);
        exceeded.is_none()
    }

    fn inner(&self, unread: &'static [Unread]) -> Self {
        Pruned {
            unread,
            budget: self.budget,
            depth: self.depth + 1,
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        use serde::de::IgnoredAny;
        if !self.spend() {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if self.budget.exceeded.get().is_some() {
                // Over a bound: nothing more is built, not even the keys (300,000 keys with
                // null values once cost 60 MB for a 4 MiB body).
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = match self.unread.iter().find(|u| u.key == key) {
                None => map.next_value_seed(self.inner(&[]))?,
                Some(u) if u.inside.is_empty() => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                Some(u) => map.next_value_seed(self.inner(u.inside))?,
            };
            out.insert(key.into_owned(), value);
        }
        Ok(Value::Object(out))
    }

    // Anything else is kept as it is, for the rules to judge.
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if !self.spend() {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        }
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.inner(&[]))? {
            if self.budget.exceeded.get().is_some() {
                // Stop building; the rest is read past by the next elements' own checks.
                continue;
            }
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(if self.spend() {
            Value::String(v.to_owned())
        } else {
            Value::Null
        })
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.spend();
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.spend();
        Ok(v.into())
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.spend();
        Ok(v.into())
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.spend();
        Ok(v.into())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.spend();
        Ok(Value::Null)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut<'a> {
    api_version: &'a str,
    kind: &'static str,
    response: ResponseOut<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseOut<'a> {
    uid: &'a str,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    /// Base64 of the JSON Patch, as the API wants it.
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct StatusOut {
    code: u16,
    reason: &'static str,
    message: String,
}

/// The operation's name as the API spells it.
pub fn operation_name(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// The engine's input built from an AdmissionReview request's object: `None` when the object is
/// not of a reviewed kind. The request's namespace fills an object that names none (a CREATE
/// sent with `kubectl -n`), so that namespace rules and exclusions see where it will live.
pub fn object_of(value: Value, request_namespace: &str) -> Option<Object> {
    let mut obj = Object::from_value(value)?;
    if obj.namespace.is_empty() && !obj.kind.eq(&Kind::ClusterAnalysisTemplate) {
        obj.namespace = request_namespace.to_string();
    }
    Some(obj)
}

/// Answers one AdmissionReview body.
pub fn handle(
    webhook: Webhook,
    body: &[u8],
    policy: &Policy,
    lookup: &Lookup,
) -> Result<Outcome, AdmissionError> {
    let review: ReviewIn = serde_json::from_slice(body).map_err(|e| {
        if e.to_string().starts_with("recursion limit exceeded") {
            AdmissionError::TooDeep(e.to_string())
        } else if e.is_syntax() || e.is_eof() {
            AdmissionError::NotJson(e.to_string())
        } else {
            AdmissionError::NotReview(e.to_string())
        }
    })?;
    if review.kind != "AdmissionReview" {
        return Err(AdmissionError::NotReview(format!(
            "kind is {:?}, expected \"AdmissionReview\"",
            review.kind
        )));
    }
    if !matches!(
        review.api_version.as_ref(),
        "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
    ) {
        return Err(AdmissionError::NotReview(format!(
            "apiVersion is {:?}, expected \"admission.k8s.io/v1\"",
            review.api_version
        )));
    }
    let request = review
        .request
        .ok_or_else(|| AdmissionError::NotReview("it has no request".into()))?;
    let RequestIn {
        uid,
        kind,
        operation,
        sub_resource,
        namespace,
        name,
        object,
    } = request;
    let request_namespace = namespace.unwrap_or_default();

    let reviewed = matches!(operation, Operation::Create | Operation::Update)
        && sub_resource.as_deref().is_none_or(str::is_empty);
    let requested_kind = kind.as_ref().and_then(GroupVersionKind::reviewed_kind);
    let mut oversize = None;
    let object = match (reviewed, object) {
        (false, _) => None,
        (true, Some(ObjectValue(Ok(v @ Value::Object(_))))) => object_of(v, &request_namespace),
        (true, Some(ObjectValue(Ok(Value::Null))) | None) => {
            return Err(AdmissionError::MissingObject(operation_name(&operation)))
        }
        (true, Some(ObjectValue(Ok(other)))) => {
            return Err(AdmissionError::NotReview(format!(
                "request.object is {}, not a Kubernetes object",
                json_type(&other)
            )))
        }
        (true, Some(ObjectValue(Err(o)))) => {
            // Not built, so its kind is the request's: a reviewed kind (or none said) is denied.
            let other = kind.is_some() && requested_kind.is_none();
            oversize = (!other).then_some(o);
            None
        }
    };

    let mut outcome = Outcome {
        body: Vec::new(),
        uid: uid.to_string(),
        kind: object.as_ref().map(|o| o.kind).or(requested_kind),
        operation,
        namespace: request_namespace.to_string(),
        name: name.unwrap_or_default().to_string(),
        allowed: true,
        findings: Vec::new(),
        patched: false,
    };
    let mut response = ResponseOut {
        uid: &uid,
        allowed: true,
        status: None,
        patch_type: None,
        patch: None,
        warnings: Vec::new(),
    };
    if let Some(o) = oversize {
        response.allowed = false;
        outcome.allowed = false;
        response.status = Some(StatusOut {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "rollout-guard cannot review {} {}: {o}",
                requested_kind.map_or("the object", |k| k.as_str()),
                match (outcome.namespace.as_str(), outcome.name.as_str()) {
                    (_, "") => "(unnamed)".to_string(),
                    ("", n) => n.to_string(),
                    (ns, n) => format!("{ns}/{n}"),
                }
            ),
        });
    }
    if let Some(obj) = object {
        if outcome.name.is_empty() {
            outcome.name = obj.name.clone();
        }
        let Review {
            findings, patch, ..
        } = engine::review(&obj, &Context { policy, lookup });
        let denied = findings.iter().any(|f| f.severity == Severity::Deny);
        response.warnings = warnings(&findings);
        if denied {
            response.allowed = false;
            response.status = Some(StatusOut {
                code: 403,
                reason: "Forbidden",
                message: deny_message(&obj, &findings),
            });
        } else if webhook == Webhook::Mutate && !patch.is_empty() {
            let json = serde_json::to_vec(&patch).expect("a JSON Patch serialises");
            response.patch_type = Some("JSONPatch");
            response.patch = Some(base64::engine::general_purpose::STANDARD.encode(json));
            outcome.patched = true;
        }
        outcome.allowed = !denied;
        outcome.findings = findings;
    }
    outcome.body = serde_json::to_vec(&ReviewOut {
        api_version: &review.api_version,
        kind: "AdmissionReview",
        response,
    })
    .expect("a response serialises");
    Ok(outcome)
}

/// What a JSON value is, for messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The message of a denial: every deny finding with its rule id, path and message.
fn deny_message(obj: &Object, findings: &[Finding]) -> String {
    let denies: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Deny)
        .collect();
    let mut message = format!(
        "rollout-guard denied {} {}: {} finding{}: ",
        obj.kind,
        display_name(obj),
        denies.len(),
        if denies.len() == 1 { "" } else { "s" }
    );
    for (i, f) in denies.iter().enumerate() {
        let item = format!(
            "{}{} at {}: {}",
            if i > 0 { "; " } else { "" },
            f.rule.id,
            pointer_text(&f.pointer),
            f.message
        );
        // Keep room for the note about what did not fit.
        if message.len() + item.len() + 64 > MAX_DENY_MESSAGE_BYTES {
            let left = denies.len() - i;
            message.push_str(&format!(
                "; ... and {left} more finding{} (rollout-guard lint shows them all)",
                if left == 1 { "" } else { "s" }
            ));
            break;
        }
        message.push_str(&item);
    }
    message
}

fn display_name(obj: &Object) -> String {
    match (obj.namespace.as_str(), obj.name.as_str()) {
        ("", name) => name.to_string(),
        (ns, name) => format!("{ns}/{name}"),
    }
}

fn pointer_text(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

/// The warn findings as API warnings: each cut to [`MAX_WARNING_CHARS`], all within
/// [`MAX_WARNINGS_BYTES`]; when some do not fit, the last says how many were left out.
pub fn warnings(findings: &[Finding]) -> Vec<String> {
    let all: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Warn)
        .map(|f| {
            truncate(&format!(
                "{} at {}: {}",
                f.rule.id,
                pointer_text(&f.pointer),
                f.message
            ))
        })
        .collect();
    let mut out = Vec::new();
    let mut used = 0;
    for (i, w) in all.iter().enumerate() {
        let left = all.len() - i - 1;
        // Keep room for the note about what did not fit.
        let reserve = if left > 0 { 64 } else { 0 };
        if used + w.len() + reserve > MAX_WARNINGS_BYTES {
            out.push(format!(
                "rollout-guard: {} more warning(s) not shown",
                all.len() - i
            ));
            break;
        }
        used += w.len();
        out.push(w.clone());
    }
    out
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_WARNING_CHARS {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(MAX_WARNING_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{ALL, RG105};
    use serde_json::json;

    fn review(request: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": request,
        }))
        .unwrap()
    }

    fn rollout(spec: Value) -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
               "metadata": {"name": "r", "namespace": "demo"}, "spec": spec})
    }

    fn run(webhook: Webhook, request: Value) -> (Outcome, Value) {
        let out = handle(
            webhook,
            &review(request),
            &Policy::embedded(),
            &crate::lookup::shipped::lookup(),
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        (out, v)
    }

    #[test]
    fn bare_rollout_is_patched_with_base64() {
        let (out, v) = run(
            Webhook::Mutate,
            json!({"uid": "u1", "operation": "CREATE", "object": rollout(json!({}))}),
        );
        assert!(out.allowed && out.patched);
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        assert_eq!(v["response"]["uid"], "u1");
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        let patch = base64::engine::general_purpose::STANDARD
            .decode(v["response"]["patch"].as_str().unwrap())
            .unwrap();
        let ops: Vec<json_patch::PatchOperation> = serde_json::from_slice(&patch).unwrap();
        assert!(!ops.is_empty());
        assert_eq!(v["response"]["warnings"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn validate_never_patches() {
        let (out, v) = run(
            Webhook::Validate,
            json!({"uid": "u", "operation": "CREATE", "object": rollout(json!({}))}),
        );
        assert!(out.allowed && !out.patched);
        assert!(v["response"].get("patch").is_none());
    }

    #[test]
    fn deny_names_every_finding() {
        let (out, v) = run(
            Webhook::Validate,
            json!({"uid": "u", "operation": "UPDATE", "object": rollout(json!({
                "strategy": {"canary": {"steps": [{"setWeight": 150}, {"setWeight": -1}]}}}))}),
        );
        assert!(!out.allowed);
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(v["response"]["status"]["code"], 403);
        let msg = v["response"]["status"]["message"].as_str().unwrap();
        for f in out.findings.iter().filter(|f| f.severity == Severity::Deny) {
            assert!(
                msg.contains(&format!("{} at {}", f.rule.id, f.pointer)),
                "{msg}"
            );
        }
        assert!(msg.contains("/spec/strategy/canary/steps/0"), "{msg}");
        assert!(msg.contains("/spec/strategy/canary/steps/1"), "{msg}");
    }

    #[test]
    fn untouched_requests() {
        let cases = [
            json!({"uid": "a", "operation": "DELETE", "object": null, "oldObject": rollout(json!({}))}),
            json!({"uid": "b", "operation": "CONNECT"}),
            json!({"uid": "c", "operation": "UPDATE", "subResource": "status", "object": rollout(json!({}))}),
            json!({"uid": "d", "operation": "CREATE", "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}),
            json!({"uid": "e", "operation": "CREATE", "namespace": "kube-system",
                   "object": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"}, "spec": {}}}),
        ];
        for c in cases {
            let (out, v) = run(Webhook::Mutate, c);
            assert!(
                out.allowed && !out.patched && out.findings.is_empty(),
                "{v}"
            );
            assert_eq!(v["response"].as_object().unwrap().len(), 2, "{v}");
        }
    }

    #[test]
    fn bad_bodies_are_errors_that_say_why() {
        let p = Policy::embedded();
        let c = Lookup::default();
        let e = |b: &[u8]| {
            handle(Webhook::Validate, b, &p, &c)
                .unwrap_err()
                .to_string()
        };
        assert!(e(b"garbage").contains("not JSON"));
        assert!(e(
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid""#
        )
        .contains("not JSON"));
        assert!(e(br#"{"apiVersion":"v1","kind":"Pod"}"#).contains("kind is \"Pod\""));
        assert!(
            e(br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#)
                .contains("no request")
        );
        assert!(e(&review(json!({"uid": "u", "operation": "CREATE"}))).contains("missing"));
        assert!(e(&review(json!({"uid": "u", "operation": "PATCH"}))).contains("PATCH"));
    }

    #[test]
    fn warnings_are_bounded() {
        let f = Finding {
            rule: &RG105,
            severity: Severity::Warn,
            pointer: "/spec/metrics/0/successCondition".into(),
            message: "é".repeat(300),
        };
        let w = warnings(&vec![f; 100]);
        assert!(w.iter().all(|w| w.chars().count() <= MAX_WARNING_CHARS));
        assert!(w.iter().map(String::len).sum::<usize>() <= MAX_WARNINGS_BYTES);
        assert!(w.last().unwrap().contains("not shown"));
        assert!(ALL.contains(&&RG105));
    }
}
