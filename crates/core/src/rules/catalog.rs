//! The rule catalog: every rule, in id order, with what a rule is (id, name, default severity,
//! documentation, fixtures). The README's rule table, `rollout-guard rules` and the SARIF driver
//! are generated from here.

use serde::Serialize;
use std::fmt;

/// How a finding is treated: `deny` rejects (exit 1, admission denied), `warn` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Deny,
}

impl Severity {
    /// `deny` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Deny => "deny",
            Severity::Warn => "warn",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule of the catalog.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, such as `RG101`.
    pub id: &'static str,
    /// Kebab-case name, such as `missing-failure-limit`.
    pub name: &'static str,
    /// Severity unless the policy overrides it.
    pub severity: Severity,
    /// One line: what the rule catches.
    pub summary: &'static str,
    /// A paragraph: why it matters and what Argo Rollouts does.
    pub doc: &'static str,
    /// What to do about a finding.
    pub help: &'static str,
    /// Its good and bad examples, linted by `tests/rules.rs`.
    #[serde(skip)]
    pub fixtures: &'static [Fixture],
}

/// A manifest that shows what a rule finds (`bad-`) or lets pass (`good-`); its leading
/// `# expect:` comment lines say what the linter must report (`tests/rules.rs` lints each).
#[derive(Debug, PartialEq, Eq)]
pub struct Fixture {
    /// The file name it is linted under, `good-*.yaml` or `bad-*.yaml`.
    pub name: &'static str,
    pub text: &'static str,
}

/// Every rule, in id order. Each is defined in its own module (`rules/rgNNN_name.rs`) with its
/// documentation, messages, check and fixtures.
pub static ALL: &[&Rule] = &[
    &super::rg001_invalid_yaml::RG001,
    &super::rg002_duplicate_object::RG002,
    &super::rg101_missing_failure_limit::RG101,
    &super::rg102_invalid_promql::RG102,
    &super::rg103_missing_condition::RG103,
    &super::rg104_invalid_condition::RG104,
    &super::rg105_unguarded_result_index::RG105,
    &super::rg106_nan_unsafe_condition::RG106,
    &super::rg107_invalid_duration::RG107,
    &super::rg108_unworkable_limits::RG108,
    &super::rg109_endless_blocking_analysis::RG109,
    &super::rg110_undeclared_argument::RG110,
    &super::rg111_missing_template_argument::RG111,
    &super::rg112_unknown_template::RG112,
    &super::rg113_invalid_provider::RG113,
    &super::rg114_unreachable_failure_limit::RG114,
    &super::rg201_missing_canary_steps::RG201,
    &super::rg202_missing_analysis::RG202,
    &super::rg203_invalid_step::RG203,
    &super::rg204_invalid_strategy::RG204,
    &super::rg301_unmanaged_deployment::RG301,
];

/// The rule with this id, if any.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// The rule table in Markdown, as it stands in the README.
pub fn markdown_table() -> String {
    let mut out = String::from("| id | name | default | what it catches |\n|---|---|---|---|\n");
    for r in ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            r.id, r.name, r.severity, r.summary
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{RG101, RG108, RG202, RG204};

    #[test]
    fn ids_and_names_are_unique_and_well_formed() {
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "catalog is in id order");
        for r in ALL {
            assert!(r.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'));
            assert!(!r.doc.is_empty() && !r.help.is_empty());
        }
    }

    #[test]
    fn docs_state_the_argo_behaviour_they_follow() {
        // The single-measurement exemption is behaviour (RG101's good-single-measurement fixture),
        // so the doc says it.
        assert!(RG101.doc.contains("measured once"), "{}", RG101.doc);
        for (rule, source) in [
            (&RG108, "utils/analysis/factory.go"),
            (&RG202, "rollout/experiment.go"),
            (&RG202, "experiments/experiment.go"),
            (&RG204, "pkg/apis/rollouts/validation/validation.go"),
        ] {
            assert!(rule.doc.contains(source), "{} cites {source}", rule.id);
        }
    }
}
