//! The GitHub Actions format: one workflow command per finding, which the runner turns into an
//! annotation on the file and line:
//! `::error file=PATH,line=L,col=C,title=RG101 missing-failure-limit::message`.

use super::location::{self, Place, STDIN};
use crate::report::Report;
use crate::rules::Severity;
use std::fmt::Write;
use std::path::Path;

/// Renders one command per finding, then one per unreadable file. `base` is the directory the
/// linter ran in (the workspace in a workflow): paths inside it are written relative to it.
pub fn render(report: &Report, base: Option<&Path>) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let command = match f.finding.severity {
            Severity::Deny => "error",
            Severity::Warn => "warning",
        };
        let title = format!("{} {}", f.finding.rule.id, f.finding.rule.name);
        let (props, message) = match file_property(&f.file, base) {
            Some(file) => (
                format!(
                    "file={},line={},col={},title={}",
                    property(&file),
                    f.line,
                    f.column,
                    property(&title)
                ),
                f.finding.message.clone(),
            ),
            // An annotation needs a file to sit on; for stdin the position goes in the text.
            None => (
                format!("title={}", property(&title)),
                format!("{STDIN}:{}:{}: {}", f.line, f.column, f.finding.message),
            ),
        };
        let _ = writeln!(out, "::{command} {props}::{}", data(&message));
    }
    for e in &report.read_errors {
        let props = match file_property(&e.path, base) {
            Some(file) => format!("file={},title=unreadable", property(&file)),
            None => "title=unreadable".to_string(),
        };
        let message = format!("cannot read {}: {}", e.path, e.message);
        let _ = writeln!(out, "::error {props}::{}", data(&message));
    }
    out
}

/// The `file=` value: relative to the workspace when inside it, absolute otherwise.
fn file_property(name: &str, base: Option<&Path>) -> Option<String> {
    match location::place(name, base) {
        Place::Relative(p) | Place::Absolute(p) => Some(location::slash_path(&p)),
        Place::Stdin => None,
    }
}

/// Escapes a command's message as the runner expects (`%`, CR, LF).
pub fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value: as data, plus `:` and `,`, which delimit properties.
pub fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_does() {
        assert_eq!(data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
