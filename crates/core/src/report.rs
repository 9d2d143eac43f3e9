//! What one lint run found: located findings and the sources they are in. Every renderer (human,
//! JSON, SARIF, GitHub) reads this and nothing else.

use crate::engine::Finding;
use crate::manifest::Kind;
use crate::rules::Severity;
use crate::source::{ReadError, Source};

/// A finding placed in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Where the reported text ends (line, and the column just past it) when the finding names a
    /// scalar, so that a report can mark exactly the offending value.
    pub end: Option<(usize, usize)>,
    pub kind: Option<Kind>,
    pub namespace: String,
    pub object: String,
    pub finding: Finding,
}

/// Everything one lint run found.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Located>,
    pub files: usize,
    pub objects: usize,
    pub skipped: usize,
    pub read_errors: Vec<ReadError>,
    /// The sources, for showing the offending line.
    pub sources: Vec<Source>,
}

impl Report {
    /// Findings of this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.finding.severity == severity)
            .count()
    }
}
