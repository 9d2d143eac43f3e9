//! AnalysisTemplates and ClusterAnalysisTemplates as Argo reads them: the declared arguments and
//! each metric, with the arguments' defaults substituted where they are known.

use super::{args, scalar_text};
use serde_json::Value;
use std::collections::HashMap;

/// Where a template's metrics are.
pub const METRICS: &str = "/spec/metrics";

/// Providers that decide success themselves, so conditions are optional for them.
const SELF_JUDGING_PROVIDERS: &[&str] = &["job", "kayenta", "plugin"];

/// A template's `spec`, read leniently.
#[derive(Clone, Copy)]
pub struct Template<'a> {
    spec: Option<&'a Value>,
}

impl<'a> Template<'a> {
    /// The view of a template object.
    pub fn of(template: &'a Value) -> Template<'a> {
        Template {
            spec: template.get("spec"),
        }
    }

    /// The entries of `spec.args`.
    pub fn args(&self) -> impl Iterator<Item = &'a Value> {
        self.spec
            .and_then(|s| s.get("args"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }

    /// The names `spec.args` declares.
    pub fn declared_args(&self) -> Vec<&'a str> {
        self.args()
            .filter_map(|x| x.get("name")?.as_str())
            .collect()
    }

    /// The declared arguments that have a value, by name.
    pub fn arg_defaults(&self) -> HashMap<String, String> {
        self.args()
            .filter_map(|x| {
                Some((
                    x.get("name")?.as_str()?.to_string(),
                    scalar_text(x.get("value")?)?,
                ))
            })
            .collect()
    }

    /// `spec.metrics`, when it is a list.
    pub fn metrics(&self) -> Option<&'a [Value]> {
        self.spec
            .and_then(|s| s.get("metrics"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    }
}

/// An integer field that may be templated (`failureLimit: "{{args.limit}}"` is legal Argo).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntField {
    Absent,
    Known(i64),
    /// Templated with no known value, or not a number: nothing can be said.
    Unknown,
}

/// One metric, arguments resolved where their defaults are known.
pub struct Metric<'a> {
    /// Its pointer, `/spec/metrics/N`.
    pub at: String,
    /// Its name, `(unnamed)` when it has none.
    pub name: &'a str,
    pub value: &'a Value,
    /// The template's argument defaults.
    pub defaults: &'a HashMap<String, String>,
}

impl<'a> Metric<'a> {
    /// Metric `index` of a template whose arguments default to `defaults`.
    pub fn new(index: usize, value: &'a Value, defaults: &'a HashMap<String, String>) -> Self {
        Metric {
            at: format!("{METRICS}/{index}"),
            name: value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)"),
            value,
            defaults,
        }
    }

    /// A field that is set (not absent, not null).
    pub fn field(&self, key: &str) -> Option<&'a Value> {
        self.value.get(key).filter(|v| !v.is_null())
    }

    /// A string field with known arguments substituted; `None` when absent or still templated.
    pub fn text(&self, key: &str) -> Option<String> {
        self.resolved(self.field(key)?)
    }

    /// Like [`Metric::text`] for a field of another object inside the metric.
    pub fn text_at(&self, parent: &Value, key: &str) -> Option<String> {
        self.resolved(parent.get(key)?)
    }

    fn resolved(&self, v: &Value) -> Option<String> {
        let raw = scalar_text(v)?;
        let resolved = args::substitute(&raw, |t| {
            self.defaults
                .get(t.name)
                .cloned()
                .unwrap_or_else(|| format!("{{{{args.{}}}}}", t.name))
        });
        (!args::is_templated(&resolved)).then(|| resolved.into_owned())
    }

    /// An integer field, read as Argo's `IntOrString` is.
    pub fn int(&self, key: &str) -> IntField {
        match self.field(key) {
            None => IntField::Absent,
            Some(Value::Number(n)) => n.as_i64().map_or(IntField::Unknown, IntField::Known),
            Some(Value::String(_)) => match self.text(key) {
                // Argo's IntOrString.IntValue() reads a numeric string as its number.
                Some(s) => s.trim().parse().map_or(IntField::Unknown, IntField::Known),
                None => IntField::Unknown,
            },
            Some(_) => IntField::Unknown,
        }
    }

    /// The provider's key (`prometheus`, `job`, ...).
    pub fn provider(&self) -> Option<&'a str> {
        self.value
            .get("provider")?
            .as_object()?
            .keys()
            .next()
            .map(String::as_str)
    }

    /// True for providers that decide success themselves (job, kayenta, plugin): conditions
    /// are optional for them.
    pub fn judges_itself(&self) -> bool {
        self.provider()
            .is_some_and(|p| SELF_JUDGING_PROVIDERS.contains(&p))
    }

    /// The Prometheus provider block.
    pub fn prometheus(&self) -> Option<&'a Value> {
        crate::manifest::pointer::get(self.value, "/provider/prometheus")
    }

    /// The Prometheus query as written (arguments not substituted).
    pub fn query(&self) -> Option<&'a str> {
        self.prometheus()?.get("query")?.as_str()
    }

    /// The pointer of `field` (a path relative to the metric, such as `provider/prometheus/query`).
    pub fn ptr(&self, field: &str) -> String {
        format!("{}/{}", self.at, field)
    }
}
