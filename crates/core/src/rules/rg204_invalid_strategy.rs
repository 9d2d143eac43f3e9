//! RG204 `invalid-strategy`: Strategy errors: none or both strategies, canary service equal to stable, or traffic routing without both services.

use super::catalog::{Fixture, Rule, Severity};
use super::Sink;
use crate::argo::rollout::{self, Strategy, BLUE_GREEN, CANARY};
use serde_json::Value;

/// RG204 `invalid-strategy`.
pub static RG204: Rule = Rule {
    id: "RG204",
    name: "invalid-strategy",
    severity: Severity::Deny,
    summary: "Strategy errors: none or both strategies, canary service equal to stable, or traffic routing without both services.",
    doc: "A Rollout needs exactly one of `canary` and `blueGreen`; the canary and stable services (or the \
         active and preview services) must differ, or both versions receive the same traffic. A canary with \
         `trafficRouting` (nginx, ALB, SMI, Istio with VirtualServices, a plugin, any router) needs both \
         `canaryService` and `stableService`; Argo rejects the Rollout otherwise (\"Canary service and Stable \
         service must to be set to use Traffic Routing\"), except with an Istio `destinationRule` or \
         `pingPong` (`requireCanaryStableServices` in pkg/apis/rollouts/validation/validation.go).",
    help: "Choose one strategy, give the two services different names, and set both `canaryService` and `stableService` when routing traffic.",
    fixtures: FIXTURES,
};

pub(super) fn check(rollout: &Value, out: &mut Sink) {
    let Some(Strategy {
        canary, blue_green, ..
    }) = rollout::strategy(rollout)
    else {
        return;
    };
    match (canary, blue_green) {
        (Some(_), Some(_)) => out.report(
            &RG204,
            rollout::STRATEGY,
            "strategy sets both canary and blueGreen; a Rollout uses exactly one",
        ),
        (None, None) => out.report(
            &RG204,
            rollout::STRATEGY,
            "strategy sets neither canary nor blueGreen; a Rollout uses exactly one",
        ),
        _ => {}
    }
    fn text<'a>(v: Option<&'a Value>, k: &str) -> Option<&'a str> {
        v.and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    if let (Some(c), Some(s)) = (text(canary, "canaryService"), text(canary, "stableService")) {
        if c == s {
            out.report(
                &RG204,
                format!("{CANARY}/canaryService"),
                format!("canaryService and stableService are both \"{c}\"; they must be different Services"),
            );
        }
    }
    if let Some(c) = canary {
        traffic_routing_services(c, |k| text(canary, k).is_some(), out);
    }
    if blue_green.is_some() {
        match (text(blue_green, "activeService"), text(blue_green, "previewService")) {
            (None, _) => out.report(
                &RG204,
                BLUE_GREEN,
                "blueGreen has no activeService; Argo requires one",
            ),
            (Some(a), Some(p)) if a == p => out.report(
                &RG204,
                format!("{BLUE_GREEN}/previewService"),
                format!("activeService and previewService are both \"{a}\"; they must be different Services"),
            ),
            _ => {}
        }
    }
}

/// Argo's `requireCanaryStableServices` (pkg/apis/rollouts/validation/validation.go): a canary
/// with `trafficRouting` needs both Services, unless it routes through an Istio DestinationRule
/// (subsets, not Services) or uses `pingPong`. Argo reports each missing one at its field.
fn traffic_routing_services(canary: &Value, set: impl Fn(&str) -> bool, out: &mut Sink) {
    let present = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    let routing = canary.get("trafficRouting");
    if !present(routing)
        || present(routing.and_then(|r| crate::manifest::pointer::get(r, "/istio/destinationRule")))
        || present(canary.get("pingPong"))
    {
        return;
    }
    let routers: Vec<&str> = routing
        .and_then(Value::as_object)
        .map(|r| {
            r.keys()
                .map(String::as_str)
                .filter(|k| *k != "managedRoutes")
                .collect()
        })
        .unwrap_or_default();
    let with = if routers.is_empty() {
        String::new()
    } else {
        format!(" ({})", routers.join(", "))
    };
    for key in ["stableService", "canaryService"] {
        if !set(key) {
            out.report(
                &RG204,
                format!("{CANARY}/{key}"),
                format!(
                    "canary uses trafficRouting{with} but sets no {key}; Argo rejects the Rollout: \"Canary service and Stable service must to be set to use Traffic Routing\""
                ),
            );
        }
    }
}

/// Linted by `tests/rules.rs`, each as its own test: the leading `# expect:` lines say what the
/// linter must find; a `good-` fixture must not find RG204, a `bad-` one must.
const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "bad-same-services.yaml",
        text: r#"# canaryService equals stableService.
# expect: 10:22 RG204 canaryService and stableService are both "web-canary"; they must be different Services
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-canary
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
    Fixture {
        name: "bad-traffic-routing-without-services.yaml",
        text: r#"# nginx traffic routing and neither Service: Argo rejects the Rollout.
# expect: 11:7 RG204 canary uses trafficRouting (nginx) but sets no stableService; Argo rejects the Rollout: "Canary service and Stable service must to be set to use Traffic Routing"
# expect: 11:7 RG204 canary uses trafficRouting (nginx) but sets no canaryService; Argo rejects the Rollout: "Canary service and Stable service must to be set to use Traffic Routing"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      trafficRouting:
        nginx: {stableIngress: web}
      analysis:
        templates:
        - templateName: success-rate-nginx
          clusterScope: true
        args:
        - {name: service-name, value: web}
        - {name: namespace, value: demo}
      steps:
      - setWeight: 20
      - pause: {duration: 1m}
"#,
    },
    Fixture {
        name: "good-traffic-routing-with-services.yaml",
        text: r#"# nginx traffic routing with both Services.
# expect: none
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  strategy:
    canary:
      trafficRouting:
        nginx: {stableIngress: web}
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
