//! `lint --format sarif` and `--format github` as a process. The SARIF logs are checked by two
//! real validators: the SARIF 2.1.0 JSON schema (from Microsoft's SARIF SDK package) with the
//! `jsonschema` crate, and Microsoft's `Sarif.Multitool validate` with GitHub's ingestion rules.
//! `.ci/tools.sh` installs both from npm.

mod support;

use rollout_guard::rules;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{bin, output_with_stdin, repo, TempDir};

/// Runs `rollout-guard lint --format FORMAT ARGS` in `dir`, with `stdin` on standard input.
fn lint(dir: &Path, format: &str, args: &[&str], stdin: &[u8]) -> Output {
    output_with_stdin(
        bin()
            .current_dir(dir)
            .args(["lint", "--format", format])
            .args(args),
        stdin,
    )
}

fn sarif(dir: &Path, args: &[&str], stdin: &[u8]) -> (Value, Output) {
    let out = lint(dir, "sarif", args, stdin);
    let log = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (log, out)
}

const BAD_TEMPLATE: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
  namespace: shop
spec:
  metrics:
    - name: errors
      interval: 1m
      count: 5
      successCondition: len(result) == 0 || result[0] < 0.05
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: sum(rate(http_requests_total{code=~\"5..\"}[5m])
";

const BARE_ROLLOUT: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
  strategy:
    canary: {}
";

/// A directory holding a bad template under a name that needs percent-encoding, a file that is
/// not YAML, and a clean file.
fn sample_tree() -> TempDir {
    let dir = TempDir::new("sarif");
    std::fs::create_dir_all(dir.join("k8s/team a")).unwrap();
    std::fs::write(dir.join("k8s/team a/rate: 5%, #ü.yaml"), BAD_TEMPLATE).unwrap();
    std::fs::write(dir.join("k8s/broken.yaml"), "kind: [unclosed\n").unwrap();
    std::fs::write(
        dir.join("k8s/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    dir
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().unwrap()
}

fn result_for<'a>(log: &'a Value, rule: &str) -> &'a Value {
    results(log)
        .iter()
        .find(|r| r["ruleId"] == rule)
        .unwrap_or_else(|| panic!("no {rule} result in {log:#}"))
}

#[test]
fn sarif_carries_the_catalog_and_located_results() {
    let dir = sample_tree();
    let (log, out) = sarif(
        &dir,
        &["k8s", "-", "k8s/missing.yaml"],
        BARE_ROLLOUT.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2), "an unreadable path exits 2");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];

    // The driver lists the whole catalog, in order, with its texts and default levels.
    let driver_rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(driver_rules.len(), rules::ALL.len());
    for (d, r) in driver_rules.iter().zip(rules::ALL) {
        assert_eq!(d["id"], r.id);
        assert_eq!(d["name"], r.name);
        assert_eq!(d["shortDescription"]["text"], r.summary);
        assert_eq!(d["fullDescription"]["text"], r.doc);
        assert_eq!(d["help"]["text"], r.help);
        let level = match r.severity {
            rules::Severity::Deny => "error",
            rules::Severity::Warn => "warning",
        };
        assert_eq!(d["defaultConfiguration"]["level"], level, "{}", r.id);
    }
    // Every result points at its rule by id and by index.
    for r in results(&log) {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(driver_rules[i]["id"], r["ruleId"]);
    }

    // The bad template: percent-encoded relative URI, 1-based region, the query's extent.
    let rg101 = result_for(&log, "RG101");
    assert_eq!(rg101["level"], "error");
    let loc = &rg101["locations"][0]["physicalLocation"];
    assert_eq!(
        loc["artifactLocation"]["uri"],
        "k8s/team%20a/rate%3A%205%25%2C%20%23%C3%BC.yaml"
    );
    assert_eq!(loc["artifactLocation"]["uriBaseId"], "%SRCROOT%");
    assert_eq!(loc["region"]["startLine"], 8);
    assert_eq!(loc["region"]["startColumn"], 7);
    assert!(rg101["message"]["text"]
        .as_str()
        .unwrap()
        .contains("no failureLimit"));
    let rg102 = &result_for(&log, "RG102")["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (
            &rg102["startLine"],
            &rg102["startColumn"],
            &rg102["endLine"],
            &rg102["endColumn"]
        ),
        (&15.into(), &18.into(), &15.into(), &64.into()),
        "the region covers the query scalar"
    );
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        format!("file://{}/", dir.canonicalize().unwrap().display())
    );

    // The file that is not YAML is an RG001 result at the parser's position.
    let rg001 = result_for(&log, "RG001");
    let loc = &rg001["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "k8s/broken.yaml");
    assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);

    // Standard input has a relative URI of its own and warning-level results.
    let rg201 = result_for(&log, "RG201");
    assert_eq!(rg201["level"], "warning");
    let art = &rg201["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(art["uri"], "%3Cstdin%3E");
    assert!(art.get("uriBaseId").is_none());

    // The unreadable path is a notification, and the invocation did not succeed.
    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let note = &invocation["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "error");
    assert_eq!(
        note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "k8s/missing.yaml"
    );
    assert!(note["message"]["text"]
        .as_str()
        .unwrap()
        .contains("no such file"));
}

#[test]
fn sarif_paths_outside_the_directory_are_absolute_file_uris() {
    let dir = sample_tree();
    let elsewhere = TempDir::new("sarif-cwd");
    let file = dir.join("k8s/team a/rate: 5%, #ü.yaml");
    let (log, _) = sarif(&elsewhere, &[file.to_str().unwrap()], b"");
    let uri = result_for(&log, "RG101")["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uri.starts_with("file:///"), "{uri}");
    assert!(
        uri.ends_with("/k8s/team%20a/rate%3A%205%25%2C%20%23%C3%BC.yaml"),
        "{uri}"
    );
}

#[test]
fn sarif_output_is_deterministic() {
    let dir = sample_tree();
    let run = || lint(&dir, "sarif", &["k8s", "-"], BARE_ROLLOUT.as_bytes()).stdout;
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run());
}

/// The errors the SARIF 2.1.0 schema finds in `log`.
fn schema_errors(log: &Value) -> Vec<String> {
    let path = support::SARIF_SCHEMA.path();
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        schema["title"]
            .as_str()
            .is_some_and(|t| t.contains("SARIF") && t.contains("2.1.0")),
        "{} is not the SARIF 2.1.0 schema",
        path.display()
    );
    // The schema's references are all inside it, so nothing is fetched.
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles");
    validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The errors and warnings `Sarif.Multitool validate` reports for the log files, with the one
/// warning that is expected: no `informationUri`, as the project has no public home yet.
fn multitool_findings(files: &[&Path]) -> Vec<String> {
    let multitool = support::SARIF_MULTITOOL.path();
    let out_dir = TempDir::new("sarif-validate");
    let report = out_dir.join("validation.sarif");
    let config = repo().join("tests/sarif/multitool.config.xml");
    let out = Command::new(&multitool)
        .arg("validate")
        .args(files)
        .args(["--rule-kind", "Sarif;Gh", "--log", "ForceOverwrite"])
        .arg("--config")
        .arg(&config)
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.exists(),
        "Sarif.Multitool validate failed to run: {text}"
    );
    let validation: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let run = &validation["runs"][0];
    // A validation rule that threw is reported as an error execution notification. (The one
    // configuration notification, a warning, says the URI-fetching rule is off.)
    let broken: Vec<&Value> = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["level"] == "error")
        .collect();
    assert!(broken.is_empty(), "the validator failed: {broken:#?}");
    run["results"]
        .as_array()
        .unwrap()
        .iter()
        // A result without a level is a warning (SARIF's default).
        .filter(|r| r["level"] != "note" && r["level"] != "none")
        .filter(|r| r["ruleId"] != "SARIF2005")
        .map(|r| format!("{} {}: {}", r["ruleId"], r["level"], r["message"]))
        .collect()
}

#[test]
fn sarif_passes_the_schema_and_the_multitool() {
    require!(
        support::SARIF_SCHEMA,
        support::SARIF_MULTITOOL,
        support::SHARED
    );
    // Everything the format can hold: deny and warn results, a parse error, stdin, an
    // unreadable path, names needing encoding; and the whole shared corpus.
    let dir = sample_tree();
    let (sample, _) = sarif(
        &dir,
        &["k8s", "-", "k8s/missing.yaml"],
        BARE_ROLLOUT.as_bytes(),
    );
    let shared = support::shared();
    let (corpus, _) = sarif(&shared, &["corpus"], b"");
    assert!(results(&corpus).len() > 50, "the corpus gives many results");

    for (name, log) in [("sample", &sample), ("corpus", &corpus)] {
        let errors = schema_errors(log);
        assert!(errors.is_empty(), "{name}: schema errors: {errors:#?}");
    }
    let out = TempDir::new("sarif-logs");
    let files: Vec<PathBuf> = [("sample", &sample), ("corpus", &corpus)]
        .iter()
        .map(|(name, log)| {
            let p = out.join(format!("{name}.sarif"));
            std::fs::write(&p, serde_json::to_vec_pretty(log).unwrap()).unwrap();
            p
        })
        .collect();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let findings = multitool_findings(&paths);
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn validators_reject_a_broken_log() {
    require!(support::SARIF_SCHEMA, support::SARIF_MULTITOOL);
    // The same checks on a log with a bad level, a zero line and an absolute URI must fail, or
    // the passing test above proves nothing.
    let dir = sample_tree();
    let (mut log, _) = sarif(&dir, &["k8s"], b"");
    let result = &mut log["runs"][0]["results"][0];
    result["level"] = "deny".into();
    result["locations"][0]["physicalLocation"]["region"]["startLine"] = 0.into();
    let errors = schema_errors(&log);
    assert!(
        errors
            .iter()
            .any(|e| e.ends_with(" at /runs/0/results/0/level"))
            && errors.iter().any(|e| {
                e.ends_with(" at /runs/0/results/0/locations/0/physicalLocation/region/startLine")
            }),
        "{errors:#?}"
    );
    let mut log = sarif(&dir, &["k8s"], b"").0;
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] =
        serde_json::json!({"uri": "file:///somewhere/else.yaml"});
    let broken = TempDir::new("sarif-broken");
    let p = broken.join("broken.sarif");
    std::fs::write(&p, serde_json::to_vec_pretty(&log).unwrap()).unwrap();
    let findings = multitool_findings(&[&p]);
    assert!(
        findings.iter().any(|f| f.starts_with("\"GH1006\"")),
        "{findings:#?}"
    );
}

#[test]
fn github_format_is_one_workflow_command_per_finding() {
    let dir = sample_tree();
    let out = lint(
        &dir,
        "github",
        &["k8s", "-", "k8s/missing.yaml"],
        BARE_ROLLOUT.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Properties escape `:` and `,`; the message escapes `%` and newlines only.
    assert!(
        lines.contains(
            &"::error file=k8s/team a/rate%3A 5%25%2C #ü.yaml,line=8,col=7,title=RG101 missing-failure-limit::metric \"errors\" has no failureLimit: Argo defaults it to 0, so one failed measurement aborts the rollout"
        ),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "::error file=k8s/broken.yaml,line=2,col=1,title=RG001 invalid-yaml::not valid YAML: "
        )),
        "{text}"
    );
    assert!(
        lines.contains(&"::warning title=RG201 missing-canary-steps::<stdin>:10:13: the canary has no steps: the policy's default steps are injected"),
        "{text}"
    );
    assert!(
        lines.contains(&"::error file=k8s/missing.yaml,title=unreadable::cannot read k8s/missing.yaml: no such file or directory"),
        "{text}"
    );
    for l in &lines {
        assert!(
            l.starts_with("::error ") || l.starts_with("::warning "),
            "{l}"
        );
        let (props, message) = l[2..].split_once("::").unwrap();
        assert!(!message.contains('\n') && !message.contains('\r'));
        for prop in props.split_once(' ').unwrap().1.split(',') {
            let (_, value) = prop.split_once('=').unwrap();
            assert!(!value.contains(':'), "unescaped ':' in {l}");
        }
    }
}
