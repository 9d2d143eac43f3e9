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
fn a_condition_that_crashes_the_parser_is_no_finding() {
    // `{a: -1}.a` is valid in Go's expr, which Argo runs; the Rust crate panics on it. The
    // boundary catches that: no crash, and no finding, since the condition itself is fine.
    let out = lint_stdin(&template("{a: -1}.a", "sum(x)"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", verdict(&out));
}

/// A condition that would overflow the parser is an RG104 finding saying `expected`.
fn a_condition_that_overflows_the_parser_is_a_finding(condition: String, expected: &str) {
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

cases! {
    a_condition_that_overflows_the_parser_is_a_finding:
    condition_nested_1200_deep => (nest("(", ")", 1_200), "nested 1200 deep; the limit is 64"),
    condition_nested_8800_deep_past_the_size_limit => (
        nest("(", ")", 8_800),
        "17601 bytes; the limit is 4096",
    ),
    condition_nested_brackets => (nest("[", "]", 1_000), "nested 1000 deep"),
    condition_nested_calls => (nest("len(", ")", 500), "nested 500 deep"),
    condition_nested_negations => (nest("-(", ")", 1_000), "nested 1000 deep"),
    condition_nested_ternaries => (format!("{}1", "true ? 1 : ".repeat(300)), "nested 300 deep"),
    condition_of_10000_powers => (vec!["1"; 10_000].join("**"), "the limit is 4096"),
    condition_of_100000_ors => (vec!["true"; 100_000].join("||"), "the limit is 4096"),
    condition_of_100000_sums => (vec!["1"; 100_000].join("+"), "the limit is 4096"),
    condition_chaining_1499_operators => (
        vec!["1"; 1_500].join("+"),
        "chains 1499 operators; the limit is 512",
    ),
}

/// A query that would crash the PromQL parser is an RG102 finding saying `expected`.
fn a_query_that_crashes_the_parser_is_a_finding(query: &str, expected: &str) {
    let out = lint_stdin(&template("result[0] > 1", query), &[]);
    let stdout = verdict(&out);
    assert!(
        stdout.contains("RG102") && stdout.contains(expected),
        "{query:.40}: {stdout:.2000}"
    );
}

cases! {
    a_query_that_crashes_the_parser_is_a_finding:
    query_with_an_infinite_offset => ("x offset Inf+5m", "PromQL parser failed"),
    query_nested_5000_deep => (&nest("(", ")", 5_000), "nested 5000 deep; the limit is 64"),
    query_chaining_2999_operators => (
        &vec!["x"; 3_000].join("+"),
        "chains 2999 operators; the limit is 1024",
    ),
}

/// Runs `rollout-guard ARGS` to its end; its exit code, stdout, stderr and peak RSS in MiB.
///
/// The peak is the child's VmHWM, read from /proc every 2 ms while it runs (it only grows, so
/// the last reading misses at most the last 2 ms). `ru_maxrss` from `wait4` would not do: the
/// kernel carries into it the high-water mark of the address space the child was spawned from,
/// here the test process.
fn run_measured(args: &[&str]) -> (Option<i32>, String, String, f64) {
    use std::process::Stdio;
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let poll = std::thread::spawn(move || {
        let mut peak_kib = 0.0f64;
        while let Ok(text) = std::fs::read_to_string(&status_file) {
            let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            else {
                break; // a zombie: its memory is gone
            };
            peak_kib = peak_kib.max(kib);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        peak_kib / 1024.0
    });
    let mut stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let mut out = Vec::new();
    std::io::Read::read_to_end(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let peak = poll.join().unwrap();
    let status = child.wait().unwrap();
    (
        status.code(),
        String::from_utf8_lossy(&out).into_owned(),
        err.join().unwrap(),
        peak,
    )
}

#[test]
fn an_alias_bomb_is_refused_cheaply() {
    let dir = support::TempDir::new("lint-bomb");
    let mut yaml = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
        .iter()
        .enumerate()
    {
        let prev = ["a", "b", "c", "d", "e", "f", "g", "h", "i"][i];
        yaml.push_str(&format!(
            "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    assert!(yaml.len() < 700);
    let file = dir.join("bomb.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let (code, out, err, peak) = run_measured(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("RG001") && out.contains("aliases expand to more than 50000 nodes"),
        "{out}"
    );
    eprintln!("alias bomb: peak RSS {peak:.1} MiB");
    assert!(peak < 64.0, "peak RSS {peak:.1} MiB");
}

#[test]
fn a_file_past_the_size_limit_is_named_as_such() {
    let dir = support::TempDir::new("lint-large");
    let file = dir.join("large.yaml");
    let f = std::fs::File::create(&file).unwrap();
    // Sparse: 50 MiB long without writing it.
    f.set_len(50 * 1024 * 1024).unwrap();
    let (code, out, err, peak) = run_measured(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{out}{err}");
    let both = format!("{out}{err}");
    assert!(
        both.contains(
            "large.yaml: error: the file is 50.0 MiB; rollout-guard reads inputs up to 32 MiB"
        ),
        "{both}"
    );
    assert!(!out.contains("not valid YAML") && !err.contains("not valid YAML"));
    assert!(peak < 64.0, "the file is not read: {peak:.1} MiB");
}

#[test]
fn machine_formats_are_written_without_building_the_output_in_memory() {
    let dir = support::TempDir::new("lint-sarif");
    let doc = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: t{}\nspec:\n  metrics:\n  - name: error-rate\n    interval: 1m\n    count: 5\n    successCondition: result[0] < 0.05\n    provider:\n      prometheus:\n        address: http://prometheus:9090\n        query: sum(rate(http_requests_total{code=~\"5..\"}[5m]))\n---\n";
    let text: String = (0..5_000)
        .map(|i| doc.replace("{}", &i.to_string()))
        .collect();
    let file = dir.join("many.yaml");
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();
    let mut peaks = Vec::new();
    for format in ["human", "json", "sarif"] {
        let (code, out, _, peak) = run_measured(&["lint", "--format", format, path]);
        assert_eq!(code, Some(1));
        if format != "human" {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let n = if format == "json" {
                v["findings"].as_array().unwrap().len()
            } else {
                v["runs"][0]["results"].as_array().unwrap().len()
            };
            assert_eq!(n, 10_000, "{format}");
        }
        peaks.push((format, peak, out.len()));
    }
    eprintln!("{peaks:?}");
    // Before, SARIF built its whole log as a JSON value: 2.8x the human format's peak.
    let human = peaks[0].1;
    for (format, peak, _) in &peaks[1..] {
        assert!(
            *peak < human * 1.5,
            "{format}: {peak:.1} MiB against human's {human:.1} MiB"
        );
    }
}

#[test]
fn fix_over_a_directory_with_hostile_files_fixes_the_rest_and_summarises() {
    let dir = support::TempDir::new("lint-fixdir");
    let deep = format!("{}1{}", "(".repeat(5_000), ")".repeat(5_000));
    std::fs::write(dir.join("a-hostile.yaml"), template(&deep, "sum(x)")).unwrap();
    std::fs::write(
        dir.join("b-hostile.yaml"),
        template("result[0] > 1", "x offset Inf+5m"),
    )
    .unwrap();
    let rollout = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\n  namespace: demo\nspec:\n  strategy:\n    canary:\n      canaryService: c\n      stableService: s\n";
    std::fs::write(dir.join("c-rollout.yaml"), rollout).unwrap();
    let out = bin()
        .args(["lint", "--fix", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = verdict(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rollout-guard: "), "no summary: {stderr}");
    assert!(
        stdout.contains("RG104") && stdout.contains("RG102"),
        "{stdout}"
    );
    let fixed = std::fs::read_to_string(dir.join("c-rollout.yaml")).unwrap();
    assert!(
        fixed.contains("setWeight"),
        "the good file is fixed: {fixed}"
    );
}

/// A condition whose run would build a huge value is left unjudged, quickly and within a few
/// tens of MiB: without the checker's growth bound, `len(1..100000000)` took 50 s and 7 GB.
fn a_condition_that_would_build_a_huge_value_is_not_run(condition: &str) {
    let dir = support::TempDir::new("lint-growth");
    let file = dir.join("t.yaml");
    std::fs::write(&file, template(condition, "sum(x)")).unwrap();
    let (code, stdout, stderr, peak) = run_measured(&["lint", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(peak < 100.0, "peak RSS {peak:.0} MiB for {condition}");
}

cases! {
    a_condition_that_would_build_a_huge_value_is_not_run:
    condition_with_a_range_of_10_to_the_8 => ("len(1..100000000) > 0"),
    condition_over_a_range_of_10_to_the_8 => ("all(1..100000000, {# > 0})"),
    condition_repeating_a_repeat => ("len(repeat(repeat('a', 1000000), 1000000)) > 0"),
    condition_mapping_maps_of_maps => ("len(map(result, map(result, map(result, map(result, 1))))) > 0"),
}
