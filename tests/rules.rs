//! The per-rule fixtures: `tests/rules/RGxxx/{good,bad}-*.yaml`, each linted by the real CLI
//! (`rollout-guard lint --format json FILE`) as a test case of its own.
//!
//! A fixture states what the linter must find in its leading comment block, one line each:
//!
//! ```yaml
//! # expect: 12:7 RG101 metric "error-rate" has no failureLimit
//! # expect: none
//! ```
//!
//! `LINE:COLUMN RULE TEXT`: a finding of RULE at that place whose message contains TEXT; the
//! findings must be exactly those, in report order (file, line, column, rule). `none` says
//! there is no finding at all. A `bad-` fixture must expect its directory's rule, a `good-` one
//! must not, and the exit code must follow the severities (1 with a deny finding, else 0).
//! Every rule of the catalog needs at least one good and one bad fixture.

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use rollout_guard::rules::catalog::{by_id, Severity, ALL};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One `# expect:` line.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    line: u64,
    column: u64,
    rule: String,
    text: String,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules")
}

/// The expectations of a fixture, or why they cannot be read.
fn expectations(text: &str) -> Result<Vec<Expected>, String> {
    let mut out = Vec::new();
    let mut none = false;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let Some(rest) = line.strip_prefix("# expect:") else {
            continue;
        };
        let rest = rest.trim();
        if rest == "none" {
            none = true;
            continue;
        }
        let (place, rest) = rest.split_once(' ').ok_or(format!("no rule in {line:?}"))?;
        let (rule, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let (l, c) = place
            .split_once(':')
            .ok_or(format!("{place:?} is not LINE:COLUMN in {line:?}"))?;
        let number = |s: &str| {
            s.parse::<u64>()
                .map_err(|e| format!("{s:?} in {line:?}: {e}"))
        };
        if by_id(rule).is_none() {
            return Err(format!("{rule} is not a catalog rule in {line:?}"));
        }
        out.push(Expected {
            line: number(l)?,
            column: number(c)?,
            rule: rule.to_string(),
            text: text.trim().to_string(),
        });
    }
    match (none, out.is_empty()) {
        (true, false) => Err("`# expect: none` beside other expectations".into()),
        (false, true) => Err("no `# expect:` line in the leading comment block".into()),
        _ => Ok(out),
    }
}

/// Lints one fixture with the real binary and compares.
fn run_fixture(rule: &str, path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let expected = expectations(&text)?;
    let good = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("good-"));
    let mentions = expected.iter().any(|e| e.rule == rule);
    if good && mentions {
        return Err(format!("a good fixture expects {rule}").into());
    }
    if !good && !mentions {
        return Err(format!("a bad fixture must expect {rule}").into());
    }
    // Linted by its path from the repository root, as the messages that name files say it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = support::bin()
        .current_dir(root)
        .args(["lint", "--format", "json"])
        .arg(path.strip_prefix(root).unwrap_or(path))
        .output()
        .map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let found: Vec<(u64, u64, String, String)> = doc["findings"]
        .as_array()
        .ok_or("no findings array")?
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
                f["rule"].as_str().unwrap_or_default().to_string(),
                f["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let show = |f: &[(u64, u64, String, String)]| {
        f.iter()
            .map(|(l, c, r, m)| format!("  # expect: {l}:{c} {r} {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let matches = found.len() == expected.len()
        && found.iter().zip(&expected).all(|((l, c, r, m), e)| {
            *l == e.line && *c == e.column && *r == e.rule && m.contains(&e.text)
        });
    if !matches {
        return Err(format!("expected:\n{expected:#?}\nfound:\n{}", show(&found)).into());
    }
    let denied = expected
        .iter()
        .any(|e| by_id(&e.rule).is_some_and(|r| r.severity == Severity::Deny));
    let code = out.status.code();
    if code != Some(i32::from(denied)) {
        return Err(format!("exit code {code:?}, expected {}", i32::from(denied)).into());
    }
    Ok(())
}

/// Every fixture of a rule's directory, sorted.
fn fixtures_of(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    files
}

fn main() {
    let args = Arguments::from_args();
    let root = fixtures_dir();
    let mut trials = Vec::new();
    // A directory that names no catalog rule is a mistake too.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if by_id(&name).is_none() {
            trials.push(Trial::test(
                format!("{name}::is_a_catalog_rule"),
                move || Err(format!("tests/rules/{name} names no catalog rule").into()),
            ));
        }
    }
    for rule in ALL {
        let dir = root.join(rule.id);
        let files = fixtures_of(&dir);
        let has = |prefix: &str| {
            files.iter().any(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
            })
        };
        let (good, bad) = (has("good-"), has("bad-"));
        let id = rule.id;
        trials.push(Trial::test(
            format!("{id}::has_good_and_bad_fixtures"),
            move || {
                if good && bad {
                    Ok(())
                } else {
                    Err(
                        format!("tests/rules/{id}/ needs a good-*.yaml and a bad-*.yaml fixture")
                            .into(),
                    )
                }
            },
        ));
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            trials.push(Trial::test(format!("{id}::{name}"), move || {
                run_fixture(id, &file)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
