//! `rollout-guard analyze` as a process against a real Prometheus (Debian's package, started on
//! loopback over a TSDB of known series): instant measurements as Argo classifies them, a
//! backtest that finds exactly the known dips, argument substitution, and a Prometheus that is
//! down.

#[path = "support/prometheus.rs"]
mod prometheus;
mod support;

use prometheus::Prometheus;
use serde_json::Value;
use std::path::Path;
use support::serve::Serve;

/// 2023-11-15T00:00:00Z: the series start here, a day of samples every 15 s.
const T0: i64 = 1_700_006_400;
const DAY: i64 = 86_400;

/// Minutes (from `T0`) in which the web success ratio dips to 0.9.
const DIPS: &[i64] = &[300, 301, 302, 900];

fn ratio(t: i64) -> f64 {
    if DIPS.contains(&((t - T0) / 60)) {
        0.9
    } else {
        0.99
    }
}

fn series() -> String {
    prometheus::openmetrics(
        T0,
        15,
        &[
            ("app_success_ratio{service=\"web\"}", &ratio),
            ("app_success_ratio{service=\"api\"}", &|_| 0.97),
            ("app_latency_seconds{service=\"nan\"}", &|_| f64::NAN),
            ("app_requests{service=\"web\"}", &|_| 100.0),
            (
                "up{job=\"prometheus\",instance=\"localhost:9090\"}",
                &|_| 1.0,
            ),
        ],
        DAY / 15 + 1,
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A template of one Prometheus metric.
fn template(name: &str, query: &str, success: &str, extra: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: {name}\nspec:\n  args:\n  - name: service\n    value: web\n  metrics:\n  - name: m\n    successCondition: '{success}'\n{extra}    provider:\n      prometheus:\n        address: http://prometheus.invalid:9090\n        query: '{query}'\n"
    )
}

/// Runs analyze with `--format json`; the exit code and the report.
fn analyze(args: &[&str]) -> (i32, Value, String) {
    let out = support::bin()
        .arg("analyze")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap(), report, stderr)
}

fn first_metric(report: &Value) -> &Value {
    &report["analyses"][0]["metrics"][0]
}

#[test]
fn instant_measurements_as_argo_classifies_them() {
    require!(support::PROMETHEUS);
    let prom = Prometheus::start(&series());
    let dir = support::TempDir::new("analyze-instant");
    let at = (T0 + 600 * 60).to_string();
    let run = |file: &str, extra: &[&str]| {
        let mut args = vec![file, "--prometheus", &prom.url, "--at", &at];
        args.extend_from_slice(extra);
        analyze(&args)
    };

    // {{args.*}}: the default, then --arg.
    let t = write(
        &dir,
        "args.yaml",
        &template(
            "rate",
            "sum(app_success_ratio{service=\"{{args.service}}\"})",
            "result[0] >= 0.95",
            "",
        ),
    );
    let (code, r, err) = run(&t, &[]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    assert_eq!(r["version"], 1);
    assert_eq!(r["mode"], "instant");
    let m = first_metric(&r);
    assert_eq!(m["query"], "sum(app_success_ratio{service=\"web\"})");
    assert_eq!(
        m["address"],
        prom.url.as_str(),
        "--prometheus replaces the address"
    );
    assert_eq!(m["measurement"]["phase"], "Successful");
    assert_eq!(m["measurement"]["value"], "[0.99]");
    let (code, r, _) = run(&t, &["--arg", "service=api"]);
    assert_eq!(code, 0);
    assert_eq!(
        first_metric(&r)["query"],
        "sum(app_success_ratio{service=\"api\"})"
    );
    assert_eq!(first_metric(&r)["measurement"]["value"], "[0.97]");

    // A label that does not exist: an empty vector, and result[0] errors as in Argo.
    let t = write(
        &dir,
        "wrong-label.yaml",
        &template(
            "wrong",
            "sum(app_success_ratio{service=\"{{args.service}}\", env=\"prod\"})",
            "result[0] >= 0.95",
            "",
        ),
    );
    let (code, r, _) = run(&t, &[]);
    assert_eq!(code, 1, "{r:#}");
    let m = &first_metric(&r)["measurement"];
    assert_eq!(m["phase"], "Error", "{m:#}");
    assert_eq!(m["value"], "[]");
    assert!(
        m["message"]
            .as_str()
            .is_some_and(|s| s.contains("index out of range")),
        "{m:#}"
    );

    // A scalar query: result is a float64, not a list.
    let t = write(
        &dir,
        "scalar.yaml",
        &template(
            "scalar",
            "scalar(sum(app_requests{service=\"{{args.service}}\"}))",
            "result == 100",
            "",
        ),
    );
    let (code, r, _) = run(&t, &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(first_metric(&r)["measurement"]["value"], "100");
    assert_eq!(first_metric(&r)["measurement"]["phase"], "Successful");

    // NaN samples: a comparison with NaN is false, so the success condition fails.
    let t = write(
        &dir,
        "nan.yaml",
        &template(
            "nan",
            "max(app_latency_seconds{service=\"nan\"})",
            "result[0] < 0.5",
            "",
        ),
    );
    let (code, r, _) = run(&t, &[]);
    assert_eq!(code, 1);
    assert_eq!(first_metric(&r)["measurement"]["value"], "[NaN]");
    assert_eq!(first_metric(&r)["measurement"]["phase"], "Failed");

    // A range vector: Argo does not support the type.
    let t = write(
        &dir,
        "matrix.yaml",
        &template("matrix", "app_requests[1m]", "true", ""),
    );
    let (code, r, _) = run(&t, &[]);
    assert_eq!(code, 1);
    let m = &first_metric(&r)["measurement"];
    assert_eq!(
        (&m["phase"], &m["message"]),
        (
            &Value::from("Error"),
            &Value::from("Prometheus metric type not supported")
        )
    );

    // The README's example template.
    let example = support::repo().join("examples/analysis-prometheus-up.yaml");
    let (code, r, _) = run(example.to_str().unwrap(), &[]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(first_metric(&r)["measurement"]["value"], "[1]");
    let (code, r, _) = run(example.to_str().unwrap(), &["--arg", "job=nope"]);
    assert_eq!(code, 1, "a job with no targets fails: {r:#}");
    assert_eq!(first_metric(&r)["measurement"]["phase"], "Failed");

    // A query Prometheus rejects: its error, as client_golang reports it to Argo.
    let t = write(&dir, "bad.yaml", &template("bad", "sum(", "true", ""));
    let (code, r, _) = run(&t, &[]);
    assert_eq!(code, 1);
    let msg = first_metric(&r)["measurement"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(msg.starts_with("bad_data: "), "{msg}");
}

#[test]
fn a_rollout_runs_its_analyses_with_its_arguments() {
    require!(support::PROMETHEUS);
    let prom = Prometheus::start(&series());
    let dir = support::TempDir::new("analyze-rollout");
    let t = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: ratio\nspec:\n  args:\n  - name: service\n  metrics:\n  - name: ratio\n    successCondition: result[0] >= 0.98\n    provider:\n      prometheus:\n        address: http://prometheus.invalid:9090\n        query: sum(app_success_ratio{service=\"{{ args.service }}\"})\n  - name: smoke\n    provider:\n      web:\n        url: http://smoke.invalid/\n";
    let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: shop\n  labels: {app: api}\nspec:\n  strategy:\n    canary:\n      steps:\n      - setWeight: 20\n      - analysis:\n          templates: [{templateName: ratio}]\n          args:\n          - name: service\n            valueFrom: {fieldRef: {fieldPath: \"metadata.labels['app']\"}}\n";
    let tf = write(&dir, "template.yaml", t);
    let rf = write(&dir, "rollout.yaml", rollout);
    let at = (T0 + 600 * 60).to_string();
    let (code, r, err) = analyze(&[&rf, &tf, "--prometheus", &prom.url, "--at", &at]);
    // The Rollout passes service=api (0.97 < 0.98): the step's analysis would fail.
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(
        r["analyses"].as_array().unwrap().len(),
        1,
        "the template is not analysed alone: {r:#}"
    );
    let a = &r["analyses"][0];
    assert_eq!(a["object"], "Rollout/shop");
    assert_eq!(a["at"], "/spec/strategy/canary/steps/1/analysis");
    assert_eq!(
        a["metrics"][0]["query"],
        "sum(app_success_ratio{service=\"api\"})"
    );
    assert_eq!(a["metrics"][0]["measurement"]["phase"], "Failed");
    // Non-Prometheus providers are named as not run.
    assert_eq!(a["metrics"][1]["provider"], "web");
    assert!(a["metrics"][1]["not_run"].as_str().unwrap().contains("web"));

    // The human report says the same.
    let out = support::bin()
        .args(["analyze", &rf, &tf, "--prometheus", &prom.url, "--at", &at])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Rollout/shop") && text.contains("Failed") && text.contains("not run"),
        "{text}"
    );
    assert!(text.contains("would fail"), "{text}");
}

#[test]
fn a_backtest_finds_exactly_the_dips() {
    require!(support::PROMETHEUS);
    let prom = Prometheus::start(&series());
    let dir = support::TempDir::new("analyze-backtest");
    let t = write(
        &dir,
        "rate.yaml",
        &template(
            "rate",
            "sum(app_success_ratio{service=\"{{args.service}}\"})",
            "result[0] >= 0.95",
            "    interval: 1m\n    count: 5\n    failureLimit: 2\n",
        ),
    );
    let at = (T0 + DAY).to_string();
    let (code, r, err) = analyze(&[&t, "--prometheus", &prom.url, "--since", "24h", "--at", &at]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(r["mode"], "backtest");
    let b = &first_metric(&r)["backtest"];
    assert_eq!(b["method"], "query_range", "{b:#}");
    assert_eq!(b["step_seconds"], 60.0);
    let expected: Vec<Value> = DIPS
        .iter()
        .map(|m| Value::from(time(T0 + m * 60)))
        .collect();
    assert_eq!(b["failed_at"].as_array().unwrap(), &expected, "{b:#}");
    assert_eq!(b["measurements"]["failed"], 4);
    assert_eq!(b["measurements"]["successful"], 1441 - 4);
    // Five measurements, two failures tolerated: the runs started at 298, 299 and 300 see the
    // three-minute dip; the single dip at 900 is tolerated; the last four runs do not finish.
    assert_eq!(b["runs"]["started"], 1441);
    assert_eq!(b["runs"]["failed"], 3);
    assert_eq!(b["runs"]["incomplete"], 4);
    assert_eq!(b["runs"]["error"], 0);
    assert_eq!(b["first_failed_run"]["time"], time(T0 + 298 * 60).as_str());
    assert_eq!(
        b["first_failed_run"]["reason"],
        "failed (3) > failureLimit (2)"
    );
    assert_eq!(
        (b["value_min"].as_f64(), b["value_max"].as_f64()),
        (Some(0.9), Some(0.99))
    );
    let summary = b["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!(
            "would have Failed 3 times (first at {})",
            time(T0 + 298 * 60)
        )) && summary.contains("errored 0 times")
            && summary.contains("ranged 0.9-0.99 against `result[0] >= 0.95`"),
        "{summary}"
    );

    // A wrong label errors at every step: every run ends in Error after five errors in a row.
    let t = write(
        &dir,
        "wrong.yaml",
        &template(
            "wrong",
            "sum(app_success_ratio{service=\"nope\"})",
            "result[0] >= 0.95",
            "    interval: 1m\n    count: 5\n",
        ),
    );
    let (code, r, _) = analyze(&[&t, "--prometheus", &prom.url, "--since", "1h", "--at", &at]);
    assert_eq!(code, 1);
    let b = &first_metric(&r)["backtest"];
    assert_eq!(b["measurements"]["error"], 61);
    assert_eq!(b["empty_results"], 61);
    assert_eq!(b["runs"]["error"], 61 - 4, "{b:#}");
    assert_eq!(
        b["first_errored_run"]["reason"],
        "consecutiveErrors (5) > consecutiveErrorLimit (4)"
    );
}

/// RFC 3339 as the report writes it.
fn time(seconds: i64) -> String {
    rollout_guard::analyze::report::time_text(seconds * 1000)
}

/// analyze against a Prometheus that is down, with `extra` arguments: exit 2, naming the URL.
fn a_prometheus_that_is_down_exits_2_naming_the_url(extra: &[&str]) {
    let dir = support::TempDir::new("analyze-down");
    let t = write(&dir, "t.yaml", &template("t", "sum(up)", "true", ""));
    let url = prometheus::nothing_listening();
    let out = support::bin()
        .args(["analyze", &t, "--prometheus", &url])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&url) && err.to_lowercase().contains("refused"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

cases! {
    a_prometheus_that_is_down_exits_2_naming_the_url:
    a_prometheus_that_is_down_exits_2_naming_the_url_instant => (&[]),
    a_prometheus_that_is_down_exits_2_naming_the_url_backtest => (&["--since", "1h"]),
}

#[test]
fn a_missing_argument_is_a_usage_error_too() {
    let dir = support::TempDir::new("analyze-down");
    let url = prometheus::nothing_listening();
    let t = write(
        &dir,
        "needs.yaml",
        &template("n", "sum(up)", "true", "").replace("    value: web\n", ""),
    );
    let (code, r, _) = analyze(&[&t, "--prometheus", &url]);
    assert_eq!(code, 2);
    let p = &r["analyses"][0]["problem"];
    assert_eq!(p["kind"], "usage");
    assert!(
        p["message"]
            .as_str()
            .unwrap()
            .contains("--arg service=VALUE"),
        "{p:#}"
    );
}

/// A server on loopback that answers every request with `answer` (or never, when `None`).
fn fake_server(answer: Option<Vec<u8>>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                match answer {
                    Some(a) => {
                        let _ = s.write_all(&a);
                    }
                    None => std::thread::sleep(std::time::Duration::from_secs(30)),
                }
            });
        }
    });
    url
}

/// analyze against a server that answers every request with `answer` (or never): exit 2, an
/// error naming the URL and saying `expected`.
fn a_server_that_is_not_prometheus_exits_2(answer: Option<Vec<u8>>, expected: &str) {
    let dir = support::TempDir::new("analyze-fake");
    let t = write(
        &dir,
        "t.yaml",
        &template("t", "sum(up)", "true", "")
            .replace("        query:", "        timeout: 1\n        query:"),
    );
    let url = fake_server(answer);
    let out = support::bin()
        .args(["analyze", &t, "--prometheus", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{expected}: {err}");
    assert!(
        err.contains(&url) && err.contains(expected),
        "{expected}: {err}"
    );
}

fn huge_answer() -> Vec<u8> {
    let mut huge =
        b"HTTP/1.1 200 OK\r\nContent-Length: 40000000\r\nConnection: close\r\n\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b' ', 40_000_000));
    huge
}

cases! {
    a_server_that_is_not_prometheus_exits_2:
    a_bad_gateway_exits_2 => (
        Some(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 24\r\nConnection: close\r\n\r\n<html>bad gateway</html>".to_vec()),
        "HTTP 502",
    ),
    an_answer_that_is_not_json_exits_2 => (
        Some(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello".to_vec()),
        "not Prometheus's",
    ),
    an_answer_over_32_mib_exits_2 => (Some(huge_answer()), "larger than 32 MiB"),
    no_answer_exits_2_after_the_timeout => (None, "timeout of 1 s"),
}

#[test]
fn https_verifies_the_certificate_unless_insecure() {
    // `rollout-guard serve` (TLS with an ephemeral CA nobody trusts) as an HTTPS server that
    // is not Prometheus.
    let server = Serve::start(&[]);
    let url = server.url();
    let dir = support::TempDir::new("analyze-tls");
    let t = template("t", "sum(up)", "true", "");
    let verified = write(&dir, "verified.yaml", &t);
    let insecure = write(
        &dir,
        "insecure.yaml",
        &t.replace("        query:", "        insecure: true\n        query:"),
    );
    let run = |file: &str| {
        let out = support::bin()
            .args(["analyze", file, "--prometheus", &url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&verified);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&url) && err.to_lowercase().contains("certificate"),
        "{err}"
    );
    // insecure: the handshake succeeds, and the webhook answers what Prometheus would not.
    let (code, err) = run(&insecure);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&url) && err.contains("HTTP 4"), "{err}");
}

#[test]
fn headers_and_basic_auth_are_sent() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}]}}"#;
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let dir = support::TempDir::new("analyze-headers");
    let t = template("h", "sum(up{service=\"{{args.service}}\"})", "result[0] == 1", "").replace(
        "        query:",
        "        headers:\n        - key: X-Scope-OrgID\n          value: tenant-{{args.service}}\n        - key: Authorization\n          value: Bearer overridden\n        authentication:\n          basicAuth: {username: alice, password: s3cret}\n        query:",
    );
    let t = write(&dir, "h.yaml", &t);
    let (code, r, err) = analyze(&[&t, "--prometheus", &url, "--at", "1700000000"]);
    assert_eq!(code, 0, "{err}\n{r:#}");
    let request = seen.join().unwrap();
    let lower = request.to_lowercase();
    assert!(
        request.starts_with(
            "GET /api/v1/query?query=sum%28up%7Bservice%3D%22web%22%7D%29&time=1700000000 "
        ),
        "{request}"
    );
    assert!(lower.contains("x-scope-orgid: tenant-web\r\n"), "{request}");
    // alice:s3cret
    assert!(
        lower.contains("authorization: basic ywxpy2u6cznjcmv0\r\n"),
        "{request}"
    );
    assert_eq!(
        lower.matches("authorization:").count(),
        1,
        "basic authentication replaces an Authorization header: {request}"
    );
}

/// A template of several metrics (`metrics` is the YAML of the list's items), as `kind`.
fn metrics_template(kind: &str, name: &str, metrics: &str) -> String {
    format!("apiVersion: argoproj.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n  metrics:\n{metrics}")
}

/// One metric item of [`metrics_template`]: a query of the web or api ratio.
fn ratio_metric(name: &str, service: &str, conditions: &str, limits: &str) -> String {
    format!("  - name: {name}\n{conditions}{limits}    provider:\n      prometheus:\n        address: http://prometheus.invalid:9090\n        query: sum(app_success_ratio{{service=\"{service}\"}})\n")
}

#[test]
fn a_backtest_reports_the_whole_analysis_as_argo_combines_its_metrics() {
    require!(support::PROMETHEUS);
    let prom = Prometheus::start(&series());
    let dir = support::TempDir::new("analyze-analysis");
    // A ClusterAnalysisTemplate given alone. `rate` tolerates two failures in five; `streak`
    // needs three successes in a row within four measurements (failureLimit -1: reaching the
    // count without the streak is Failed, argo-rollouts #3970).
    let t = write(
        &dir,
        "cluster.yaml",
        &metrics_template(
            "ClusterAnalysisTemplate",
            "web-health",
            &[
                ratio_metric(
                    "rate",
                    "web",
                    "    successCondition: result[0] >= 0.95\n",
                    "    interval: 1m\n    count: 5\n    failureLimit: 2\n",
                ),
                ratio_metric(
                    "streak",
                    "web",
                    "    successCondition: result[0] >= 0.95\n",
                    "    interval: 1m\n    count: 4\n    failureLimit: -1\n    consecutiveSuccessLimit: 3\n",
                ),
            ]
            .concat(),
        ),
    );
    let at = (T0 + 330 * 60).to_string();
    let args = [&t, "--prometheus", &prom.url, "--since", "1h", "--at", &at];
    let (code, r, err) = analyze(&args);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let a = &r["analyses"][0];
    assert_eq!(a["object"], "ClusterAnalysisTemplate/web-health");
    let streak = &a["metrics"][1]["backtest"];
    // The dip covers minutes 300-302: streak runs started at 298-301 reach their count without
    // three successes in a row; the one at 302 gets them at 303-305.
    assert_eq!(streak["runs"]["failed"], 4, "{streak:#}");
    assert_eq!(streak["first_failed_run"]["reason"], "count (4) reached");
    // The analysis: the bad metric that completes first decides. At 298 streak fails at 301,
    // before rate does at 302; at 301 rate tolerates the dip and streak still fails.
    let b = &a["backtest"];
    assert_eq!(b["runs"]["failed"], 4, "{b:#}");
    assert_eq!(b["runs"]["error"], 0);
    assert_eq!(b["first_failed_run"]["time"], time(T0 + 298 * 60).as_str());
    assert_eq!(b["first_failed_run"]["metric"], "streak");
    let summary = b["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "started at any of 61 times in the last 1h, this analysis would have Failed 4 times (first at {}, metric streak: count (4) reached), errored 0 times",
            time(T0 + 298 * 60)
        )),
        "{summary}"
    );

    // The human report: the table, the traces, the analysis's sentence; progress on stderr.
    let out = support::bin().arg("analyze").args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let progress = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}{progress}");
    assert!(text.contains("RUNS fail/err/inc/ok/open"), "{text}");
    let phases = text
        .lines()
        .find(|l| l.trim_start().starts_with('.') && l.contains('F'))
        .unwrap_or_else(|| panic!("no phase trace: {text}"));
    assert_eq!(phases.trim().matches('F').count(), 3, "{text}");
    assert!(text.contains('▁') && text.contains('█'), "{text}");
    assert!(
        text.contains("  analysis: started at any of 61 times"),
        "{text}"
    );
    assert!(
        text.contains("would fail (backtest of the last 1h up to"),
        "{text}"
    );
    assert!(
        progress.contains("rate: 61 timestamps from") && progress.contains("streak: 61"),
        "{progress}"
    );
}

#[test]
fn inconclusive_measurements_and_runs() {
    require!(support::PROMETHEUS);
    let prom = Prometheus::start(&series());
    let dir = support::TempDir::new("analyze-inconclusive");
    // api sits at 0.97: neither a success (>= 0.98) nor a failure (< 0.5).
    let t = write(
        &dir,
        "inc.yaml",
        &metrics_template(
            "AnalysisTemplate",
            "inc",
            &ratio_metric(
                "api",
                "api",
                "    successCondition: result[0] >= 0.98\n    failureCondition: result[0] < 0.5\n",
                "    interval: 1m\n    count: 3\n    inconclusiveLimit: 1\n",
            ),
        ),
    );
    let at = (T0 + 600 * 60).to_string();
    let (code, r, err) = analyze(&[&t, "--prometheus", &prom.url, "--at", &at]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    assert_eq!(first_metric(&r)["measurement"]["phase"], "Inconclusive");
    let (code, r, _) = analyze(&[&t, "--prometheus", &prom.url, "--at", &at, "--since", "10m"]);
    assert_eq!(code, 1);
    let b = &r["analyses"][0]["backtest"];
    // Two inconclusive measurements exceed inconclusiveLimit 1; the last run sees only one.
    assert_eq!(
        (&b["runs"]["inconclusive"], &b["runs"]["incomplete"]),
        (&Value::from(10), &Value::from(1)),
        "{b:#}"
    );
    assert_eq!(
        b["first_inconclusive_run"]["reason"],
        "inconclusive (2) > inconclusiveLimit (1)"
    );
}

/// analyze with `args` and no server behind any address: the exit code, the report and stderr.
fn analyze_offline(files: &[(&str, &str)], args: &[&str]) -> (i32, Value, String) {
    let dir = support::TempDir::new("analyze-offline");
    let mut all: Vec<String> = files.iter().map(|(n, t)| write(&dir, n, t)).collect();
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let out = support::bin()
        .arg("analyze")
        .args(&all)
        .args(["--format", "json"])
        .env_remove("ARGO_ROLLOUTS_PROMETHEUS_ADDRESS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const WEB_ONLY: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: smoke}\nspec:\n  metrics:\n  - name: smoke\n    provider: {web: {url: 'http://smoke.invalid/'}}\n";

#[test]
fn nothing_that_was_not_run_passes() {
    let no_address = template("t", "sum(up)", "true", "")
        .replace("        address: http://prometheus.invalid:9090\n", "");
    let usage = |r: &Value, i: usize| -> String {
        assert_eq!(r["analyses"][i]["problem"]["kind"], "usage", "{r:#}");
        r["analyses"][i]["problem"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // No address anywhere: the controller's environment would say, analyze cannot know.
    let (code, r, err) = analyze_offline(&[("t.yaml", &no_address)], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(usage(&r, 0).contains("pass --prometheus URL or set ARGO_ROLLOUTS_PROMETHEUS_ADDRESS"));
    // Only metrics this tool does not run.
    let (code, r, _) = analyze_offline(&[("w.yaml", WEB_ONLY)], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        usage(&r, 0),
        "none of its metrics can be run here: smoke (web)"
    );
    // A Rollout with no analysis.
    let bare = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: bare}\nspec:\n  strategy:\n    canary:\n      steps: [{setWeight: 50}]\n";
    let (code, r, _) = analyze_offline(&[("r.yaml", bare)], &[]);
    assert_eq!(code, 2);
    assert!(usage(&r, 0).contains("no analysis"), "{r:#}");
    // An --arg no template declares, and a --prometheus that is no URL: usage errors up front.
    let t = template("t", "sum(up)", "true", "");
    let (code, _, err) = analyze_offline(&[("t.yaml", &t)], &["--arg", "servcie=web"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--arg servcie: no analysis in the input declares an argument \"servcie\" (declared: service)"),
        "{err}"
    );
    let (code, _, err) = analyze_offline(&[("t.yaml", &t)], &["--prometheus", "localhost:9090"]);
    assert_eq!(code, 2);
    assert!(err.contains("\"localhost:9090\" is not a URL"), "{err}");
}

#[test]
fn an_address_argo_rejects_is_an_error_and_a_failure_outranks_a_usage_problem() {
    // Argo's provider rejects an address without a scheme: every measurement errors.
    let typo = template("typo", "sum(up)", "true", "")
        .replace("http://prometheus.invalid:9090", "prometheus.invalid:9090");
    let (code, r, err) = analyze_offline(&[("typo.yaml", &typo), ("w.yaml", WEB_ONLY)], &[]);
    assert_eq!(code, 1, "{err}\n{r:#}");
    let m = &r["analyses"][0]["metrics"][0]["measurement"];
    assert_eq!(
        (&m["phase"], &m["message"]),
        (
            &Value::from("Error"),
            &Value::from("prometheus address is not is url format")
        )
    );
    assert_eq!(r["analyses"][1]["problem"]["kind"], "usage");
    assert_eq!(r["outcome"], "fail");
    // A backtest of it errors at every step, without a query.
    let (code, r, _) =
        analyze_offline(&[("typo.yaml", &typo)], &["--since", "10m", "--step", "1m"]);
    assert_eq!(code, 1);
    let b = &r["analyses"][0]["metrics"][0]["backtest"];
    assert_eq!(
        (&b["measurements"]["error"], &b["method"]),
        (&Value::from(11), &Value::from("none"))
    );
}

/// A server on loopback whose `n`th connection gets `script(n)`: an answer, or `None` to be
/// closed at once.
fn scripted_server(script: fn(usize) -> Option<String>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            if let Some(body) = script(n) {
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        }
    });
    url
}

fn one_sample() -> Option<String> {
    Some(r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}]}}"#.into())
}

fn backtest_against(script: fn(usize) -> Option<String>) -> (i32, Value, String) {
    let url = scripted_server(script);
    let t = template("t", "sum(up)", "true", "");
    analyze_offline(
        &[("t.yaml", &t)],
        &[
            "--prometheus",
            &url,
            "--since",
            "5m",
            "--step",
            "1m",
            "--at",
            "1700000000",
        ],
    )
}

#[test]
fn a_request_that_fails_mid_backtest_is_that_measurement_s_error() {
    // The range query is answered, then refused per chunk: every timestamp is queried alone.
    // The third instant query's connection is closed without an answer.
    let (code, r, err) = backtest_against(|n| match n {
        0 => Some(r#"{"status":"error","errorType":"bad_data","error":"no range here"}"#.into()),
        3 => None,
        _ => one_sample(),
    });
    assert_eq!(code, 0, "{err}\n{r:#}");
    let b = &r["analyses"][0]["metrics"][0]["backtest"];
    assert_eq!(b["measurements"]["error"], 1, "{b:#}");
    assert_eq!(b["measurements"]["successful"], 5);
    assert!(
        b["first_error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1"),
        "{b:#}"
    );
    // A server that answered, then stopped: exit 2 after three failures in a row.
    let (code, _, err) = backtest_against(|n| match n {
        0 => Some(r#"{"status":"error","errorType":"bad_data","error":"no range here"}"#.into()),
        1 => one_sample(),
        _ => None,
    });
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("then failed 3 in a row"), "{err}");
}
