//! The SARIF 2.1.0 format, for code scanning (GitHub's `upload-sarif`, Azure DevOps, IDEs).
//!
//! One run: the driver lists every rule of the catalog, each finding is a result with a
//! physical location (relative URI under `%SRCROOT%`, 1-based region in Unicode code points),
//! and files that could not be read are tool execution notifications. The output depends only
//! on the report and the base directory: no timestamps, no host names.

use super::location::{self, Place, STDIN};
use crate::report::{Located, Report};
use crate::rules::{self, Rule, Severity};
use crate::source::ReadError;
use serde_json::{json, Map, Value};
use std::path::Path;

/// The schema URI written in `$schema`: the OASIS standard's, errata 01.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The `uriBaseId` relative URIs are resolved against: the directory the linter ran in.
pub const SRCROOT: &str = "%SRCROOT%";

/// Writes the report as a SARIF log, one result at a time. `base` is the absolute directory the
/// linter ran in: files inside it get URIs relative to `%SRCROOT%`, others absolute `file:`
/// URIs.
pub fn write(
    report: &Report,
    base: Option<&Path>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    // The log is printed with an empty `results`, the last member of the run, and the results
    // are written into it there; JSON strings hold no raw quote, so the key is found unambiguously.
    let frame = serde_json::to_string_pretty(&frame(report, base)).unwrap_or_default();
    let key = "\"results\": []";
    let Some(at) = frame.rfind(key) else {
        return out.write_all(frame.as_bytes());
    };
    let indent = &frame[frame[..at].rfind('\n').map_or(0, |n| n + 1)..at];
    out.write_all(&frame.as_bytes()[..at])?;
    out.write_all(b"\"results\": [")?;
    for (i, f) in report.findings.iter().enumerate() {
        out.write_all(if i > 0 { b",\n" } else { b"\n" })?;
        let item = serde_json::to_string_pretty(&result(f, base)).unwrap_or_default();
        for (j, line) in item.lines().enumerate() {
            if j > 0 {
                out.write_all(b"\n")?;
            }
            write!(out, "{indent}  {line}")?;
        }
    }
    if !report.findings.is_empty() {
        write!(out, "\n{indent}")?;
    }
    out.write_all(b"]")?;
    out.write_all(&frame.as_bytes()[at + key.len()..])?;
    out.write_all(b"\n")
}

/// The SARIF log as a JSON value (the whole log in memory: for tests and small reports).
pub fn log(report: &Report, base: Option<&Path>) -> Value {
    let mut log = frame(report, base);
    let results: Vec<Value> = report.findings.iter().map(|f| result(f, base)).collect();
    log["runs"][0]["results"] = Value::Array(results);
    log
}

/// The log without its results.
fn frame(report: &Report, base: Option<&Path>) -> Value {
    let notifications: Vec<Value> = report
        .read_errors
        .iter()
        .map(|e| read_error(e, base))
        .collect();
    let mut run = Map::new();
    run.insert(
        "tool".into(),
        json!({
            "driver": {
                "name": "rollout-guard",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules::ALL.iter().map(|r| descriptor(r)).collect::<Vec<_>>(),
            }
        }),
    );
    run.insert(
        "invocations".into(),
        json!([{
            // Findings are the tool working; an unreadable file is the tool failing to.
            "executionSuccessful": report.read_errors.is_empty(),
            "toolExecutionNotifications": notifications,
        }]),
    );
    if let Some(base) = base.filter(|b| b.is_absolute()) {
        let mut uri = location::file_uri(base);
        if !uri.ends_with('/') {
            uri.push('/');
        }
        run.insert(
            "originalUriBaseIds".into(),
            json!({ SRCROOT: { "uri": uri } }),
        );
    }
    // Columns count characters, as the human format does, not UTF-16 code units.
    run.insert("columnKind".into(), json!("unicodeCodePoints"));
    run.insert("results".into(), Value::Array(Vec::new()));
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [Value::Object(run)],
    })
}

/// A catalog rule as a SARIF `reportingDescriptor`.
fn descriptor(rule: &Rule) -> Value {
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": rule.doc },
        "help": {
            "text": rule.help,
            "markdown": format!("{}\n\n{}\n\n**Fix:** {}", rule.summary, rule.doc, rule.help),
        },
        "defaultConfiguration": { "level": level(rule.severity) },
    })
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Deny => "error",
        Severity::Warn => "warning",
    }
}

fn result(f: &Located, base: Option<&Path>) -> Value {
    let rule = f.finding.rule;
    let index = rules::ALL.iter().position(|r| r.id == rule.id);
    let mut region = Map::new();
    region.insert("startLine".into(), json!(f.line.max(1)));
    region.insert("startColumn".into(), json!(f.column.max(1)));
    if let Some((line, column)) = f.end {
        region.insert("endLine".into(), json!(line.max(1)));
        region.insert("endColumn".into(), json!(column.max(1)));
    }
    let mut loc = Map::new();
    loc.insert(
        "physicalLocation".into(),
        json!({
            "artifactLocation": artifact(&f.file, base),
            "region": region,
        }),
    );
    if let Some(kind) = f.kind {
        let qualified = if f.namespace.is_empty() {
            format!("{}/{}", kind.as_str(), f.object)
        } else {
            format!("{}/{}/{}", kind.as_str(), f.namespace, f.object)
        };
        loc.insert(
            "logicalLocations".into(),
            json!([{
                "name": f.object,
                "fullyQualifiedName": qualified,
                "kind": "object",
            }]),
        );
    }
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(rule.id));
    if let Some(i) = index {
        result.insert("ruleIndex".into(), json!(i));
    }
    result.insert("level".into(), json!(level(f.finding.severity)));
    result.insert("message".into(), json!({ "text": f.finding.message }));
    result.insert("locations".into(), json!([Value::Object(loc)]));
    if !f.finding.pointer.is_empty() {
        result.insert(
            "properties".into(),
            json!({ "jsonPointer": f.finding.pointer }),
        );
    }
    Value::Object(result)
}

/// A file that could not be read: an error notification pointing at it.
fn read_error(e: &ReadError, base: Option<&Path>) -> Value {
    json!({
        "level": "error",
        "message": { "text": format!("cannot read {}: {}", e.path, e.message) },
        "locations": [{ "physicalLocation": { "artifactLocation": artifact(&e.path, base) } }],
    })
}

/// An `artifactLocation` for a file as the linter names it.
fn artifact(name: &str, base: Option<&Path>) -> Value {
    match location::place(name, base) {
        Place::Relative(rel) if base.is_some() => json!({
            "uri": location::relative_uri(&rel),
            "uriBaseId": SRCROOT,
        }),
        Place::Relative(rel) => json!({ "uri": location::relative_uri(&rel) }),
        Place::Absolute(abs) if abs.is_absolute() => json!({ "uri": location::file_uri(&abs) }),
        Place::Absolute(other) => json!({ "uri": location::relative_uri(&other) }),
        // Standard input has no path. An absolute URI such as `file:///dev/stdin` would make
        // GitHub reject the whole log, so it gets the name the other formats show, as a
        // relative reference (`%3Cstdin%3E` is `<stdin>`), and a description saying what it is.
        Place::Stdin => json!({
            "uri": location::relative_uri(Path::new(STDIN)),
            "description": { "text": "standard input" },
        }),
    }
}
