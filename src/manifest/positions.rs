//! Where each node of a document starts, kept in a compact array once the document's JSON value
//! is built: what a lint run needs of the YAML tree to report findings.
//!
//! A whole [`Node`] tree costs about as much memory as the JSON value again, and a large stream
//! spends a good part of its time faulting that memory in. The positions array costs 12 bytes a
//! node and holds no strings: a mapping's children are found through the JSON value, whose keys
//! are in source order (keys are unique and the map preserves insertion order).

use super::yaml::{Node, NodeData};
use serde_json::Value;

/// Start positions of a document's nodes, in preorder. Mapping keys are not stored, only values.
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
}

impl Positions {
    /// The positions of `root` and everything under it.
    pub fn of(root: &Node) -> Positions {
        let mut nodes = Vec::new();
        push(&mut nodes, root);
        nodes.shrink_to_fit();
        Positions { nodes }
    }

    /// The line and column of the node at an RFC 6901 pointer into `value` (the JSON value this
    /// tree was built with), or of the deepest node on the way there.
    pub fn locate(&self, value: &Value, pointer: &str) -> (usize, usize) {
        let Some(first) = self.nodes.first() else {
            return (1, 1);
        };
        let (mut at, mut entry, mut value) = (0usize, *first, value);
        for raw in pointer.split('/').skip(1) {
            let part = raw.replace("~1", "/").replace("~0", "~");
            let found = match value {
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
            let Some((index, child)) = found else { break };
            let mut child_at = at + 1;
            for _ in 0..index {
                child_at = self.nodes[child_at].end as usize;
            }
            at = child_at;
            entry = self.nodes[at];
            value = child;
        }
        (entry.line as usize, entry.column as usize)
    }
}

fn push(nodes: &mut Vec<Entry>, node: &Node) {
    let at = nodes.len();
    nodes.push(Entry {
        line: node.span.start.line as u32,
        column: node.span.start.column as u32,
        end: 0,
    });
    match &node.data {
        NodeData::Scalar { .. } => {}
        NodeData::Seq { items, .. } => items.iter().for_each(|n| push(nodes, n)),
        NodeData::Map { entries, .. } => entries.iter().for_each(|(_, v)| push(nodes, v)),
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
            let node = root.locate(pointer).0;
            assert_eq!(
                positions.locate(&value, pointer),
                (node.span.start.line, node.span.start.column),
                "{pointer}"
            );
        }
    }
}
