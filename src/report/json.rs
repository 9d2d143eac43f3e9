//! The JSON format: `{"version":1,"findings":[...],"summary":{...}}`, stable for other tools.

use crate::lint::Report;
use crate::rules::Severity;
use serde_json::json;

/// Renders the report as one JSON document and a newline.
pub fn render(report: &Report) -> String {
    let findings: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
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
        })
        .collect();
    let doc = json!({
        "version": 1,
        "findings": findings,
        "summary": {
            "files": report.files,
            "objects": report.objects,
            "skipped": report.skipped,
            "deny": report.count(Severity::Deny),
            "warn": report.count(Severity::Warn),
        }
    });
    format!("{doc}\n")
}
