//! The offline linter: files in, located findings out. This is the I/O edge around the engine:
//! it reads paths, parses them, fills the catalog from the input and the shipped templates, and
//! turns each finding's JSON pointer into a file, line and column.

use crate::catalog::{Catalog, Coverage};
use crate::engine::{self, Context, Finding};
use crate::manifest::{self, Document, Kind, Object, Positions};
use crate::policy::Policy;
use crate::rules::{self, Severity};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The ClusterAnalysisTemplates shipped in `policies/`, embedded so that references to them
/// resolve with no flags.
pub const SHIPPED_TEMPLATES: &[(&str, &str)] = &[
    (
        "policies/success-rate-nginx.yaml",
        include_str!("../policies/success-rate-nginx.yaml"),
    ),
    (
        "policies/success-rate-istio.yaml",
        include_str!("../policies/success-rate-istio.yaml"),
    ),
    (
        "policies/success-rate-linkerd.yaml",
        include_str!("../policies/success-rate-linkerd.yaml"),
    ),
];

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

/// A path that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub path: String,
    pub message: String,
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

/// One parsed object with the tree that places it.
struct Placed {
    source: usize,
    object: Object,
    positions: Positions,
}

/// Lints sources with a policy: the whole linter, minus reading files and printing.
pub fn lint(sources: Vec<Source>, read_errors: Vec<ReadError>, policy: &Policy) -> Report {
    let mut report = Report {
        files: sources.len(),
        read_errors,
        ..Report::default()
    };
    let mut placed = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let parsed = manifest::parse_bytes_keeping(&src.bytes, |node| Positions::of(&node));
        if let Some(err) = parsed.error {
            report.findings.extend(syntax_finding(src, &err, policy));
        }
        for doc in parsed.documents {
            match doc {
                Document::Object { mut object, node } => {
                    object.origin = src.origin();
                    placed.push(Placed {
                        source: i,
                        object: *object,
                        positions: node,
                    })
                }
                Document::Skipped => report.skipped += 1,
            }
        }
    }
    report.objects = placed.len();

    let mut catalog = shipped_catalog();
    catalog.set_coverage(Coverage::LintInput);
    for p in &placed {
        catalog.add(&p.object);
    }
    let ctx = Context {
        policy,
        catalog: &catalog,
    };
    // Reviews are independent and the engine is pure: spread them over the cores.
    let chunk = placed.len().div_ceil(crate::threads()).max(64);
    let located: Vec<Vec<Located>> = std::thread::scope(|scope| {
        let handles: Vec<_> = placed
            .chunks(chunk)
            .map(|part| {
                let sources = &sources;
                scope.spawn(move || {
                    part.iter()
                        .flat_map(|p| review_placed(p, sources, &ctx))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a review thread panicked"))
            .collect()
    });
    report.findings.extend(located.into_iter().flatten());
    report
        .findings
        .extend(duplicate_objects(&placed, &sources, policy));
    report.findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.finding.rule.id).cmp(&(
            &b.file,
            b.line,
            b.column,
            b.finding.rule.id,
        ))
    });
    report.sources = sources;
    report
}

fn review_placed(p: &Placed, sources: &[Source], ctx: &Context) -> Vec<Located> {
    engine::review(&p.object, ctx)
        .findings
        .into_iter()
        .map(|finding| {
            let ((line, column), end) = p
                .positions
                .locate_with_end(&p.object.value, &finding.pointer);
            Located {
                file: sources[p.source].name.clone(),
                line,
                column,
                end,
                kind: Some(p.object.kind),
                namespace: p.object.namespace.clone(),
                object: p.object.name.clone(),
                finding,
            }
        })
        .collect()
}

/// RG002: objects of one kind, namespace and name in one directory (or stdin) after the first,
/// each reported at its `metadata.name` with the place of the first. Cluster-scoped kinds ignore
/// the namespace. One directory is what one `kubectl apply -f` takes and what the catalog
/// resolves references within; same-named objects in different directories are the usual
/// layout of overlays and environments, and the catalog keeps them apart.
fn duplicate_objects(placed: &[Placed], sources: &[Source], policy: &Policy) -> Vec<Located> {
    let Some(severity) = policy.severity(&rules::RG002) else {
        return Vec::new();
    };
    const AT: &str = "/metadata/name";
    let place = |p: &Placed| {
        let (line, column) = p.positions.locate(&p.object.value, AT);
        (sources[p.source].name.as_str(), line, column)
    };
    type Key<'a> = (&'a str, Kind, &'a str, &'a str);
    let mut first: std::collections::HashMap<Key, &Placed> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for p in placed {
        let o = &p.object;
        if o.name.is_empty() || policy.excludes_namespace(&o.namespace) {
            continue;
        }
        let namespace = match o.kind {
            Kind::ClusterAnalysisTemplate => "",
            _ => o.namespace.as_str(),
        };
        let key = (o.origin.as_str(), o.kind, namespace, o.name.as_str());
        let Some(earlier) = first.get(&key) else {
            first.insert(key, p);
            continue;
        };
        if ignores(o, policy, &rules::RG002) {
            continue;
        }
        let (file, line, column) = place(p);
        let (first_file, first_line, _) = place(earlier);
        let named = if namespace.is_empty() {
            format!("{} \"{}\"", o.kind, o.name)
        } else {
            format!("{} \"{}\" in namespace \"{namespace}\"", o.kind, o.name)
        };
        out.push(Located {
            file: file.to_string(),
            line,
            column,
            end: p.positions.locate_with_end(&o.value, AT).1,
            kind: Some(o.kind),
            namespace: o.namespace.clone(),
            object: o.name.clone(),
            finding: Finding {
                rule: &rules::RG002,
                severity,
                pointer: AT.into(),
                message: format!(
                    "{named} is defined twice in this run: at {first_file}:{first_line} and here at {file}:{line}; \
                     applied together, the one applied last replaces the other, and rollout-guard resolves references to only one of them"
                ),
            },
        });
    }
    out
}

/// True when `obj` opts out of `rule` by the ignore annotation and the policy lets it.
fn ignores(obj: &Object, policy: &Policy, rule: &rules::Rule) -> bool {
    policy.may_ignore(rule)
        && obj
            .annotation(engine::IGNORE_ANNOTATION)
            .is_some_and(|a| a.split(',').any(|i| i.trim().eq_ignore_ascii_case(rule.id)))
}

/// The catalog holding the shipped templates.
pub fn shipped_catalog() -> Catalog {
    let mut catalog = Catalog::new(Coverage::Shipped);
    for object in shipped_templates() {
        catalog.add(&object);
    }
    catalog
}

/// The ClusterAnalysisTemplates shipped in `policies/`, as objects.
pub fn shipped_templates() -> Vec<Object> {
    SHIPPED_TEMPLATES
        .iter()
        .flat_map(|(_, text)| manifest::parse_text(text).documents)
        .filter_map(|d| match d {
            Document::Object { object, .. } => Some(*object),
            Document::Skipped => None,
        })
        .collect()
}

fn syntax_finding(src: &Source, err: &manifest::SyntaxError, policy: &Policy) -> Option<Located> {
    let mut message = format!("not valid YAML: {}", err.message);
    if err.helm_hint {
        message.push_str(
            " (this looks like an unrendered Helm template: render it first, `helm template . | rollout-guard lint -`)",
        );
    }
    Some(Located {
        file: src.name.clone(),
        line: err.line,
        column: err.column,
        end: None,
        kind: None,
        namespace: String::new(),
        object: String::new(),
        finding: Finding {
            rule: &rules::RG001,
            severity: policy.severity(&rules::RG001)?,
            pointer: String::new(),
            message,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, text: &str) -> Source {
        Source {
            name: name.into(),
            path: None,
            bytes: text.as_bytes().to_vec(),
        }
    }

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
    fn rg002_names_both_places() {
        let found = duplicates(vec![
            source("a.yaml", TEMPLATE),
            source("b.yaml", &format!("---\n{TEMPLATE}")),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!((f.file.as_str(), f.line, f.column), ("b.yaml", 5, 9));
        assert!(
            f.finding
                .message
                .contains("at a.yaml:4 and here at b.yaml:5"),
            "{}",
            f.finding.message
        );
        assert_eq!(f.finding.severity, Severity::Warn);
    }

    #[test]
    fn rg002_ignores_other_namespaces_kinds_and_directories() {
        let other_ns = TEMPLATE.replace("namespace: demo", "namespace: prod");
        let other_kind =
            TEMPLATE.replace("kind: AnalysisTemplate", "kind: ClusterAnalysisTemplate");
        assert!(duplicates(vec![
            source("a.yaml", TEMPLATE),
            source("b.yaml", &other_ns),
            source("c.yaml", &other_kind),
        ])
        .is_empty());
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
