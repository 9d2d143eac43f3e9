//! Lint throughput on a generated stream of 10,000 documents (half Rollouts, half
//! AnalysisTemplates with PromQL). Run with `cargo bench --bench lint`. It prints:
//! - documents per second for the whole `rollout-guard lint` process (target: >= 20,000/s);
//! - lint time in-process against the time spent only parsing the same YAML (target: <= 1.3x, issue 13; the first target was 2x).
//!
//! Every query and condition differs, so no cache of repeated expressions helps here.

use rollout_guard::{lint, manifest, policy::Policy};
use std::process::Command;
use std::time::{Duration, Instant};

const DOCS: usize = 10_000;

fn stream() -> String {
    let mut out = String::new();
    for i in 0..DOCS / 2 {
        out.push_str(&format!(
            r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate-{i}
  namespace: team-{ns}
spec:
  args:
    - name: service-name
  metrics:
    - name: success-rate
      interval: 1m
      count: 5
      failureLimit: 2
      successCondition: len(result) == 0 || result[0] >= 0.9{t}
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: |
            sum(rate(http_requests_{i}_total{{service="{{{{args.service-name}}}}",code!~"5.."}}[5m]))
            /
            sum(rate(http_requests_{i}_total{{service="{{{{args.service-name}}}}"}}[{w}m]))
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: app-{i}
  namespace: team-{ns}
spec:
  replicas: 3
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:{i}
          ports: [{{containerPort: 8080}}]
  strategy:
    canary:
      canaryService: app-{i}-canary
      stableService: app-{i}
      analysis:
        templates: [{{templateName: success-rate-{i}}}]
        args: [{{name: service-name, value: app-{i}-canary}}]
      steps:
        - setWeight: 20
        - pause: {{duration: 1m}}
        - setWeight: 50
        - pause: {{duration: 1m}}
"#,
            ns = i % 20,
            t = i % 10,
            w = 1 + i % 9,
        ));
    }
    out
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.unwrap())
}

fn main() {
    let text = stream();
    let path =
        std::env::temp_dir().join(format!("rollout-guard-bench-{}.yaml", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let policy = Policy::embedded();

    let (parse, docs) = best_of(5, || manifest::parse_text(&text).documents.len());
    assert_eq!(docs, DOCS);
    let (lint_time, report) = best_of(5, || {
        let source = rollout_guard::source::Source {
            name: "bench.yaml".into(),
            path: None,
            bytes: text.as_bytes().to_vec(),
        };
        lint::lint(vec![source], Vec::new(), &policy)
    });
    assert_eq!(report.objects, DOCS);
    assert_eq!(report.findings.len(), 0, "the generated stream is clean");

    // The whole process, as a user runs it: the release binary cargo bench just built.
    let exe = env!("CARGO_BIN_EXE_rollout-guard");
    let (process, status) = best_of(5, || {
        Command::new(exe)
            .args(["lint", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap()
            .status
    });
    assert!(status.success());
    if std::env::var_os("RG_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_file(&path);
    } else {
        println!("  stream kept at {}", path.display());
    }

    println!(
        "lint benchmark: {DOCS} documents, {:.1} MiB",
        text.len() as f64 / 1048576.0
    );
    println!(
        "  parse only (in process):   {:>8.1} ms",
        parse.as_secs_f64() * 1e3
    );
    println!(
        "  lint (in process):         {:>8.1} ms  = {:.2}x parse (target <= 1.3x)",
        lint_time.as_secs_f64() * 1e3,
        lint_time.as_secs_f64() / parse.as_secs_f64()
    );
    println!(
        "  `rollout-guard lint` process: {:>5.1} ms  = {:.0} documents/s (target >= 20000)",
        process.as_secs_f64() * 1e3,
        DOCS as f64 / process.as_secs_f64()
    );
}
