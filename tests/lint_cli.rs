//! The linter as a process: the real CLI against the shared corpus and against bad input.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{bin, TempDir};

/// `rel` in the shared corpus (for tests that `require!(support::SHARED)`).
fn shared(rel: &str) -> PathBuf {
    let p = support::shared().join(rel);
    assert!(
        p.exists(),
        "the shared corpus must be beside the checkout: {} is missing",
        p.display()
    );
    p
}

fn lint_json(args: &[&str]) -> (Value, Output) {
    let out = bin()
        .arg("lint")
        .arg("--format")
        .arg("json")
        .args(args)
        .output()
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (doc, out)
}

fn findings<'a>(doc: &'a Value, rule: &str) -> Vec<&'a Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

#[test]
fn corpus_every_prometheus_template_without_failure_limit_gets_rg101() {
    require!(support::SHARED);
    let corpus = shared("corpus");
    let (doc, out) = lint_json(&[corpus.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "the corpus holds deny findings");
    // Find the expected templates independently of the linter: every document of a template
    // kind whose Prometheus metrics lack failureLimit.
    let mut expected = Vec::new();
    let mut stack = vec![corpus.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for d in rollout_guard::manifest::parse_text(&text).documents {
                if let rollout_guard::manifest::Document::Object { object, .. } = d {
                    let metrics = object
                        .value
                        .pointer("/spec/metrics")
                        .and_then(Value::as_array);
                    let missing = metrics.is_some_and(|ms| {
                        ms.iter().any(|m| {
                            m.pointer("/provider/prometheus").is_some()
                                && m.get("failureLimit").is_none()
                        })
                    });
                    if object.kind.is_template() && missing {
                        expected.push((p.display().to_string(), object.name.clone()));
                    }
                }
            }
        }
    }
    assert!(
        expected.len() >= 4,
        "the corpus has Prometheus templates without failureLimit: {expected:?}"
    );
    let rg101 = findings(&doc, "RG101");
    for (file, name) in &expected {
        assert!(
            rg101
                .iter()
                .any(|f| f["file"] == file.as_str() && f["object"] == name.as_str()),
            "no RG101 for {name} in {file}"
        );
    }
    assert!(expected.iter().any(|(f, _)| f.contains("rollouts-demo")));
    assert!(expected
        .iter()
        .any(|(f, _)| f.contains("canary-with-metrics/analysis.yaml")));
}

#[test]
fn corpus_invalid_yaml_is_rg001_and_the_run_goes_on() {
    require!(support::SHARED);
    let corpus = shared("corpus");
    let (doc, _) = lint_json(&[corpus.to_str().unwrap()]);
    let rg001 = findings(&doc, "RG001");
    for file in [
        "traffic-management/rollout-linkerd.yaml",
        "expectedfailures/analysis-run-failfast.yaml",
    ] {
        let f = rg001
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("no RG001 for {file}"));
        assert!(f["line"].as_u64().unwrap() > 1 && f["column"].as_u64().unwrap() >= 1);
    }
    // The rest of the corpus was still linted in the same run.
    assert!(
        doc["summary"]["objects"].as_u64().unwrap() > 100,
        "{}",
        doc["summary"]
    );
    assert!(doc["summary"]["files"].as_u64().unwrap() > 200);
}

#[test]
fn corpus_walkthrough_demo_has_no_deny_finding() {
    require!(support::SHARED);
    let dir = shared("corpus/k3s-argo-rollouts/prometheus-rollouts-demo");
    let (doc, out) = lint_json(&[dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{doc}");
    assert_eq!(doc["summary"]["deny"], 0);
    assert!(doc["summary"]["objects"].as_u64().unwrap() >= 2);
}

#[test]
fn corpus_templated_limits_are_not_reported() {
    require!(support::SHARED);
    let dir = shared("corpus/argo-rollouts/test/e2e/functional");
    let (doc, _) = lint_json(&[dir.to_str().unwrap()]);
    let mut templated = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        if text.lines().any(|l| {
            let l = l.trim();
            ["failureLimit:", "count:", "interval:"]
                .iter()
                .any(|k| l.starts_with(k))
                && l.contains("{{")
        }) {
            templated.push(p.display().to_string());
        }
    }
    assert!(
        templated.iter().any(|f| f.ends_with("rollout-secret.yaml")),
        "{templated:?}"
    );
    let mut checked = 0;
    for f in doc["findings"].as_array().unwrap() {
        let rule = f["rule"].as_str().unwrap();
        let file = f["file"].as_str().unwrap();
        if !["RG101", "RG107", "RG108"].contains(&rule) || !templated.contains(&file.to_string()) {
            continue;
        }
        // The finding's metric must not be one whose limits are templated.
        let text = std::fs::read_to_string(file).unwrap();
        let object = rollout_guard::manifest::parse_text(&text)
            .documents
            .into_iter()
            .find_map(|d| match d {
                rollout_guard::manifest::Document::Object { object, .. }
                    if object.name == f["object"] =>
                {
                    Some(object)
                }
                _ => None,
            })
            .unwrap();
        let pointer = f["pointer"].as_str().unwrap();
        let metric_at: String = pointer.split('/').take(4).collect::<Vec<_>>().join("/");
        let metric = object.value.pointer(&metric_at).unwrap();
        for key in ["failureLimit", "count", "interval", "inconclusiveLimit"] {
            let v = metric.get(key).and_then(Value::as_str).unwrap_or_default();
            assert!(
                !v.contains("{{"),
                "false positive on a templated {key}: {f}"
            );
        }
        checked += 1;
    }
    println!("{checked} findings in templated files checked");
}

#[test]
fn json_format_has_the_documented_shape() {
    let (doc, out) = lint_json(&["examples/analysis-without-failure-limit.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(doc["version"], 1);
    let f = &findings(&doc, "RG101")[0];
    let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "rule",
            "name",
            "severity",
            "file",
            "line",
            "column",
            "kind",
            "namespace",
            "object",
            "pointer",
            "message",
            "help"
        ]
    );
    assert_eq!(f["name"], "missing-failure-limit");
    assert_eq!(f["severity"], "deny");
    assert_eq!(f["file"], "examples/analysis-without-failure-limit.yaml");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(12), Some(7))
    );
    assert_eq!(f["kind"], "AnalysisTemplate");
    assert_eq!(f["pointer"], "/spec/metrics/0");
    let summary: Vec<&str> = doc["summary"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(summary, ["files", "objects", "skipped", "deny", "warn"]);
}

#[test]
fn human_format_points_at_the_line() {
    let out = bin()
        .args(["lint", "examples/analysis-without-failure-limit.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("examples/analysis-without-failure-limit.yaml:12:7: RG101 [deny]"),
        "{text}"
    );
    assert!(
        text.contains("12 |     - name: error-rate\n   |       ^"),
        "{text}"
    );
    assert!(text.contains("help:"));
    assert!(!text.contains('\x1b'), "no colour when not on a terminal");
    assert!(
        text.trim_end()
            .ends_with("1 file, 1 object (0 skipped): 2 deny, 0 warn"),
        "{text}"
    );
}

#[test]
fn exit_codes() {
    let dir = TempDir::new("lint-exit");
    let warn_only = dir.join("warn.yaml");
    std::fs::write(
        &warn_only,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n",
    )
    .unwrap();
    let code = |args: &[&str]| bin().arg("lint").args(args).output().unwrap().status.code();
    let w = warn_only.to_str().unwrap();
    assert_eq!(code(&[w]), Some(0));
    assert_eq!(code(&["--strict", w]), Some(1));
    assert_eq!(code(&["examples/"]), Some(1));
    assert_eq!(code(&["--exit-zero", "examples/"]), Some(0));
    assert_eq!(code(&["no/such/path.yaml"]), Some(2));
    assert_eq!(
        bin().arg("lint").output().unwrap().status.code(),
        Some(2),
        "usage error"
    );
    assert_eq!(
        bin()
            .args(["lint", "--policy", "no/such/policy.yaml", w])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn stdin_is_read_with_dash() {
    let text = std::fs::read_to_string("examples/analysis-without-failure-limit.yaml").unwrap();
    let out = lint_stdin(&["--format", "json"], &text);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings(&doc, "RG101")[0]["file"], "<stdin>");
}

#[test]
fn unrendered_helm_template_gets_a_hint() {
    let dir = TempDir::new("lint-helm");
    let f = dir.join("rollout.yaml");
    std::fs::write(&f, "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: {{ .Values.name }}\n  labels:\n    {{- include \"labels\" . | nindent 4 }}\n").unwrap();
    let (doc, _) = lint_json(&[f.to_str().unwrap()]);
    let m = findings(&doc, "RG001")[0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(m.contains("helm template . | rollout-guard lint -"), "{m}");
}

#[test]
fn policy_file_errors_name_the_field() {
    let dir = TempDir::new("lint-policy");
    let p = dir.join("policy.yaml");
    std::fs::write(&p, "apiVersion: rollout-guard.io/v1alpha1\nkind: RolloutPolicy\nspec:\n  rules:\n    RG101: sometimes\n").unwrap();
    let out = bin()
        .args(["lint", "--policy", p.to_str().unwrap(), "examples/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.rules.RG101") && err.contains("line 5"),
        "{err}"
    );

    std::fs::write(&p, "apiVersion: rollout-guard.io/v1alpha1\nkind: RolloutPolicy\nspec:\n  rules: {RG101: warn, RG102: off}\n").unwrap();
    let (doc, out) = lint_json(&[
        "--policy",
        p.to_str().unwrap(),
        "examples/analysis-without-failure-limit.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(findings(&doc, "RG101")[0]["severity"], "warn");
    assert!(findings(&doc, "RG102").is_empty());
}

/// Bad input: each case is a clear RG001 finding or error naming the file, never a panic.
fn bad_input(name: &str, bytes: &[u8]) -> (Value, Output, String) {
    let dir = TempDir::new(&format!("lint-{name}"));
    let f = dir.join(format!("{name}.yaml"));
    std::fs::write(&f, bytes).unwrap();
    let path = f.display().to_string();
    let (doc, out) = lint_json(&[&path]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{name} panicked"
    );
    (doc, out, path)
}

fn assert_rg001(name: &str, bytes: &[u8], needle: &str) {
    let (doc, out, path) = bad_input(name, bytes);
    assert_eq!(out.status.code(), Some(1), "{name}: {doc}");
    let f = findings(&doc, "RG001");
    assert_eq!(f.len(), 1, "{name}: {doc}");
    assert_eq!(f[0]["file"], path.as_str());
    assert!(
        f[0]["message"].as_str().unwrap().contains(needle),
        "{name}: {}",
        f[0]["message"]
    );
}

#[test]
fn bad_input_empty_file() {
    let (doc, out, _) = bad_input("empty", b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(doc["summary"]["files"], 1);
    assert_eq!(doc["summary"]["objects"], 0);
}

#[test]
fn bad_input_binary_file() {
    assert_rg001(
        "binary",
        &[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0xff],
        "binary",
    );
}

#[test]
fn bad_input_non_utf8() {
    assert_rg001("latin1", b"metadata:\n  name: caf\xe9\n", "UTF-8");
}

#[test]
fn bad_input_50_mb_file() {
    let mut big = Vec::with_capacity(50 << 20);
    while big.len() < 50 << 20 {
        big.extend_from_slice(
            b"# padding padding padding padding padding padding padding padding\n",
        );
    }
    // Not a YAML error: an input past the size limit, named as such (exit 2, like an
    // unreadable file).
    let (doc, out, path) = bad_input("big", &big);
    assert_eq!(out.status.code(), Some(2), "{doc}");
    assert!(findings(&doc, "RG001").is_empty(), "{doc}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{path}: error: the file is 50.0 MiB; rollout-guard reads inputs up to 32 MiB"
        )),
        "{stderr}"
    );
}

#[test]
fn bad_input_alias_bomb() {
    let mut text = String::from(
        "a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for (i, prev) in ('b'..='i').zip('a'..) {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("{i}: &{i} [{refs}]\n"));
    }
    assert_rg001("bomb", text.as_bytes(), "alias");
}

#[test]
fn bad_input_deep_nesting() {
    let mut text = "a: ".to_string();
    text.push_str(&"[".repeat(100_000));
    text.push_str(&"]".repeat(100_000));
    assert_rg001("deep", text.as_bytes(), "deep");
}

#[test]
fn bad_input_unreadable_file_in_a_directory() {
    let dir = TempDir::new("lint-unreadable");
    std::fs::copy(
        "examples/rollout-without-analysis.yaml",
        dir.join("good.yaml"),
    )
    .unwrap();
    // A dangling link cannot be read even by root (file modes do not stop root).
    std::os::unix::fs::symlink(dir.join("gone.yaml"), dir.join("broken.yaml")).unwrap();
    let out = bin()
        .args(["lint", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("broken.yaml: error: no such file or directory"),
        "{stdout}"
    );
    assert!(
        stdout.contains("good.yaml:"),
        "the readable file is still linted: {stdout}"
    );
}

#[test]
fn rules_command_lists_the_catalog() {
    let out = bin().args(["rules", "--format", "json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), rollout_guard::rules::ALL.len());
    assert!(ids.contains(&"RG101") && ids.contains(&"RG301"));
    let human = bin().arg("rules").output().unwrap();
    assert!(String::from_utf8_lossy(&human.stdout).contains("RG102 invalid-promql [deny]"));
}

#[test]
fn readme_rule_table_matches_the_catalog() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("<!-- rules:begin -->\n")
        .expect("README has the rules:begin marker")
        + 21;
    let end = readme
        .find("<!-- rules:end -->")
        .expect("README has the rules:end marker");
    assert_eq!(
        &readme[start..end],
        rollout_guard::rules::catalog::markdown_table(),
        "regenerate with `cargo run -- rules --format markdown`"
    );
}

/// What `kubectl get rollouts,analysistemplates -o yaml` prints: one `List` document. The
/// Rollout `api` references the template `mine`, which only the List holds.
const LIST: &str = "\
apiVersion: v1
kind: List
items:
- apiVersion: argoproj.io/v1alpha1
  kind: Rollout
  metadata:
    name: web
    namespace: demo
  spec:
    strategy:
      canary:
        canaryService: web-canary
        steps:
        - setWeight: 20
        - pause: {duration: 5m}
- apiVersion: argoproj.io/v1alpha1
  kind: Rollout
  metadata:
    name: api
    namespace: demo
  spec:
    strategy:
      canary:
        analysis:
          templates:
          - templateName: mine
- apiVersion: argoproj.io/v1alpha1
  kind: AnalysisTemplate
  metadata:
    name: mine
    namespace: demo
  spec:
    metrics:
    - name: error-rate
      provider:
        prometheus:
          address: http://prom:9090
          query: sum(rate(x[5m]))
metadata:
  resourceVersion: \"\"
";

/// (rule, line, column, object, pointer) of every finding, in report order.
fn placed(doc: &Value) -> Vec<(String, u64, u64, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["object"].as_str().unwrap().to_string(),
                f["pointer"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn lint_stdin(args: &[&str], input: &str) -> Output {
    support::output_with_stdin(bin().arg("lint").args(args).arg("-"), input.as_bytes())
}

#[test]
fn list_items_are_linted_as_objects_of_their_own() {
    let want = [
        ("RG202", 12, 9, "web", "/spec/strategy/canary/analysis"),
        ("RG201", 24, 9, "api", "/spec/strategy/canary/steps"),
        ("RG103", 34, 7, "mine", "/spec/metrics/0"),
    ]
    .map(|(r, l, c, o, p)| (r.to_string(), l, c, o.to_string(), p.to_string()));
    let dir = TempDir::new("lint-list");
    let f = dir.join("list.yaml");
    std::fs::write(&f, LIST).unwrap();
    let name = f.to_str().unwrap();

    let (doc, out) = lint_json(&[name]);
    assert_eq!(out.status.code(), Some(1), "RG103 denies");
    assert_eq!(placed(&doc), want);
    assert_eq!(doc["findings"][2]["file"], name);
    assert_eq!(doc["findings"][2]["kind"], "AnalysisTemplate");
    assert_eq!(doc["summary"]["objects"], 3);
    assert_eq!(doc["summary"]["skipped"], 0);

    let out = lint_stdin(&["--format", "json"], LIST);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(placed(&doc), want);
    assert_eq!(doc["findings"][0]["file"], "<stdin>");

    // Every format places the items by their own lines.
    let text = |format: &str| {
        let out = bin()
            .args(["lint", "--format", format, name])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let human = text("human");
    assert!(
        human.contains(&format!("{name}:34:7: RG103 [deny]")),
        "{human}"
    );
    assert!(
        human.contains("34 |     - name: error-rate\n   |       ^"),
        "{human}"
    );
    assert!(human.contains("1 file, 3 objects (0 skipped): 1 deny, 2 warn"));
    let github = text("github");
    assert!(
        github.contains(&format!("::warning file={name},line=24,col=9,title=RG201")),
        "{github}"
    );
    let sarif: Value = serde_json::from_str(&text("sarif")).unwrap();
    let regions: Vec<(u64, u64)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let region = &r["locations"][0]["physicalLocation"]["region"];
            (
                region["startLine"].as_u64().unwrap(),
                region["startColumn"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(regions, [(12, 9), (24, 9), (34, 7)]);
}

#[test]
fn list_items_feed_the_template_catalog_and_the_exit_code() {
    // Without the template the List holds, `mine` is unknown: RG112.
    let without = &LIST[..LIST
        .find("- apiVersion: argoproj.io/v1alpha1\n  kind: AnalysisTemplate")
        .unwrap()];
    let out = lint_stdin(&["--format", "json"], without);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(findings(&doc, "RG112").len(), 1, "{doc}");
    assert_eq!(findings(&doc, "RG112")[0]["line"], 26);
    let doc: Value =
        serde_json::from_slice(&lint_stdin(&["--format", "json"], LIST).stdout).unwrap();
    assert!(findings(&doc, "RG112").is_empty(), "{doc}");
    // Warnings only: exit 0, or 1 with --strict, as for the same objects at the top level.
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(lint_stdin(&["--strict"], without).status.code(), Some(1));
    // A typed list is a List too.
    let typed = without.replace(
        "apiVersion: v1\nkind: List",
        "apiVersion: argoproj.io/v1alpha1\nkind: RolloutList",
    );
    let doc: Value =
        serde_json::from_slice(&lint_stdin(&["--format", "json"], &typed).stdout).unwrap();
    assert_eq!(doc["summary"]["objects"], 2);
    assert_eq!(findings(&doc, "RG201")[0]["line"], 24);
}

/// `text`, one YAML document, as an item of a block sequence (indented two columns).
fn as_item(text: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(i, l)| match (i, l.is_empty()) {
            (0, _) => format!("- {l}\n"),
            (_, true) => "\n".to_string(),
            _ => format!("  {l}\n"),
        })
        .collect()
}

#[test]
fn corpus_objects_in_a_list_get_the_findings_they_get_alone() {
    require!(support::SHARED);
    let files = [
        "corpus/rollouts-demo/examples/istio/rollout.yaml",
        "corpus/rollouts-demo/examples/istio/analysis.yaml",
        "corpus/rollouts-demo/examples/canary/canary-rollout.yaml",
        "corpus/rollouts-demo/examples/blue-green/bluegreen-rollout.yaml",
    ];
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(shared(f)).unwrap())
        .collect();
    // The same objects as separate documents of one stream, and as the items of one List.
    let dir = TempDir::new("lint-corpus-list");
    let stream = dir.join("stream.yaml");
    std::fs::write(&stream, texts.join("---\n")).unwrap();
    let mut list = String::from("apiVersion: v1\nkind: List\nitems:\n");
    let mut offsets = Vec::new();
    let (mut stream_line, mut list_line) = (1, 4);
    for t in &texts {
        assert!(!t.contains("\n---"), "one document per file");
        offsets.push((stream_line, list_line));
        list.push_str(&as_item(t));
        stream_line += t.lines().count() + 1;
        list_line += t.lines().count();
    }
    let list_file = dir.join("list.yaml");
    std::fs::write(&list_file, &list).unwrap();

    let (alone, alone_out) = lint_json(&[stream.to_str().unwrap()]);
    let (listed, listed_out) = lint_json(&[list_file.to_str().unwrap()]);
    assert_eq!(alone_out.status.code(), listed_out.status.code());
    let alone = placed(&alone);
    let listed = placed(&listed);
    assert!(
        alone.len() >= 4,
        "the corpus objects have findings: {alone:?}"
    );
    assert!(
        !alone.iter().any(|f| f.0 == "RG112"),
        "istio-success-rate resolves: {alone:?}"
    );
    // Same rules, objects and pointers; each line moved to where its item sits in the List,
    // two columns in.
    let moved: Vec<_> = alone
        .iter()
        .map(|(rule, line, column, object, pointer)| {
            let (s, l) = offsets
                .iter()
                .rev()
                .find(|(s, _)| *s as u64 <= *line)
                .unwrap();
            let line = line - *s as u64 + *l as u64;
            (
                rule.clone(),
                line,
                column + 2,
                object.clone(),
                pointer.clone(),
            )
        })
        .collect();
    assert_eq!(listed, moved);
}
