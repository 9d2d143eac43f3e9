//! Renderers for lint reports, one module per output format.

pub mod github;
pub mod human;
pub mod json;
pub mod location;
pub mod sarif;

use crate::lint::Report;

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
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report, std::env::current_dir().ok().as_deref()),
        Format::Github => github::render(report, std::env::current_dir().ok().as_deref()),
    }
}
