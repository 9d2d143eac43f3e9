//! Rules for Deployments.

use super::catalog::RG301;
use super::Sink;
use crate::lookup::Lookup;
use crate::manifest::Object;

/// RG301: a Deployment where the policy requires progressive delivery (`rollout_required` for
/// its namespace) and no Rollout manages it.
pub(super) fn check(obj: &Object, lookup: &Lookup, rollout_required: bool, out: &mut Sink) {
    if rollout_required && !lookup.manages(&obj.namespace, &obj.name) {
        out.report(
            &RG301,
            "/metadata/name",
            format!(
                "Deployment \"{}\" is not managed by a Rollout (no Rollout references it through workloadRef), so it updates with no canary and no analysis",
                obj.name
            ),
        );
    }
}

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
