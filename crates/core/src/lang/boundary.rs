//! The one boundary every embedded-language parse runs behind: expr conditions, PromQL, regular
//! expressions and durations. The webhook runs these parsers on anyone's input, and a parser that
//! panics or recurses past the stack takes the whole process (and every admission in the cluster)
//! with it, so before a parser sees a text the boundary bounds its size, its bracket nesting and
//! its operator count (a chain of operators builds a tree as deep as the chain), then runs the
//! parser with stack headroom guaranteed and panics caught.
//!
//! The bounds are counts of the text, never time: the same text gets the same verdict on an idle
//! laptop and on a loaded webhook.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// An embedded language, with the bounds its texts must keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// `successCondition` / `failureCondition` (Argo's expr language).
    Condition,
    /// A Prometheus query.
    Promql,
    /// A label-matcher regular expression.
    Regex,
    /// A Go duration.
    Duration,
}

/// How large, how deep and how long a chain a text of one language may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
    pub max_operators: usize,
}

impl Language {
    /// What the language is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Language::Condition => "condition",
            Language::Promql => "query",
            Language::Regex => "regular expression",
            Language::Duration => "duration",
        }
    }

    /// The bounds. Each sits far above what real manifests hold (conditions under 300 bytes and
    /// 20 operators, queries under 1.6 KiB, 70 operators and 15 levels across the 2,192
    /// real-world queries of the shared corpus) and far below what the parsers survive on a
    /// 2 MiB thread stack in a debug build.
    pub fn limits(self) -> Limits {
        match self {
            Language::Condition => Limits {
                max_bytes: 4096,
                max_depth: 64,
                max_operators: 512,
            },
            Language::Promql => Limits {
                max_bytes: 16 * 1024,
                max_depth: 64,
                max_operators: 1024,
            },
            Language::Regex => Limits {
                max_bytes: 4096,
                max_depth: 64,
                max_operators: 4096,
            },
            Language::Duration => Limits {
                max_bytes: 256,
                max_depth: 0,
                max_operators: 256,
            },
        }
    }
}

/// Why a text was not parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    TooLong {
        language: Language,
        bytes: usize,
        limit: usize,
    },
    TooDeep {
        language: Language,
        depth: usize,
        limit: usize,
    },
    TooManyOperators {
        language: Language,
        operators: usize,
        limit: usize,
    },
    /// The parser itself failed (a bug in it, reached by this text).
    Crashed { language: Language, panic: String },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooLong {
                language,
                bytes,
                limit,
            } => write!(
                f,
                "the {} is {bytes} bytes; the limit is {limit}",
                language.noun()
            ),
            Refusal::TooDeep {
                language,
                depth,
                limit,
            } => write!(
                f,
                "the {} is nested {depth} deep; the limit is {limit}",
                language.noun()
            ),
            Refusal::TooManyOperators {
                language,
                operators,
                limit,
            } => write!(
                f,
                "the {} chains {operators} operators; the limit is {limit}",
                language.noun()
            ),
            Refusal::Crashed { language, panic } => write!(
                f,
                "the {} parser failed on this {} ({panic}); rewrite it more simply",
                match language {
                    Language::Condition => "expr",
                    Language::Promql => "PromQL",
                    Language::Regex => "regular expression",
                    Language::Duration => "duration",
                },
                language.noun()
            ),
        }
    }
}

/// The shape of a text as the bounds see it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Deepest bracket nesting, `(` `[` `{` alike, outside string literals; for a condition,
    /// each `?` counts as a level too (a chain of ternaries nests like brackets).
    pub depth: usize,
    /// Operator characters outside string literals: an upper bound on how deep a chain of
    /// binary or unary operators can make the parse tree.
    pub operators: usize,
}

/// Measures `text` in one pass, skipping string literals (`"..."`, `'...'` with backslash
/// escapes; `` `...` `` raw) and, for PromQL, `#` comments.
pub fn shape(language: Language, text: &str) -> Shape {
    let bytes = text.as_bytes();
    let (mut depth, mut shape) = (0usize, Shape::default());
    let mut ternaries = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' if language != Language::Regex => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'#' if language == Language::Promql => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' if language == Language::Regex => i += 1,
            b'(' | b'[' | b'{' => {
                depth += 1;
                shape.depth = shape.depth.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'?' if language == Language::Condition => {
                ternaries += 1;
                shape.operators += 1;
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'<' | b'>' | b'=' | b'!' | b'&' | b'|'
            | b'?' | b':' | b'.' | b'~' | b',' => shape.operators += 1,
            _ => {}
        }
        i += 1;
    }
    shape.depth += ternaries;
    // Word operators (`and`, `or`, `not`, `unless`, `in`, ...) deepen a tree as symbols do.
    shape.operators += text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| {
            matches!(
                *w,
                "and" | "or" | "not" | "unless" | "in" | "matches" | "contains" | "offset" | "@"
            )
        })
        .count();
    shape
}

/// Checks `text` against the bounds of `language`, without parsing it.
pub fn admit(language: Language, text: &str) -> Result<(), Refusal> {
    let limits = language.limits();
    if text.len() > limits.max_bytes {
        return Err(Refusal::TooLong {
            language,
            bytes: text.len(),
            limit: limits.max_bytes,
        });
    }
    let shape = shape(language, text);
    if shape.depth > limits.max_depth {
        return Err(Refusal::TooDeep {
            language,
            depth: shape.depth,
            limit: limits.max_depth,
        });
    }
    if shape.operators > limits.max_operators {
        return Err(Refusal::TooManyOperators {
            language,
            operators: shape.operators,
            limit: limits.max_operators,
        });
    }
    Ok(())
}

/// Stack the parsers get: what they need within the bounds, with a wide margin. A thread with
/// less left than this runs the parse on a fresh segment of [`PARSE_STACK`] bytes. A debug
/// build's frames are several times larger (a 150-term `1+1+...` evaluated recursively needs
/// more than 1 MiB there, a fraction of it in release), so it keeps more in reserve: the tests
/// run debug builds and must see the verdicts a release build gives.
const RED_ZONE: usize = if cfg!(debug_assertions) {
    6 * 1024 * 1024
} else {
    1024 * 1024
};
const PARSE_STACK: usize = if cfg!(debug_assertions) {
    32 * 1024 * 1024
} else {
    8 * 1024 * 1024
};

/// Runs `parse` on `text` behind the boundary: bounds first, then the parse with stack headroom
/// and any panic turned into [`Refusal::Crashed`].
pub fn guarded<T>(
    language: Language,
    text: &str,
    parse: impl FnOnce(&str) -> T,
) -> Result<T, Refusal> {
    admit(language, text)?;
    contain(language, || parse(text))
}

/// Runs `f` with stack headroom guaranteed and a panic caught, for work on a text that already
/// passed [`admit`] (evaluating a compiled condition, say).
pub fn contain<T>(language: Language, f: impl FnOnce() -> T) -> Result<T, Refusal> {
    install_quiet_hook();
    QUIET.with(|q| q.set(q.get() + 1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        stacker::maybe_grow(RED_ZONE, PARSE_STACK, f)
    }));
    QUIET.with(|q| q.set(q.get() - 1));
    outcome.map_err(|payload| Refusal::Crashed {
        language,
        panic: panic_text(payload.as_ref()),
    })
}

thread_local! {
    /// How many boundaries this thread is inside: a panic there is an answer, not a crash, and
    /// is not printed.
    static QUIET: Cell<usize> = const { Cell::new(0) };
}

/// Wraps the panic hook once so that a panic caught by the boundary prints nothing (the finding
/// says what happened) while every other panic is reported as before.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// The message a panic carried, shortened to one line.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string());
    let line = text.lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(160).collect();
    if out.len() < line.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_skips_strings_and_counts_brackets() {
        let s = shape(
            Language::Condition,
            r#"len(result) == 0 || result[0] > "(((""#,
        );
        assert_eq!(s.depth, 1);
        assert_eq!(s.operators, 5);
        let s = shape(Language::Promql, "sum(rate(x[5m])) # ((((((\n");
        assert_eq!(s.depth, 3);
    }

    #[test]
    fn bounds_are_checked_before_parsing() {
        let deep = format!("{}1{}", "(".repeat(65), ")".repeat(65));
        let err = guarded(Language::Condition, &deep, |_| unreachable!()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the condition is nested 65 deep; the limit is 64"
        );
        let long = "1".repeat(5000);
        assert!(matches!(
            guarded(Language::Condition, &long, |_| ()),
            Err(Refusal::TooLong { bytes: 5000, .. })
        ));
        let chain = vec!["1"; 600].join("**");
        assert!(matches!(
            admit(Language::Condition, &chain),
            Err(Refusal::TooManyOperators { .. })
        ));
        let ternaries = format!("{}1", "true ? 1 : ".repeat(65));
        assert!(matches!(
            admit(Language::Condition, &ternaries),
            Err(Refusal::TooDeep { depth: 65, .. })
        ));
    }

    /// The largest texts each bound admits, in the shapes that drive the parsers deepest.
    fn worst_cases() -> Vec<(Language, String)> {
        let nest =
            |open: &str, close: &str, n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
        let c = Language::Condition;
        let p = Language::Promql;
        vec![
            (c, nest("(", ")", 64)),
            (c, nest("[", "]", 64)),
            (c, nest("len(", ")", 64)),
            (c, nest("-(", ")", 64)),
            (c, format!("{}1", "!".repeat(511))),
            (c, format!("{}1", "- ".repeat(511))),
            (c, vec!["1"; 256].join("**")),
            (c, vec!["true"; 256].join("||")),
            (c, vec!["1"; 500].join("+")),
            (c, format!("{}1", "true ? 1 : ".repeat(64))),
            (p, nest("(", ")", 64)),
            (p, nest("sum(", ")", 64)),
            (p, vec!["x"; 1000].join("+")),
            (p, vec!["1"; 1000].join("^")),
            (p, format!("{}x", "-".repeat(1000))),
        ]
    }

    #[test]
    fn the_worst_admitted_texts_parse_within_the_red_zone() {
        for (language, text) in worst_cases() {
            admit(language, &text).unwrap_or_else(|e| panic!("{e}: {text}"));
        }
        // Straight on a thread whose whole stack is the red zone, as a parse gets at least that.
        std::thread::Builder::new()
            .stack_size(RED_ZONE)
            .spawn(|| {
                for (language, text) in worst_cases() {
                    let _ = panic::catch_unwind(|| match language {
                        Language::Condition => drop(expr::compile(&text)),
                        _ => drop(promql_parser::parser::parse(&text)),
                    });
                }
            })
            .unwrap()
            .join()
            .expect("no stack overflow");
    }

    #[test]
    fn a_panic_is_an_answer() {
        let err = guarded(Language::Promql, "x", |_| -> u8 { panic!("boom\nmore") }).unwrap_err();
        assert_eq!(
            err,
            Refusal::Crashed {
                language: Language::Promql,
                panic: "boom".into()
            }
        );
        assert!(err.to_string().contains("PromQL parser failed"));
    }
}
