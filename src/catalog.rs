//! What the engine can look up about other objects: analysis templates (their arguments and a
//! summary of their metrics) and which Deployments Rollouts manage. Offline it is filled from
//! the lint input and `policies/`; in the cluster, from a watch. It keeps summaries, not objects.

use crate::manifest::{Kind, Object};
use serde_json::Value;
use std::collections::HashMap;

/// One argument a template declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgInfo {
    pub name: String,
    /// The default `value`, when there is one.
    pub value: Option<String>,
    /// True when neither `value` nor `valueFrom` is set, so the Rollout must pass it.
    pub required: bool,
}

/// A summary of one metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricInfo {
    pub name: String,
    /// An `interval` and no `count`: the metric never completes.
    pub runs_forever: bool,
    /// The Prometheus query, when the metric has one.
    pub query: Option<String>,
}

/// A summary of an AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateInfo {
    pub cluster_scope: bool,
    /// The object's origin (see [`Object::origin`]).
    pub origin: String,
    pub namespace: String,
    pub name: String,
    pub args: Vec<ArgInfo>,
    pub metrics: Vec<MetricInfo>,
}

impl TemplateInfo {
    /// Summarises a template object.
    pub fn from_object(obj: &Object) -> TemplateInfo {
        let spec = obj.value.get("spec");
        let list = |k: &str| {
            spec.and_then(|s| s.get(k))
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
        };
        let args = list("args")
            .iter()
            .filter_map(|a| {
                let name = a.get("name")?.as_str()?.to_string();
                let value = a.get("value").and_then(scalar_text);
                let required = value.is_none() && a.get("valueFrom").is_none();
                Some(ArgInfo {
                    name,
                    value,
                    required,
                })
            })
            .collect();
        let metrics = list("metrics")
            .iter()
            .map(|m| MetricInfo {
                name: m
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                runs_forever: m.get("interval").is_some_and(|v| !v.is_null())
                    && m.get("count")
                        .is_none_or(|c| c.is_null() || c.as_i64() == Some(0)),
                query: m
                    .pointer("/provider/prometheus/query")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect();
        TemplateInfo {
            cluster_scope: obj.kind == Kind::ClusterAnalysisTemplate,
            origin: obj.origin.clone(),
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            args,
            metrics,
        }
    }
}

/// A scalar's text as Argo would substitute it.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// (cluster scope, name): the templates of that name, usually one.
type Key = (bool, String);

/// The lookup tables the engine reads.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    templates: HashMap<Key, Vec<TemplateInfo>>,
    /// (namespace, rollout name) -> the Deployment its `workloadRef` names.
    workload_refs: HashMap<(String, String), String>,
}

impl Catalog {
    /// Records what the engine needs from `obj` (templates and Rollouts; other kinds are ignored).
    pub fn add(&mut self, obj: &Object) {
        match obj.kind {
            Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate => {
                let info = TemplateInfo::from_object(obj);
                let same = self
                    .templates
                    .entry((info.cluster_scope, info.name.clone()))
                    .or_default();
                // One entry per namespace and origin: a newer version replaces the older.
                same.retain(|t| t.namespace != info.namespace || t.origin != info.origin);
                same.push(info);
            }
            Kind::Rollout => {
                let key = (obj.namespace.clone(), obj.name.clone());
                match workload_ref(&obj.value) {
                    Some(d) => {
                        self.workload_refs.insert(key, d.to_string());
                    }
                    None => {
                        self.workload_refs.remove(&key);
                    }
                }
            }
            Kind::Deployment => {}
        }
    }

    /// Forgets an object (a watch saw it deleted).
    pub fn remove(&mut self, kind: Kind, namespace: &str, name: &str) {
        match kind {
            Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate => {
                let key = (kind == Kind::ClusterAnalysisTemplate, name.to_string());
                if let Some(same) = self.templates.get_mut(&key) {
                    same.retain(|t| t.namespace != namespace);
                    if same.is_empty() {
                        self.templates.remove(&key);
                    }
                }
            }
            Kind::Rollout => {
                self.workload_refs
                    .remove(&(namespace.to_string(), name.to_string()));
            }
            Kind::Deployment => {}
        }
    }

    /// The template a Rollout in `namespace` reaches with this name and scope. An object with no
    /// namespace (a manifest file that leaves it to `kubectl -n`) matches any namespace. When
    /// several match, the one whose origin shares the longest prefix with `near` wins.
    pub fn template(
        &self,
        cluster_scope: bool,
        namespace: &str,
        name: &str,
        near: &str,
    ) -> Option<&TemplateInfo> {
        let closeness = |t: &TemplateInfo| {
            let exact_ns = usize::from(t.namespace == namespace);
            let shared = t
                .origin
                .bytes()
                .zip(near.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            (shared, exact_ns)
        };
        self.templates
            .get(&(cluster_scope, name.to_string()))?
            .iter()
            .filter(|t| {
                cluster_scope
                    || t.namespace == namespace
                    || t.namespace.is_empty()
                    || namespace.is_empty()
            })
            .max_by_key(|t| closeness(t))
    }

    /// True when a Rollout in `namespace` manages the Deployment `name` through `workloadRef`.
    pub fn manages(&self, namespace: &str, name: &str) -> bool {
        self.workload_refs.iter().any(|((ns, _), d)| {
            d == name && (ns == namespace || ns.is_empty() || namespace.is_empty())
        })
    }

    /// How many templates and Rollout references it holds.
    pub fn len(&self) -> usize {
        self.templates.values().map(Vec::len).sum::<usize>() + self.workload_refs.len()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The Deployment a Rollout's `workloadRef` names.
pub fn workload_ref(rollout: &Value) -> Option<&str> {
    let r = rollout.pointer("/spec/workloadRef")?;
    if r.get("kind").and_then(Value::as_str) != Some("Deployment") {
        return None;
    }
    r.get("name")?.as_str()
}
