//! The rules: one module per rule (`rgNNN_name.rs`: its documentation, messages, check and
//! fixtures), the [`catalog`] that lists them, and the passes that run them over an object
//! ([`template`], [`rollout`]; RG301 is the Deployment's one rule). A rule reports through a
//! [`Sink`]; the engine applies the policy's severities afterwards.

pub mod catalog;
mod rollout;
mod template;

pub mod rg001_invalid_yaml;
pub mod rg002_duplicate_object;
pub mod rg101_missing_failure_limit;
pub mod rg102_invalid_promql;
pub mod rg103_missing_condition;
pub mod rg104_invalid_condition;
pub mod rg105_unguarded_result_index;
pub mod rg106_nan_unsafe_condition;
pub mod rg107_invalid_duration;
pub mod rg108_unworkable_limits;
pub mod rg109_endless_blocking_analysis;
pub mod rg110_undeclared_argument;
pub mod rg111_missing_template_argument;
pub mod rg112_unknown_template;
pub mod rg113_invalid_provider;
pub mod rg114_unreachable_failure_limit;
pub mod rg201_missing_canary_steps;
pub mod rg202_missing_analysis;
pub mod rg203_invalid_step;
pub mod rg204_invalid_strategy;
pub mod rg301_unmanaged_deployment;

pub use rg001_invalid_yaml::RG001;
pub use rg002_duplicate_object::RG002;
pub use rg101_missing_failure_limit::RG101;
pub use rg102_invalid_promql::RG102;
pub use rg103_missing_condition::RG103;
pub use rg104_invalid_condition::RG104;
pub use rg105_unguarded_result_index::RG105;
pub use rg106_nan_unsafe_condition::RG106;
pub use rg107_invalid_duration::RG107;
pub use rg108_unworkable_limits::RG108;
pub use rg109_endless_blocking_analysis::RG109;
pub use rg110_undeclared_argument::RG110;
pub use rg111_missing_template_argument::RG111;
pub use rg112_unknown_template::RG112;
pub use rg113_invalid_provider::RG113;
pub use rg114_unreachable_failure_limit::RG114;
pub use rg201_missing_canary_steps::RG201;
pub use rg202_missing_analysis::RG202;
pub use rg203_invalid_step::RG203;
pub use rg204_invalid_strategy::RG204;
pub use rg301_unmanaged_deployment::RG301;

#[cfg(test)]
mod cluster_tests;

pub use catalog::*;

use crate::lang::prometheus_features::Feature;
use crate::lookup::Lookup;
use crate::manifest::{Kind, Object};

/// A finding before the policy has had its say: which rule, where (a JSON pointer), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFinding {
    pub rule: &'static Rule,
    pub pointer: String,
    pub message: String,
}

/// Collects findings.
#[derive(Default, Debug)]
pub struct Sink {
    pub findings: Vec<RawFinding>,
}

impl Sink {
    /// Reports `rule` at `pointer`.
    pub fn report(
        &mut self,
        rule: &'static Rule,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.findings.push(RawFinding {
            rule,
            pointer: pointer.into(),
            message: message.into(),
        });
    }
}

/// What the rules read from the policy for one object: the policy decides, the rules only
/// take the answers (so the rules do not depend on the policy, which names them).
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// The Prometheus feature flags the policy enables (RG102).
    pub prometheus_features: &'a [Feature],
    /// True when the object's namespace requires Deployments to be managed by a Rollout (RG301).
    pub rollout_required: bool,
}

/// Runs every rule that applies to `obj`.
pub fn check(obj: &Object, lookup: &Lookup, settings: &Settings, out: &mut Sink) {
    match obj.kind {
        Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate => {
            template::check(obj, settings.prometheus_features, out)
        }
        Kind::Rollout => rollout::check(obj, lookup, out),
        Kind::Deployment => {
            rg301_unmanaged_deployment::check(obj, lookup, settings.rollout_required, out)
        }
    }
}

/// Checks the analysis a mutation injects into a Rollout as if the manifest held it, so that a
/// policy template missing from the catalog, or an argument it requires that the injection does
/// not pass, is reported now rather than when the AnalysisRun fails to start. `patched` is the
/// Rollout with the patch applied; `injected` holds the pointers of the injected blocks.
pub fn check_injected(patched: &Object, injected: &[&str], lookup: &Lookup, out: &mut Sink) {
    if patched.kind == Kind::Rollout {
        rollout::check_injected(patched, injected, lookup, out);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the rule tests: review a YAML manifest and list the rule ids found.
    use crate::lookup::Lookup;
    use crate::manifest::{parse_text, Object};
    use crate::policy::Policy;

    /// Every object in `yaml`.
    pub fn objects(yaml: &str) -> Vec<Object> {
        let parsed = parse_text(yaml);
        assert!(parsed.error.is_none(), "{:?}", parsed.error);
        crate::manifest::objects(yaml)
    }

    /// The ids (and pointers) found in the last object of `yaml`, with the others in the catalog.
    pub fn findings(yaml: &str) -> Vec<(String, String)> {
        let objs = objects(yaml);
        let mut lookup = Lookup::default();
        for o in &objs {
            lookup.add(o);
        }
        let policy = Policy::embedded();
        let mut sink = super::Sink::default();
        let obj = objs.last().expect("an object");
        let settings = super::Settings {
            prometheus_features: &policy.spec.prometheus.features,
            rollout_required: policy.requires_rollout(&obj.namespace),
        };
        super::check(obj, &lookup, &settings, &mut sink);
        sink.findings
            .into_iter()
            .map(|f| (f.rule.id.to_string(), f.pointer))
            .collect()
    }

    /// Only the ids.
    pub fn ids(yaml: &str) -> Vec<String> {
        findings(yaml).into_iter().map(|(id, _)| id).collect()
    }
}
