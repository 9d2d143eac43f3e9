//! What the linter reads: a source of manifests (a file or stdin, as bytes) and a path that
//! could not be read. Reading them is the edge's job (`rollout_guard::input`); the core only
//! takes them.

use std::path::{Path, PathBuf};

/// A source of manifests: a file, or stdin (`-`).
#[derive(Clone, Debug)]
pub struct Source {
    /// The name as shown in diagnostics: the path as given, or `<stdin>`.
    pub name: String,
    pub path: Option<PathBuf>,
    pub bytes: Vec<u8>,
}

impl Source {
    /// The text for display (invalid UTF-8 shown as replacement characters).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// The directory the source lives in (`dir/`, empty for stdin): the objects' `origin`, the
    /// hint that resolves references to templates beside them first.
    pub fn origin(&self) -> String {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .map(|p| format!("{}/", p.display()))
            .unwrap_or_default()
    }
}

/// A path that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub path: String,
    pub message: String,
}
