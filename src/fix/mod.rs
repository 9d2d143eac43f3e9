//! `lint --fix` and `lint --diff` over the sources of a lint run: the I/O edge of the fixer.

pub mod write;

use crate::engine::Context;
use crate::mutation::source::{labels, mutate_source, unified_diff, Changed};
use crate::policy::Policy;
use crate::source::Source;

/// What to do with a source that needs mutations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write the mutations into the file.
    Write,
    /// Print a unified diff; write nothing.
    Diff,
}

/// What happened to one source.
#[derive(Debug)]
pub enum Status {
    /// Nothing to inject: the file is not touched.
    Unchanged,
    /// The file was rewritten (`Write`) or would be (`Diff`, with the diff).
    Fixed { changed: Vec<Changed>, diff: String },
    /// The fix could not be made safely; the file is untouched.
    Refused {
        line: Option<usize>,
        message: String,
    },
}

/// One source's result.
#[derive(Debug)]
pub struct FileResult {
    pub name: String,
    pub status: Status,
}

/// Computes the fix of every source and, in `Write` mode, writes it. A written source's bytes
/// are replaced with the new content, so that linting `sources` afterwards reports what is left.
pub fn fix_sources(sources: &mut [Source], policy: &Policy, mode: Mode) -> Vec<FileResult> {
    // The patch depends on the policy alone; the catalog only feeds findings, discarded here.
    let lookup = crate::lookup::shipped::lookup();
    let ctx = Context {
        policy,
        lookup: &lookup,
    };
    // A file named twice (`lint --fix k8s/ k8s/a.yaml`) is fixed once; its second copy
    // takes the new content instead of being refused as changed on disk.
    let mut seen: Vec<(std::path::PathBuf, usize)> = Vec::new();
    let mut results = Vec::with_capacity(sources.len());
    for i in 0..sources.len() {
        let canonical = sources[i]
            .path
            .as_deref()
            .and_then(|p| p.canonicalize().ok());
        if let Some(&(_, first)) = canonical
            .as_ref()
            .and_then(|c| seen.iter().find(|(p, _)| p == c))
        {
            sources[i].bytes = sources[first].bytes.clone();
            results.push(FileResult {
                name: sources[i].name.clone(),
                status: Status::Unchanged,
            });
            continue;
        }
        if let Some(c) = canonical {
            seen.push((c, i));
        }
        // A failure inside rollout-guard on one file is that file's refusal: the others are
        // still fixed and the summary still printed. Nothing is half-written, because the file
        // is replaced in one rename at the very end of `fix_one`.
        let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fix_one(&mut sources[i], &ctx, mode)
        }))
        .unwrap_or_else(|payload| Status::Refused {
            line: None,
            message: format!(
                "rollout-guard failed on this file ({}); it was not written; please report this",
                crate::lang::boundary::panic_text(payload.as_ref())
            ),
        });
        results.push(FileResult {
            name: sources[i].name.clone(),
            status,
        });
    }
    results
}

fn fix_one(src: &mut Source, ctx: &Context, mode: Mode) -> Status {
    let refused = |line: Option<usize>, message: String| Status::Refused { line, message };
    let mutated = match mutate_source(&src.bytes, ctx, &src.origin()) {
        Ok(m) => m,
        Err(r) => return refused(Some(r.line), r.message),
    };
    if mutated.changed.is_empty() {
        return Status::Unchanged;
    }
    let text = match mutated.text {
        Ok(t) => t,
        Err(r) => return refused(Some(r.line), r.message),
    };
    let old = String::from_utf8_lossy(&src.bytes);
    let diff = unified_diff(&src.name, &old, &text);
    if mode == Mode::Write {
        let Some(path) = src.path.clone() else {
            return refused(
                None,
                "standard input cannot be fixed in place; `rollout-guard mutate -` prints the mutated stream".into(),
            );
        };
        if let Err(e) = write::replace_file(&path, &src.bytes, text.as_bytes()) {
            return refused(None, e.to_string());
        }
        src.bytes = text.into_bytes();
    }
    Status::Fixed {
        changed: mutated.changed,
        diff,
    }
}

/// One line about a result, for stderr; `None` for an unchanged file.
pub fn describe(result: &FileResult, mode: Mode) -> Option<String> {
    match &result.status {
        Status::Unchanged => None,
        Status::Fixed { changed, .. } => {
            // A generated stream may hold thousands of objects: name a few, count the rest.
            const SHOWN: usize = 5;
            let mut objects: Vec<String> = changed
                .iter()
                .take(SHOWN)
                .map(|c| {
                    let ns = if c.namespace.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", c.namespace)
                    };
                    format!("{} {ns}{} ({})", c.kind, c.name, labels(&c.injected))
                })
                .collect();
            if changed.len() > SHOWN {
                objects.push(format!("and {} more objects", changed.len() - SHOWN));
            }
            let verb = match mode {
                Mode::Write => "fixed",
                Mode::Diff => "would fix",
            };
            Some(format!("{}: {verb}: {}", result.name, objects.join(", ")))
        }
        Status::Refused { line, message } => {
            let at = line.map(|l| format!(":{l}")).unwrap_or_default();
            Some(format!(
                "{}{at}: cannot fix: {message}; the file is left as it is",
                result.name
            ))
        }
    }
}

/// The closing line: `3 files fixed, 1 refused, 2 unchanged`.
pub fn summary(results: &[FileResult], mode: Mode) -> String {
    let count = |f: fn(&Status) -> bool| results.iter().filter(|r| f(&r.status)).count();
    let fixed = count(|s| matches!(s, Status::Fixed { .. }));
    let refused = count(|s| matches!(s, Status::Refused { .. }));
    let unchanged = count(|s| matches!(s, Status::Unchanged));
    let verb = match mode {
        Mode::Write => "fixed",
        Mode::Diff => "would be fixed",
    };
    format!(
        "{fixed} file{} {verb}, {refused} refused, {unchanged} unchanged",
        if fixed == 1 { "" } else { "s" }
    )
}
