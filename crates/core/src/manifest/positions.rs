//! Where each node of a document starts (and where each scalar ends), kept in a compact array once the document's JSON value
//! is built: what a lint run needs of the YAML tree to report findings.
//!
//! A whole [`Node`] tree costs about as much memory as the JSON value again, and a large stream
//! spends a good part of its time faulting that memory in. The positions array costs 12 bytes a
//! node and holds no strings: a mapping's children are found through the JSON value, whose keys
//! are in source order (keys are unique and the map preserves insertion order).

use super::yaml::{Node, NodeData, Span};
use serde_json::Value;

/// Start positions of a document's nodes, in preorder, and end positions of its scalars. Mapping
/// keys are not stored, only values.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    nodes: Vec<Entry>,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    line: u32,
    column: u32,
    /// Index one past this node's subtree: where its next sibling starts.
    end: u32,
    /// Where a scalar ends (the column just past it); zero for collections, whose end is far
    /// from the point a finding is about.
    end_line: u32,
    end_column: u32,
}

impl Positions {
    /// The positions of `root` and everything under it.
    pub fn of(root: &Node) -> Positions {
        let mut nodes = Vec::new();
        push(&mut nodes, root, None);
        nodes.shrink_to_fit();
        Positions { nodes }
    }

    /// The line and column of the node at an RFC 6901 pointer into `value` (the JSON value this
    /// tree was built with), or of the deepest node on the way there.
    pub fn locate(&self, value: &Value, pointer: &str) -> (usize, usize) {
        self.locate_with_end(value, pointer).0
    }

    /// [`locate`](Self::locate), and where the node ends when the pointer names a scalar that
    /// is there (a missing node has no extent).
    pub fn locate_with_end(
        &self,
        value: &Value,
        pointer: &str,
    ) -> ((usize, usize), Option<(usize, usize)>) {
        let Some(first) = self.nodes.first() else {
            return ((1, 1), None);
        };
        let mut found = true;
        let (mut at, mut entry, mut value) = (0usize, *first, value);
        for part in super::pointer::tokens(pointer) {
            let found_child = match value {
                Value::Object(map) => map
                    .iter()
                    .enumerate()
                    .find(|(_, (k, _))| **k == part)
                    .map(|(i, (_, v))| (i, v)),
                Value::Array(items) => part
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| Some((i, items.get(i)?))),
                _ => None,
            };
            let Some((index, child)) = found_child else {
                found = false;
                break;
            };
            let mut child_at = at + 1;
            for _ in 0..index {
                child_at = self.nodes[child_at].end as usize;
            }
            at = child_at;
            entry = self.nodes[at];
            value = child;
        }
        let start = (entry.line as usize, entry.column as usize);
        let end = (entry.end_line as usize, entry.end_column as usize);
        (start, (found && end > start).then_some(end))
    }
}

/// Pushes `node`'s subtree. `alias` is the `*name` whose expansion holds it, if any: every node
/// of an expansion is placed at the outermost alias that brought it in, since the anchored text
/// is another part of the document (often another object's).
fn push(nodes: &mut Vec<Entry>, node: &Node, alias: Option<&Span>) {
    let at = nodes.len();
    let alias = alias.or(node.alias.as_deref());
    let span = alias.unwrap_or(&node.span);
    // An alias is reported as the `*name` it is: its end is marked whatever it expands to.
    let ends = alias.is_some() || matches!(node.data, NodeData::Scalar { .. });
    nodes.push(Entry {
        line: span.start.line as u32,
        column: span.start.column as u32,
        end: 0,
        end_line: if ends { span.end.line as u32 } else { 0 },
        end_column: if ends { span.end.column as u32 } else { 0 },
    });
    match &node.data {
        NodeData::Scalar { .. } => {}
        NodeData::Seq { items, .. } => items.iter().for_each(|n| push(nodes, n, alias)),
        NodeData::Map { entries, .. } => entries.iter().for_each(|(_, v)| push(nodes, v, alias)),
    }
    nodes[at].end = nodes.len() as u32;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::{parse_stream, to_json};

    #[test]
    fn agrees_with_the_tree_everywhere() {
        let text = "a: 1\nb:\n  - x\n  - {c: [1, 2], d: e}\n  - - nested\nf/g: h\n";
        let root = parse_stream(text).unwrap().remove(0).root.unwrap();
        let value = to_json(&root);
        let positions = Positions::of(&root);
        for pointer in [
            "",
            "/a",
            "/b",
            "/b/0",
            "/b/1",
            "/b/1/c",
            "/b/1/c/1",
            "/b/1/d",
            "/b/2/0",
            "/f~1g",
            "/b/1/missing",
            "/b/9",
            "/a/deeper",
        ] {
            let (node, found) = root.locate(pointer);
            assert_eq!(
                positions.locate(&value, pointer),
                (node.span.start.line, node.span.start.column),
                "{pointer}"
            );
            let scalar = matches!(node.data, NodeData::Scalar { .. });
            let end = positions.locate_with_end(&value, pointer).1;
            assert_eq!(
                end,
                (found && scalar).then_some((node.span.end.line, node.span.end.column)),
                "{pointer}"
            );
        }
    }

    #[test]
    fn everything_inside_an_alias_is_placed_at_the_alias() {
        let text = "base: &b\n  limit: 1\n  inner: [x, {deep: y}]\nuse: *b\nlist:\n  - *b\nnested: &n {b: *b}\nagain: *n\n";
        let root = parse_stream(text).unwrap().remove(0).root.unwrap();
        let value = to_json(&root);
        let positions = Positions::of(&root);
        let at = |p: &str| positions.locate_with_end(&value, p);
        // The anchor's own text keeps its positions.
        assert_eq!(at("/base/limit").0, (2, 10));
        // An alias and everything under it: the `*b` (and its end), however deep.
        for p in ["/use", "/use/limit", "/use/inner/1/deep", "/use/missing"] {
            assert_eq!(at(p).0, (4, 6), "{p}");
        }
        assert_eq!(at("/use/inner/1/deep").1, Some((4, 8)));
        assert_eq!(at("/list/0/limit").0, (6, 5));
        // Inside the anchored `nested` the inner alias is its own `*b`; through `*n` the outer
        // alias wins, since the anchored text belongs to another place.
        assert_eq!(at("/nested/b/limit").0, (7, 16));
        assert_eq!(at("/again/b/limit").0, (8, 8));
    }
}
