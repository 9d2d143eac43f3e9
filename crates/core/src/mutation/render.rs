//! JSON values written as YAML text in the style of the file they go into: block or flow,
//! the file's indentation, and JSON syntax inside a JSON document.

use crate::manifest::yaml::{self, Node, NodeData};
use serde_json::Value;

/// How a document is written, as far as new text must match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    /// Spaces between a key and the keys of its nested mapping.
    pub indent: usize,
    /// Spaces between a key and the dashes of its block sequence (0 or `indent`, usually).
    pub seq_indent: usize,
    /// `"\n"` or `"\r\n"`.
    pub newline: &'static str,
    /// True for a JSON document: keys and strings are double-quoted.
    pub json: bool,
}

impl Style {
    /// The style of the document rooted at `root` in `text`. Defaults (2 spaces, indented
    /// sequences) stand where the document shows no example.
    pub fn detect(text: &str, root: &Node) -> Style {
        let mut indent = None;
        let mut seq_indent = None;
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if indent.is_some() && seq_indent.is_some() {
                break;
            }
            match &node.data {
                NodeData::Map { entries, .. } => {
                    for (k, v) in entries {
                        match &v.data {
                            NodeData::Map { entries: inner, .. }
                                if indent.is_none()
                                    && inner.first().is_some_and(|(ik, _)| {
                                        ik.span.start.line > k.span.start.line
                                            && ik.span.start.column > k.span.start.column
                                    }) =>
                            {
                                indent = Some(inner[0].0.span.start.column - k.span.start.column);
                            }
                            NodeData::Seq {
                                items, flow: false, ..
                            } if seq_indent.is_none() => {
                                if let Some(dash) = items.first().and_then(|i| dash_column(text, i))
                                {
                                    seq_indent = Some(dash.saturating_sub(k.span.start.column - 1));
                                }
                            }
                            _ => {}
                        }
                        stack.push(v);
                    }
                }
                NodeData::Seq { items, .. } => stack.extend(items.iter()),
                NodeData::Scalar { .. } => {}
            }
        }
        let indent = indent.filter(|i| (1..=8).contains(i)).unwrap_or(2);
        let json = text.as_bytes().get(root.span.start.byte) == Some(&b'{')
            && matches!(&root.data, NodeData::Map { entries, .. }
                if entries.first().is_some_and(|(k, _)| text.as_bytes().get(k.span.start.byte) == Some(&b'"')));
        Style {
            indent,
            seq_indent: seq_indent.filter(|i| *i <= 8).unwrap_or(indent),
            newline: newline_at(text, root.span.start.byte),
            json,
        }
    }
}

/// The line end used by the line holding `at`: `"\r\n"` or `"\n"`. Only that line is looked
/// at, so a stream of many documents is not scanned once per document.
fn newline_at(text: &str, at: usize) -> &'static str {
    let at = at.min(text.len());
    match text[at..].find('\n') {
        Some(i) if text[..at + i].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// The 0-based column of the dash in front of a block sequence item, when the item starts on
/// the dash's line.
pub fn dash_column(text: &str, item: &Node) -> Option<usize> {
    let line_start = text[..item.span.start.byte]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let before = text[line_start..item.span.start.byte].trim_end_matches([' ', '\t']);
    before
        .ends_with('-')
        .then(|| before.chars().count() - 1)
        .filter(|_| {
            before[..before.len() - 1]
                .chars()
                .all(|c| c == ' ' || c == '-')
        })
}

/// A mapping key.
pub fn key(k: &str, flow: bool, style: &Style) -> String {
    string(k, flow, style.json)
}

/// A scalar value (or an empty collection), inline.
pub fn scalar(v: &Value, flow: bool, json: bool) -> String {
    match v {
        Value::String(s) => string(s, flow, json),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

/// A value in flow style on one line: `{a: 1, b: [x, y]}`.
pub fn flow(v: &Value, json: bool) -> String {
    match v {
        Value::Array(items) if !items.is_empty() => {
            let items: Vec<String> = items.iter().map(|i| flow(i, json)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) if !map.is_empty() => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", string(k, true, json), flow(v, json)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        other => scalar(other, true, json),
    }
}

/// A value in JSON over several lines, its nested lines indented from `indent`.
pub fn json_pretty(v: &Value, indent: usize, style: &Style) -> String {
    let pad = |n: usize| " ".repeat(n);
    let inner = indent + style.indent;
    match v {
        Value::Array(items) if !items.is_empty() => {
            let items: Vec<String> = items
                .iter()
                .map(|i| format!("{}{}", pad(inner), json_pretty(i, inner, style)))
                .collect();
            format!(
                "[{nl}{}{nl}{}]",
                items.join(&format!(",{}", style.newline)),
                pad(indent),
                nl = style.newline
            )
        }
        Value::Object(map) if !map.is_empty() => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}{}: {}",
                        pad(inner),
                        Value::String(k.clone()),
                        json_pretty(v, inner, style)
                    )
                })
                .collect();
            format!(
                "{{{nl}{}{nl}{}}}",
                entries.join(&format!(",{}", style.newline)),
                pad(indent),
                nl = style.newline
            )
        }
        other => scalar(other, true, true),
    }
}

/// What follows `key:` in a block mapping whose keys sit at column `indent` (0-based): a space
/// and a scalar, or a newline and the nested block.
pub fn block_value(v: &Value, indent: usize, style: &Style) -> String {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let inner = indent + style.indent;
            map.iter()
                .map(|(k, v)| {
                    format!(
                        "{}{}{}:{}",
                        style.newline,
                        " ".repeat(inner),
                        key(k, false, style),
                        block_value(v, inner, style)
                    )
                })
                .collect()
        }
        Value::Array(items) if !items.is_empty() => {
            let dash = indent + style.seq_indent;
            items
                .iter()
                .map(|item| {
                    format!(
                        "{}{}- {}",
                        style.newline,
                        " ".repeat(dash),
                        block_item(item, dash + 2, style)
                    )
                })
                .collect()
        }
        other => format!(" {}", scalar(other, false, false)),
    }
}

/// A block sequence item, written after its `- `; its content sits at column `indent`.
pub fn block_item(v: &Value, indent: usize, style: &Style) -> String {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let mut out = String::new();
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.newline);
                    out.push_str(&" ".repeat(indent));
                }
                out.push_str(&key(k, false, style));
                out.push(':');
                out.push_str(&block_value(v, indent, style));
            }
            out
        }
        // A list in a list is rare in a manifest: flow style keeps it on one line.
        Value::Array(_) => flow(v, false),
        other => scalar(other, false, false),
    }
}

/// A whole document in block style, for output that cannot keep the source text.
pub fn document(v: &Value, style: &Style) -> String {
    let text = match v {
        Value::Object(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| format!("{}:{}", key(k, false, style), block_value(v, 0, style)))
            .collect::<Vec<_>>()
            .join(style.newline),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| format!("- {}", block_item(i, 2, style)))
            .collect::<Vec<_>>()
            .join(style.newline),
        other => scalar(other, false, false),
    };
    format!("{text}{}", style.newline)
}

/// A string as a plain scalar when that reads back as the same string in YAML 1.2 and 1.1
/// (Kubernetes' decoders), double-quoted otherwise.
fn string(s: &str, flow: bool, json: bool) -> String {
    if !json && plain_ok(s, flow) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn plain_ok(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    let looks_numeric = (first.is_ascii_digit() || "+-.".contains(first))
        && s.chars()
            .all(|c| c.is_ascii_digit() || "_:.+-eE".contains(c));
    let yaml11_word = matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~" | "<<"
    );
    if indicator
        || looks_numeric
        || yaml11_word
        || s.starts_with(' ')
        || s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.chars().any(|c| c.is_control())
        || (flow && s.contains([',', '[', ']', '{', '}']))
    {
        return false;
    }
    // Whatever the checks above miss, the parser decides: the text must read back as itself.
    matches!(
        yaml::parse_stream(s).ok().and_then(|mut d| d.pop()).and_then(|d| d.root),
        Some(node) if yaml::to_json(&node) == Value::String(s.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STYLE: Style = Style {
        indent: 2,
        seq_indent: 2,
        newline: "\n",
        json: false,
    };

    #[test]
    fn strings_are_quoted_only_when_needed() {
        for (s, want) in [
            ("web-canary", "web-canary"),
            ("rollout-guard.io/mutated", "rollout-guard.io/mutated"),
            ("1m", "1m"),
            ("10", "\"10\""),
            ("1e3", "\"1e3\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
            ("<<", "\"<<\""),
            ("", "\"\""),
            ("a: b", "\"a: b\""),
            ("{{args.x}}", "\"{{args.x}}\""),
            ("line\nbreak", "\"line\\nbreak\""),
        ] {
            assert_eq!(string(s, false, false), want, "{s}");
        }
        assert_eq!(string("a,b", true, false), "\"a,b\"");
        assert_eq!(string("a,b", false, false), "a,b");
    }

    #[test]
    fn block_values_nest_with_the_file_indentation() {
        let v = json!({"steps": [{"setWeight": 10}, {"pause": {"duration": "1m"}}], "count": 1});
        assert_eq!(
            block_value(&v, 4, &STYLE),
            "\n      steps:\n        - setWeight: 10\n        - pause:\n            duration: 1m\n      count: 1"
        );
        let flat = Style {
            seq_indent: 0,
            indent: 4,
            ..STYLE
        };
        assert_eq!(
            block_value(&v, 0, &flat),
            "\n    steps:\n    - setWeight: 10\n    - pause:\n          duration: 1m\n    count: 1"
        );
    }

    #[test]
    fn flow_and_json() {
        let v = json!({"templates": [{"templateName": "t"}], "args": []});
        assert_eq!(
            flow(&v, false),
            "{templates: [{templateName: t}], args: []}"
        );
        assert_eq!(
            flow(&v, true),
            r#"{"templates": [{"templateName": "t"}], "args": []}"#
        );
        assert_eq!(
            json_pretty(&json!({"a": [1]}), 2, &STYLE),
            "{\n    \"a\": [\n      1\n    ]\n  }"
        );
    }

    #[test]
    fn style_is_detected() {
        let text = "a:\n    b:\n    - x\n";
        let root = yaml::parse_stream(text).unwrap().remove(0).root.unwrap();
        let s = Style::detect(text, &root);
        assert_eq!((s.indent, s.seq_indent, s.json), (4, 0, false));
        let text = "{\"a\": {\"b\": 1}}";
        let root = yaml::parse_stream(text).unwrap().remove(0).root.unwrap();
        assert!(Style::detect(text, &root).json);
    }
}
