//! Prometheus metrics in the text exposition format. Every series is a fixed atomic counter
//! (the label values are closed sets), so recording a review takes no lock.
//!
//! Written by hand rather than with a client crate, because neither produces this exposition:
//! `prometheus-client` writes OpenMetrics only (`# TYPE` and `# HELP` name a counter without its
//! `_total`, a `# EOF` line ends it, served as `application/openmetrics-text`), and `prometheus`
//! sorts each series' labels by name (`allowed`, `kind`, `operation`, `webhook`) and the families
//! by name, where the series here are written `webhook`, `kind`, `operation`, `allowed`, as
//! tests/webhook.rs and the unit test below read them. In both, a labelled increment also goes
//! through a locked map of children, where here it is an array index.

use crate::admission::Webhook;
use crate::manifest::Kind;
use crate::rules::{self, Severity};
use kube::core::admission::Operation;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

const WEBHOOKS: [Webhook; 2] = [Webhook::Mutate, Webhook::Validate];
/// The `kind` label values: every reviewed kind, then `other`.
const KINDS: [&str; Kind::ALL.len() + 1] = {
    let mut names = ["other"; Kind::ALL.len() + 1];
    let mut i = 0;
    while i < Kind::ALL.len() {
        names[i] = Kind::ALL[i].as_str();
        i += 1;
    }
    names
};
const OPERATIONS: [&str; 4] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
const SEVERITIES: [Severity; 2] = [Severity::Deny, Severity::Warn];
/// Histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

const REQUEST_SERIES: usize = WEBHOOKS.len() * KINDS.len() * OPERATIONS.len() * 2;

/// The webhook's counters.
pub struct Metrics {
    requests: [AtomicU64; REQUEST_SERIES],
    /// Per bucket, not cumulative; summed when rendered.
    duration_buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_nanos: AtomicU64,
    findings: Vec<[AtomicU64; 2]>,
    tls_reloads: AtomicU64,
    tls_reload_errors: AtomicU64,
    /// Reviews that panicked (answered 500; the server went on).
    pub review_panics: AtomicU64,
    /// Reviews turned away with 503 because the reviews in flight held the byte budget.
    pub reviews_shed: AtomicU64,
    /// Connections answered 503 and closed because the connection limit was reached.
    pub connections_refused: AtomicU64,
    /// Idle keep-alive connections closed: timed out, or to make room for a new one.
    pub idle_closed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            duration_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            duration_sum_nanos: AtomicU64::new(0),
            findings: rules::ALL
                .iter()
                .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
                .collect(),
            tls_reloads: AtomicU64::new(0),
            tls_reload_errors: AtomicU64::new(0),
            review_panics: AtomicU64::new(0),
            reviews_shed: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
        }
    }
}

fn kind_index(kind: Option<Kind>) -> usize {
    kind.and_then(|k| Kind::ALL.iter().position(|&x| x == k))
        .unwrap_or(Kind::ALL.len())
}

fn operation_index(op: &Operation) -> usize {
    match op {
        Operation::Create => 0,
        Operation::Update => 1,
        Operation::Delete => 2,
        Operation::Connect => 3,
    }
}

fn request_index(webhook: usize, kind: usize, op: usize, allowed: usize) -> usize {
    ((webhook * KINDS.len() + kind) * OPERATIONS.len() + op) * 2 + allowed
}

impl Metrics {
    /// Counts one answered review.
    pub fn record_review(
        &self,
        webhook: Webhook,
        kind: Option<Kind>,
        operation: &Operation,
        allowed: bool,
        elapsed: Duration,
    ) {
        let w = usize::from(webhook == Webhook::Validate);
        let i = request_index(
            w,
            kind_index(kind),
            operation_index(operation),
            usize::from(allowed),
        );
        self.requests[i].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.duration_buckets[bucket].fetch_add(1, Relaxed);
        self.duration_sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Relaxed);
    }

    /// Counts one finding.
    pub fn record_finding(&self, rule: &rules::Rule, severity: Severity) {
        if let Some(i) = rules::ALL.iter().position(|r| r.id == rule.id) {
            self.findings[i][usize::from(severity == Severity::Warn)].fetch_add(1, Relaxed);
        }
    }

    /// Counts a certificate reload; `ok` false for one that failed and left the old one serving.
    pub fn record_tls_reload(&self, ok: bool) {
        if ok {
            self.tls_reloads.fetch_add(1, Relaxed);
        } else {
            self.tls_reload_errors.fetch_add(1, Relaxed);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP rollout_guard_admission_requests_total Admission reviews answered.\n");
        out.push_str("# TYPE rollout_guard_admission_requests_total counter\n");
        for (w, webhook) in WEBHOOKS.iter().enumerate() {
            for (k, kind) in KINDS.iter().enumerate() {
                for (o, op) in OPERATIONS.iter().enumerate() {
                    for allowed in [0, 1] {
                        let n = self.requests[request_index(w, k, o, allowed)].load(Relaxed);
                        if n > 0 {
                            let _ = writeln!(
                                out,
                                "rollout_guard_admission_requests_total{{webhook=\"{}\",kind=\"{kind}\",operation=\"{op}\",allowed=\"{}\"}} {n}",
                                webhook.as_str(),
                                allowed == 1
                            );
                        }
                    }
                }
            }
        }
        out.push_str(
            "# HELP rollout_guard_admission_duration_seconds Time to answer an admission review, from the start of its body.\n",
        );
        out.push_str("# TYPE rollout_guard_admission_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, b) in BUCKETS.iter().enumerate() {
            cumulative += self.duration_buckets[i].load(Relaxed);
            let _ = writeln!(
                out,
                "rollout_guard_admission_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        cumulative += self.duration_buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            out,
            "rollout_guard_admission_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let _ = writeln!(
            out,
            "rollout_guard_admission_duration_seconds_sum {}",
            self.duration_sum_nanos.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(
            out,
            "rollout_guard_admission_duration_seconds_count {cumulative}"
        );
        out.push_str("# HELP rollout_guard_findings_total Findings in admission reviews, by rule and severity.\n");
        out.push_str("# TYPE rollout_guard_findings_total counter\n");
        for (i, rule) in rules::ALL.iter().enumerate() {
            for (s, severity) in SEVERITIES.iter().enumerate() {
                let n = self.findings[i][s].load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "rollout_guard_findings_total{{rule=\"{}\",severity=\"{severity}\"}} {n}",
                        rule.id
                    );
                }
            }
        }
        out.push_str("# HELP rollout_guard_tls_reloads_total Serving certificates reloaded from changed files.\n");
        out.push_str("# TYPE rollout_guard_tls_reloads_total counter\n");
        let _ = writeln!(
            out,
            "rollout_guard_tls_reloads_total {}",
            self.tls_reloads.load(Relaxed)
        );
        out.push_str("# HELP rollout_guard_tls_reload_errors_total Changed certificate files that could not be loaded (the previous certificate stays in use).\n");
        out.push_str("# TYPE rollout_guard_tls_reload_errors_total counter\n");
        let _ = writeln!(
            out,
            "rollout_guard_tls_reload_errors_total {}",
            self.tls_reload_errors.load(Relaxed)
        );
        for (name, help, counter) in [
            (
                "rollout_guard_review_panics_total",
                "Reviews that failed inside rollout-guard (answered 500; the server keeps serving).",
                &self.review_panics,
            ),
            (
                "rollout_guard_reviews_shed_total",
                "Reviews answered 503 because the reviews in flight already held the memory budget.",
                &self.reviews_shed,
            ),
            (
                "rollout_guard_connections_refused_total",
                "Connections answered 503 and closed because the connection limit was reached.",
                &self.connections_refused,
            ),
            (
                "rollout_guard_idle_connections_closed_total",
                "Idle keep-alive connections closed (timed out, or to make room for a new one).",
                &self.idle_closed,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Relaxed));
        }
        out
    }
}

/// The `rollout_guard_catalog_age_seconds` gauge: how long the cluster catalog may have been out
/// of date (0 while its watches are healthy).
pub fn catalog_age(age: Duration) -> String {
    format!(
        "# HELP rollout_guard_catalog_age_seconds Seconds the cluster catalog may have been out of date: 0 while the watches are in sync, the time since the first unresolved watch failure otherwise.\n\
         # TYPE rollout_guard_catalog_age_seconds gauge\n\
         rollout_guard_catalog_age_seconds {}\n",
        age.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_recorded_series() {
        let m = Metrics::default();
        m.record_review(
            Webhook::Validate,
            Some(Kind::Rollout),
            &Operation::Create,
            false,
            Duration::from_micros(300),
        );
        m.record_finding(&rules::RG101, Severity::Deny);
        m.record_tls_reload(true);
        let text = m.render();
        assert!(text.contains("rollout_guard_admission_requests_total{webhook=\"validate\",kind=\"Rollout\",operation=\"CREATE\",allowed=\"false\"} 1\n"), "{text}");
        assert!(text.contains("rollout_guard_admission_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(
            text.contains("rollout_guard_admission_duration_seconds_bucket{le=\"0.00025\"} 0\n")
        );
        assert!(text.contains("rollout_guard_admission_duration_seconds_count 1\n"));
        assert!(text.contains("rollout_guard_findings_total{rule=\"RG101\",severity=\"deny\"} 1\n"));
        assert!(text.contains("rollout_guard_tls_reloads_total 1\n"));
    }
}
