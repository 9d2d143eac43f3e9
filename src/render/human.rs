//! The human format: one block per finding, compiler style, then a summary line.

use crate::report::Report;
use crate::rules::Severity;
use std::fmt::Write;

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Renders the report; `color` adds ANSI colours (only on a terminal).
pub fn render(report: &Report, color: bool) -> String {
    let style = Style { on: color };
    let mut out = String::new();
    let mut lines = Lines::default();
    for f in &report.findings {
        let sev = match f.finding.severity {
            Severity::Deny => style.paint("1;31", "deny"),
            Severity::Warn => style.paint("1;33", "warn"),
        };
        let _ = writeln!(
            out,
            "{}:{}:{}: {} [{}] {}",
            f.file,
            f.line,
            f.column,
            style.paint("1", f.finding.rule.id),
            sev,
            f.finding.message
        );
        if let Some(line) = lines.get(report, &f.file, f.line) {
            let gutter = f.line.to_string();
            let pad = " ".repeat(gutter.len());
            let caret_at: String = line
                .chars()
                .take(f.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{gutter} | {line}");
            let _ = writeln!(out, "{pad} | {caret_at}{}", style.paint("1;36", "^"));
        }
        let _ = writeln!(
            out,
            "  {} {} ({})",
            style.paint("1;36", "help:"),
            f.finding.rule.help,
            f.finding.rule.name
        );
        out.push('\n');
    }
    for e in &report.read_errors {
        let _ = writeln!(out, "{}: error: {}", e.path, e.message);
    }
    let deny = report.count(Severity::Deny);
    let warn = report.count(Severity::Warn);
    let _ = writeln!(
        out,
        "{} file{}, {} object{} ({} skipped): {} deny, {} warn{}",
        report.files,
        plural(report.files),
        report.objects,
        plural(report.objects),
        report.skipped,
        deny,
        warn,
        if report.read_errors.is_empty() {
            String::new()
        } else {
            format!(", {} unreadable", report.read_errors.len())
        }
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Line lookup with one index per file, so a stream with thousands of findings stays linear.
#[derive(Default)]
struct Lines {
    file: String,
    starts: Vec<usize>,
    text: String,
}

impl Lines {
    fn get(&mut self, report: &Report, file: &str, line: usize) -> Option<String> {
        if self.file != file || self.starts.is_empty() {
            let src = report.sources.iter().find(|s| s.name == file)?;
            self.text = src.text().into_owned();
            self.starts = std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            self.file = file.to_string();
        }
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.starts.get(line).map_or(self.text.len(), |e| e - 1);
        let l = self.text.get(start..end)?.trim_end_matches('\r');
        // Very long lines (minified JSON) are cut so the caret stays readable.
        Some(l.chars().take(200).collect())
    }
}
