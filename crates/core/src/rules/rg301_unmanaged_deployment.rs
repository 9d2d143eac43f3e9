//! RG301 `unmanaged-deployment`: A Deployment in a namespace that requires progressive delivery and no Rollout manages it.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::lookup::Lookup;
use crate::manifest::pointer;
use crate::manifest::Object;

/// RG301 `unmanaged-deployment`.
pub static RG301: Rule = Rule {
    id: "RG301",
    name: "unmanaged-deployment",
    severity: Severity::Warn,
    summary: "A Deployment in a namespace that requires progressive delivery and no Rollout manages it.",
    doc: "A plain Deployment updates with no canary and no analysis. A Deployment counts as managed when a Rollout \
         references it through `workloadRef`.",
    help: "Convert it to a Rollout, or reference it from a Rollout's `workloadRef`.",
    fixtures: FIXTURES,
};

/// RG301: a Deployment where the policy requires progressive delivery (`rollout_required` for
/// its namespace) and no Rollout manages it.
pub(super) fn check(obj: &Object, lookup: &Lookup, rollout_required: bool, out: &mut Sink) {
    if rollout_required && !lookup.manages(&obj.namespace, &obj.name) {
        out.report(
            &RG301,
            pointer::NAME,
            format!(
                "Deployment \"{}\" is not managed by a Rollout (no Rollout references it through workloadRef), so it updates with no canary and no analysis",
                obj.name
            ),
        );
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG301, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-lonely-deployment.yaml",
        text: r#"# No Rollout manages it.
# expect: 6:9 RG301 Deployment "web" is not managed by a Rollout (no Rollout references it through workloadRef), so it updates with no canary and no analysis
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
"#,
    },
    Fixture {
        name: "good-managed-deployment.yaml",
        text: r#"# A Rollout manages the Deployment through workloadRef.
# expect: none
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 0
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
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

#[cfg(test)]
mod tests {
    use crate::rules::testing::ids;

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\nspec: {replicas: 0}\n";

    #[test]
    fn lonely_deployment_is_reported() {
        assert_eq!(ids(DEPLOYMENT), ["RG301"]);
    }

    #[test]
    fn managed_deployment_passes() {
        let yaml = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: r, namespace: demo}}\nspec:\n  workloadRef: {{apiVersion: apps/v1, kind: Deployment, name: web}}\n---\n{DEPLOYMENT}"
        );
        assert!(ids(&yaml).is_empty());
    }
}
