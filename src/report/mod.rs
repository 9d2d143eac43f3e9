//! Renderers for lint reports, one module per output format.

pub mod human;
pub mod json;

use crate::lint::Report;

/// The output formats of `rollout-guard lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line:col: RG101 [deny] message`, the source line and a caret.
    Human,
    /// One JSON document (`version: 1`), for other tools.
    Json,
}

/// Renders a report in `format`. `color` applies to the human format only.
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
    }
}
