//! Hostile and unusual input to `rollout-guard lint` as a process: no exit 101 (panic) or 134
//! (abort, a stack overflow), a finding or an error that names the problem, and bounded memory
//! (the child's peak RSS, VmHWM, read as it ends).

mod support;

use std::process::Output;
use support::{bin, output_with_stdin};

/// A template whose one metric has these condition and query texts (YAML single-quoted).
fn template(condition: &str, query: &str) -> String {
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {{name: t}}\nspec:\n  metrics:\n  - name: m\n    failureLimit: 1\n    interval: 1m\n    count: 3\n    successCondition: {}\n    provider:\n      prometheus:\n        address: http://prometheus:9090\n        query: {}\n",
        q(condition),
        q(query)
    )
}

fn lint_stdin(input: &str, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.arg("lint").args(args).arg("-");
    output_with_stdin(&mut cmd, input.as_bytes())
}

/// Exit 0 or 1 (a verdict), never 101 or a signal; returns stdout.
fn verdict(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status,
        &stdout[..stdout.len().min(2000)],
        &stderr[..stderr.len().min(2000)]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stdout
}

fn nest(open: &str, close: &str, n: usize) -> String {
    format!("{}1{}", open.repeat(n), close.repeat(n))
}

#[test]
fn conditions_that_crash_or_overflow_the_parser_are_findings() {
    let cases: Vec<(String, &str)> = vec![
        ("{a: -1}.a".into(), "expr parser failed"),
        (nest("(", ")", 1_200), "nested 1200 deep; the limit is 64"),
        (nest("(", ")", 8_800), "17601 bytes; the limit is 4096"),
        (nest("[", "]", 1_000), "nested 1000 deep"),
        (nest("len(", ")", 500), "nested 500 deep"),
        (nest("-(", ")", 1_000), "nested 1000 deep"),
        (format!("{}1", "true ? 1 : ".repeat(300)), "nested 300 deep"),
        (vec!["1"; 10_000].join("**"), "the limit is 4096"),
        (vec!["true"; 100_000].join("||"), "the limit is 4096"),
        (vec!["1"; 100_000].join("+"), "the limit is 4096"),
        (
            vec!["1"; 1_500].join("+"),
            "chains 1499 operators; the limit is 512",
        ),
    ];
    for (condition, expected) in cases {
        let out = lint_stdin(&template(&condition, "sum(x)"), &["--format", "json"]);
        let stdout = verdict(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let finding = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "RG104")
            .unwrap_or_else(|| panic!("no RG104 for {}: {stdout}", &condition[..40]));
        let message = finding["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
        assert_eq!(finding["pointer"], "/spec/metrics/0/successCondition");
        // The message names the problem without repeating the input.
        assert!(message.len() < 500, "{} bytes: {message}", message.len());
    }
}

#[test]
fn queries_that_crash_the_parser_are_findings() {
    for (query, expected) in [
        ("x offset Inf+5m", "PromQL parser failed"),
        (&*nest("(", ")", 5_000), "nested 5000 deep; the limit is 64"),
        (
            &*vec!["x"; 3_000].join("+"),
            "chains 2999 operators; the limit is 1024",
        ),
    ] {
        let out = lint_stdin(&template("result[0] > 1", query), &[]);
        let stdout = verdict(&out);
        assert!(
            stdout.contains("RG102") && stdout.contains(expected),
            "{query:.40}: {stdout:.2000}"
        );
    }
}
