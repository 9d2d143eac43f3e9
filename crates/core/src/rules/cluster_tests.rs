//! The verdicts that depend on what the cluster holds: a catalog built from objects the way the
//! cluster watch builds it (coverage `Cluster`), and the engine's severities applied.

use crate::engine::{review, Context, Review};
use crate::lookup::{Coverage, Lookup};
use crate::policy::Policy;
use crate::rules::testing::objects;
use crate::rules::Severity;

/// A ClusterAnalysisTemplate and an AnalysisTemplate in namespace `shop`, as the watch sees them.
const IN_CLUSTER: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata: {name: success-rate}
spec:
  args: [{name: service-name}, {name: namespace}]
  metrics:
  - name: rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus:9090
        query: sum(rate(http{svc="{{args.service-name}}",ns="{{args.namespace}}"}[5m]))
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: latency, namespace: shop}
spec:
  args: [{name: service-name}, {name: window, value: 5m}, {name: threshold}]
  metrics:
  - name: p99
    interval: 1m
    failureLimit: 1
    successCondition: result[0] < 0.5
    provider:
      prometheus:
        address: http://prometheus:9090
        query: histogram_quantile(0.99, sum(rate(lat{svc="{{args.service-name}}"}[{{args.window}}])) by (le)) > {{args.threshold}}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: undeclared, namespace: shop}
spec:
  metrics:
  - name: m
    count: 1
    successCondition: result[0] > 0
    provider: {prometheus: {address: 'http://p', query: 'sum(x{s="{{args.service-name}}"})'}}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: broken, namespace: shop}
spec:
  metrics:
  - name: m
    count: 1
    successCondition: result[0] > 0
    provider: {prometheus: {address: 'http://p', query: 'sum(rate(x[5m])'}}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web-rollout, namespace: shop}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}
"#;

fn cluster_lookup(coverage: Coverage) -> Lookup {
    let mut lookup = Lookup::new(coverage);
    for o in objects(IN_CLUSTER) {
        lookup.add(&o);
    }
    lookup
}

fn review_with(yaml: &str, lookup: &Lookup) -> Review {
    let obj = objects(yaml).pop().expect("an object");
    review(
        &obj,
        &Context {
            policy: &Policy::embedded(),
            lookup,
        },
    )
}

/// (rule, severity) of every finding.
fn verdicts(yaml: &str, coverage: Coverage) -> Vec<(&'static str, Severity)> {
    review_with(yaml, &cluster_lookup(coverage))
        .findings
        .iter()
        .map(|f| (f.rule.id, f.severity))
        .collect()
}

/// A canary Rollout in `shop` whose background analysis is `analysis` (YAML at 6 spaces).
fn rollout(analysis: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: r, namespace: shop}}\nspec:\n  strategy:\n    canary:\n      canaryService: c\n      stableService: s\n      steps: [{{setWeight: 50}}, {{pause: {{duration: 1m}}}}]\n      analysis:\n{analysis}"
    )
}

const PASSES_BOTH: &str = "        templates: [{templateName: success-rate, clusterScope: true}]\n        args: [{name: service-name, value: c}, {name: namespace, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}]\n";

#[test]
fn a_rollout_passing_every_required_argument_is_clean() {
    assert_eq!(verdicts(&rollout(PASSES_BOTH), Coverage::Cluster), []);
}

#[test]
fn rg111_missing_argument_of_an_in_cluster_template_is_denied() {
    let yaml = rollout(&PASSES_BOTH.replace(
        ", {name: namespace, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}",
        "",
    ));
    let r = review_with(&yaml, &cluster_lookup(Coverage::Cluster));
    assert!(r.denied());
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].rule.id, "RG111");
    assert!(r.findings[0].message.contains("\"namespace\""));
    assert_eq!(r.findings[0].pointer, "/spec/strategy/canary/analysis");
}

#[test]
fn rg111_an_argument_passed_without_a_value_fills_nothing() {
    let yaml = rollout(&PASSES_BOTH.replace(
        "{name: namespace, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}",
        "{name: namespace}",
    ));
    assert_eq!(
        verdicts(&yaml, Coverage::Cluster),
        [("RG111", Severity::Deny)]
    );
}

#[test]
fn rg111_a_sibling_template_default_fills_a_required_argument() {
    // `latency` requires service-name and threshold; success-rate is passed service-name; the
    // run's arguments are merged, so only threshold is missing.
    let analysis = "        templates: [{templateName: latency}, {templateName: success-rate, clusterScope: true}]\n        args: [{name: service-name, value: c}, {name: namespace, value: shop}]\n";
    let r = review_with(&rollout(analysis), &cluster_lookup(Coverage::Cluster));
    let messages: Vec<_> = r.findings.iter().map(|f| (f.rule.id, &f.message)).collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0]
        .1
        .contains("\"latency\" requires argument \"threshold\""));
}

#[test]
fn rg112_a_template_in_neither_cluster_nor_request_warns() {
    let yaml = rollout(&PASSES_BOTH.replace("success-rate", "success-rat"));
    let r = review_with(&yaml, &cluster_lookup(Coverage::Cluster));
    assert!(!r.denied());
    assert_eq!(r.findings.len(), 1);
    assert_eq!(
        (r.findings[0].rule.id, r.findings[0].severity),
        ("RG112", Severity::Warn)
    );
    assert!(r.findings[0].message.contains("is not in the cluster"));
    // A namespaced template is looked up in the Rollout's namespace only.
    let other_ns = rollout("        templates: [{templateName: latency}]\n        args: [{name: service-name, value: c}, {name: threshold, value: '1'}]\n")
        .replace("namespace: shop", "namespace: other");
    assert_eq!(
        verdicts(&other_ns, Coverage::Cluster),
        [("RG112", Severity::Warn)]
    );
}

#[test]
fn rg102_checked_with_the_arguments_the_rollout_passes() {
    let analysis = "        templates: [{templateName: latency}]\n        args: [{name: service-name, value: c}, {name: threshold, value: '0.5'}, {name: window, value: 'five minutes'}]\n";
    assert_eq!(
        verdicts(&rollout(analysis), Coverage::Cluster),
        [("RG102", Severity::Deny)]
    );
    let fine = analysis.replace("five minutes", "10m");
    assert_eq!(verdicts(&rollout(&fine), Coverage::Cluster), []);
}

#[test]
fn rg102_an_in_cluster_template_broken_on_its_own_is_reported_on_the_rollout() {
    let analysis = "        templates: [{templateName: broken}]\n";
    assert_eq!(
        verdicts(&rollout(analysis), Coverage::Cluster),
        [("RG102", Severity::Deny)]
    );
    // In a lint run the template file reports it; the Rollout does not repeat it.
    assert_eq!(verdicts(&rollout(analysis), Coverage::LintInput), []);
}

#[test]
fn rg110_an_undeclared_argument_is_not_filled_by_what_the_rollout_passes() {
    let analysis = "        templates: [{templateName: undeclared}]\n        args: [{name: service-name, value: c}]\n";
    let r = review_with(&rollout(analysis), &cluster_lookup(Coverage::Cluster));
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].rule.id, "RG110");
    assert_eq!(r.findings[0].severity, Severity::Deny);
    assert_eq!(
        r.findings[0].pointer,
        "/spec/strategy/canary/analysis/templates/0"
    );
    assert!(r.findings[0].message.contains("is ignored"));
    // A sibling template that declares it makes the tag resolvable.
    let with_sibling = "        templates: [{templateName: undeclared}, {templateName: success-rate, clusterScope: true}]\n        args: [{name: service-name, value: c}, {name: namespace, value: shop}]\n";
    assert_eq!(verdicts(&rollout(with_sibling), Coverage::Cluster), []);
    assert_eq!(verdicts(&rollout(analysis), Coverage::LintInput), []);
}

#[test]
fn rg109_a_step_analysis_whose_in_cluster_template_runs_forever() {
    let args = "args: [{name: service-name, value: c}, {name: threshold, value: '1'}]";
    let step = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {{name: r, namespace: shop}}\nspec:\n  strategy:\n    canary:\n      steps:\n      - setWeight: 20\n      - analysis: {{templates: [{{templateName: latency}}], {args}}}\n      analysis: {{templates: [{{templateName: latency}}], {args}}}\n"
    );
    let r = review_with(&step, &cluster_lookup(Coverage::Cluster));
    let pointers: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.rule.id, f.pointer.as_str()))
        .collect();
    // The background analysis may run forever; the step's must finish.
    assert_eq!(
        pointers,
        [(
            "RG109",
            "/spec/strategy/canary/steps/1/analysis/templates/0"
        )]
    );
    assert!(r.denied());
}

#[test]
fn rg301_a_deployment_managed_through_workload_ref_in_its_namespace() {
    let deployment =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {}\n";
    assert_eq!(verdicts(deployment, Coverage::Cluster), []);
    assert_eq!(
        verdicts(&deployment.replace("shop", "other"), Coverage::Cluster),
        [("RG301", Severity::Warn)]
    );
    assert_eq!(
        verdicts(
            &deployment.replace("name: web", "name: lonely"),
            Coverage::Cluster
        ),
        [("RG301", Severity::Warn)]
    );
}
