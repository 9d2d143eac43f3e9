//! RG203 `invalid-step`: Step errors: weight outside 0..100, several kinds in one step, bad pause duration.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo;
use crate::lang::duration;
use serde_json::Value;

/// RG203 `invalid-step`.
pub static RG203: Rule = Rule {
    id: "RG203",
    name: "invalid-step",
    severity: Severity::Deny,
    summary: "Step errors: weight outside 0..100, several kinds in one step, bad pause duration.",
    doc: "Argo rejects a step that sets more than one thing, a weight outside 0..100, and a pause duration that is \
         neither whole seconds nor a Go duration.",
    help: "Give each step exactly one action, weights between 0 and 100, and pauses like `30`, `30s` or `5m`.",
    fixtures: FIXTURES,
};

/// Step actions; a step needs at least one.
const STEP_KINDS: &[&str] = &[
    "setWeight",
    "pause",
    "experiment",
    "analysis",
    "setCanaryScale",
    "setHeaderRoute",
    "setMirrorRoute",
    "plugin",
];
/// The actions Argo allows only one of per step (`setCanaryScale` and the route steps may
/// accompany one of them, as in Argo's own APISIX example).
const EXCLUSIVE_STEP_KINDS: &[&str] = &["setWeight", "pause", "experiment", "analysis", "plugin"];

pub(super) fn check(rollout: &Value, out: &mut Sink) {
    let Some(steps) = argo::rollout::steps(rollout) else {
        return;
    };
    for (i, step) in steps.iter().enumerate() {
        let at = argo::rollout::step_at(i);
        let Some(map) = step.as_object() else {
            out.report(&RG203, at, format!("step {i} is not a mapping"));
            continue;
        };
        let kinds: Vec<&str> = map
            .keys()
            .map(String::as_str)
            .filter(|k| EXCLUSIVE_STEP_KINDS.contains(k))
            .collect();
        if kinds.len() > 1 {
            out.report(
                &RG203,
                &at,
                format!(
                    "step {i} sets {}; each step must do exactly one thing",
                    kinds.join(" and ")
                ),
            );
        } else if !map.keys().any(|k| STEP_KINDS.contains(&k.as_str())) {
            out.report(
                &RG203,
                &at,
                format!("step {i} sets no action (one of {})", STEP_KINDS.join(", ")),
            );
        }
        if let Some(w) = map.get("setWeight") {
            match w.as_i64() {
                Some(w) if (0..=100).contains(&w) => {}
                _ => out.report(
                    &RG203,
                    format!("{at}/setWeight"),
                    format!("step {i}: setWeight {w} is not a whole number between 0 and 100"),
                ),
            }
        }
        if let Some(d) = map
            .get("pause")
            .and_then(|p| p.get("duration"))
            .filter(|d| !d.is_null())
        {
            match duration::pause_seconds(d) {
                Some(s) if s >= 0.0 => {}
                _ => out.report(
                    &RG203,
                    format!("{at}/pause/duration"),
                    format!("step {i}: pause duration {d} is neither whole seconds nor a Go duration such as 30s or 5m"),
                ),
            }
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG203, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-weight-over-100.yaml",
        text: r#"# setWeight 120.
# expect: 20:20 RG203 step 0: setWeight 120 is not a whole number between 0 and 100
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
      - setWeight: 120
      - pause: {duration: 1m}
"#,
    },
    Fixture {
        name: "good-steps.yaml",
        text: r#"# Valid steps.
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
