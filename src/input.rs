//! The linter's input: the command line's paths read into sources (files, directories walked,
//! stdin), with every path that cannot be read named and why.

use rollout_guard_core::manifest;
use rollout_guard_core::source::{ReadError, Source};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Expands the command line's paths into sources: files as given, directories walked for
/// `*.yaml`, `*.yml` and `*.json` (hidden entries skipped), `-` for stdin.
pub fn read_sources(paths: &[String]) -> (Vec<Source>, Vec<ReadError>) {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p == "-" {
            let mut bytes = Vec::new();
            let limit = manifest::MAX_INPUT_BYTES as u64 + 1;
            match std::io::stdin().lock().take(limit).read_to_end(&mut bytes) {
                Ok(_) if bytes.len() > manifest::MAX_INPUT_BYTES => errors.push(ReadError {
                    path: "<stdin>".into(),
                    message: too_large("standard input is larger than", None),
                }),
                Ok(_) => sources.push(decode("<stdin>".into(), None, bytes)),
                Err(e) => errors.push(ReadError {
                    path: "<stdin>".into(),
                    message: e.to_string(),
                }),
            }
            continue;
        }
        let path = Path::new(p);
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => walk(path, &mut sources, &mut errors),
            Ok(_) => read_file(path, p.clone(), &mut sources, &mut errors),
            Err(e) => errors.push(ReadError {
                path: p.clone(),
                message: describe(&e),
            }),
        }
    }
    (sources, errors)
}

fn walk(dir: &Path, sources: &mut Vec<Source>, errors: &mut Vec<ReadError>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            errors.push(ReadError {
                path: dir.display().to_string(),
                message: describe(&e),
            });
            return;
        }
    };
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        // Symlinks to directories are not followed: a link loop must not hang the linter.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, sources, errors);
        } else if is_manifest_name(name) && (meta.is_file() || meta.file_type().is_symlink()) {
            // A link to a file is read through; a dangling one is reported by the open.
            read_file(&path, path.display().to_string(), sources, errors);
        }
    }
}

/// True for the file names the directory walk picks up.
pub fn is_manifest_name(name: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn read_file(path: &Path, name: String, sources: &mut Vec<Source>, errors: &mut Vec<ReadError>) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            errors.push(ReadError {
                path: name,
                message: describe(&e),
            });
            return;
        }
    };
    if let Ok(size) = file.metadata().map(|m| m.len()) {
        if size > manifest::MAX_INPUT_BYTES as u64 {
            errors.push(ReadError {
                path: name,
                message: too_large("the file is", Some(size)),
            });
            return;
        }
    }
    let mut bytes = Vec::new();
    // Read one byte past the limit so that the parser can say the file is too large without
    // this process holding all of a huge file (one that grew since its size was read).
    match file
        .take(manifest::MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
    {
        Ok(_) => sources.push(decode(name, Some(path.to_path_buf()), bytes)),
        Err(e) => errors.push(ReadError {
            path: name,
            message: describe(&e),
        }),
    }
}

/// The message for an input past [`manifest::MAX_INPUT_BYTES`]: not a YAML error, a limit.
fn too_large(what: &str, size: Option<u64>) -> String {
    let limit = manifest::MAX_INPUT_BYTES / 1048576;
    match size {
        Some(n) => format!(
            "{what} {:.1} MiB; rollout-guard reads inputs up to {limit} MiB (split it into several files)",
            n as f64 / 1048576.0
        ),
        None => format!(
            "{what} {limit} MiB, the most rollout-guard reads (split it into several files)"
        ),
    }
}

fn decode(name: String, path: Option<PathBuf>, bytes: Vec<u8>) -> Source {
    Source { name, path, bytes }
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rollout_guard_core::lint::lint;
    use rollout_guard_core::policy::Policy;
    use rollout_guard_core::report::Located;

    const TEMPLATE: &str = "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: t\n  namespace: demo\nspec:\n  metrics:\n  - name: m\n    successCondition: result == 1\n    provider: {job: {spec: {}}}\n";

    fn duplicates(sources: Vec<Source>) -> Vec<Located> {
        let report = lint(sources, Vec::new(), &Policy::embedded());
        report
            .findings
            .into_iter()
            .filter(|f| f.finding.rule.id == "RG002")
            .collect()
    }

    #[test]
    fn rg002_ignores_sibling_directories() {
        let dir = std::env::temp_dir().join(format!("rg002-{}", std::process::id()));
        for sub in ["base", "prod"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::fs::write(dir.join(sub).join("t.yaml"), TEMPLATE).unwrap();
        }
        let (sources, errors) = read_sources(&[dir.display().to_string()]);
        assert!(errors.is_empty());
        assert!(
            duplicates(sources).is_empty(),
            "sibling directories are overlays"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
