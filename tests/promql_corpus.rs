//! RG102's PromQL checking against real queries and against Prometheus's own parser tests
//! (`../shared/corpus/promql/`, read in place).

mod support;

use rollout_guard::lang::prometheus_features::Feature;
use rollout_guard::lang::promql;
use serde_json::Value;

fn corpus(name: &str) -> Vec<Value> {
    let path = support::shared().join("corpus/promql").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("corpus lines are JSON"))
        .collect()
}

fn accepted(query: &str) -> bool {
    promql::check(query, &|_| None).is_ok()
}

#[test]
fn every_real_world_query_is_accepted() {
    require!(support::SHARED);
    let rows = corpus("realworld.jsonl");
    assert!(rows.len() > 2000);
    let rejected: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let q = r["input"].as_str()?;
            // As RG102 judges it under the default policy: the parse, then the feature flags a
            // default Prometheus leaves off.
            match promql::check(q, &|_| None).and_then(|_| promql::disabled_feature(q, &[])) {
                Ok(()) => None,
                Err(e) => Some(format!("{}: {e}\n  {q}", r["source"])),
            }
        })
        .collect();
    assert!(
        rejected.is_empty(),
        "valid queries rejected:\n{}",
        rejected.join("\n")
    );
}

/// Cases of Prometheus's parser tests that need a feature flag a default Prometheus leaves off:
/// experimental functions, duration arithmetic and extended range selectors.
fn needs_feature_flag(input: &str) -> bool {
    const EXPERIMENTAL: &[&str] = &[
        "info(",
        "limitk(",
        "limit_ratio(",
        "start()",
        "end()",
        "range()",
        "step()",
        "sort_by_label",
        "double_exponential_smoothing(",
        "holt_winters(",
        "mad_over_time(",
        "ts_of_",
        "first_over_time(",
        "anchored",
        "smoothed",
    ];
    let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    // Duration arithmetic: an operator inside a range (`[5m+1m]`) or a parenthesised offset.
    let mut inside = false;
    let mut arithmetic = false;
    for (i, b) in compact.bytes().enumerate() {
        match b {
            b'[' => inside = true,
            b']' => inside = false,
            b'+' | b'*' | b'/' | b'%' | b'^' if inside => arithmetic = true,
            b'-' if inside && i > 0 && compact.as_bytes()[i - 1] != b'[' => arithmetic = true,
            _ => {}
        }
    }
    arithmetic
        || compact.contains("[(")
        || compact.contains("offset+(")
        || compact.contains("offset(")
        || compact.contains("offset-(")
        || compact.contains("@(")
        || EXPERIMENTAL.iter().any(|k| compact.contains(k))
}

/// Where rollout-guard and Prometheus disagree, by `parse_test.go` line, and why. None today:
/// the numbers promql-parser accepted out of Go's ranges (`1e1000`, `@` timestamps beyond int64
/// milliseconds, offsets and ranges beyond int64 nanoseconds) are checked in `check::number`.
/// A wrong rejection would have to be worked around in `check::promql`, not listed.
const KNOWN_DIFFERENCES: &[(u64, &str)] = &[];

#[test]
fn agrees_with_prometheus_parser_tests() {
    require!(support::SHARED);
    let rows = corpus("parse_test.jsonl");
    let mut considered = 0;
    let mut differences = Vec::new();
    for r in &rows {
        let input = r["input"].as_str().unwrap();
        if needs_feature_flag(input) {
            continue;
        }
        considered += 1;
        let should_fail = r["fail"].as_bool().unwrap();
        if accepted(input) == should_fail {
            differences.push((r["line"].as_u64().unwrap(), input.to_string(), should_fail));
        }
    }
    let agreement = 1.0 - differences.len() as f64 / considered as f64;
    println!(
        "parse_test.jsonl: {considered} cases without feature flags, agreement {:.1}%",
        agreement * 100.0
    );
    for (line, input, should_fail) in &differences {
        println!(
            "  line {line}: Prometheus {} {input:?}",
            if *should_fail { "rejects" } else { "accepts" }
        );
    }
    assert!(agreement >= 0.95, "agreement {agreement:.3} is below 95%");
    let listed: Vec<u64> = KNOWN_DIFFERENCES.iter().map(|(l, _)| *l).collect();
    let found: Vec<u64> = differences.iter().map(|(l, ..)| *l).collect();
    assert_eq!(
        found, listed,
        "the differences changed: update KNOWN_DIFFERENCES with the reason for each"
    );
}

/// Prometheus's parser tests run with every feature flag on. The cases that need one and that
/// Prometheus accepts pass the flag check once the policy enables the flags, and are refused,
/// naming the flag, with Prometheus's defaults. (`@ start()` / `@ end()` need no flag: the
/// corpus filter above is broader than Prometheus.)
#[test]
fn feature_flag_cases_follow_the_policy() {
    require!(support::SHARED);
    const ALL: &[Feature] = &[
        Feature::PromqlExperimentalFunctions,
        Feature::PromqlDurationExpr,
        Feature::PromqlBinopFillModifiers,
    ];
    let rows = corpus("parse_test.jsonl");
    let (mut refused, mut unparsed) = (0, 0);
    let mut wrong = Vec::new();
    for r in &rows {
        let input = r["input"].as_str().unwrap();
        // Extended range selectors (`anchored`, `smoothed`) are not modelled.
        let modelled = !input.contains("anchored") && !input.contains("smoothed");
        if !needs_feature_flag(input) || r["fail"].as_bool().unwrap() || !modelled {
            continue;
        }
        if let Err(e) = promql::disabled_feature(input, ALL) {
            wrong.push(format!("refused with every flag on: {input}: {e}"));
        }
        // promql-parser 0.11 cannot parse duration expressions at all.
        if promql::check(input, &|_| None).is_err() {
            unparsed += 1;
        }
        let standard = input.contains("@ start()") || input.contains("@ end()");
        match promql::disabled_feature(input, &[]) {
            Ok(()) if standard => {}
            Err(e) if !standard && e.to_string().contains("--enable-feature=promql-") => {
                refused += 1
            }
            Err(e) => wrong.push(format!("refused: {input}: {e}")),
            Ok(()) => wrong.push(format!("accepted without its flag: {input}")),
        }
    }
    println!(
        "{refused} feature-flag cases refused by default; {unparsed} of them promql-parser cannot parse"
    );
    assert!(refused > 30, "{refused}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
