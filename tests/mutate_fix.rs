//! Mutation end to end: `rollout-guard mutate` and `lint --fix`/`--diff` as processes, over a
//! table of Rollout shapes, multi-document files with comments, and bad input; plus a property
//! test over generated Rollout shapes through the library.

mod support;

use rollout_guard::engine::Context;
use rollout_guard::fix;
use rollout_guard::lookup::Lookup;
use rollout_guard::manifest::yaml;
use rollout_guard::mutation;
use rollout_guard::policy::Policy;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{bin, TempDir};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

/// `rollout-guard ARGS` with `input` on stdin.
fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    support::output_with_stdin(bin().args(args), input)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fix")
        .join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every document of a YAML stream as JSON.
fn documents(text: &str) -> Vec<Value> {
    yaml::parse_stream(text)
        .unwrap()
        .iter()
        .filter_map(|d| d.root.as_ref().map(yaml::to_json))
        .collect()
}

/// `mutate --patch` lines by object name.
fn patches(path: &Path) -> BTreeMap<String, Value> {
    let out = run(&["mutate", "--patch", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            assert_eq!(v["file"], path.to_str().unwrap());
            assert_eq!(v["kind"], "Rollout");
            (v["name"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn steps() -> Value {
    json!([{"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 33},
           {"pause": {"duration": "1m"}}, {"setWeight": 66}, {"pause": {"duration": "1m"}}])
}

fn template() -> Value {
    json!({"templateName": "success-rate-nginx", "clusterScope": true})
}

fn service(value: &str) -> Value {
    json!({"name": "service-name", "value": value})
}

fn service_from_name() -> Value {
    json!({"name": "service-name", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
}

fn namespace() -> Value {
    json!({"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}})
}

fn annotations(label: &str) -> Value {
    json!({"op": "add", "path": "/metadata/annotations", "value": {"rollout-guard.io/mutated": label}})
}

fn add(path: &str, value: Value) -> Value {
    json!({"op": "add", "path": path, "value": value})
}

#[test]
fn every_rollout_shape_gets_its_expected_patch() {
    const C: &str = "/spec/strategy/canary";
    let fresh_canary = json!({
        "steps": steps(),
        "analysis": {"templates": [template()], "args": [service_from_name(), namespace()], "startingStep": 1}
    });
    let expected: Vec<(&str, Option<Value>)> = vec![
        (
            "no-strategy",
            Some(json!([
                add("/spec/strategy", json!({"canary": fresh_canary})),
                annotations("canary-strategy")
            ])),
        ),
        (
            "canary-without-steps",
            Some(json!([
                add(&format!("{C}/steps"), steps()),
                annotations("canary-steps")
            ])),
        ),
        (
            "steps-without-analysis",
            Some(json!([
                add(
                    &format!("{C}/analysis"),
                    json!({"templates": [template()], "args": [service("swa-canary"), namespace()], "startingStep": 1})
                ),
                annotations("canary-analysis")
            ])),
        ),
        ("analysis-in-a-step", None),
        ("background-analysis", None),
        (
            "blue-green-without-analysis",
            Some(json!([
                add(
                    "/spec/strategy/blueGreen/prePromotionAnalysis",
                    json!({"templates": [template()], "args": [service("bg-preview"), namespace()]})
                ),
                annotations("prepromotion-analysis")
            ])),
        ),
        ("blue-green-with-analysis", None),
        (
            "workload-ref",
            Some(json!([
                add(&format!("{C}/steps"), steps()),
                add(
                    &format!("{C}/analysis"),
                    json!({"templates": [template()], "args": [service("shop-canary"), namespace()], "startingStep": 1})
                ),
                annotations("canary-steps,canary-analysis")
            ])),
        ),
        (
            // One step: startingStep 1 would name no step, so it is left out.
            "templated-fields",
            Some(json!([
                add(
                    &format!("{C}/analysis"),
                    json!({"templates": [template()], "args": [service("{{ .Release.Name }}-canary"), namespace()]})
                ),
                add(
                    "/metadata/annotations/rollout-guard.io~1mutated",
                    json!("canary-analysis")
                )
            ])),
        ),
        (
            "flow-style",
            Some(json!([
                add(
                    &format!("{C}/analysis"),
                    json!({"templates": [template()], "args": [service_from_name(), namespace()]})
                ),
                annotations("canary-analysis")
            ])),
        ),
        (
            "comments-everywhere",
            Some(json!([
                add(&format!("{C}/steps"), steps()),
                add(
                    &format!("{C}/analysis"),
                    json!({"templates": [template()], "args": [service("ce-canary"), namespace()], "startingStep": 1})
                ),
                annotations("canary-steps,canary-analysis")
            ])),
        ),
        (
            "empty-analysis",
            Some(json!([
                add(&format!("{C}/analysis/templates"), json!([template()])),
                add(
                    &format!("{C}/analysis/args"),
                    json!([service_from_name(), namespace()])
                ),
                add(&format!("{C}/analysis/startingStep"), json!(1)),
                annotations("canary-analysis")
            ])),
        ),
        ("empty-lists", {
            let mut ops: Vec<Value> = steps()
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, s)| add(&format!("{C}/steps/{i}"), s.clone()))
                .collect();
            ops.push(add(&format!("{C}/analysis/templates/0"), template()));
            ops.push(add(&format!("{C}/analysis/args/1"), namespace()));
            ops.push(add(&format!("{C}/analysis/startingStep"), json!(1)));
            ops.push(annotations("canary-steps,canary-analysis"));
            Some(Value::Array(ops))
        }),
        (
            "empty-strategy",
            Some(json!([
                add(C, fresh_canary),
                annotations("canary-strategy")
            ])),
        ),
        ("ignored", None),
    ];
    let got = patches(&fixture("shapes.yaml"));
    for (name, want) in &expected {
        match want {
            Some(patch) => {
                let line = got.get(*name).unwrap_or_else(|| panic!("{name}: no patch"));
                assert_eq!(&line["patch"], patch, "{name}");
            }
            None => assert!(!got.contains_key(*name), "{name}: {:?}", got.get(*name)),
        }
    }
    assert_eq!(
        got.len(),
        expected.iter().filter(|(_, p)| p.is_some()).count()
    );
    assert_eq!(got["workload-ref"]["namespace"], "shop");
}

/// `mutate FIXTURE` prints `FIXTURE.fixed.yaml` exactly.
fn mutate_prints_every_document_keeping_the_text(name: &str) {
    let out = run(&["mutate", fixture(&format!("{name}.yaml")).to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = fs::read(fixture(&format!("{name}.fixed.yaml"))).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&want),
        "{name}"
    );
}

cases! {
    mutate_prints_every_document_keeping_the_text:
    mutate_prints_every_document_keeping_the_text_shapes => ("shapes"),
    mutate_prints_every_document_keeping_the_text_stream => ("stream"),
    mutate_prints_every_document_keeping_the_text_odd => ("odd"),
    mutate_prints_every_document_keeping_the_text_list => ("list"),
}

/// Each object of `after` is its counterpart in `before` with the `mutate --patch` line of the
/// same name applied (key order included), or unchanged when it has none.
fn assert_each_is_its_patch_applied(
    before: &[Value],
    after: &[Value],
    by_name: &BTreeMap<String, Value>,
) {
    for (b, a) in before.iter().zip(after) {
        let name = b.pointer("/metadata/name").and_then(Value::as_str);
        let expected = match name.and_then(|n| by_name.get(n)) {
            Some(line) if b["kind"] == "Rollout" => {
                let patch: Vec<json_patch::PatchOperation> =
                    serde_json::from_value(line["patch"].clone()).unwrap();
                mutation::apply(b, &patch).unwrap()
            }
            _ => b.clone(),
        };
        assert_eq!(
            serde_json::to_string(a).unwrap(),
            serde_json::to_string(&expected).unwrap(),
            "{name:?}"
        );
    }
}

/// `mutate FIXTURE` is `FIXTURE` with its `mutate --patch` lines applied.
fn mutate_output_equals_the_patch_applied_to_the_input(name: &str) {
    let input = fs::read_to_string(fixture(&format!("{name}.yaml"))).unwrap();
    let mutated = run(&["mutate", fixture(&format!("{name}.yaml")).to_str().unwrap()]);
    let by_name = patches(&fixture(&format!("{name}.yaml")));
    let before = documents(&input);
    let after = documents(&String::from_utf8(mutated.stdout).unwrap());
    assert_eq!(before.len(), after.len());
    assert_each_is_its_patch_applied(&before, &after, &by_name);
}

cases! {
    mutate_output_equals_the_patch_applied_to_the_input:
    mutate_output_equals_the_patch_applied_to_the_input_shapes => ("shapes"),
    mutate_output_equals_the_patch_applied_to_the_input_stream => ("stream"),
    mutate_output_equals_the_patch_applied_to_the_input_odd => ("odd"),
}

#[test]
fn mutate_of_a_list_patches_each_item_as_its_own_object() {
    let input = fs::read_to_string(fixture("list.yaml")).unwrap();
    let by_name = patches(&fixture("list.yaml"));
    assert_eq!(by_name.keys().collect::<Vec<_>>(), ["api", "web"]);
    // The patches are the items' own, relative to the object as the webhook would send them.
    assert_eq!(
        by_name["api"]["patch"][0]["path"],
        "/spec/strategy/blueGreen/prePromotionAnalysis"
    );
    let out = run_stdin(&["mutate", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let before = documents(&input);
    let after = documents(&String::from_utf8(out.stdout).unwrap());
    assert_eq!((before.len(), after.len()), (1, 1), "still one List");
    let (before, after) = (&before[0]["items"], &after[0]["items"]);
    assert_eq!(after.as_array().unwrap().len(), 4);
    assert_each_is_its_patch_applied(
        before.as_array().unwrap(),
        after.as_array().unwrap(),
        &by_name,
    );
    let mutated = after[0]["metadata"]["annotations"]["rollout-guard.io/mutated"].clone();
    assert_eq!(mutated, "canary-analysis");
}

#[test]
fn mutate_without_rollouts_prints_the_input_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for rel in [
        "policies/success-rate-nginx.yaml",
        "policies/default.yaml",
        "examples/analysis-without-failure-limit.yaml",
    ] {
        let out = run(&["mutate", root.join(rel).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, fs::read(root.join(rel)).unwrap(), "{rel}");
        let out = run(&["mutate", "--patch", root.join(rel).to_str().unwrap()]);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn mutate_reads_stdin() {
    let input = fs::read(fixture("stream.yaml")).unwrap();
    let out = run_stdin(&["mutate", "-"], &input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, fs::read(fixture("stream.fixed.yaml")).unwrap());
}

#[test]
fn mutate_refuses_invalid_yaml_with_its_line() {
    let dir = TempDir::new("fix-mutate-bad");
    let f = dir.join("bad.yaml");
    fs::write(&f, "kind: Rollout\nspec: [\n").unwrap();
    let out = run(&["mutate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad.yaml:3"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

fn mtime(p: &Path) -> std::time::SystemTime {
    fs::metadata(p).unwrap().modified().unwrap()
}

fn rules_found(path: &Path) -> Vec<String> {
    let out = run(&["lint", "--format", "json", path.to_str().unwrap()]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// `lint --fix` on a copy of FIXTURE writes `FIXTURE.fixed.yaml`, and a second run leaves the
/// file alone.
fn fix_writes_exactly_the_mutations_and_then_leaves_the_file_alone(name: &str) {
    let dir = TempDir::new("fix-fix");
    let f = dir.join(format!("{name}.yaml"));
    fs::copy(fixture(&format!("{name}.yaml")), &f).unwrap();
    assert!(rules_found(&f).iter().any(|r| r == "RG201" || r == "RG202"));
    let out = run(&["lint", "--fix", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1 file fixed, 0 refused"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        fs::read(&f).unwrap(),
        fs::read(fixture(&format!("{name}.fixed.yaml"))).unwrap(),
        "{name}"
    );
    let found = rules_found(&f);
    assert!(
        !found.iter().any(|r| r == "RG201" || r == "RG202"),
        "{found:?}"
    );
    // Fixed once, nothing more to do: the file is not written again.
    let before = mtime(&f);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = run(&["lint", "--fix", f.to_str().unwrap()]);
    assert!(stderr(&out).contains("0 files fixed, 0 refused, 1 unchanged"));
    assert_eq!(mtime(&f), before);
}

cases! {
    fix_writes_exactly_the_mutations_and_then_leaves_the_file_alone:
    fix_writes_exactly_the_mutations_and_then_leaves_the_file_alone_shapes => ("shapes"),
    fix_writes_exactly_the_mutations_and_then_leaves_the_file_alone_stream => ("stream"),
    fix_writes_exactly_the_mutations_and_then_leaves_the_file_alone_odd => ("odd"),
    fix_writes_exactly_the_mutations_and_then_leaves_the_file_alone_list => ("list"),
}

#[test]
fn fix_keeps_permissions_and_leaves_clean_files_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("fix-perm");
    let dirty = dir.join("dirty.yaml");
    let clean = dir.join("clean.yaml");
    fs::copy(fixture("stream.yaml"), &dirty).unwrap();
    fs::copy(fixture("stream.fixed.yaml"), &clean).unwrap();
    fs::set_permissions(&dirty, fs::Permissions::from_mode(0o640)).unwrap();
    let clean_mtime = mtime(&clean);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = run(&["lint", "--fix", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 file fixed, 0 refused, 1 unchanged"));
    assert_eq!(
        fs::metadata(&dirty).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(mtime(&clean), clean_mtime);
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 2, "no temp file left");
}

#[test]
fn diff_prints_a_unified_diff_and_writes_nothing() {
    // patch(1) checks the diff applies.
    let patch = require!(support::PATCH);
    let dir = TempDir::new("fix-diff");
    let f = dir.join("stream.yaml");
    fs::copy(fixture("stream.yaml"), &f).unwrap();
    let before = mtime(&f);
    let out = run(&["lint", "--diff", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a file would change");
    let diff = String::from_utf8(out.stdout).unwrap();
    let name = f.to_str().unwrap();
    assert!(
        diff.starts_with(&format!("--- {name}\n+++ {name}\n@@ ")),
        "{diff}"
    );
    assert!(diff.contains("\n+    rollout-guard.io/mutated: canary-analysis\n"));
    assert!(diff.contains("\n+          - templateName: success-rate-nginx\n"));
    assert_eq!(
        fs::read(&f).unwrap(),
        fs::read(fixture("stream.yaml")).unwrap()
    );
    assert_eq!(mtime(&f), before);
    // The diff applies with patch(1) and gives what --fix writes.
    let mut child = Command::new(patch)
        .args(["-s", "-p0", "-d", "/"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let absolute = diff.replace(&format!(" {name}\n"), &format!(" {}\n", &name[1..]));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(absolute.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        fs::read(&f).unwrap(),
        fs::read(fixture("stream.fixed.yaml")).unwrap()
    );
    let out = run(&["lint", "--diff", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

/// Runs `lint --fix` on a file that must be refused, and checks it is intact.
fn assert_refused(path: &Path, want_in_message: &str) -> String {
    let before = fs::read(path).unwrap();
    let out = run(&["lint", "--fix", path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_ne!(
        out.status.code(),
        Some(2),
        "a refused fix is not unreadable: {err}"
    );
    assert!(err.contains("cannot fix"), "{err}");
    assert!(err.contains(want_in_message), "{err}");
    assert!(err.contains("0 files fixed, 1 refused"), "{err}");
    assert!(!err.contains("unreadable"), "{err}");
    assert_eq!(fs::read(path).unwrap(), before, "the file is intact");
    err
}

#[test]
fn fix_refuses_invalid_yaml() {
    let dir = TempDir::new("fix-invalid");
    let f = dir.join("bad.yaml");
    let text = fs::read_to_string(fixture("stream.yaml")).unwrap() + "---\nkind: [\n";
    fs::write(&f, text).unwrap();
    let err = assert_refused(&f, "not valid YAML");
    assert!(err.contains("bad.yaml:97"), "{err}");
}

#[test]
fn fix_refuses_a_read_only_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("fix-readonly");
    let f = dir.join("ro.yaml");
    fs::copy(fixture("stream.yaml"), &f).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
    assert_refused(&f, "read-only");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn fix_refuses_a_symlink_and_keeps_the_link() {
    let dir = TempDir::new("fix-symlink");
    let target = dir.join("target.yaml");
    let link = dir.join("link.yaml");
    fs::copy(fixture("stream.yaml"), &target).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert_refused(&link, "symlink");
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::read(&target).unwrap(),
        fs::read(fixture("stream.yaml")).unwrap()
    );
}

#[test]
fn fix_refuses_anchors_on_the_edited_path() {
    let dir = TempDir::new("fix-anchor");
    let f = dir.join("anchor.yaml");
    fs::write(
        &f,
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: a}\nspec:\n  strategy: &s\n    canary: {canaryService: c}\n",
    )
    .unwrap();
    let err = assert_refused(&f, "anchor");
    assert!(err.contains("anchor.yaml:5"), "{err}");
    // mutate still prints the mutated object, re-serialised, and says so.
    let out = run(&["mutate", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("re-serialised"));
    let docs = documents(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        docs[0].pointer("/spec/strategy/canary/analysis/args/0/value"),
        Some(&json!("c"))
    );
}

#[test]
fn fix_does_not_overwrite_a_file_that_changed_since_it_was_read() {
    let dir = TempDir::new("fix-changed");
    let f = dir.join("changing.yaml");
    let original = fs::read(fixture("stream.yaml")).unwrap();
    fs::write(&f, &original).unwrap();
    let policy = Policy::embedded();
    let lookup = Lookup::default();
    let ctx = Context {
        policy: &policy,
        lookup: &lookup,
    };
    let fixed = mutation::source::mutate_source(&original, &ctx, "")
        .unwrap()
        .text
        .unwrap();
    // Someone saves the file between the read and the write.
    fs::write(&f, "edited meanwhile\n").unwrap();
    let err = fix::write::replace_file(&f, &original, fixed.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("changed on disk"), "{err}");
    assert_eq!(fs::read(&f).unwrap(), b"edited meanwhile\n");
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn fix_of_stdin_is_refused_and_points_to_mutate() {
    let out = run_stdin(
        &["lint", "--fix", "-"],
        &fs::read(fixture("stream.yaml")).unwrap(),
    );
    assert!(
        stderr(&out).contains("rollout-guard mutate -"),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn every_shipped_template_lints_clean() {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let out = run(&[
        "lint",
        "--format",
        "json",
        "--strict",
        policies.to_str().unwrap(),
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["findings"], json!([]), "{doc}");
    assert_eq!(out.status.code(), Some(0));
    let names: Vec<_> = fs::read_dir(&policies)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("success-rate-"))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

// ---- Property: over generated Rollout shapes, the patch applied equals `mutate`'s output,
// nothing the manifest sets is replaced or reordered, the text edit reads back as the patched
// object, and mutating again changes nothing.

/// A small deterministic generator: every combination of a few choices per field.
fn generated_rollouts() -> Vec<String> {
    let metadata = [
        "metadata:\n  name: g\n",
        "metadata: {name: g, namespace: n}\n",
        "metadata:\n  name: g\n  annotations:\n    a: b  # note\n",
        "metadata:\n  name: g\n  annotations: {}\n",
        "metadata:\n  name: g\n  annotations: {rollout-guard.io/mutated: canary-steps}\n",
    ];
    let steps = [
        "",
        "      steps:\n",
        "      steps: []\n",
        "      steps: [{setWeight: 20}]\n",
        "      steps:\n      - setWeight: 20\n      - pause: {duration: 1m}\n",
        "      steps:\n        - setWeight: 20\n        - analysis: {templates: [{templateName: t}]}\n",
        "      steps:\n        - analysis: {templates: []}\n",
    ];
    let analysis = [
        "",
        "      analysis: {}\n",
        "      analysis:\n        templates: []\n",
        "      analysis:\n        templates: [{templateName: t}]\n",
        "      analysis: {templates: [], args: [{name: service-name, value: s}]}\n",
    ];
    let service = ["", "      canaryService: c  # canary\n"];
    let mut out = Vec::new();
    for (mi, meta) in metadata.iter().enumerate() {
        let head = format!("# generated\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\n{meta}");
        // Strategy-less and blue-green shapes.
        for spec in [
            "spec:\n  replicas: 1\n",
            "spec:\n  strategy:\n",
            "spec:\n  strategy: {}\n",
            "spec: {replicas: 1}\n",
            "spec:\n  strategy:\n    blueGreen: {activeService: a}\n",
            "spec:\n  strategy:\n    blueGreen:\n      activeService: a\n      previewService: p\n      prePromotionAnalysis: {}\n",
            "spec:\n  strategy:\n    blueGreen:\n      activeService: a\n      postPromotionAnalysis:\n        templates:\n        - templateName: t\n",
        ] {
            out.push(format!("{head}{spec}"));
        }
        for (si, s) in steps.iter().enumerate() {
            for (ai, a) in analysis.iter().enumerate() {
                for (vi, v) in service.iter().enumerate() {
                    // Vary the key order with the indices so that new keys land after
                    // different last entries.
                    let body = match (mi + si + ai + vi) % 3 {
                        0 => format!("{s}{a}{v}"),
                        1 => format!("{v}{a}{s}"),
                        _ => format!("{a}{v}{s}"),
                    };
                    let canary = if body.is_empty() {
                        "    canary:\n".to_string()
                    } else {
                        format!("    canary:\n{body}")
                    };
                    let ref_or_template = if (si + ai) % 2 == 0 {
                        "  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: g}\n"
                    } else {
                        "  template:\n    spec:\n      containers: [{name: c, image: i}]\n"
                    };
                    out.push(format!(
                        "{head}spec:\n{ref_or_template}  strategy:\n{canary}  # end of spec\n"
                    ));
                }
            }
        }
    }
    out
}

/// True when `after` keeps everything `before` sets, in the same order: new keys only after
/// the old ones, list items only appended, nulls filled. The mutated annotation may change.
fn preserved(before: &Value, after: &Value, path: &str) -> Result<(), String> {
    match (before, after) {
        (Value::Null, _) => Ok(()),
        (Value::Object(b), Value::Object(a)) => {
            let a_keys: Vec<_> = a.keys().take(b.len()).collect();
            if !b.keys().eq(a_keys.iter().copied()) {
                return Err(format!("{path}: keys reordered or removed"));
            }
            for (k, v) in b {
                if path == "/metadata/annotations" && k == "rollout-guard.io/mutated" {
                    continue;
                }
                preserved(v, &a[k], &format!("{path}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(b), Value::Array(a)) if a.len() >= b.len() => b
            .iter()
            .zip(a)
            .enumerate()
            .try_for_each(|(i, (b, a))| preserved(b, a, &format!("{path}/{i}"))),
        (b, a) if b == a => Ok(()),
        _ => Err(format!("{path}: replaced")),
    }
}

#[test]
fn property_patch_equals_mutate_nothing_overwritten_and_idempotent() {
    let policy = Policy::embedded();
    let lookup = Lookup::default();
    let ctx = Context {
        policy: &policy,
        lookup: &lookup,
    };
    let shapes = generated_rollouts();
    assert!(shapes.len() > 300, "{}", shapes.len());
    let mut mutated_count = 0;
    for (i, text) in shapes.iter().enumerate() {
        let before = documents(text).remove(0);
        let m = mutation::source::mutate_source(text.as_bytes(), &ctx, "")
            .unwrap_or_else(|e| panic!("shape {i}: {e}\n{text}"));
        let after = m.documents[0].clone().unwrap();
        match m.changed.first() {
            Some(c) => {
                mutated_count += 1;
                // The patch, applied with json-patch, gives exactly mutate's output.
                let applied = mutation::apply(&before, &c.patch).unwrap();
                assert_eq!(applied, after, "shape {i}");
                assert!(
                    c.patch
                        .iter()
                        .all(|op| matches!(op, json_patch::PatchOperation::Add(_))),
                    "shape {i}"
                );
                if let Err(e) = preserved(&before, &after, "") {
                    panic!("shape {i}: {e}\n{text}");
                }
                let label = after
                    .pointer("/metadata/annotations/rollout-guard.io~1mutated")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("shape {i}: no annotation"));
                for injected in &c.injected {
                    assert!(label.contains(injected.label()), "shape {i}: {label}");
                }
            }
            None => assert_eq!(before, after, "shape {i}"),
        }
        // The text edit reads back as mutate's output (mutate_source verified it; check too).
        let fixed = m
            .text
            .unwrap_or_else(|e| panic!("shape {i}: refused: {e}\n{text}"));
        assert_eq!(documents(&fixed), vec![after.clone()], "shape {i}");
        // Idempotent, on the value and on the text.
        let again = mutation::source::mutate_source(fixed.as_bytes(), &ctx, "").unwrap();
        assert!(
            again.changed.is_empty(),
            "shape {i}: mutated twice: {:?}\n{fixed}",
            again.changed
        );
        assert_eq!(again.text.unwrap(), fixed);
    }
    assert!(mutated_count > 200, "{mutated_count}");
}

/// `lint --fix` of the stream fixture converted by `convert` gives the fixed one converted.
fn fix_keeps_line_ends_and_a_byte_order_mark(name: &str, convert: fn(&str) -> String) {
    let dir = TempDir::new("fix-crlf");
    let input = fs::read_to_string(fixture("stream.yaml")).unwrap();
    let want = fs::read_to_string(fixture("stream.fixed.yaml")).unwrap();
    let f = dir.join(name);
    fs::write(&f, convert(&input)).unwrap();
    let out = run(&["lint", "--fix", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    assert_eq!(fs::read_to_string(&f).unwrap(), convert(&want), "{name}");
}

cases! {
    fix_keeps_line_ends_and_a_byte_order_mark:
    fix_keeps_crlf_line_ends => ("crlf.yaml", |s: &str| s.replace('\n', "\r\n")),
    fix_keeps_a_byte_order_mark => ("bom.yaml", |s: &str| format!("\u{feff}{s}")),
}

#[test]
fn fix_edits_json_files_as_json() {
    let dir = TempDir::new("fix-json");
    let f = dir.join("rollout.json");
    let rollout = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "j", "namespace": "demo", "labels": {"app": "j"}},
        "spec": {"replicas": 2, "strategy": {"canary": {"canaryService": "j-canary", "steps": []}}}
    });
    let text = serde_json::to_string_pretty(&rollout).unwrap() + "\n";
    fs::write(&f, &text).unwrap();
    let line = patches(&f).remove("j").unwrap();
    let out = run(&["lint", "--fix", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let fixed = fs::read_to_string(&f).unwrap();
    // Still JSON, and exactly the patched object.
    let parsed: Value = serde_json::from_str(&fixed).unwrap_or_else(|e| panic!("{e}\n{fixed}"));
    let patch: Vec<json_patch::PatchOperation> =
        serde_json::from_value(line["patch"].clone()).unwrap();
    assert_eq!(parsed, mutation::apply(&rollout, &patch).unwrap());
    // The original lines are all still there, in order.
    let kept: Vec<&str> = text.lines().map(|l| l.trim_end_matches(',')).collect();
    let mut fixed_lines = fixed.lines().map(|l| l.trim_end_matches(','));
    for l in kept.iter().filter(|l| !l.ends_with("[]")) {
        assert!(
            fixed_lines.any(|f| f == *l),
            "{l} missing or moved:\n{fixed}"
        );
    }
}

/// Variants of a manifest that must fix as well as the original: CRLF line ends, no final
/// newline, doubled indentation, and a comment after every line plus a comment line between
/// every two lines.
fn variants(text: &str) -> Vec<(&'static str, String)> {
    let doubled = text
        .lines()
        .map(|l| {
            let n = l.len() - l.trim_start_matches(' ').len();
            format!("{}{}\n", " ".repeat(2 * n), &l[n..])
        })
        .collect();
    let commented = text
        .lines()
        .map(|l| {
            if l.trim().is_empty() || l.contains('#') {
                format!("{l}\n")
            } else {
                format!("{l}   # c\n# line\n")
            }
        })
        .collect();
    vec![
        ("as is", text.to_string()),
        ("crlf", text.replace('\n', "\r\n")),
        ("no final newline", text.trim_end().to_string()),
        ("doubled indentation", doubled),
        ("commented", commented),
    ]
}

#[test]
fn every_corpus_manifest_is_fixed_in_place_and_stays_fixed() {
    require!(support::SHARED);
    let policy = Policy::embedded();
    let lookup = Lookup::default();
    let ctx = Context {
        policy: &policy,
        lookup: &lookup,
    };
    let corpus = support::shared().join("corpus");
    let mut stack = vec![corpus];
    let mut fixed = 0;
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let name = p.display().to_string();
        if ![".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e)) {
            continue;
        }
        let original = fs::read_to_string(&p).unwrap();
        for (variant, text) in variants(&original) {
            // Helm templates and other invalid YAML are refused with a line; that is all.
            let Ok(m) = mutation::source::mutate_source(text.as_bytes(), &ctx, "") else {
                continue;
            };
            let out = m
                .text
                .unwrap_or_else(|e| panic!("{name} ({variant}): refused: {e}"));
            if m.changed.is_empty() {
                assert_eq!(out, text, "{name} ({variant})");
                continue;
            }
            let again = mutation::source::mutate_source(out.as_bytes(), &ctx, "").unwrap();
            assert!(again.changed.is_empty(), "{name} ({variant})");
            let comments = |t: &str| t.matches("# c\n").count() + t.matches("# c\r\n").count();
            assert_eq!(comments(&out), comments(&text), "{name} ({variant})");
            if variant == "crlf" {
                assert!(!out.replace("\r\n", "").contains('\n'), "{name}: a bare LF");
            }
            fixed += 1;
        }
    }
    assert!(fixed > 300, "{fixed}");
}

#[test]
fn a_file_named_twice_is_fixed_once() {
    let dir = TempDir::new("fix-twice");
    let f = dir.join("stream.yaml");
    fs::copy(fixture("stream.yaml"), &f).unwrap();
    let out = run(&["lint", "--fix", dir.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 file fixed, 0 refused, 1 unchanged"));
    assert_eq!(
        fs::read(&f).unwrap(),
        fs::read(fixture("stream.fixed.yaml")).unwrap()
    );
}
