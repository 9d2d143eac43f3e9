//! A 24 h backtest at 1 m steps of a three-metric template against a local Prometheus (Debian's
//! package, over a TSDB of a day of samples every 15 s for 20 services): loading, the range
//! queries, Argo's classification of all 4,323 measurements and the sliding window of runs.
//! The target is under 5 s. Run with `cargo bench --bench analyze`.

#[path = "../tests/support/prometheus.rs"]
mod prometheus;
#[path = "../tests/support/mod.rs"]
mod support;

use rollout_guard::analyze::{self, classify::classify, prom::Client, run};
use std::time::Instant;

const T0: i64 = 1_700_006_400;
const DAY: i64 = 86_400;

const TEMPLATE: &str = "apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: bench
spec:
  args:
  - name: service
    value: svc-7
  metrics:
  - name: success-rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: len(result) == 0 || result[0] >= 0.95
    provider:
      prometheus:
        address: http://prometheus.invalid:9090
        query: sum(rate(http_requests_total{service=\"{{args.service}}\",code!~\"5..\"}[2m])) / sum(rate(http_requests_total{service=\"{{args.service}}\"}[2m]))
  - name: latency
    interval: 1m
    count: 5
    failureLimit: 1
    successCondition: result[0] <= 0.5
    provider:
      prometheus:
        address: http://prometheus.invalid:9090
        query: max(http_latency_seconds{service=\"{{args.service}}\"})
  - name: errors
    interval: 1m
    count: 10
    failureCondition: result[0] > 5
    provider:
      prometheus:
        address: http://prometheus.invalid:9090
        query: sum(increase(http_requests_total{service=\"{{args.service}}\",code=~\"5..\"}[5m]))
";

fn main() {
    let samples = DAY / 15 + 1;
    let mut text = String::from("# TYPE http_requests_total counter\n");
    for s in 0..20 {
        for code in ["200", "500"] {
            for i in 0..samples {
                let rate = if code == "200" { 50 } else { i % 7 };
                text.push_str(&format!(
                    "http_requests_total{{service=\"svc-{s}\",code=\"{code}\"}} {} {}\n",
                    i * 15 * rate,
                    T0 + i * 15
                ));
            }
        }
    }
    text.push_str("# TYPE http_latency_seconds gauge\n");
    for s in 0..20 {
        for i in 0..samples {
            let v = 0.2 + ((i * 37 + s) % 100) as f64 / 300.0;
            text.push_str(&format!(
                "http_latency_seconds{{service=\"svc-{s}\"}} {v} {}\n",
                T0 + i * 15
            ));
        }
    }
    text.push_str("# EOF\n");
    let prom = prometheus::Prometheus::start(&text);
    let file = prom.dir().join("bench.yaml");
    std::fs::write(&file, TEMPLATE).unwrap();
    let req = analyze::Request {
        paths: vec![file.display().to_string()],
        prometheus: Some(prom.url.clone()),
        since: Some("24h".into()),
        at: Some((T0 + DAY).to_string()),
        ..analyze::Request::default()
    };
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let opts = analyze::options(&req, 0).unwrap();
        let analyses = analyze::load(&req).unwrap();
        let client = Client::new().unwrap();
        let report = run::run(&analyses, &opts, &client, &classify, &mut |_| {}).unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        best = best.min(elapsed);
        let measured: usize = report.analyses[0]
            .metrics
            .iter()
            .map(|m| {
                let b = m.backtest.as_ref().expect("a backtest");
                assert_eq!(b.method, "query_range");
                let c = &b.measurements;
                c.successful + c.failed + c.inconclusive + c.error
            })
            .sum();
        assert_eq!(measured, 3 * 1441);
    }
    println!("analyze: 24 h backtest, 1 m steps, 3 metrics (4,323 measurements): best of 5 {best:.3} s (target < 5 s)");
}
