//! Renderers for lint reports, one module per output format.

pub mod github;
pub mod human;
pub mod json;
pub mod location;
pub mod sarif;

use crate::report::Report;

/// The output formats of `rollout-guard lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: RG101 [deny] message`, the source line and a caret.
    Human,
    /// One JSON document (`version: 1`), for other tools.
    Json,
    /// SARIF 2.1.0, for code scanning (GitHub's upload-sarif and other SARIF viewers).
    Sarif,
    /// GitHub Actions workflow commands: one annotation per finding.
    Github,
}

/// Renders a report in `format`. `color` applies to the human format only. Paths in the SARIF
/// and GitHub formats are made relative to the current directory.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(report, format, color, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes a report in `format` to `out`. The JSON and SARIF formats are written finding by
/// finding, so their output is never built in memory whole: for a 31 MB input with 178k
/// findings that was 0.8 and 1.3 GB above the report itself.
pub fn write(
    report: &Report,
    format: Format,
    color: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let base = std::env::current_dir().ok();
    match format {
        Format::Human => out.write_all(human::render(report, color).as_bytes()),
        Format::Json => json::write(report, out),
        Format::Sarif => sarif::write(report, base.as_deref(), out),
        Format::Github => out.write_all(github::render(report, base.as_deref()).as_bytes()),
    }
}
