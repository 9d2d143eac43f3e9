//! Manifests: bytes from a file, stdin or an AdmissionReview, turned into [`Object`]s that keep
//! where they came from.

pub mod pointer;
pub mod positions;
pub mod yaml;

use serde_json::Value;
use std::fmt;

pub use positions::Positions;
pub use yaml::{Node, Pos, Span};

/// Largest input accepted in one piece. The kube-apiserver caps objects at 3 MiB; a manifest
/// stream this big is already unusual, and the bound keeps memory in check.
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;

/// The kinds rollout-guard reviews.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Rollout,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    Deployment,
}

impl Kind {
    /// Every reviewed kind: the one list the webhook's metrics, the cluster watch and the
    /// chart's tests read.
    pub const ALL: [Kind; 4] = [
        Kind::Rollout,
        Kind::AnalysisTemplate,
        Kind::ClusterAnalysisTemplate,
        Kind::Deployment,
    ];

    /// The kind for an `apiVersion`/`kind` pair, when it is one rollout-guard reviews.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind && k.api_version() == api_version)
    }

    /// The Kubernetes kind name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Rollout => "Rollout",
            Kind::AnalysisTemplate => "AnalysisTemplate",
            Kind::ClusterAnalysisTemplate => "ClusterAnalysisTemplate",
            Kind::Deployment => "Deployment",
        }
    }

    /// The API group (`argoproj.io`, `apps`).
    pub const fn group(self) -> &'static str {
        match self {
            Kind::Deployment => "apps",
            _ => "argoproj.io",
        }
    }

    /// The API version within the group.
    pub const fn version(self) -> &'static str {
        match self {
            Kind::Deployment => "v1",
            _ => "v1alpha1",
        }
    }

    /// `group/version`, as in `apiVersion`.
    pub const fn api_version(self) -> &'static str {
        match self {
            Kind::Deployment => "apps/v1",
            _ => "argoproj.io/v1alpha1",
        }
    }

    /// The resource name, as in RBAC rules, webhook rules and API paths.
    pub const fn plural(self) -> &'static str {
        match self {
            Kind::Rollout => "rollouts",
            Kind::AnalysisTemplate => "analysistemplates",
            Kind::ClusterAnalysisTemplate => "clusteranalysistemplates",
            Kind::Deployment => "deployments",
        }
    }

    /// True for the two analysis template kinds.
    pub fn is_template(self) -> bool {
        matches!(self, Kind::AnalysisTemplate | Kind::ClusterAnalysisTemplate)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes object of a reviewed kind. The engine sees only this: no file, no position.
#[derive(Clone, Debug)]
pub struct Object {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub value: Value,
    /// Where the object came from (a file's directory), so that a reference resolves to the
    /// nearest of several same-named templates in a lint run; empty in the webhook.
    pub origin: String,
}

impl Object {
    /// Builds an object from a JSON value; `None` when it is not a reviewed kind.
    pub fn from_value(value: Value) -> Option<Object> {
        let kind = Kind::from_type(
            value.get("apiVersion")?.as_str()?,
            value.get("kind")?.as_str()?,
        )?;
        let meta = value.get("metadata");
        let text = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let name = match text("name") {
            n if n.is_empty() => text("generateName"),
            n => n,
        };
        Some(Object {
            kind,
            namespace: text("namespace"),
            name,
            value,
            origin: String::new(),
        })
    }

    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        pointer::get(&self.value, pointer::ANNOTATIONS)?
            .get(key)?
            .as_str()
    }
}

/// What one document of a stream (or one item of a List document) turned out to be. `N` is
/// what is kept of the YAML tree: the whole [`Node`] (to edit the text) or only [`Positions`]
/// (to report where findings are).
#[derive(Debug)]
pub enum Document<N = Node> {
    /// A reviewed object, with its YAML tree (or what was kept of it) for positions.
    Object { object: Box<Object>, node: N },
    /// A Kubernetes object of another kind, or something that is not a Kubernetes object.
    Skipped,
}

/// A source that could not be read as YAML: the message and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
    /// Set when the text looks like an unrendered Helm template.
    pub helm_hint: bool,
}

/// A parsed source: every document that parsed (a List's items each as one), and the error that
/// stopped the stream, if any.
#[derive(Debug)]
pub struct Parsed<N = Node> {
    pub documents: Vec<Document<N>>,
    pub error: Option<SyntaxError>,
}

/// Parses bytes from a file or stdin into documents. Never panics: bad bytes become a
/// [`SyntaxError`].
pub fn parse_bytes(bytes: &[u8]) -> Parsed {
    parse_bytes_keeping(bytes, |node| node)
}

/// [`parse_bytes`] keeping only `keep(node)` of each object's YAML tree. The tree is dropped in
/// the parsing thread as soon as its document is converted, which keeps a large stream's memory
/// (and the time spent faulting it in) to what the caller needs.
pub fn parse_bytes_keeping<N: Send>(bytes: &[u8], keep: fn(Node) -> N) -> Parsed<N> {
    let fail = |message: String, line: usize, column: usize| Parsed {
        documents: Vec::new(),
        error: Some(SyntaxError {
            message,
            line,
            column,
            helm_hint: false,
        }),
    };
    if bytes.len() > MAX_INPUT_BYTES {
        return fail(
            format!(
                "input is {:.1} MiB; the limit is {} MiB",
                bytes.len() as f64 / 1048576.0,
                MAX_INPUT_BYTES / 1048576
            ),
            1,
            1,
        );
    }
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        let (line, column) = line_col(bytes, at);
        return fail(
            "binary data (a NUL byte), not YAML or JSON".to_string(),
            line,
            column,
        );
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_col(bytes, e.valid_up_to());
            return fail(
                format!(
                    "not UTF-8 text (invalid byte 0x{:02x} at offset {})",
                    bytes[e.valid_up_to()],
                    e.valid_up_to()
                ),
                line,
                column,
            );
        }
    };
    parse_text_keeping(text, keep)
}

/// Every reviewed object in `text`, in order (other documents, and what follows a syntax error,
/// are left out).
pub fn objects(text: &str) -> Vec<Object> {
    parse_text(text)
        .documents
        .into_iter()
        .filter_map(|d| match d {
            Document::Object { object, .. } => Some(*object),
            Document::Skipped => None,
        })
        .collect()
}

/// Parses UTF-8 text into documents.
pub fn parse_text(text: &str) -> Parsed {
    parse_text_keeping(text, |node| node)
}

/// [`parse_text`] keeping only `keep(node)` of each object's YAML tree.
pub fn parse_text_keeping<N: Send>(text: &str, keep: fn(Node) -> N) -> Parsed<N> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // One YAML document gives one Document, or one per item when it is a List.
    let finish = |doc: yaml::YamlDoc| -> Vec<Document<N>> {
        let Some(node) = doc.root else {
            return Vec::new();
        };
        let value = yaml::to_json(&node);
        match list_items(&node, &value) {
            // The items are copied out of the List's tree: a List is one document, and its
            // tree is dropped right after.
            Some(items) => items
                .into_iter()
                .map(|(n, v)| document(n.clone(), v.clone(), keep))
                .collect(),
            None => vec![document(node, value, keep)],
        }
    };
    let (docs, error) = match parse_stream(text, &finish) {
        Ok(docs) => (docs, None),
        Err((docs, e)) => (docs, Some(e)),
    };
    let documents = docs.into_iter().flatten().collect();
    Parsed {
        documents,
        error: error.map(|e| SyntaxError {
            helm_hint: looks_like_helm(text),
            message: e.message,
            line: e.pos.line.max(1),
            column: e.pos.column.max(1),
        }),
    }
}

/// One object (a document, or an item of a List) as a [`Document`].
fn document<N>(node: Node, value: Value, keep: fn(Node) -> N) -> Document<N> {
    match Object::from_value(value) {
        Some(object) => Document::Object {
            object: Box::new(object),
            node: keep(node),
        },
        None => Document::Skipped,
    }
}

/// The items of a List document, each with its YAML node, in order; `None` when the document is
/// not a List. A List is what `kubectl get -o yaml` prints: `apiVersion: v1, kind: List`, or a
/// typed list such as `RolloutList`, holding the objects in an `items` sequence. This is the one
/// place that decides what a List is: the linter and the fixer both split documents with it.
///
/// Items are returned whatever they hold (the caller skips what is not a reviewed object), so
/// that an item's index in the result is its index in `items`. A List inside an item is not
/// split again: `kubectl` never nests them, and one level keeps the work bounded.
pub fn list_items<'a>(node: &'a Node, value: &'a Value) -> Option<Vec<(&'a Node, &'a Value)>> {
    value.get("apiVersion")?.as_str()?;
    if !value.get("kind")?.as_str()?.ends_with("List") {
        return None;
    }
    let values = value.get("items")?.as_array()?;
    // The value is built from the tree (merge keys already resolved in it), so the two agree;
    // the length check keeps a disagreement from ever pairing an item with the wrong node.
    let (_, items) = node.entry("items")?;
    let yaml::NodeData::Seq { items: nodes, .. } = &items.data else {
        return None;
    };
    (nodes.len() == values.len()).then(|| nodes.iter().zip(values).collect())
}

/// Streams below this size are parsed on one thread; above it, on every core.
const PARALLEL_PARSE_BYTES: usize = 512 * 1024;

fn parse_stream<T: Send>(
    text: &str,
    finish: &(impl Fn(yaml::YamlDoc) -> T + Sync),
) -> yaml::StreamResult<T> {
    if text.len() < PARALLEL_PARSE_BYTES {
        return yaml::parse_stream_with(text, finish);
    }
    yaml::parse_stream_parallel(text, crate::threads(), finish)
}

fn looks_like_helm(text: &str) -> bool {
    text.contains("{{ .Values")
        || text.contains("{{- ")
        || text.contains("{{ include")
        || text.contains("{{ .Release")
        || text.contains("{{ template")
        || text.contains(".Values.")
}

fn line_col(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_other_kinds_and_non_objects() {
        let p = parse_text(
            "apiVersion: v1\nkind: Service\n---\n- a list\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\n",
        );
        assert!(p.error.is_none());
        assert_eq!(p.documents.len(), 3);
        assert!(matches!(&p.documents[2], Document::Object { object, .. } if object.name == "r"));
    }

    #[test]
    fn binary_and_non_utf8_are_errors() {
        assert!(parse_bytes(b"a: 1\n\0\0")
            .error
            .unwrap()
            .message
            .contains("binary"));
        let e = parse_bytes(b"a: 1\nb: \xff\n").error.unwrap();
        assert!(e.message.contains("UTF-8"));
        assert_eq!((e.line, e.column), (2, 4));
    }

    #[test]
    fn helm_templates_get_a_hint() {
        let p = parse_text(
            "metadata:\n  name: {{ .Values.name }}\n  labels:\n  {{- include \"x\" . }}\n",
        );
        assert!(p.error.unwrap().helm_hint);
    }

    const LIST: &str = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: argoproj.io/v1alpha1\n  kind: Rollout\n  metadata: {name: a}\n  spec:\n    strategy: {canary: {}}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n- apiVersion: argoproj.io/v1alpha1\n  kind: AnalysisTemplate\n  metadata:\n    name: t\n  spec:\n    metrics:\n    - name: m\nmetadata: {resourceVersion: \"\"}\n";

    fn names(p: &Parsed) -> Vec<Option<&str>> {
        p.documents
            .iter()
            .map(|d| match d {
                Document::Object { object, .. } => Some(object.name.as_str()),
                Document::Skipped => None,
            })
            .collect()
    }

    #[test]
    fn a_list_gives_one_document_per_item() {
        let p = parse_text(LIST);
        assert!(p.error.is_none());
        assert_eq!(names(&p), [Some("a"), None, Some("t")]);
        // A typed list is a List too, in a stream beside other documents.
        let typed = LIST.replace(
            "apiVersion: v1\nkind: List",
            "apiVersion: argoproj.io/v1alpha1\nkind: RolloutList",
        );
        let p = parse_text(&format!("{typed}---\n{typed}"));
        assert_eq!(
            names(&p),
            [Some("a"), None, Some("t"), Some("a"), None, Some("t")]
        );
    }

    #[test]
    fn an_item_is_placed_by_its_own_lines() {
        let p = parse_text_keeping(LIST, |n| Positions::of(&n));
        let Document::Object { object, node } = &p.documents[2] else {
            panic!("the template is an object");
        };
        // The pointer stays relative to the item, the position is absolute in the file.
        assert_eq!(node.locate(&object.value, ""), (12, 3));
        assert_eq!(node.locate(&object.value, "/metadata/name"), (15, 11));
        assert_eq!(node.locate(&object.value, "/spec/metrics/0"), (18, 7));
        let Document::Object { object, node } = &p.documents[0] else {
            panic!("the Rollout is an object");
        };
        assert_eq!(node.locate(&object.value, "/spec/strategy/canary"), (8, 24));
    }

    #[test]
    fn odd_lists_do_not_panic_and_are_not_split_twice() {
        let cases = [
            // `items` that is not a sequence: not a List, one skipped document.
            ("apiVersion: v1\nkind: List\nitems: {a: 1}\n", vec![None]),
            ("apiVersion: v1\nkind: List\nitems: null\n", vec![None]),
            ("apiVersion: v1\nkind: List\n", vec![None]),
            // No apiVersion: not a Kubernetes List.
            ("kind: List\nitems: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}]\n", vec![None]),
            // Empty: nothing to review.
            ("apiVersion: v1\nkind: List\nitems: []\n", vec![]),
            // Items that are not mappings are skipped, the others kept.
            (
                "apiVersion: v1\nkind: List\nitems: [1, [x], null, {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}]\n",
                vec![None, None, None, Some("d")],
            ),
            // A List in an item is skipped, not split.
            (
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}]\n",
                vec![None],
            ),
        ];
        for (text, want) in cases {
            let p = parse_text(text);
            assert!(p.error.is_none(), "{text}");
            assert_eq!(names(&p), want, "{text}");
        }
    }

    #[test]
    fn json_parses_too() {
        let p =
            parse_text(r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"}}"#);
        assert!(
            matches!(&p.documents[0], Document::Object { object, .. } if object.kind == Kind::Deployment)
        );
    }
}
