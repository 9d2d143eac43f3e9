//! RG201 `missing-canary-steps`: A Rollout with no canary steps: the mutating webhook injects the policy's default steps.

use super::catalog::{Fixture, Rule, Severity};

/// RG201 `missing-canary-steps`.
pub static RG201: Rule = Rule {
    id: "RG201",
    name: "missing-canary-steps",
    severity: Severity::Warn,
    summary: "A Rollout with no canary steps: the mutating webhook injects the policy's default steps.",
    doc: "A canary with no steps shifts all traffic at once, which is a rolling update with extra moving parts. \
         rollout-guard's mutating webhook adds the policy's default steps; the linter reports what it would add.",
    help: "Write the steps yourself, or run `rollout-guard lint --fix` to add the policy's defaults.",
    fixtures: FIXTURES,
};

// The mutation plan finds the missing steps and injects the policy's (`crate::mutation::plan`);
// the engine reports each injection with these messages.

/// A canary with no steps.
pub const NO_STEPS: &str = "the canary has no steps: the policy's default steps are injected";
/// A Rollout with no strategy at all.
pub const NO_STRATEGY: &str =
    "the Rollout has no strategy: a canary with the policy's default steps is injected";

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG201, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-no-steps.yaml",
        text: r#"# No steps: the defaults are injected.
# expect: 10:7 RG201 the canary has no steps: the policy's default steps are injected
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      analysis:
        templates:
        - templateName: success-rate-nginx
          clusterScope: true
        args:
        - {name: service-name, value: web-canary}
        - {name: namespace, value: demo}
"#,
    },
    Fixture {
        name: "good-has-steps.yaml",
        text: r#"# Steps are written.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      analysis:
        templates:
        - templateName: success-rate-nginx
          clusterScope: true
        args:
        - {name: service-name, value: web-canary}
        - {name: namespace, value: demo}
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
"#,
    },
];
