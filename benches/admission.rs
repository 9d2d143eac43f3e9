//! The webhook's review in process, without sockets: `admission::handle` on the captured Rollout
//! AdmissionReview (6 KB), and on the same review with a 10 KB pod template (60 environment
//! variables, probes, volumes), against the time serde_json takes only to read past the body.
//! Run with `cargo bench --bench admission`; `bench/webhook.sh` measures the server as a whole.

use rollout_guard::admission::{self, Webhook};
use rollout_guard::policy::Policy;
use serde_json::{json, Value};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FIXTURE: &str = "../shared/fixtures/admission-reviews/004-validate-create-rollout-prometheus-rollouts-demo.json";
const ROUNDS: usize = 50_000;

/// Microseconds per call of `f`, the best of three runs of `ROUNDS` calls.
fn micros(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..ROUNDS {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// The review with a pod template the size real services carry.
fn with_large_pod_template(review: &Value) -> Vec<u8> {
    let mut review = review.clone();
    let pod = &mut review["request"]["object"]["spec"]["template"]["spec"];
    let container = &mut pod["containers"][0];
    container["env"] = (0..60)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": format!("value-{i}-{}", "x".repeat(40))}))
        .collect();
    container["livenessProbe"] =
        json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10});
    container["readinessProbe"] =
        json!({"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10});
    container["volumeMounts"] = (0..10)
        .map(|i| json!({"name": format!("v{i}"), "mountPath": format!("/data/{i}")}))
        .collect();
    pod["volumes"] = (0..10)
        .map(|i| json!({"name": format!("v{i}"), "configMap": {"name": format!("cm-{i}")}}))
        .collect();
    serde_json::to_vec(&review).unwrap()
}

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let fixture = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared fixtures must be beside the checkout)",
            path.display()
        )
    });
    let large = with_large_pod_template(&serde_json::from_slice(&fixture).unwrap());
    let policy = Policy::embedded();
    let lookup = rollout_guard::lookup::shipped::lookup();

    println!("admission::handle in process, best of 3 x {ROUNDS}:");
    for (name, body) in [
        ("captured Rollout review", &fixture),
        ("with a 10 KB pod template", &large),
    ] {
        let review = micros(|| {
            let out = admission::handle(Webhook::Validate, body, &policy, &lookup).unwrap();
            std::hint::black_box(out);
        });
        let skip = micros(|| {
            let v: serde::de::IgnoredAny = serde_json::from_slice(body).unwrap();
            std::hint::black_box(v);
        });
        println!(
            "  {name} ({:.1} KB): review {review:.1} us; serde_json reading past the body {skip:.1} us",
            body.len() as f64 / 1024.0
        );
    }
}
