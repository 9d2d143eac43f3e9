//! The linter over sources already read: parses them, fills the lookup from the input and the
//! shipped templates, reviews every object, and turns each finding's JSON pointer into a file,
//! line and column. Reading paths is the edge's (`rollout_guard::input`).

use crate::engine::{self, Context, Finding};
use crate::lookup::Coverage;
use crate::manifest::{self, Document, Kind, Object, Positions};
use crate::policy::Policy;
use crate::report::{Located, Report};
use crate::rules;
use crate::source::{ReadError, Source};

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

    let mut lookup = crate::lookup::shipped::lookup();
    lookup.set_coverage(Coverage::LintInput);
    for p in &placed {
        lookup.add(&p.object);
    }
    let ctx = Context {
        policy,
        lookup: &lookup,
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
    const AT: &str = manifest::pointer::NAME;
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
                message: rules::rg002_duplicate_object::message(
                    &named,
                    (first_file, first_line),
                    (file, line),
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

fn syntax_finding(src: &Source, err: &manifest::SyntaxError, policy: &Policy) -> Option<Located> {
    let message = rules::rg001_invalid_yaml::message(err);
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
    use crate::rules::Severity;

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
    fn rg002_ignores_other_namespaces_and_kinds() {
        let other_ns = TEMPLATE.replace("namespace: demo", "namespace: prod");
        let other_kind =
            TEMPLATE.replace("kind: AnalysisTemplate", "kind: ClusterAnalysisTemplate");
        assert!(duplicates(vec![
            source("a.yaml", TEMPLATE),
            source("b.yaml", &other_ns),
            source("c.yaml", &other_kind),
        ])
        .is_empty());
    }
}
