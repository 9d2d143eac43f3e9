//! The engine's mutations written back into manifests: `rollout-guard mutate`, `lint --fix` and
//! `lint --diff`.
//!
//! The patch of each object becomes text edits on its source ([`edit`](super::edit)), so comments, quoting,
//! key order, blank lines and the other documents of the stream stay as they were. Every edited
//! text is parsed again and must give exactly the patched objects, and every other document
//! unchanged; when it does not, the fix is refused and nothing is written.

use super::{edit, render};

use crate::engine::{self, Context};
use crate::manifest::{self, yaml, Kind, Object};
use crate::mutation::{self, Injection};
use json_patch::jsonptr::PointerBuf;
use json_patch::PatchOperation;
use serde_json::Value;

/// Why a source cannot be mutated in place: the line (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct Refusal {
    pub line: usize,
    pub message: String,
}

/// An object the mutation changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Changed {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// The line the object starts on.
    pub line: usize,
    pub injected: Vec<Injection>,
    /// The engine's patch, as the webhook would send it.
    pub patch: Vec<PatchOperation>,
}

/// A source with the engine's mutations applied.
#[derive(Debug)]
pub struct Mutated {
    /// Every document's value after mutation (`None` for an empty document), in order.
    pub documents: Vec<Option<Value>>,
    /// The objects the mutation changes.
    pub changed: Vec<Changed>,
    /// The source with the mutations written in (the source itself when nothing changes), or
    /// why that cannot be done safely.
    pub text: Result<String, Refusal>,
}

/// Streams from this size up are parsed on every core, as the linter does.
const PARALLEL_PARSE_BYTES: usize = 512 * 1024;

/// Mutates every object of a source. `origin` is the source's directory (see
/// [`Object::origin`]). `Err` when the source is not UTF-8 YAML.
pub fn mutate_source(bytes: &[u8], ctx: &Context, origin: &str) -> Result<Mutated, Refusal> {
    if bytes.len() > manifest::MAX_INPUT_BYTES {
        return Err(Refusal {
            line: 1,
            message: format!(
                "the input is larger than {} MiB",
                manifest::MAX_INPUT_BYTES / 1048576
            ),
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Refusal {
        line: bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1,
        message: "not UTF-8 text".into(),
    })?;
    // Spans count from after a byte order mark; it is put back in front of the result.
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    // Each document is reviewed and planned as soon as it is parsed, and its tree dropped:
    // a large stream never holds every tree at once, and is handled on every core.
    let per_document = |doc: yaml::YamlDoc| plan_document(body, doc, ctx, origin);
    let docs = parse(body, &per_document).map_err(|e| Refusal {
        line: e.pos.line.max(1),
        message: format!(
            "not valid YAML (column {}): {}",
            e.pos.column.max(1),
            e.message
        ),
    })?;

    let mut documents = Vec::with_capacity(docs.len());
    let mut lines = Vec::with_capacity(docs.len());
    let mut changed = Vec::new();
    let mut edits = Vec::new();
    let mut refusal = None;
    for doc in docs {
        let doc = doc?;
        documents.push(doc.value);
        lines.push(doc.line);
        changed.extend(doc.changed);
        match doc.edits {
            Ok(e) => edits.extend(e),
            Err(r) => {
                refusal.get_or_insert(r);
            }
        }
    }
    let text = match refusal {
        Some(r) => Err(r),
        None if edits.is_empty() => Ok(text.to_string()),
        None => {
            let edited = edit::apply(body, &edits);
            verify(&edited, &lines, &documents).map(|()| format!("{bom}{edited}"))
        }
    };
    Ok(Mutated {
        documents,
        changed,
        text,
    })
}

/// One document, reviewed: its value after mutation, and the edits that write the mutation.
struct PlannedDocument {
    value: Option<Value>,
    /// The line the document's content starts on.
    line: usize,
    /// The objects changed: the document itself, or the items of a List.
    changed: Vec<Changed>,
    edits: Result<Vec<edit::Edit>, Refusal>,
}

fn plan_document(
    body: &str,
    doc: yaml::YamlDoc,
    ctx: &Context,
    origin: &str,
) -> Result<PlannedDocument, Refusal> {
    let unchanged = |value: Option<Value>, line: usize| PlannedDocument {
        value,
        line,
        changed: Vec::new(),
        edits: Ok(Vec::new()),
    };
    let Some(root) = &doc.root else {
        return Ok(unchanged(None, doc.span.start.line.max(1)));
    };
    let line = root.span.start.line;
    let value = yaml::to_json(root);
    // A List's items are reviewed one by one, and their patches moved under `/items/{i}`, so
    // that one plan against the List's root writes them all and one read-back checks them all.
    let objects = match manifest::list_items(root, &value) {
        Some(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, (node, item))| (Some(i), node, item))
            .collect(),
        None => vec![(None, root, &value)],
    };
    let mut patch = Vec::new();
    let mut changed = Vec::new();
    for (index, node, item) in objects {
        let Some(c) = review(item, node.span.start.line, ctx, origin) else {
            continue;
        };
        match index {
            Some(i) => patch.extend(c.patch.iter().map(|op| under_item(i, op))),
            None => patch.extend(c.patch.iter().cloned()),
        }
        changed.push(c);
    }
    if patch.is_empty() {
        return Ok(unchanged(Some(value), line));
    }
    let patched = mutation::apply(&value, &patch).map_err(|e| Refusal {
        line,
        message: format!("internal error: the patch does not apply: {e}"),
    })?;
    let style = render::Style::detect(body, root);
    Ok(PlannedDocument {
        value: Some(patched),
        line,
        edits: edit::plan(body, root, &patch, &style),
        changed,
    })
}

/// The engine's review of one object, when it has something to inject; `None` for a value that
/// is not a reviewed object, or needs nothing.
fn review(value: &Value, line: usize, ctx: &Context, origin: &str) -> Option<Changed> {
    let mut object = Object::from_value(value.clone())?;
    object.origin = origin.to_string();
    let review = engine::review(&object, ctx);
    if review.patch.is_empty() {
        return None;
    }
    Some(Changed {
        kind: object.kind,
        namespace: object.namespace,
        name: object.name,
        line,
        injected: review.injected,
        patch: review.patch,
    })
}

/// `op`, an item's patch operation, made to apply to its List: every pointer it holds moves
/// under `/items/{index}`.
fn under_item(index: usize, op: &PatchOperation) -> PatchOperation {
    let move_under = |p: &PointerBuf| {
        let mut p = p.clone();
        p.push_front(index);
        p.push_front("items");
        p
    };
    let mut op = op.clone();
    match &mut op {
        PatchOperation::Add(o) => o.path = move_under(&o.path),
        PatchOperation::Remove(o) => o.path = move_under(&o.path),
        PatchOperation::Replace(o) => o.path = move_under(&o.path),
        PatchOperation::Test(o) => o.path = move_under(&o.path),
        PatchOperation::Move(o) => {
            o.from = move_under(&o.from);
            o.path = move_under(&o.path);
        }
        PatchOperation::Copy(o) => {
            o.from = move_under(&o.from);
            o.path = move_under(&o.path);
        }
    }
    op
}

fn parse<T: Send>(
    text: &str,
    finish: &(impl Fn(yaml::YamlDoc) -> T + Sync),
) -> Result<Vec<T>, yaml::YamlError> {
    let parsed = if text.len() < PARALLEL_PARSE_BYTES {
        yaml::parse_stream_with(text, finish)
    } else {
        yaml::parse_stream_parallel(text, crate::threads(), finish)
    };
    parsed.map_err(|(_, e)| e)
}

/// Checks that `edited` parses to `expected`, document by document, key order included.
/// `lines` are where the documents start in the original, for the message.
fn verify(edited: &str, lines: &[usize], expected: &[Option<Value>]) -> Result<(), Refusal> {
    let hint = if edited.contains(['&', '*']) {
        " (YAML anchors or aliases?)"
    } else {
        ""
    };
    // Documents are compared as JSON text, which keeps key order and is smaller to hold.
    let json = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    let got = parse(edited, &|d: yaml::YamlDoc| {
        d.root.as_ref().map(|r| json(&yaml::to_json(r)))
    })
    .map_err(|e| Refusal {
        line: e.pos.line.max(1),
        message: format!("the edited text would not be valid YAML ({})", e.message),
    })?;
    if got.len() != expected.len() {
        return Err(Refusal {
            line: 1,
            message: "the edited text would hold a different number of documents".into(),
        });
    }
    for (i, (got, want)) in got.iter().zip(expected).enumerate() {
        let same = match (got, want) {
            (Some(g), Some(w)) => *g == json(w),
            (None, None) => true,
            _ => false,
        };
        if !same {
            return Err(Refusal {
                line: lines.get(i).copied().unwrap_or(1),
                message: format!("the edited text would not read back as the mutated object{hint}"),
            });
        }
    }
    Ok(())
}

/// The mutated stream in block YAML, for when the source text cannot be kept: comments and
/// formatting are lost, the values are exact.
pub fn render_documents(documents: &[Option<Value>]) -> String {
    let style = render::Style {
        indent: 2,
        seq_indent: 0,
        newline: "\n",
        json: false,
    };
    documents
        .iter()
        .map(|d| match d {
            Some(v) => render::document(v, &style),
            None => String::new(),
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

/// A unified diff from `old` to `new`, headed with `name`; empty when they are equal.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string()
}

/// The labels of what was injected, for messages: `canary-steps,canary-analysis`.
pub fn labels(injected: &[Injection]) -> String {
    injected
        .iter()
        .map(|i| i.label())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::Lookup;
    use crate::policy::Policy;

    fn mutated(text: &str) -> Mutated {
        let policy = Policy::embedded();
        let lookup = Lookup::default();
        let ctx = Context {
            policy: &policy,
            lookup: &lookup,
        };
        mutate_source(text.as_bytes(), &ctx, "").unwrap()
    }

    const HEAD: &str = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: r\n";

    #[test]
    fn nulls_are_filled_in_place_keeping_the_comment() {
        for null in ["", " ~", " null"] {
            let text =
                format!("{HEAD}spec:\n  strategy:\n    canary:{null}  # later\n  replicas: 1\n");
            let out = mutated(&text).text.unwrap();
            assert!(
                out.contains("    canary:  # later\n      steps:\n        - setWeight: 10\n"),
                "{null:?}:\n{out}"
            );
            assert!(
                out.ends_with("        startingStep: 1\n  replicas: 1\n"),
                "{out}"
            );
        }
    }

    #[test]
    fn aliases_and_merge_keys_on_the_path_are_refused_with_their_line() {
        let alias =
            format!("{HEAD}defaults: &d\n  canary: {{canaryService: c}}\nspec:\n  strategy: *d\n");
        let r = mutated(&alias).text.unwrap_err();
        assert_eq!(r.line, 8);
        assert!(r.message.contains("alias"), "{r}");
        let merge =
            format!("{HEAD}spec:\n  strategy:\n    <<: {{blueGreen: {{}}}}\n    canary: {{}}\n");
        let r = mutated(&merge).text.unwrap_err();
        assert_eq!(r.line, 7);
        assert!(r.message.contains("merge key"), "{r}");
    }

    #[test]
    fn anchors_off_the_edited_path_do_not_block_a_fix() {
        // The anchored list is not edited, so its alias reads back the same.
        let text = format!(
            "{HEAD}spec:\n  strategy:\n    canary:\n      canaryService: c\n      steps: &s\n        - setWeight: 5\n  copy: *s\n"
        );
        let m = mutated(&text);
        let out = m.text.unwrap();
        assert!(out.contains("  copy: *s\n"));
        assert_eq!(m.changed[0].injected, [Injection::CanaryAnalysis]);
        let anchored = format!("{HEAD}spec:\n  strategy:\n    canary: &c {{canaryService: c}}\n");
        let r = mutated(&anchored).text.unwrap_err();
        assert!(r.message.contains("anchor"), "{r}");
    }

    #[test]
    fn comments_after_flow_collections_stay_where_they_are() {
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}  # c {x}\nspec:\n  strategy:\n    canary: {}   # empty\n  replicas: 1\n";
        let out = mutated(text).text.unwrap();
        assert!(out.starts_with("apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r, annotations: {rollout-guard.io/mutated: \"canary-steps,canary-analysis\"}}  # c {x}\nspec:\n  strategy:\n    canary:   # empty\n      steps:\n"), "{out}");
        let text = "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\nspec: {\n  strategy: {canary: {steps: [{setWeight: 5}]}}  # nested, {}\n}\n";
        let out = mutated(text).text.unwrap();
        assert!(out.contains("{canary: {steps: [{setWeight: 5}], analysis: {templates: [{templateName: success-rate-nginx, clusterScope: true}], "), "{out}");
        assert!(out.ends_with("]}}}  # nested, {}\n}\n"), "{out}");
    }

    #[test]
    fn the_read_back_check_catches_values_and_key_order() {
        let want = |v: Value| vec![Some(v)];
        assert!(verify(
            "a: 1\nb: 2\n",
            &[1],
            &want(serde_json::json!({"a": 1, "b": 2}))
        )
        .is_ok());
        let r = verify(
            "a: 1\nb: 2\n",
            &[7],
            &want(serde_json::json!({"a": 1, "b": 3})),
        )
        .unwrap_err();
        assert_eq!(r.line, 7);
        assert!(verify(
            "a: 1\nb: 2\n",
            &[1],
            &want(serde_json::json!({"b": 2, "a": 1}))
        )
        .is_err());
        assert!(verify(
            "a: 1\n---\nb: 2\n",
            &[1],
            &want(serde_json::json!({"a": 1}))
        )
        .is_err());
        assert!(verify("a: [\n", &[1], &want(serde_json::json!({"a": 1}))).is_err());
    }

    /// A List of two Rollouts in need of steps, a Service between them.
    const LIST: &str = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: argoproj.io/v1alpha1\n  kind: Rollout\n  metadata: {name: a}\n  spec:\n    strategy:\n      canary: {canaryService: c}\n- {apiVersion: v1, kind: Service, metadata: {name: s}}\n- apiVersion: argoproj.io/v1alpha1\n  kind: Rollout\n  metadata:\n    name: b\n  spec:\n    strategy:\n      canary:\n        canaryService: c\n";

    #[test]
    fn list_items_are_fixed_each_in_place_and_once() {
        let m = mutated(LIST);
        let lines: Vec<(&str, usize)> = m
            .changed
            .iter()
            .map(|c| (c.name.as_str(), c.line))
            .collect();
        assert_eq!(lines, [("a", 4), ("b", 11)]);
        // Each Changed carries the item's own patch, as the webhook would send it.
        assert!(m.changed[0].patch[0]
            .path()
            .to_string()
            .starts_with("/spec/"));
        let out = m.text.unwrap();
        let items = yaml::to_json(yaml::parse_stream(&out).unwrap()[0].root.as_ref().unwrap());
        for i in [0, 2] {
            assert!(
                items
                    .pointer(&format!("/items/{i}/spec/strategy/canary/steps/0"))
                    .is_some(),
                "{out}"
            );
        }
        assert_eq!(
            items["items"][1],
            serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}})
        );
        let again = mutated(&out);
        assert!(again.changed.is_empty());
        assert_eq!(again.text.unwrap(), out);
    }

    #[test]
    fn list_items_keep_the_refusals() {
        let anchored = LIST.replace(
            "    strategy:\n      canary: {",
            "    strategy:\n      canary: &c {",
        );
        let r = mutated(&anchored).text.unwrap_err();
        assert_eq!(r.line, 9);
        assert!(r.message.contains("anchor"), "{r}");
        let merged = LIST.replace(
            "      canary:\n        canaryService: c\n",
            "      <<: {blueGreen: {}}\n      canary:\n        canaryService: c\n",
        );
        let r = mutated(&merged).text.unwrap_err();
        assert_eq!(r.line, 17);
        assert!(r.message.contains("merge key"), "{r}");
    }

    #[test]
    fn documents_without_changes_keep_the_text() {
        let text = "# just a comment\n---\napiVersion: v1\nkind: ConfigMap\n";
        let m = mutated(text);
        assert!(m.changed.is_empty());
        assert_eq!(m.text.unwrap(), text);
    }
}
