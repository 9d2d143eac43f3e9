//! The JSON format: `{"version":1,"findings":[...],"summary":{...}}`, stable for other tools.

use crate::report::Report;
use crate::rules::Severity;
use serde_json::json;

/// Writes the report as one JSON document and a newline, one finding at a time.
pub fn write(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    out.write_all(b"{\"version\":1,\"findings\":[")?;
    for (i, f) in report.findings.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &finding(f))?;
    }
    out.write_all(b"],\"summary\":")?;
    serde_json::to_writer(&mut *out, &summary(report))?;
    out.write_all(b"}\n")
}

fn finding(f: &crate::report::Located) -> serde_json::Value {
    json!({
        "rule": f.finding.rule.id,
        "name": f.finding.rule.name,
        "severity": f.finding.severity,
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "kind": f.kind.map(|k| k.as_str()).unwrap_or_default(),
        "namespace": f.namespace,
        "object": f.object,
        "pointer": f.finding.pointer,
        "message": f.finding.message,
        "help": f.finding.rule.help,
    })
}

fn summary(report: &Report) -> serde_json::Value {
    json!({
        "files": report.files,
        "objects": report.objects,
        "skipped": report.skipped,
        "deny": report.count(Severity::Deny),
        "warn": report.count(Severity::Warn),
    })
}
