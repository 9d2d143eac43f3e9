//! The policy in force: which rules apply how, and what the mutator injects.
//!
//! The default policy is `policies/default.yaml`, embedded in the binary. A policy file is
//! validated against `policies/rolloutpolicy.schema.json` before it is used, so a typo in a
//! field name is an error that names the field, not a silently ignored setting.

use crate::manifest::{self, yaml};
use crate::rules::{self, Rule, Severity};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The embedded default policy, as shipped in `policies/default.yaml`.
pub const DEFAULT_POLICY_YAML: &str = include_str!("../../../policies/default.yaml");
/// The policy schema, as shipped in `policies/rolloutpolicy.schema.json`.
pub const POLICY_SCHEMA_JSON: &str = include_str!("../../../policies/rolloutpolicy.schema.json");

/// A loaded policy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default)]
    pub spec: PolicySpec,
}

/// The policy's `spec`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicySpec {
    pub namespaces: Namespaces,
    pub rules: BTreeMap<String, RuleSetting>,
    pub ignore: IgnoreSettings,
    pub canary: CanaryDefaults,
    pub analysis: Option<AnalysisDefaults>,
    pub blue_green: BlueGreenDefaults,
    pub deployments: DeploymentSettings,
    pub prometheus: PrometheusSettings,
}

/// Namespaces left alone.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Namespaces {
    pub exclude: Vec<String>,
}

/// A per-rule setting.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RuleSetting {
    Deny,
    Warn,
    Off,
}

/// Whether objects may opt out of rules by annotation.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct IgnoreSettings {
    pub allowed: bool,
    pub never: Vec<String>,
}

impl Default for IgnoreSettings {
    fn default() -> Self {
        IgnoreSettings {
            allowed: true,
            never: Vec::new(),
        }
    }
}

/// What a canary without steps gets.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct CanaryDefaults {
    pub default_steps: Vec<Value>,
}

/// What a Rollout without analysis gets.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisDefaults {
    pub default_template: TemplateRef,
    #[serde(default)]
    pub default_args: Vec<DefaultArg>,
    #[serde(default)]
    pub starting_step: Option<u32>,
}

/// A reference to an analysis template.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TemplateRef {
    pub name: String,
    #[serde(default)]
    pub cluster_scope: bool,
}

/// An argument the injected analysis passes, from the Rollout or a fixed value.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DefaultArg {
    pub name: String,
    #[serde(default)]
    pub from: Option<ArgSource>,
    #[serde(default)]
    pub value: Option<String>,
}

/// Where an injected argument's value comes from.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ArgSource {
    /// `canaryService`, falling back to the Rollout's name.
    CanaryService,
    /// `previewService`, falling back to the Rollout's name.
    PreviewService,
    /// The Rollout's name.
    Name,
    /// The Rollout's namespace.
    Namespace,
}

/// Blue-green defaults.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct BlueGreenDefaults {
    pub inject_pre_promotion_analysis: bool,
}

impl Default for BlueGreenDefaults {
    fn default() -> Self {
        BlueGreenDefaults {
            inject_pre_promotion_analysis: true,
        }
    }
}

/// Where Deployments must be managed by a Rollout.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentSettings {
    pub require_rollout: Vec<String>,
}

/// What the Prometheus that runs the queries accepts.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PrometheusSettings {
    /// Its `--enable-feature` flags that change what PromQL parses; none by default, as in
    /// Prometheus.
    pub features: Vec<crate::lang::prometheus_features::Feature>,
}

/// A policy that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{source_name}: not valid YAML at line {line}, column {column}: {message}")]
    Syntax {
        source_name: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{source_name}: holds no policy document")]
    Empty { source_name: String },
    #[error("{source_name}: invalid policy:\n{}", .problems.join("\n"))]
    Invalid {
        source_name: String,
        problems: Vec<String>,
    },
}

impl Policy {
    /// The embedded default policy.
    pub fn embedded() -> Policy {
        Policy::from_yaml(DEFAULT_POLICY_YAML, "policies/default.yaml")
            .expect("the embedded default policy is valid (tested)")
    }

    /// Parses and validates a policy document.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<Policy, PolicyError> {
        let docs = yaml::parse_stream(text).map_err(|(_, e)| PolicyError::Syntax {
            source_name: source_name.to_string(),
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
        })?;
        let root = docs
            .into_iter()
            .find_map(|d| d.root)
            .ok_or_else(|| PolicyError::Empty {
                source_name: source_name.to_string(),
            })?;
        let value = yaml::to_json(&root);
        let invalid = |problems| PolicyError::Invalid {
            source_name: source_name.to_string(),
            problems,
        };
        let problems = schema_problems(&value, &root);
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        let policy: Policy =
            serde_json::from_value(value).map_err(|e| invalid(vec![e.to_string()]))?;
        let unknown: Vec<String> = policy
            .spec
            .rules
            .keys()
            .chain(policy.spec.ignore.never.iter())
            .filter(|id| rules::by_id(id).is_none())
            .map(|id| format!("spec.rules: unknown rule id {id}"))
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(unknown));
        }
        Ok(policy)
    }

    /// The severity of `rule` under this policy, or `None` when the rule is off.
    pub fn severity(&self, rule: &Rule) -> Option<Severity> {
        match self.spec.rules.get(rule.id) {
            Some(RuleSetting::Off) => None,
            Some(RuleSetting::Deny) => Some(Severity::Deny),
            Some(RuleSetting::Warn) => Some(Severity::Warn),
            None => Some(rule.severity),
        }
    }

    /// True when objects in `namespace` are left alone.
    pub fn excludes_namespace(&self, namespace: &str) -> bool {
        !namespace.is_empty() && self.spec.namespaces.exclude.iter().any(|n| n == namespace)
    }

    /// True when Deployments in `namespace` must be managed by a Rollout.
    pub fn requires_rollout(&self, namespace: &str) -> bool {
        self.spec
            .deployments
            .require_rollout
            .iter()
            .any(|n| n == "*" || n == namespace)
    }

    /// True when an object may opt out of `rule` by annotation.
    pub fn may_ignore(&self, rule: &Rule) -> bool {
        self.spec.ignore.allowed && !self.spec.ignore.never.iter().any(|r| r == rule.id)
    }
}

/// Schema violations, each naming the field and where it is in the file.
fn schema_problems(value: &Value, root: &manifest::Node) -> Vec<String> {
    let schema: Value =
        serde_json::from_str(POLICY_SCHEMA_JSON).expect("the policy schema is JSON (tested)");
    let validator =
        jsonschema::validator_for(&schema).expect("the policy schema compiles (tested)");
    validator
        .iter_errors(value)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            let (node, _) = root.locate(&pointer);
            let field = if pointer.is_empty() {
                "(document)".to_string()
            } else {
                pointer.trim_start_matches('/').replace('/', ".")
            };
            format!(
                "  line {}, column {}: {field}: {e}",
                node.span.start.line, node.span.start.column
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_policy_loads() {
        let p = Policy::embedded();
        assert!(p.spec.analysis.is_some());
        assert!(!p.spec.canary.default_steps.is_empty());
        assert!(p.excludes_namespace("kube-system"));
    }

    #[test]
    fn bad_field_is_named() {
        let text = "apiVersion: rollout-guard.io/v1alpha1\nkind: RolloutPolicy\nspec:\n  rules: {RG105: maybe}\n";
        let err = Policy::from_yaml(text, "p.yaml").unwrap_err().to_string();
        assert!(err.contains("spec.rules.RG105"), "{err}");
        assert!(err.contains("line 4"), "{err}");
        let text =
            "apiVersion: rollout-guard.io/v1alpha1\nkind: RolloutPolicy\nspec:\n  canry: {}\n";
        let err = Policy::from_yaml(text, "p.yaml").unwrap_err().to_string();
        assert!(err.contains("canry"), "{err}");
    }

    #[test]
    fn prometheus_features_default_to_none_and_unknown_flags_are_refused() {
        use crate::lang::prometheus_features::Feature;
        assert!(Policy::embedded().spec.prometheus.features.is_empty());
        let head = "apiVersion: rollout-guard.io/v1alpha1\nkind: RolloutPolicy\nspec:\n";
        let text = format!("{head}  prometheus:\n    features: [promql-experimental-functions]\n");
        let policy = Policy::from_yaml(&text, "p.yaml").unwrap();
        assert_eq!(
            policy.spec.prometheus.features,
            [Feature::PromqlExperimentalFunctions]
        );
        let text = format!("{head}  prometheus:\n    features: [promql-experimental-fnctions]\n");
        let err = Policy::from_yaml(&text, "p.yaml").unwrap_err().to_string();
        assert!(err.contains("spec.prometheus.features"), "{err}");
    }

    #[test]
    fn unknown_rule_id_is_refused() {
        let text = "apiVersion: rollout-guard.io/v1alpha1\nkind: RolloutPolicy\nspec:\n  rules: {RG999: off}\n";
        let err = Policy::from_yaml(text, "p.yaml").unwrap_err().to_string();
        assert!(err.contains("RG999"), "{err}");
    }
}
