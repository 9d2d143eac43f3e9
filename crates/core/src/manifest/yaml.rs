//! A YAML stream parsed into a tree that remembers where every node came from.
//!
//! `saphyr-parser` gives events with character spans; this module builds them into [`Node`]s
//! with byte offsets, lines and columns, and turns each node into a `serde_json::Value` with the
//! YAML 1.2 core schema. The builder is iterative and bounded (nesting depth, alias expansion), so
//! no input can overflow the stack or expand a billion laughs into memory.

use saphyr_parser::{Event, Parser, ScalarStyle, Span as RawSpan};
use serde_json::{Map, Number, Value};
use std::collections::{HashMap, HashSet};

/// Deepest nesting accepted. Real manifests stay under 20; this bound keeps recursion in the
/// later passes (conversion, drop) far from the stack limit.
pub const MAX_DEPTH: usize = 256;
/// Most nodes one document may hold after alias expansion.
pub const MAX_NODES: usize = 1_000_000;
/// Most nodes that aliases may add to one document. Real manifests alias a few small blocks;
/// without this bound a 600-byte billion-laughs document expands to `MAX_NODES` nodes (about
/// 250 MB) before it is refused.
pub const MAX_ALIAS_NODES: usize = 50_000;

/// A position in the source: byte offset, 1-based line and 1-based column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub byte: usize,
    pub line: usize,
    pub column: usize,
}

/// A range of source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

/// One YAML node with its span.
#[derive(Clone, Debug)]
pub struct Node {
    /// Where the node's text is. An alias's expansion keeps the spans of the anchored text it
    /// copies (an edit must know that it would change the anchor), so see also `alias`.
    pub span: Span,
    pub data: NodeData,
    /// Where the `*name` is when this node is an alias's expansion: what a finding about the
    /// node, or about anything inside it, points at. Boxed: aliases are rare, nodes are many.
    pub alias: Option<Box<Span>>,
}

/// What a node holds.
#[derive(Clone, Debug)]
pub enum NodeData {
    Scalar {
        value: String,
        style: ScalarStyle,
        /// The tag's suffix when one was written (`!!str` gives `str`).
        tag: Option<String>,
    },
    /// A sequence; `flow` is true for `[a, b]`.
    Seq { items: Vec<Node>, flow: bool },
    /// A mapping in source order; `flow` is true for `{a: b}`.
    Map {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
}

/// A YAML error with the place it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub message: String,
    pub pos: Pos,
}

/// One document of a stream: its root node (None for an empty document).
#[derive(Debug)]
pub struct YamlDoc {
    pub root: Option<Node>,
    pub span: Span,
}

/// Maps saphyr's character indices to byte offsets.
struct Offsets<'a> {
    text: &'a str,
    /// Where `text` starts in the whole source, for a chunk of a larger stream.
    base: Pos,
    /// Byte offset of every character; empty for ASCII text, where the two are equal.
    table: Vec<u32>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let table = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices().map(|(b, _)| b as u32).collect()
        };
        Offsets {
            text,
            base: Pos {
                byte: 0,
                line: 1,
                column: 1,
            },
            table,
        }
    }

    fn pos(&self, m: saphyr_parser::Marker) -> Pos {
        let byte = if self.table.is_empty() {
            m.index().min(self.text.len())
        } else {
            self.table
                .get(m.index())
                .map(|b| *b as usize)
                .unwrap_or(self.text.len())
        };
        Pos {
            byte: byte + self.base.byte,
            line: m.line() + self.base.line - 1,
            column: m.col() + 1,
        }
    }

    fn span(&self, s: RawSpan) -> Span {
        Span {
            start: self.pos(s.start),
            end: self.pos(s.end),
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: Pos,
        flow: bool,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// The keys seen, once the mapping is large enough that scanning `entries` for a
        /// duplicate would cost a square of its size (30,000 keys took 5 s).
        names: Option<HashSet<String>>,
        start: Pos,
        flow: bool,
        anchor: usize,
    },
}

/// Keys a mapping checks for duplicates by scanning its entries; past this, by a set.
const SCANNED_KEYS: usize = 32;

/// Parses a whole YAML stream. Each document is returned, or the first error of the stream:
/// after a syntax error a YAML parser cannot know where the next document starts.
pub fn parse_stream(text: &str) -> Result<Vec<YamlDoc>, (Vec<YamlDoc>, YamlError)> {
    parse_stream_with(text, &|doc| doc)
}

/// What a stream parse gives: every finished document, or those before the first error and that
/// error.
pub type StreamResult<T> = Result<Vec<T>, (Vec<T>, YamlError)>;

/// [`parse_stream`] with `finish` applied to each document as soon as it is complete, so a
/// caller that keeps less than the whole tree frees it while the next document is parsed.
pub fn parse_stream_with<T>(
    text: &str,
    finish: &(impl Fn(YamlDoc) -> T + Sync),
) -> StreamResult<T> {
    parse_chunk(
        text,
        Pos {
            byte: 0,
            line: 1,
            column: 1,
        },
        finish,
    )
}

/// Parses a stream in pieces on several threads. A line that starts with `---` always starts a
/// new document (the YAML spec ends any scalar there), so the stream is cut at such lines and
/// positions are shifted back to the whole text. The result is the same as [`parse_stream`]:
/// documents up to the first error, and that error.
pub fn parse_stream_parallel<T: Send>(
    text: &str,
    threads: usize,
    finish: &(impl Fn(YamlDoc) -> T + Sync),
) -> StreamResult<T> {
    let cuts = document_cuts(text, threads);
    if cuts.len() <= 1 {
        return parse_stream_with(text, finish);
    }
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = cuts
            .iter()
            .map(|&(start, line)| {
                let end = cuts
                    .iter()
                    .map(|c| c.0)
                    .find(|&c| c > start)
                    .unwrap_or(text.len());
                let chunk = &text[start..end];
                scope.spawn(move || {
                    parse_chunk(
                        chunk,
                        Pos {
                            byte: start,
                            line,
                            column: 1,
                        },
                        finish,
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut docs = Vec::new();
    for result in results {
        match result {
            Ok(Ok(mut d)) => docs.append(&mut d),
            Ok(Err((mut d, e))) => {
                docs.append(&mut d);
                return Err((docs, e));
            }
            Err(_) => {
                return Err((
                    docs,
                    YamlError {
                        message: "internal error: the YAML parser failed".into(),
                        pos: Pos::default(),
                    },
                ))
            }
        }
    }
    Ok(docs)
}

/// Byte offsets (and line numbers) where the stream may be cut into about `parts` pieces.
fn document_cuts(text: &str, parts: usize) -> Vec<(usize, usize)> {
    let mut cuts = vec![(0, 1)];
    if parts < 2 {
        return cuts;
    }
    let step = text.len() / parts;
    let mut at = 0;
    for (line, l) in (1..).zip(text.split_inclusive('\n')) {
        let next_target = cuts.len() * step;
        if at >= next_target && at > 0 && cuts.len() < parts && is_document_start(l) {
            cuts.push((at, line));
        }
        at += l.len();
    }
    cuts
}

fn is_document_start(line: &str) -> bool {
    line.strip_prefix("---")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']))
}

fn parse_chunk<T>(
    text: &str,
    base: Pos,
    finish: &(impl Fn(YamlDoc) -> T + Sync),
) -> StreamResult<T> {
    let mut offsets = Offsets::new(text);
    offsets.base = base;
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut builder = Builder::default();
    let mut doc_start = Pos::default();
    loop {
        let (event, raw) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let message = match e.info() {
                    "recursion limit exceeded" => {
                        "nesting too deep (the YAML parser's recursion limit)".to_string()
                    }
                    other => other.to_string(),
                };
                let err = YamlError {
                    message,
                    pos: offsets.pos(*e.marker()),
                };
                return Err((docs, err));
            }
        };
        let span = offsets.span(raw);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {
                builder = Builder::default();
                doc_start = span.start;
            }
            Event::DocumentEnd => {
                let root = builder.root.take();
                docs.push(finish(YamlDoc {
                    root,
                    span: Span {
                        start: doc_start,
                        end: span.end,
                    },
                }));
            }
            other => {
                if let Err(message) = builder.event(other, span, text) {
                    return Err((
                        docs,
                        YamlError {
                            message,
                            pos: span.start,
                        },
                    ));
                }
            }
        }
    }
    Ok(docs)
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    /// Nodes added by aliases so far.
    aliased: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span, text: &str) -> Result<(), String> {
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    span,
                    data: NodeData::Scalar {
                        value: value.into_owned(),
                        style,
                        tag: tag.map(|t| t.suffix.clone()),
                    },
                    alias: None,
                };
                self.count(1)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node)
            }
            Event::Alias(id) => {
                let size = self
                    .anchors
                    .get(&id)
                    .map(|(_, size)| *size)
                    .ok_or_else(|| "alias refers to an unknown anchor".to_string())?;
                // Counted before the anchored tree is copied, so a bomb is refused cheaply.
                self.aliased = self.aliased.saturating_add(size);
                if self.aliased > MAX_ALIAS_NODES {
                    return Err(format!(
                        "aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb?)"
                    ));
                }
                self.count(size)?;
                let mut node = self.anchors[&id].0.clone();
                node.alias = Some(Box::new(span));
                self.push(node)
            }
            Event::SequenceStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                let flow = text.as_bytes().get(span.start.byte) == Some(&b'[');
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    start: span.start,
                    flow,
                    anchor,
                });
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
                }
                let flow = text.as_bytes().get(span.start.byte) == Some(&b'{');
                self.stack.push(Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    names: None,
                    start: span.start,
                    flow,
                    anchor,
                });
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().ok_or("unbalanced collection end")?;
                let (node, anchor) = match frame {
                    Frame::Seq {
                        items,
                        start,
                        flow,
                        anchor,
                    } => {
                        let end =
                            collection_end(flow, start, span, items.last().map(|n| n.span.end));
                        (
                            Node {
                                span: Span { start, end },
                                data: NodeData::Seq { items, flow },
                                alias: None,
                            },
                            anchor,
                        )
                    }
                    Frame::Map {
                        entries,
                        start,
                        flow,
                        anchor,
                        ..
                    } => {
                        let end = collection_end(
                            flow,
                            start,
                            span,
                            entries.last().map(|(_, v)| v.span.end),
                        );
                        let entries = if entries.iter().any(|(k, _)| is_merge_key(k)) {
                            merge(entries)?
                        } else {
                            entries
                        };
                        (
                            Node {
                                span: Span { start, end },
                                data: NodeData::Map { entries, flow },
                                alias: None,
                            },
                            anchor,
                        )
                    }
                };
                self.count(1)?;
                if anchor > 0 {
                    let size = node_count(&node);
                    self.anchors.insert(anchor, (node.clone(), size));
                }
                self.push(node)
            }
            _ => Ok(()),
        }
    }

    fn count(&mut self, n: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            Err(format!(
                "document expands to more than {MAX_NODES} nodes (an alias bomb?)"
            ))
        } else {
            Ok(())
        }
    }

    fn push(&mut self, node: Node) -> Result<(), String> {
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                key,
                names,
                ..
            }) => match key.take() {
                None => {
                    let NodeData::Scalar { value: name, .. } = &node.data else {
                        return Err("a mapping or list used as a mapping key: Kubernetes needs string keys (an unquoted {{ }} template?)".into());
                    };
                    fn text(k: &Node) -> Option<&str> {
                        match &k.data {
                            NodeData::Scalar { value, .. } => Some(value),
                            _ => None,
                        }
                    }
                    if names.is_none() && entries.len() >= SCANNED_KEYS {
                        let set = entries
                            .iter()
                            .filter_map(|(k, _)| text(k))
                            .map(str::to_string);
                        *names = Some(set.collect());
                    }
                    let duplicate = match names {
                        Some(set) => !set.insert(name.clone()),
                        None => entries.iter().any(|(k, _)| text(k) == Some(name.as_str())),
                    };
                    if duplicate {
                        return Err(format!("duplicate mapping key \"{name}\""));
                    }
                    *key = Some(node);
                    Ok(())
                }
                Some(k) => {
                    entries.push((k, node));
                    Ok(())
                }
            },
        }
    }
}

/// True for a plain, untagged `<<` key: YAML 1.1's merge key, which the YAML decoder behind
/// `kubectl` and the apiserver (`sigs.k8s.io/yaml`, over go-yaml v2) resolves.
fn is_merge_key(key: &Node) -> bool {
    matches!(&key.data, NodeData::Scalar { value, style: ScalarStyle::Plain, tag: None } if value == "<<")
}

/// A mapping's entries with its merge keys resolved as go-yaml v2 resolves them: in source
/// order, `<<: *base` sets every entry of the mapping it names (`<<: [*a, *b]`: of each, the
/// earlier winning), and an entry written after it overrides it. The merged entries stand where
/// the `<<` was. Their keys carry the `<<` key's span as `alias` (so an edit knows the mapping
/// has merged entries, see `mutation::edit`), their values the `*base` alias that brought them
/// (so findings inside them point there, as for any alias).
fn merge(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, String> {
    const WANT_MAP: &str = "a merge key (<<) needs a mapping, or a list of mappings, as its value";
    let mut out: Vec<(Node, Node)> = Vec::with_capacity(entries.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut set = |out: &mut Vec<(Node, Node)>, k: Node, v: Node| {
        let name = key_text(&k);
        match index.get(&name) {
            Some(&i) => out[i] = (k, v),
            None => {
                index.insert(name, out.len());
                out.push((k, v));
            }
        }
    };
    for (k, v) in entries {
        if !is_merge_key(&k) {
            set(&mut out, k, v);
            continue;
        }
        let sources: Vec<&Node> = match &v.data {
            NodeData::Map { .. } => vec![&v],
            // Later sources first, so that the earlier ones win.
            NodeData::Seq { items, .. } => items.iter().rev().collect(),
            NodeData::Scalar { .. } => return Err(WANT_MAP.into()),
        };
        for source in sources {
            let NodeData::Map {
                entries: merged, ..
            } = &source.data
            else {
                return Err(WANT_MAP.into());
            };
            let through = source.alias.clone().or_else(|| v.alias.clone());
            for (mk, mv) in merged {
                let mut mk = mk.clone();
                mk.alias = Some(Box::new(k.span));
                let mut mv = mv.clone();
                if mv.alias.is_none() {
                    mv.alias.clone_from(&through);
                }
                set(&mut out, mk, mv);
            }
        }
    }
    Ok(out)
}

/// Flow collections end after their closing bracket; block collections at their last child
/// (their end event sits at the next token, possibly lines later).
fn collection_end(flow: bool, start: Pos, end_event: Span, last_child: Option<Pos>) -> Pos {
    if flow {
        end_event.end
    } else {
        last_child.unwrap_or(start)
    }
}

fn node_count(node: &Node) -> usize {
    let mut count = 0;
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        count += 1;
        match &n.data {
            NodeData::Scalar { .. } => {}
            NodeData::Seq { items, .. } => stack.extend(items.iter()),
            NodeData::Map { entries, .. } => {
                for (k, v) in entries {
                    stack.push(k);
                    stack.push(v);
                }
            }
        }
    }
    count
}

/// The text a mapping key stands for (keys that are collections are rendered as JSON).
pub fn key_text(node: &Node) -> String {
    match &node.data {
        NodeData::Scalar { value, .. } => value.clone(),
        _ => to_json(node).to_string(),
    }
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value nodes under `key` when this node is a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.data {
            NodeData::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| matches!(&k.data, NodeData::Scalar { value, .. } if value == key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The node at an RFC 6901 JSON pointer, or the deepest node on the way there together with
    /// the part of the pointer that was not found.
    pub fn locate<'a>(&'a self, pointer: &str) -> (&'a Node, bool) {
        let mut node = self;
        if pointer.is_empty() {
            return (node, true);
        }
        for part in super::pointer::tokens(pointer) {
            let next = match &node.data {
                NodeData::Map { .. } => node.get(&part),
                NodeData::Seq { items, .. } => {
                    part.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                NodeData::Scalar { .. } => None,
            };
            match next {
                Some(n) => node = n,
                None => return (node, false),
            }
        }
        (node, true)
    }

    /// The span of the key naming the last part of `pointer`, when that part is a mapping key.
    pub fn key_span(&self, pointer: &str) -> Option<Span> {
        let (parent, last) = pointer.rsplit_once('/')?;
        let (parent, found) = self.locate(parent);
        if !found {
            return None;
        }
        let last = super::pointer::decode(last);
        parent.entry(&last).map(|(k, _)| k.span)
    }
}

/// Converts a node to JSON with the YAML 1.2 core schema (the schema Kubernetes' decoders
/// agree with for the fields rollout-guard reads).
pub fn to_json(node: &Node) -> Value {
    match &node.data {
        NodeData::Scalar { value, style, tag } => scalar_to_json(value, *style, tag.as_deref()),
        NodeData::Seq { items, .. } => Value::Array(items.iter().map(to_json).collect()),
        NodeData::Map { entries, .. } => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries {
                map.insert(key_text(k), to_json(v));
            }
            Value::Object(map)
        }
    }
}

fn scalar_to_json(value: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    match tag {
        Some("str") => return Value::String(value.to_string()),
        Some("int") | Some("float") | Some("bool") | Some("null") | None => {}
        Some(_) => return Value::String(value.to_string()),
    }
    if style != ScalarStyle::Plain {
        return Value::String(value.to_string());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = parse_int(value) {
        return Value::Number(n.into());
    }
    if let Some(f) = parse_float(value) {
        if let Some(n) = Number::from_f64(f) {
            return Value::Number(n);
        }
        return Value::String(value.to_string());
    }
    Value::String(value.to_string())
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -magnitude } else { magnitude })
}

fn parse_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['-', '+']);
    if body.is_empty() {
        return None;
    }
    // Only the core schema's number shapes: no "inf", "nan" words, no hex floats.
    let ok = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && body
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().any(|b| b.is_ascii_digit());
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse_stream(text).unwrap().remove(0).root.unwrap()
    }

    #[test]
    fn positions_are_lines_columns_and_bytes() {
        let root = one("a:\n  b: 1\n  c: [x, y]\n");
        let (b, found) = root.locate("/a/b");
        assert!(found);
        assert_eq!((b.span.start.line, b.span.start.column), (2, 6));
        let (c, _) = root.locate("/a/c/1");
        assert_eq!((c.span.start.line, c.span.start.column), (3, 10));
        assert!(matches!(
            root.locate("/a/c").0.data,
            NodeData::Seq { flow: true, .. }
        ));
        let (parent, found) = root.locate("/a/missing");
        assert!(!found);
        assert_eq!(parent.span.start.line, 2);
    }

    #[test]
    fn multibyte_text_gets_byte_offsets() {
        let text = "é: ü\nk: v\n";
        let root = one(text);
        let (k, _) = root.locate("/k");
        assert_eq!(&text[k.span.start.byte..k.span.end.byte], "v");
    }

    #[test]
    fn core_schema_scalars() {
        let v = to_json(&one(
            "a: 1\nb: '1'\nc: true\nd: ~\ne: 1.5\nf: 1m\ng: !!str 2\n",
        ));
        assert_eq!(
            v,
            serde_json::json!({"a":1,"b":"1","c":true,"d":null,"e":1.5,"f":"1m","g":"2"})
        );
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_stream(&text).unwrap_err().1;
        assert!(err.message.contains("alias"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(100_000);
        let err = parse_stream(&text).unwrap_err().1;
        assert!(
            err.message.contains("nesting") || err.message.contains("recursion"),
            "{}",
            err.message
        );
    }

    #[test]
    fn parallel_parse_gives_the_same_documents_and_positions() {
        let mut text = String::new();
        for i in 0..50 {
            text.push_str(&format!(
                "---\nname: d{i}\nbody: |\n  line\n  é\nlist: [a, b]\n"
            ));
        }
        let one = parse_stream(&text).unwrap();
        let many = parse_stream_parallel(&text, 4, &|d| d).unwrap();
        assert_eq!(one.len(), many.len());
        for (a, b) in one.iter().zip(&many) {
            let (a, b) = (a.root.as_ref().unwrap(), b.root.as_ref().unwrap());
            assert_eq!(to_json(a), to_json(b));
            assert_eq!(a.locate("/list/1").0.span, b.locate("/list/1").0.span);
        }
        let bad = format!("{text}---\na: [\n");
        let (docs, err) = parse_stream_parallel(&bad, 4, &|d| d).unwrap_err();
        assert_eq!(docs.len(), 50);
        assert_eq!(err, parse_stream(&bad).unwrap_err().1);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_stream("a: 1\na: 2\n").unwrap_err().1;
        assert!(err.message.contains("duplicate"));
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn duplicate_keys_are_found_in_large_mappings_too() {
        let mut text: String = (0..100).map(|i| format!("k{i}: 1\n")).collect();
        assert!(parse_stream(&text).is_ok());
        text.push_str("k77: 2\n");
        let err = parse_stream(&text).unwrap_err().1;
        assert_eq!(err.message, "duplicate mapping key \"k77\"");
        assert_eq!(err.pos.line, 101);
    }

    #[test]
    fn merge_keys_are_resolved_as_go_yaml_v2_resolves_them() {
        let v = |text: &str| to_json(&one(text));
        let base = "b: &b {x: 1, y: 2}\nc: &c {y: 3, z: 4}\n";
        assert_eq!(
            v(&format!("{base}m:\n  <<: *b\n  y: 9\n"))["m"],
            serde_json::json!({"x": 1, "y": 9})
        );
        // A list of mappings: the earlier wins.
        assert_eq!(
            v(&format!("{base}m:\n  <<: [*b, *c]\n"))["m"],
            serde_json::json!({"x": 1, "y": 2, "z": 4})
        );
        // go-yaml v2 applies a merge where it stands: it overrides an entry written before it.
        assert_eq!(
            v(&format!("{base}m:\n  y: 9\n  <<: *b\n"))["m"],
            serde_json::json!({"y": 2, "x": 1})
        );
        // Inline, and a quoted key that is no merge key.
        assert_eq!(
            v("m: {<<: {a: 1}, b: 2}\n")["m"],
            serde_json::json!({"a": 1, "b": 2})
        );
        assert_eq!(v("m: {'<<': 1}\n")["m"], serde_json::json!({"<<": 1}));
        let err = parse_stream("m:\n  <<: 1\n").unwrap_err().1;
        assert!(err.message.contains("merge key"), "{}", err.message);
    }

    #[test]
    fn merged_entries_are_placed_at_the_alias_that_brought_them() {
        use crate::manifest::Positions;
        let text = "base: &b\n  limit: 1\nm:\n  <<: *b\n  own: 2\n";
        let root = one(text);
        let value = to_json(&root);
        let positions = Positions::of(&root);
        assert_eq!(positions.locate_with_end(&value, "/m/limit").0, (4, 7));
        assert_eq!(positions.locate_with_end(&value, "/m/own").0, (5, 8));
    }
}
