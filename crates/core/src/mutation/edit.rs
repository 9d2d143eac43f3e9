//! A JSON Patch turned into text edits on the YAML it was computed from, using the node spans:
//! new keys go at the end of their mapping with the indentation of their siblings (or inside
//! the braces of a flow mapping), list items after the last item, and a null value is filled in
//! place. Everything outside the edits stays byte for byte.
//!
//! Only `add` operations whose parent exists in the source are supported: that is all the
//! mutator produces. Anything this module cannot edit safely (an alias or anchor on the way, a
//! merge key, a value that would be replaced) is refused with the line it is on.

use super::render::{self, Style};
use super::source::Refusal;
use crate::manifest::pointer;
use crate::manifest::yaml::{Node, NodeData};
use json_patch::PatchOperation;
use saphyr_parser::ScalarStyle;
use serde_json::Value;

/// Replace `text[start..end]` with `text`. An insertion has `start == end`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Depth of the container edited: at one position, deeper content goes first.
    depth: usize,
}

/// One new key (or list item, with no key) and its value.
type Add<'a> = (Option<String>, &'a Value);

/// Renders one new flow entry, over several lines at the given indentation or on one.
type FlowEntry<'a> = dyn Fn(&Option<String>, &Value, Option<usize>) -> String + 'a;

/// Where a patch operation lands in the source.
enum Target<'a> {
    /// A new key or list item appended to `parent`.
    Append {
        parent: &'a Node,
        key: Option<String>,
    },
    /// An existing null or scalar value replaced.
    Replace {
        parent: &'a Node,
        key: &'a Node,
        value: &'a Node,
    },
}

/// The edits that write `patch` into the document rooted at `root`.
pub fn plan(
    text: &str,
    root: &Node,
    patch: &[PatchOperation],
    style: &Style,
) -> Result<Vec<Edit>, Refusal> {
    // Appends to one container are written together, in patch order.
    let mut groups: Vec<(String, &Node, Vec<Add>)> = Vec::new();
    let mut edits = Vec::new();
    for op in patch {
        let PatchOperation::Add(add) = op else {
            return Err(refuse(
                root,
                "only `add` operations can be written into the file",
            ));
        };
        let pointer = add.path.to_string();
        let (parent_ptr, last) = pointer
            .rsplit_once('/')
            .ok_or_else(|| refuse(root, "the patch replaces the whole object"))?;
        let last = pointer::decode(last);
        let parent = walk(text, root, parent_ptr)?;
        let pending = groups
            .iter()
            .find(|g| g.0 == parent_ptr)
            .map_or(0, |g| g.2.len());
        let target = match &parent.data {
            NodeData::Map { .. } => match parent.entry(&last) {
                None => Target::Append {
                    parent,
                    key: Some(last),
                },
                Some((key, value)) => Target::Replace { parent, key, value },
            },
            NodeData::Seq { items, .. } if last.parse::<usize>() == Ok(items.len() + pending) => {
                Target::Append { parent, key: None }
            }
            _ => {
                return Err(refuse(
                    parent,
                    &format!("cannot add `{pointer}` here: only appends to a list are written"),
                ))
            }
        };
        match target {
            Target::Append { parent, key } => match groups.iter_mut().find(|g| g.0 == parent_ptr) {
                Some(g) => g.2.push((key, &add.value)),
                None => groups.push((parent_ptr.to_string(), parent, vec![(key, &add.value)])),
            },
            Target::Replace { parent, key, value } => edits.extend(replace(
                text,
                parent,
                key,
                value,
                &add.value,
                style,
                depth(parent_ptr),
            )?),
        }
    }
    for (ptr, parent, adds) in &groups {
        match block_key_of_empty_flow(root, ptr, parent) {
            Some(key) => edits.extend(fill_empty_flow(text, key, parent, adds, style, depth(ptr))?),
            None => edits.push(append(text, parent, adds, style, depth(ptr))?),
        }
    }
    edits.sort_by(|a, b| {
        (a.start, std::cmp::Reverse(a.depth)).cmp(&(b.start, std::cmp::Reverse(b.depth)))
    });
    if let Some(w) = edits.windows(2).find(|w| w[1].start < w[0].end) {
        return Err(Refusal {
            line: line_of(text, w[1].start),
            message: "the changes overlap in the source".into(),
        });
    }
    Ok(edits)
}

/// Applies sorted, non-overlapping edits.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out =
        String::with_capacity(text.len() + edits.iter().map(|e| e.text.len()).sum::<usize>());
    let mut at = 0;
    for e in edits {
        out.push_str(&text[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&text[at..]);
    out
}

fn depth(pointer: &str) -> usize {
    pointer.matches('/').count()
}

fn refuse(node: &Node, message: &str) -> Refusal {
    Refusal {
        line: node.span.start.line,
        message: message.to_string(),
    }
}

/// The node at `pointer`, refusing aliases, anchors and merge keys on the way: an edit
/// through them would change other parts of the document too.
fn walk<'a>(text: &str, root: &'a Node, pointer: &str) -> Result<&'a Node, Refusal> {
    let mut node = root;
    check_container(text, node)?;
    for part in pointer::tokens(pointer) {
        let (next, after) = match &node.data {
            NodeData::Map { .. } => match node.entry(&part) {
                Some((k, v)) => (v, k.span.end.byte),
                None => return Err(refuse(node, &format!("`{part}` is not in the source"))),
            },
            NodeData::Seq { items, .. } => {
                let i = part.parse::<usize>().ok();
                match i.and_then(|i| items.get(i).map(|n| (i, n))) {
                    Some((0, n)) => (n, node.span.start.byte.min(n.span.start.byte)),
                    Some((i, n)) => (n, items[i - 1].span.end.byte),
                    None => return Err(refuse(node, &format!("item {part} is not in the source"))),
                }
            }
            NodeData::Scalar { .. } => {
                return Err(refuse(node, "a scalar stands where a mapping is expected"))
            }
        };
        // An alias's node carries the span of its anchor, earlier in the text.
        if next.span.start.byte < after {
            return Err(refuse_at(
                text,
                after,
                "the value is a YAML alias (*name); an edit would change the anchored value everywhere it is used",
            ));
        }
        check_container(text, next)?;
        node = next;
    }
    Ok(node)
}

fn refuse_at(text: &str, byte: usize, message: &str) -> Refusal {
    Refusal {
        line: line_of(text, byte),
        message: message.to_string(),
    }
}

fn check_container(text: &str, node: &Node) -> Result<(), Refusal> {
    if text.as_bytes().get(node.span.start.byte) == Some(&b'&') {
        return Err(refuse(
            node,
            "the value carries a YAML anchor (&name); an edit would change every alias of it too",
        ));
    }
    if let NodeData::Map { entries, .. } = &node.data {
        // The parser resolves merge keys; the keys it merged carry the `<<` key's span.
        if let Some(merge) = entries.iter().find_map(|(k, _)| k.alias.as_deref()) {
            return Err(refuse_at(
                text,
                merge.start.byte,
                "the mapping uses a YAML merge key (<<)",
            ));
        }
    }
    Ok(())
}

/// 1-based line of a byte offset.
fn line_of(text: &str, byte: usize) -> usize {
    text.as_bytes()[..byte.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Byte offset of the end of the line holding the last non-blank character before `end`
/// (the offset of its `\r\n` or `\n`, or the end of the text). Block scalars' spans run past
/// their trailing blank lines; this steps back over them.
fn line_end_after(text: &str, start: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut q = end.min(text.len());
    while q > start && matches!(bytes[q - 1], b'\n' | b'\r' | b' ' | b'\t') {
        q -= 1;
    }
    let eol = text[q..].find('\n').map_or(text.len(), |i| q + i);
    if eol > 0 && bytes.get(eol - 1) == Some(&b'\r') && eol < text.len() {
        eol - 1
    } else {
        eol
    }
}

/// Where to append after `node` when the text it ends with is a block scalar with keep
/// chomping (`|+`, `>+`): after its trailing blank lines, which belong to its value.
fn after_kept_lines(text: &str, node: &Node) -> Option<usize> {
    let mut leaf = node;
    loop {
        match &leaf.data {
            NodeData::Map {
                entries,
                flow: false,
            } => leaf = &entries.last()?.1,
            NodeData::Seq { items, flow: false } => leaf = items.last()?,
            NodeData::Scalar {
                style: ScalarStyle::Literal | ScalarStyle::Folded,
                ..
            } => break,
            _ => return None,
        }
    }
    // The header (`|+`, `>2+`) is on the line before the content.
    let content_line = text[..leaf.span.start.byte].rfind('\n')?;
    let header_line = &text[text[..content_line].rfind('\n').map_or(0, |i| i + 1)..content_line];
    let indicator = header_line.rfind(['|', '>'])?;
    let header = header_line[indicator + 1..]
        .split([' ', '\t', '#'])
        .next()
        .unwrap_or_default();
    if !header.contains('+') {
        return None;
    }
    let body = text[..leaf.span.end.byte.min(text.len())].trim_end_matches([' ', '\t']);
    let last_newline = body.strip_suffix('\n')?.len();
    Some(match body[..last_newline].strip_suffix('\r') {
        Some(rest) => rest.len(),
        None => last_newline,
    })
}

/// The end of an entry: its value's end, or its key's when the value is an empty scalar.
fn entry_end(text: &str, k: &Node, v: &Node) -> usize {
    k.span.end.byte.max(node_end(text, v))
}

/// Where a node's text ends. A flow collection's span runs on over the whitespace and comment
/// after its closing bracket; this is right after the bracket.
fn node_end(text: &str, node: &Node) -> usize {
    flow_close(text, node).unwrap_or(node.span.end.byte)
}

/// The offset right after the closing bracket of a flow collection: found from its last
/// child (or its opening bracket) over whitespace, commas and comments.
fn flow_close(text: &str, node: &Node) -> Option<usize> {
    let from = match &node.data {
        NodeData::Map {
            entries,
            flow: true,
        } => entries
            .last()
            .map_or(node.span.start.byte + 1, |(k, v)| entry_end(text, k, v)),
        NodeData::Seq { items, flow: true } => items
            .last()
            .map_or(node.span.start.byte + 1, |i| node_end(text, i)),
        _ => return None,
    };
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' | b',' => i += 1,
            b'#' => i = text[i..].find('\n').map_or(bytes.len(), |n| i + n),
            b'}' | b']' => return Some(i + 1),
            _ => return None,
        }
    }
    None
}

fn is_flow(node: &Node) -> bool {
    matches!(
        node.data,
        NodeData::Map { flow: true, .. } | NodeData::Seq { flow: true, .. }
    )
}

/// The edit that appends `adds` to the mapping or sequence `parent`.
fn append(
    text: &str,
    parent: &Node,
    adds: &[Add],
    style: &Style,
    depth: usize,
) -> Result<Edit, Refusal> {
    let nl = style.newline;
    let insert = |at: usize, text: String| Edit {
        start: at,
        end: at,
        text,
        depth,
    };
    if is_flow(parent) {
        let entry = |key: &Option<String>, value: &Value, indent: Option<usize>| {
            let value = match indent {
                Some(i) if style.json => render::json_pretty(value, i, style),
                _ => render::flow(value, style.json),
            };
            match key {
                Some(k) => format!("{}: {value}", render::key(k, true, style)),
                None => value,
            }
        };
        let (last_start, last_end) = match &parent.data {
            NodeData::Map { entries, .. } => match entries.last() {
                Some((k, v)) => (k.span.start, entry_end(text, k, v)),
                None => {
                    return empty_flow(text, parent, adds, &entry, depth);
                }
            },
            NodeData::Seq { items, .. } => match items.last() {
                Some(i) => (i.span.start, node_end(text, i)),
                None => return empty_flow(text, parent, adds, &entry, depth),
            },
            NodeData::Scalar { .. } => unreachable!("a flow node is a collection"),
        };
        // A flow collection written over several lines gets one new line per entry.
        let multiline = last_start.line > parent.span.start.line;
        let indent = last_start.column - 1;
        let mut out = String::new();
        for (key, value) in adds {
            if multiline {
                out.push_str(&format!(
                    ",{nl}{}{}",
                    " ".repeat(indent),
                    entry(key, value, Some(indent))
                ));
            } else {
                out.push_str(&format!(", {}", entry(key, value, None)));
            }
        }
        return Ok(insert(last_end, out));
    }
    match &parent.data {
        NodeData::Map { entries, .. } => {
            let (first, _) = entries
                .first()
                .ok_or_else(|| refuse(parent, "empty block mapping"))?;
            let (lk, lv) = entries.last().expect("non-empty");
            let indent = first.span.start.column - 1;
            let mut out = String::new();
            for (key, value) in adds {
                let key = key.as_deref().expect("a mapping gets keys");
                out.push_str(&format!(
                    "{nl}{}{}:{}",
                    " ".repeat(indent),
                    render::key(key, false, style),
                    render::block_value(value, indent, style)
                ));
            }
            let at = after_kept_lines(text, lv).unwrap_or_else(|| {
                line_end_after(text, lk.span.start.byte, entry_end(text, lk, lv))
            });
            Ok(insert(at, out))
        }
        NodeData::Seq { items, .. } => {
            let first = items
                .first()
                .ok_or_else(|| refuse(parent, "empty block sequence"))?;
            let last = items.last().expect("non-empty");
            let dash = render::dash_column(text, first)
                .ok_or_else(|| refuse(first, "cannot find the dash of the list item"))?;
            let mut out = String::new();
            for (_, value) in adds {
                out.push_str(&format!(
                    "{nl}{}- {}",
                    " ".repeat(dash),
                    render::block_item(value, dash + 2, style)
                ));
            }
            let at = after_kept_lines(text, last)
                .unwrap_or_else(|| line_end_after(text, last.span.start.byte, last.span.end.byte));
            Ok(insert(at, out))
        }
        NodeData::Scalar { .. } => Err(refuse(
            parent,
            "a scalar stands where a mapping is expected",
        )),
    }
}

/// The key of `parent` when it is an empty `{}` or `[]` on the line of its key in a block
/// mapping: filled, it reads better as a block, like its siblings.
fn block_key_of_empty_flow<'a>(root: &'a Node, ptr: &str, parent: &Node) -> Option<&'a Node> {
    let empty = match &parent.data {
        NodeData::Map {
            entries,
            flow: true,
        } => entries.is_empty(),
        NodeData::Seq { items, flow: true } => items.is_empty(),
        _ => false,
    };
    let (grand_ptr, last) = ptr.rsplit_once('/')?;
    let (grand, found) = root.locate(grand_ptr);
    if !empty || !found || !matches!(grand.data, NodeData::Map { flow: false, .. }) {
        return None;
    }
    let (key, _) = grand.entry(&pointer::decode(last))?;
    (key.span.start.line == parent.span.start.line).then_some(key)
}

/// Fills an empty `key: {}` or `key: []` of a block mapping as a block: the brackets go, the
/// new entries follow the key's line (after any comment on it).
fn fill_empty_flow(
    text: &str,
    key: &Node,
    parent: &Node,
    adds: &[Add],
    style: &Style,
    depth: usize,
) -> Result<Vec<Edit>, Refusal> {
    let value = match &parent.data {
        NodeData::Map { .. } => Value::Object(
            adds.iter()
                .map(|(k, v)| (k.clone().unwrap_or_default(), (*v).clone()))
                .collect(),
        ),
        _ => Value::Array(adds.iter().map(|(_, v)| (*v).clone()).collect()),
    };
    let colon =
        colon_after(text, key).ok_or_else(|| refuse(key, "cannot find the colon after the key"))?;
    let close = flow_close(text, parent)
        .ok_or_else(|| refuse(parent, "cannot find the closing bracket"))?;
    let eol = line_end_after(text, key.span.start.byte, close);
    let indent = key.span.start.column - 1;
    Ok(vec![
        Edit {
            start: colon,
            end: close,
            text: String::new(),
            depth,
        },
        Edit {
            start: eol,
            end: eol,
            text: render::block_value(&value, indent, style),
            depth,
        },
    ])
}

/// Entries for an empty `{}` or `[]`: written right after the opening bracket.
fn empty_flow(
    text: &str,
    parent: &Node,
    adds: &[Add],
    entry: &FlowEntry,
    depth: usize,
) -> Result<Edit, Refusal> {
    let open = parent.span.start.byte;
    if !matches!(text.as_bytes().get(open), Some(b'{' | b'[')) {
        return Err(refuse(parent, "cannot find the opening bracket"));
    }
    let body: Vec<String> = adds.iter().map(|(k, v)| entry(k, v, None)).collect();
    Ok(Edit {
        start: open + 1,
        end: open + 1,
        text: body.join(", "),
        depth,
    })
}

/// The edits that replace `value` (a null, or the scalar of the mutated annotation) under
/// `key` in `parent` with `new`.
fn replace(
    text: &str,
    parent: &Node,
    key: &Node,
    value: &Node,
    new: &Value,
    style: &Style,
    depth: usize,
) -> Result<Vec<Edit>, Refusal> {
    let NodeData::Scalar {
        value: old,
        style: quoting,
        ..
    } = &value.data
    else {
        return Err(refuse(
            value,
            "the patch would replace a value the manifest sets",
        ));
    };
    let is_null = *quoting == ScalarStyle::Plain
        && matches!(old.as_str(), "" | "~" | "null" | "Null" | "NULL");
    let scalar_new = !matches!(new, Value::Object(m) if !m.is_empty())
        && !matches!(new, Value::Array(a) if !a.is_empty());
    if !is_null && !scalar_new {
        return Err(refuse(
            value,
            "the patch would replace a value the manifest sets",
        ));
    }
    if value.span.start.line != value.span.end.line || value.span.start.byte < key.span.end.byte {
        return Err(refuse(
            value,
            "the value to fill spans several lines or is an alias",
        ));
    }
    let edit = |start: usize, end: usize, text: String| Edit {
        start,
        end,
        text,
        depth,
    };
    let flow = is_flow(parent);
    // The value's own text: for an empty scalar, the place right after the colon.
    let (start, end) = if value.span.start.byte == value.span.end.byte {
        let after = colon_after(text, key)
            .ok_or_else(|| refuse(key, "cannot find the colon after the key"))?;
        (after, after)
    } else {
        (value.span.start.byte, value.span.end.byte)
    };
    let pad = if start == end { " " } else { "" };
    if flow {
        return Ok(vec![edit(
            start,
            end,
            format!("{pad}{}", render::flow(new, style.json)),
        )]);
    }
    if scalar_new {
        let rendered = match (quoting, new) {
            (ScalarStyle::SingleQuoted, Value::String(s)) if !s.contains(['\'', '\n']) => {
                format!("'{s}'")
            }
            (ScalarStyle::DoubleQuoted, Value::String(s)) => Value::String(s.clone()).to_string(),
            _ => render::scalar(new, false, false),
        };
        return Ok(vec![edit(start, end, format!("{pad}{rendered}"))]);
    }
    // A null in a block mapping filled with a block: the null token goes, the block follows
    // the key's line (after any comment on it).
    let indent = key.span.start.column - 1;
    let colon =
        colon_after(text, key).ok_or_else(|| refuse(key, "cannot find the colon after the key"))?;
    let mut edits = Vec::new();
    if start != end {
        edits.push(edit(colon, end, String::new()));
    }
    let eol = line_end_after(text, key.span.start.byte, end.max(colon));
    edits.push(edit(eol, eol, render::block_value(new, indent, style)));
    Ok(edits)
}

/// The offset right after the `:` that follows a mapping key.
fn colon_after(text: &str, key: &Node) -> Option<usize> {
    let rest = &text[key.span.end.byte..];
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    (rest.as_bytes().get(skipped) == Some(&b':')).then_some(key.span.end.byte + skipped + 1)
}
