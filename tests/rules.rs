//! The per-rule fixtures: each rule's `FIXTURES` (in its module, `rules/rgNNN_name.rs`), each
//! written to `tests/rules/RGxxx/{good,bad}-*.yaml` under a scratch directory and linted there by
//! the real CLI (`rollout-guard lint --format json FILE`) as a test case of its own.
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
use rollout_guard::rules::catalog::{by_id, Fixture, Severity, ALL};
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

/// Where the fixtures are written: a scratch root standing for the repository's, so that the
/// files are linted by the same relative paths (`tests/rules/RGxxx/NAME`) their messages name.
fn scratch_root() -> PathBuf {
    std::env::temp_dir().join(format!("rollout-guard-rules-{}", std::process::id()))
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
fn run_fixture(rule: &str, fixture: &Fixture) -> Result<(), Failed> {
    let text = fixture.text;
    let expected = expectations(text)?;
    let good = fixture.name.starts_with("good-");
    let mentions = expected.iter().any(|e| e.rule == rule);
    if good && mentions {
        return Err(format!("a good fixture expects {rule}").into());
    }
    if !good && !mentions {
        return Err(format!("a bad fixture must expect {rule}").into());
    }
    // Linted by its path from the (scratch) root, as the messages that name files say it.
    let root = scratch_root();
    let relative = Path::new("tests/rules").join(rule).join(fixture.name);
    let path = root.join(&relative);
    std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let out = support::bin()
        .current_dir(&root)
        .args(["lint", "--format", "json"])
        .arg(&relative)
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

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for rule in ALL {
        let has = |prefix: &str| rule.fixtures.iter().any(|f| f.name.starts_with(prefix));
        let (good, bad) = (has("good-"), has("bad-"));
        let id = rule.id;
        trials.push(Trial::test(
            format!("{id}::has_good_and_bad_fixtures"),
            move || {
                if good && bad {
                    Ok(())
                } else {
                    Err(format!("{id} needs a good-*.yaml and a bad-*.yaml fixture").into())
                }
            },
        ));
        for fixture in rule.fixtures {
            trials.push(Trial::test(format!("{id}::{}", fixture.name), move || {
                run_fixture(id, fixture)
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let _ = std::fs::remove_dir_all(scratch_root());
    conclusion.exit();
}
