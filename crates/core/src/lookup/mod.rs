//! What the engine can look up about other objects: analysis templates (their arguments and a
//! summary of their metrics) and which Deployments Rollouts manage. Offline it is filled from
//! the lint input and `policies/`; in the cluster, from a watch. It keeps summaries, not objects.

mod shards;
pub mod shipped;

use crate::argo::rollout::workload_ref;
use crate::argo::template::Template;
use crate::argo::{args, scalar_text};
use crate::manifest::{Kind, Object};
use serde_json::Value;
use shards::ShardedMap;
use std::sync::Arc;

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
    /// Every argument a `{{args.x}}` tag in the metrics names, once each, in order of use.
    pub used_args: Vec<String>,
}

impl TemplateInfo {
    /// Summarises a template object.
    pub fn from_object(obj: &Object) -> TemplateInfo {
        let template = Template::of(&obj.value);
        let listed = template.metrics().unwrap_or_default();
        let args = template
            .args()
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
        let metrics = listed
            .iter()
            .map(|m| MetricInfo {
                name: m
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                runs_forever: m.get("interval").is_some_and(|v| !v.is_null())
                    && m.get("count").is_none_or(count_is_unbounded),
                query: crate::manifest::pointer::get(m, "/provider/prometheus/query")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect();
        let mut used_args = Vec::new();
        for m in listed {
            collect_tags(m, &mut used_args);
        }
        TemplateInfo {
            cluster_scope: obj.kind == Kind::ClusterAnalysisTemplate,
            origin: obj.origin.clone(),
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
            args,
            metrics,
            used_args,
        }
    }

    /// The template's kind.
    pub fn kind(&self) -> Kind {
        if self.cluster_scope {
            Kind::ClusterAnalysisTemplate
        } else {
            Kind::AnalysisTemplate
        }
    }
}

/// A metric `count` that does not stop the metric: absent, null or 0 (`"0"` too: Argo reads
/// the field as an int-or-string).
fn count_is_unbounded(count: &Value) -> bool {
    match count {
        Value::Null => true,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.trim().parse::<i64>() == Ok(0),
        _ => false,
    }
}

/// Adds the argument names the tags in `v`'s strings use to `out`, once each.
fn collect_tags(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            for tag in args::tags(s) {
                if !out.iter().any(|u| u == tag.name) {
                    out.push(tag.name.to_string());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| collect_tags(x, out)),
        Value::Object(map) => map.values().for_each(|x| collect_tags(x, out)),
        _ => {}
    }
}

/// (cluster scope, name): the templates of that name, usually one.
type Key = (bool, String);

/// Where a catalog's objects come from, which decides what a missing template means and
/// whether the templates' own findings are reported in the same run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Coverage {
    /// The lint input and the shipped templates: every input template is reviewed in the same
    /// run, so a Rollout need not repeat a template's own findings.
    #[default]
    LintInput,
    /// Only the shipped templates (the webhook when it does not watch the cluster).
    Shipped,
    /// What the cluster holds (`serve --cluster`): the templates were never reviewed with the
    /// object, so a Rollout reports what is wrong with the templates it runs.
    Cluster,
}

impl Coverage {
    /// Where the catalog looked, for a message about a template it does not hold.
    pub fn looked_in(self) -> &'static str {
        match self {
            Coverage::LintInput => "the input or the shipped templates",
            Coverage::Shipped => "the shipped templates",
            Coverage::Cluster => "the cluster",
        }
    }
}

/// The lookup tables the engine reads. Cloning is cheap (the tables are shared until changed),
/// so the cluster watch can publish a fresh snapshot after every batch of events.
#[derive(Clone, Debug, Default)]
pub struct Lookup {
    templates: ShardedMap<Key, Vec<Arc<TemplateInfo>>>,
    /// (namespace, rollout name) -> the Deployment its `workloadRef` names.
    workload_refs: ShardedMap<(String, String), String>,
    /// Deployment name -> the namespace of each Rollout that names it, for [`Catalog::manages`].
    managed: ShardedMap<String, Vec<String>>,
    coverage: Coverage,
}

impl Lookup {
    /// An empty catalog of the given coverage.
    pub fn new(coverage: Coverage) -> Lookup {
        Lookup {
            coverage,
            ..Lookup::default()
        }
    }

    /// Where the objects come from.
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }

    /// Says where the objects come from.
    pub fn set_coverage(&mut self, coverage: Coverage) {
        self.coverage = coverage;
    }

    /// Records what the engine needs from `obj` (templates and Rollouts; other kinds are ignored).
    pub fn add(&mut self, obj: &Object) {
        match obj.kind {
            Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate => {
                self.add_template(TemplateInfo::from_object(obj));
            }
            Kind::Rollout => {
                self.set_workload_ref(&obj.namespace, &obj.name, workload_ref(&obj.value));
            }
            Kind::Deployment => {}
        }
    }

    /// Records a template summary; a newer version of the same template replaces the older.
    /// Two same-named templates of one origin in one lint run are thus one entry: the linter
    /// reports them (RG002, `lint::duplicate_objects`) rather than merge them silently.
    pub fn add_template(&mut self, info: TemplateInfo) {
        let same = self
            .templates
            .entry_or_default((info.cluster_scope, info.name.clone()));
        // One entry per namespace and origin.
        same.retain(|t| t.namespace != info.namespace || t.origin != info.origin);
        same.push(Arc::new(info));
    }

    /// Records which Deployment the Rollout `namespace/name` manages through `workloadRef`, if any.
    pub fn set_workload_ref(&mut self, namespace: &str, name: &str, deployment: Option<&str>) {
        let key = (namespace.to_string(), name.to_string());
        if self.workload_refs.get(&key).map(String::as_str) == deployment {
            return;
        }
        if let Some(old) = self.workload_refs.remove(&key) {
            self.unmanage(&old, namespace);
        }
        if let Some(d) = deployment {
            self.workload_refs.insert(key, d.to_string());
            self.managed
                .entry_or_default(d.to_string())
                .push(namespace.to_string());
        }
    }

    fn unmanage(&mut self, deployment: &str, namespace: &str) {
        if let Some(namespaces) = self.managed.get_mut(deployment) {
            if let Some(i) = namespaces.iter().position(|n| n == namespace) {
                namespaces.swap_remove(i);
            }
            if namespaces.is_empty() {
                self.managed.remove(deployment);
            }
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
            Kind::Rollout => self.set_workload_ref(namespace, name, None),
            Kind::Deployment => {}
        }
    }

    /// Forgets every object of `kind` (a watch is about to list them all again).
    pub fn clear(&mut self, kind: Kind) {
        match kind {
            Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate => {
                let cluster = kind == Kind::ClusterAnalysisTemplate;
                self.templates.retain(|(scope, _), _| *scope != cluster);
            }
            Kind::Rollout => {
                self.workload_refs = ShardedMap::default();
                self.managed = ShardedMap::default();
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
            .map(Arc::as_ref)
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
        self.managed.get(name).is_some_and(|namespaces| {
            namespaces
                .iter()
                .any(|ns| ns == namespace || ns.is_empty() || namespace.is_empty())
        })
    }

    /// How many templates it holds.
    pub fn templates(&self) -> usize {
        self.templates.values().map(Vec::len).sum()
    }

    /// How many Rollouts that name a Deployment through `workloadRef` it holds.
    pub fn workload_refs(&self) -> usize {
        self.workload_refs.len()
    }

    /// How many templates and Rollout references it holds.
    pub fn len(&self) -> usize {
        self.templates() + self.workload_refs()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::objects;

    const TEMPLATE: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t, namespace: a}\nspec:\n  args: [{name: svc}, {name: ns, value: x}, {name: s, valueFrom: {secretKeyRef: {name: k, key: k}}}]\n  metrics:\n  - name: m\n    interval: 1m\n    count: \"0\"\n    successCondition: result[0] > {{args.min}}\n    provider: {prometheus: {address: 'http://p', query: 'sum(x{s=\"{{args.svc}}\",n=\"{{ args.ns }}\"})'}}\n";

    #[test]
    fn template_summary() {
        let info = TemplateInfo::from_object(&objects(TEMPLATE)[0]);
        let required: Vec<_> = info.args.iter().map(|a| a.required).collect();
        assert_eq!(required, [true, false, false]);
        assert_eq!(info.args[1].value.as_deref(), Some("x"));
        assert_eq!(info.used_args, ["min", "svc", "ns"]);
        assert!(info.metrics[0].runs_forever, "count \"0\" never stops");
        assert_eq!(info.kind(), Kind::AnalysisTemplate);
    }

    #[test]
    fn add_replace_remove_and_clear() {
        let mut c = Lookup::default();
        let t = &objects(TEMPLATE)[0];
        c.add(t);
        c.add(t);
        assert_eq!(c.templates(), 1);
        assert!(c.template(false, "a", "t", "").is_some());
        assert!(c.template(false, "b", "t", "").is_none());
        assert!(c.template(true, "a", "t", "").is_none());
        let snapshot = c.clone();
        c.remove(Kind::AnalysisTemplate, "a", "t");
        assert!(c.is_empty());
        assert_eq!(snapshot.templates(), 1, "a clone keeps its state");
        c.add(t);
        c.clear(Kind::ClusterAnalysisTemplate);
        assert_eq!(c.templates(), 1);
        c.clear(Kind::AnalysisTemplate);
        assert_eq!(c.templates(), 0);
    }

    #[test]
    fn workload_refs_follow_updates() {
        let mut c = Lookup::default();
        c.set_workload_ref("a", "r1", Some("web"));
        c.set_workload_ref("b", "r2", Some("web"));
        assert!(c.manages("a", "web") && c.manages("b", "web"));
        assert!(!c.manages("c", "web"));
        assert!(
            c.manages("", "web"),
            "a namespace-less manifest matches any"
        );
        c.set_workload_ref("a", "r1", Some("api"));
        assert!(!c.manages("a", "web") && c.manages("a", "api"));
        c.remove(Kind::Rollout, "a", "r1");
        assert!(!c.manages("a", "api"));
        assert_eq!(c.workload_refs(), 1);
        c.clear(Kind::Rollout);
        assert!(!c.manages("b", "web"));
        assert!(c.is_empty());
    }
}
