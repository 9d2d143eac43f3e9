//! The engine: one object and a context in, findings and a patch out. Pure: no files, no
//! network, no clock. The linter, `mutate` and the webhook all call [`review`].

use crate::lookup::Lookup;
use crate::manifest::Object;
use crate::mutation::{self, Injection};
use crate::policy::Policy;
use crate::rules::{self, Rule, Severity, Sink, RG201, RG202};
use json_patch::PatchOperation;

/// The annotation an object uses to opt out of rules: `rollout-guard.io/ignore: RG105,RG106`.
pub const IGNORE_ANNOTATION: &str = "rollout-guard.io/ignore";

/// What the engine reads besides the object.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub policy: &'a Policy,
    pub lookup: &'a Lookup,
}

/// A finding with the severity the policy gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static Rule,
    pub severity: Severity,
    /// RFC 6901 pointer into the object.
    pub pointer: String,
    pub message: String,
}

/// The verdict on one object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Review {
    pub findings: Vec<Finding>,
    /// The mutation as JSON Patch; empty when nothing is injected.
    pub patch: Vec<PatchOperation>,
    /// What the patch injects.
    pub injected: Vec<Injection>,
}

impl Review {
    /// True when a finding denies the object.
    pub fn denied(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Deny)
    }
}

/// A member of an object that no rule reads and no mutation touches: its key, and either
/// nothing below it (the whole member is unread) or the unread members inside it.
#[derive(Debug)]
pub struct Unread {
    pub key: &'static str,
    pub inside: &'static [Unread],
}

/// What the engine never reads, and so what the webhook does not decode: together the larger
/// part of a typical admission request. The apiserver's field-ownership bookkeeping, kubectl's
/// copy of the last applied manifest, and the pod template. A test removes these from every
/// object of the shared corpus and checks that each review stays the same: a rule that starts
/// reading one of them fails it, and the member must then leave this list.
pub const UNREAD: &[Unread] = &[
    Unread {
        key: "metadata",
        inside: &[
            Unread {
                key: "managedFields",
                inside: &[],
            },
            Unread {
                key: "annotations",
                inside: &[Unread {
                    key: "kubectl.kubernetes.io/last-applied-configuration",
                    inside: &[],
                }],
            },
        ],
    },
    Unread {
        key: "spec",
        inside: &[Unread {
            key: "template",
            inside: &[],
        }],
    },
];

/// Reviews one object.
pub fn review(obj: &Object, ctx: &Context) -> Review {
    let policy = ctx.policy;
    if policy.excludes_namespace(&obj.namespace) {
        return Review::default();
    }
    let ignored: Vec<&str> = obj
        .annotation(IGNORE_ANNOTATION)
        .map(|a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let enabled = |rule: &Rule| {
        policy.severity(rule).is_some()
            && !(policy.may_ignore(rule) && ignored.iter().any(|i| i.eq_ignore_ascii_case(rule.id)))
    };

    let mut sink = Sink::default();
    let settings = rules::Settings {
        prometheus_features: &policy.spec.prometheus.features,
        rollout_required: policy.requires_rollout(&obj.namespace),
    };
    rules::check(obj, ctx.lookup, &settings, &mut sink);
    let (mutation, gaps) = mutation::plan(obj, policy, &enabled);
    for (injection, pointer) in &mutation.injections {
        for (rule, message) in injection_findings(*injection, policy) {
            sink.report(rule, pointer.as_str(), message);
        }
    }
    for gap in gaps {
        sink.report(gap.rule, gap.pointer, gap.message);
    }
    if !mutation.patch.is_empty() {
        if let Ok(value) = mutation::apply(&obj.value, &mutation.patch) {
            let patched = Object {
                value,
                kind: obj.kind,
                namespace: obj.namespace.clone(),
                name: obj.name.clone(),
                origin: obj.origin.clone(),
            };
            let injected: Vec<&str> = mutation
                .injections
                .iter()
                .map(|(_, at)| at.as_str())
                .collect();
            rules::check_injected(&patched, &injected, ctx.lookup, &mut sink);
        }
    }
    let findings = sink
        .findings
        .into_iter()
        .filter(|f| enabled(f.rule))
        .filter_map(|f| {
            Some(Finding {
                severity: policy.severity(f.rule)?,
                rule: f.rule,
                pointer: f.pointer,
                message: f.message,
            })
        })
        .collect();
    Review {
        findings,
        patch: mutation.patch,
        injected: mutation.injections.iter().map(|(i, _)| *i).collect(),
    }
}

fn injection_findings(injection: Injection, policy: &Policy) -> Vec<(&'static Rule, &'static str)> {
    use rules::rg201_missing_canary_steps::{NO_STEPS, NO_STRATEGY};
    use rules::rg202_missing_analysis::{NO_ANALYSIS, NO_BLUE_GREEN_ANALYSIS};
    match injection {
        // A fresh canary holds what the policy has: steps, analysis, or both.
        Injection::CanaryStrategy => [
            (!policy.spec.canary.default_steps.is_empty()).then_some((&RG201, NO_STRATEGY)),
            policy
                .spec
                .analysis
                .is_some()
                .then_some((&RG202, NO_ANALYSIS)),
        ]
        .into_iter()
        .flatten()
        .collect(),
        Injection::CanarySteps => vec![(&RG201, NO_STEPS)],
        Injection::CanaryAnalysis => vec![(&RG202, NO_ANALYSIS)],
        Injection::PrePromotionAnalysis => vec![(&RG202, NO_BLUE_GREEN_ANALYSIS)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::objects;

    fn run(yaml: &str, policy: &Policy) -> Review {
        run_with(yaml, policy, &crate::lookup::shipped::lookup())
    }

    fn run_with(yaml: &str, policy: &Policy, lookup: &Lookup) -> Review {
        let obj = objects(yaml).pop().unwrap();
        review(&obj, &Context { policy, lookup })
    }

    const BARE: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\n  namespace: demo\nspec: {}\n";

    #[test]
    fn bare_rollout_reports_what_is_injected() {
        let r = run(BARE, &Policy::embedded());
        let ids: Vec<_> = r.findings.iter().map(|f| f.rule.id).collect();
        assert_eq!(ids, ["RG201", "RG202"]);
        assert!(!r.patch.is_empty());
        assert!(!r.denied());
    }

    #[test]
    fn ignore_annotation_and_off_rules_suppress_injection() {
        let yaml = BARE.replace(
            "  namespace: demo\n",
            "  namespace: demo\n  annotations: {rollout-guard.io/ignore: 'RG201, RG202'}\n",
        );
        let r = run(&yaml, &Policy::embedded());
        assert!(r.findings.is_empty() && r.patch.is_empty());
        let mut policy = Policy::embedded();
        policy
            .spec
            .rules
            .insert("RG201".into(), crate::policy::RuleSetting::Off);
        let r = run(BARE, &policy);
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.injected, [Injection::CanaryStrategy]);
    }

    #[test]
    fn the_injected_analysis_is_checked_against_the_catalog() {
        // A cluster without the policy's default template: the injection is still made (the
        // template may come in the same apply), with a warning at the injected reference.
        let mut cluster = Lookup::default();
        cluster.set_coverage(crate::lookup::Coverage::Cluster);
        let r = run_with(BARE, &Policy::embedded(), &cluster);
        let ids: Vec<_> = r.findings.iter().map(|f| f.rule.id).collect();
        assert_eq!(ids, ["RG201", "RG202", "RG112"]);
        let missing = &r.findings[2];
        assert_eq!(
            missing.pointer,
            "/spec/strategy/canary/analysis/templates/0"
        );
        assert!(
            missing.message.contains("not in the cluster"),
            "{}",
            missing.message
        );
        assert!(!r.denied() && !r.patch.is_empty());

        // A Rollout whose own analysis names a missing template reports it once, from the
        // manifest, and nothing is injected there.
        let own = BARE.replace(
            "spec: {}",
            "spec:\n  strategy:\n    canary:\n      steps: [{setWeight: 50}]\n      analysis:\n        templates: [{templateName: gone}]",
        );
        let r = run_with(&own, &Policy::embedded(), &cluster);
        let ids: Vec<_> = r.findings.iter().map(|f| f.rule.id).collect();
        assert_eq!(ids, ["RG112"]);
        assert!(r.patch.is_empty());
    }

    #[test]
    fn excluded_namespace_is_left_alone() {
        let r = run(&BARE.replace("demo", "kube-system"), &Policy::embedded());
        assert_eq!(r, Review::default());
    }

    #[test]
    fn severity_override_applies() {
        let mut policy = Policy::embedded();
        policy
            .spec
            .rules
            .insert("RG201".into(), crate::policy::RuleSetting::Deny);
        assert!(run(BARE, &policy).denied());
    }
}
