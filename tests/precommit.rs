//! The pre-commit hooks of `.pre-commit-hooks.yaml`, run by the real pre-commit (installed by
//! `.ci/tools.sh`) with `pre-commit try-repo <this checkout>` in a scratch git repository.
//!
//! pre-commit builds the hook with `cargo install --path`, a release build, and try-repo does
//! it in a fresh store every time. Here that build goes to `target/pre-commit` (under
//! `CARGO_TARGET_DIR` when set), so the dependencies are compiled once and later runs only
//! rebuild rollout-guard itself, and without optimisation (`CARGO_PROFILE_RELEASE_OPT_LEVEL=0`):
//! the hooks' behaviour is what is tested, and a cold optimised build of the dependencies took
//! most of CI's time on two cores. `PRE_COMMIT_HOME` is a scratch directory, so nothing is left
//! in the user's cache.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::TempDir;

const GOOD: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
spec:
  args:
    - name: service-name
  metrics:
    - name: success-rate
      interval: 1m
      count: 5
      failureLimit: 1
      successCondition: len(result) == 0 || result[0] >= 0.95
      provider:
        prometheus:
          address: http://prometheus.monitoring:9090
          query: |
            sum(rate(http_requests_total{service=\"{{args.service-name}}\",code!~\"5..\"}[5m]))
            / sum(rate(http_requests_total{service=\"{{args.service-name}}\"}[5m]))
";

/// A template in JSON whose metric has no `failureLimit`: RG101 on line 2.
const BAD_JSON: &str = r#"{"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "latency"},
 "spec": {"metrics": [{"name": "p99", "interval": "1m", "count": 5, "successCondition": "len(result) == 0 || result[0] < 0.5",
   "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "vector(0.1)"}}}]}}
"#;

/// The same template without `failureLimit`: RG101 at the metric, line 9 column 7.
fn bad() -> String {
    // Its own name: two templates of one name in one run are RG002.
    GOOD.replace("      failureLimit: 1\n", "").replace(
        "metadata:\n  name: success-rate\n",
        "metadata:\n  name: unlimited\n",
    )
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo().join("target"))
        .join("pre-commit")
}

/// `pre-commit ARGS` in `repo`, with the build shared and pre-commit's cache in `home`.
fn pre_commit(repo: &Path, home: &Path, args: &[&str]) -> (Output, String) {
    let exe = support::PRE_COMMIT.path();
    let out = Command::new(exe)
        .current_dir(repo)
        .args(args)
        .env("PRE_COMMIT_HOME", home)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(repo)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[test]
fn lint_hook_fails_the_bad_manifest_and_passes_the_good_one() {
    require!(support::PRE_COMMIT);
    let repo = TempDir::new("precommit-repo");
    let home = TempDir::new("precommit-home");
    git(&repo, &["init", "-q"]);
    std::fs::create_dir_all(repo.join("k8s")).unwrap();
    std::fs::write(repo.join("k8s/good.yaml"), GOOD).unwrap();
    std::fs::write(repo.join("k8s/bad.yaml"), bad()).unwrap();
    std::fs::write(repo.join("README.md"), "not a manifest\n").unwrap();
    // A manifest outside the repository, named by its absolute path.
    let outside_dir = TempDir::new("precommit-outside");
    let outside = outside_dir.join("bad.json");
    std::fs::write(&outside, BAD_JSON).unwrap();
    let checkout = support::repo().to_str().unwrap();
    let outside = outside.to_str().unwrap();

    // The files are not even staged: `--files` names them directly.
    let (out, text) = pre_commit(
        &repo,
        &home,
        &[
            "try-repo",
            checkout,
            "rollout-guard-lint",
            "--files",
            "k8s/bad.yaml",
            "k8s/good.yaml",
            "README.md",
            outside,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the hook fails: {text}");
    assert!(text.contains("- hook id: rollout-guard-lint"), "{text}");
    assert!(
        text.contains("k8s/bad.yaml:9:7: RG101 [deny] metric \"success-rate\" has no failureLimit"),
        "{text}"
    );
    assert!(
        // pre-commit passes it on relative to the repository.
        text.lines().any(|l| l.starts_with("../")
            && l.contains("rg-precommit-outside-")
            && l.contains("/bad.json:2:23: RG101 [deny] metric \"p99\" has no failureLimit")),
        "{text}"
    );
    assert!(text.contains("(missing-failure-limit)"), "{text}");
    assert!(
        !text.contains("good.yaml:"),
        "the good file has no finding: {text}"
    );
    assert!(
        !text.contains("README.md"),
        "only YAML and JSON reach the hook: {text}"
    );

    let (out, text) = pre_commit(
        &repo,
        &home,
        &[
            "try-repo",
            checkout,
            "rollout-guard-lint",
            "--files",
            "k8s/good.yaml",
        ],
    );
    assert!(out.status.success(), "the good file passes: {text}");
    assert!(text.contains("rollout-guard lint"), "{text}");
    assert!(text.contains("Passed"), "{text}");
}

#[test]
fn fix_hook_writes_the_defaults_into_the_manifest() {
    require!(support::PRE_COMMIT);
    let repo = TempDir::new("precommit-fix-repo");
    let home = TempDir::new("precommit-fix-home");
    git(&repo, &["init", "-q"]);
    let rollout =
        std::fs::read_to_string(support::repo().join("examples/rollout-without-analysis.yaml"))
            .unwrap();
    std::fs::write(repo.join("rollout.yaml"), &rollout).unwrap();
    // Staged, as in a commit: pre-commit finds a hook's edits by diffing the work tree.
    git(&repo, &["add", "rollout.yaml"]);
    let (out, text) = pre_commit(
        &repo,
        &home,
        &[
            "try-repo",
            support::repo().to_str().unwrap(),
            "rollout-guard-fix",
            "--files",
            "rollout.yaml",
        ],
    );
    // pre-commit fails a hook that changed files, so that the change is reviewed and staged.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("- hook id: rollout-guard-fix"), "{text}");
    assert!(
        text.contains("- files were modified by this hook"),
        "{text}"
    );
    assert!(
        text.contains("rollout.yaml: fixed: Rollout demo/web (canary-steps,canary-analysis)"),
        "{text}"
    );
    let fixed = std::fs::read_to_string(repo.join("rollout.yaml")).unwrap();
    // The file was edited in place: its comments are still there, the defaults were added.
    assert!(
        fixed.starts_with("# A Rollout with no canary steps"),
        "{fixed}"
    );
    assert!(
        fixed.contains("rollout-guard.io/mutated: canary-steps,canary-analysis")
            && fixed.contains("      steps:\n        - setWeight: 10\n")
            && fixed.contains("      analysis:\n        templates:\n"),
        "{fixed}"
    );
    // What the hook wrote is what the linter wants: no RG201 or RG202 left.
    let lint = support::bin()
        .args(["lint", "--format", "json"])
        .arg(repo.join("rollout.yaml"))
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(doc["findings"], serde_json::json!([]), "{fixed}");
}
