//! PromQL checking for RG102: Argo argument substitution, guards against pathological input,
//! and work-arounds for the places where `promql-parser` rejects valid PromQL.

use super::boundary::{self, Language, Refusal};
use super::prometheus_features::{
    Feature, DURATION_FUNCTIONS, EXPERIMENTAL_AGGREGATORS, EXPERIMENTAL_FUNCTIONS, FILL_MODIFIERS,
};
use super::{go_regex, number};
use crate::argo::args;
use promql_parser::parser::{self, value::ValueType};

/// The type of value a query returns, which decides whether Argo's `result` is a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    Vector,
    Scalar,
    Matrix,
    String,
}

/// Why a query is not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryProblem {
    /// Past the checker boundary's bounds, or the parser failed on it.
    Refused(Refusal),
    Invalid(String),
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryProblem::Refused(r) => write!(f, "{r}"),
            QueryProblem::Invalid(msg) => write!(f, "{msg}"),
        }
    }
}

/// Checks a query after substituting `{{args.*}}` tags: with `known(name)` when it gives a value,
/// otherwise with a placeholder that fits where the tag stands.
pub fn check(
    query: &str,
    known: &dyn Fn(&str) -> Option<String>,
) -> Result<QueryType, QueryProblem> {
    boundary::admit(Language::Promql, query).map_err(QueryProblem::Refused)?;
    let tags = args::tags(query);
    let contexts: Vec<Slot> = tags.iter().map(|t| slot(query, t.start, t.end)).collect();
    let render = |ambiguous: &str| {
        let mut i = 0;
        args::substitute(query, |tag| {
            let s = contexts[i];
            i += 1;
            if let Some(v) = known(tag.name) {
                return v;
            }
            match s {
                Slot::String => "rg_arg".into(),
                Slot::Duration => "5m".into(),
                Slot::NameFragment => "rg_arg".into(),
                Slot::Expression => ambiguous.into(),
            }
        })
        .into_owned()
    };
    let first = render("rg_arg");
    let result = parse_fixed(&first);
    if result.is_ok() || !contexts.contains(&Slot::Expression) {
        return result;
    }
    // An unknown argument in expression position may be a number (`> {{args.threshold}}`).
    match parse_fixed(&render("1")) {
        Ok(t) => Ok(t),
        Err(_) => result,
    }
}

/// Parses a query with the work-arounds for known `promql-parser` mistakes applied.
fn parse_fixed(query: &str) -> Result<QueryType, QueryProblem> {
    boundary::admit(Language::Promql, query).map_err(QueryProblem::Refused)?;
    static VERDICTS: super::verdicts::Verdicts<Result<QueryType, QueryProblem>> =
        super::verdicts::Verdicts::new();
    // The rewrite runs behind the boundary too (the text is admitted above): it is this crate's
    // own code on anyone's text, and the fuzzer found it slicing inside a character once.
    VERDICTS.get_or(query, || {
        boundary::contain(Language::Promql, || {
            let rewritten = rewrite(query)?;
            boundary::guarded(Language::Promql, &rewritten, parse_now)
                .map_err(QueryProblem::Refused)?
        })
        .map_err(QueryProblem::Refused)?
    })
}

/// True when substituting these values could change the verdict of a query that parses with
/// placeholders: a value inside a string literal cannot, unless it holds a quote, a backslash
/// or a line break; a value anywhere else can.
pub fn values_matter(query: &str, value: &dyn Fn(&str) -> Option<String>) -> bool {
    args::tags(query).iter().any(|tag| match value(tag.name) {
        None => false,
        Some(v) => {
            slot(query, tag.start, tag.end) != Slot::String
                || v.contains(['"', '\'', '`', '\\', '\n', '\r'])
        }
    })
}

fn parse_now(query: &str) -> Result<QueryType, QueryProblem> {
    let expr = parser::parse(query).map_err(|e| QueryProblem::Invalid(e.trim().to_string()))?;
    Ok(type_of(expr.value_type()))
}

fn type_of(t: ValueType) -> QueryType {
    match t {
        ValueType::Vector => QueryType::Vector,
        ValueType::Scalar => QueryType::Scalar,
        ValueType::Matrix => QueryType::Matrix,
        ValueType::String => QueryType::String,
    }
}

/// The type of a query's result, when it parses (behind the checker boundary, not remembered:
/// for a query already [`check`]ed).
pub fn query_type(query: &str) -> Option<QueryType> {
    with_tree(query, |e| type_of(e.value_type()))
}

/// Rejects what a Prometheus 3.x without the `enabled` feature flags refuses to parse, with
/// Prometheus's message and the flag that would allow it. `promql-parser` accepts all of it, so
/// [`check`] does not look at flags; this runs on the same query text.
pub fn disabled_feature(query: &str, enabled: &[Feature]) -> Result<(), QueryProblem> {
    // Tags become plain names so that `{{args.service-name}}` in a range is not arithmetic.
    let text = args::substitute(query, |_| "rg_arg".into());
    let refuse = |feature: Feature, what: String| {
        if enabled.contains(&feature) {
            return Ok(());
        }
        Err(QueryProblem::Invalid(format!(
            "{what}; Prometheus accepts it only with --enable-feature={flag} (when yours runs \
             with it, list {flag} under spec.prometheus.features in the rollout-guard policy)",
            flag = feature.flag()
        )))
    };
    let mut lexer = Lexer::new(&text);
    let mut in_range = false;
    let mut after_open = false;
    // The last significant character token (`None` after a word or string).
    let mut previous: Option<u8> = None;
    while lexer.pos < text.len() {
        let at = lexer.pos;
        let token = lexer.next_token();
        let was = previous;
        previous = match token {
            Token::Char(c) => Some(c),
            Token::Space => was,
            _ => None,
        };
        let previous = was;
        match token {
            Token::Word { end } => {
                let word = &text[at..end];
                // Only words look ahead, so a run of spaces is skipped once per word.
                let next = next_significant(&text, end);
                let opens = next == Some(Ok(b'('));
                let grouped = matches!(next, Some(Err("by" | "without")));
                if opens && EXPERIMENTAL_FUNCTIONS.contains(&word) {
                    refuse(
                        Feature::PromqlExperimentalFunctions,
                        format!("function \"{word}\" is not enabled"),
                    )?;
                } else if (opens || grouped) && EXPERIMENTAL_AGGREGATORS.contains(&word) {
                    refuse(
                        Feature::PromqlExperimentalFunctions,
                        format!("{word}() is experimental and not enabled"),
                    )?;
                } else if opens && FILL_MODIFIERS.contains(&word) {
                    refuse(
                        Feature::PromqlBinopFillModifiers,
                        format!("binop fill modifiers are experimental and not enabled ({word})"),
                    )?;
                } else if opens && DURATION_FUNCTIONS.contains(&word) && previous != Some(b'@') {
                    refuse(
                        Feature::PromqlDurationExpr,
                        format!(
                            "{word}() is part of experimental duration expressions, not enabled"
                        ),
                    )?;
                } else if word == "offset" && (opens || matches!(next, Some(Ok(b'-' | b'+')))) {
                    let rest = text[end..].trim_start();
                    if rest
                        .trim_start_matches(['-', '+'])
                        .trim_start()
                        .starts_with('(')
                    {
                        refuse(
                            Feature::PromqlDurationExpr,
                            "an offset computed by a duration expression is not enabled".into(),
                        )?;
                    }
                }
            }
            Token::Char(b'[') => {
                in_range = true;
                after_open = true;
                continue;
            }
            Token::Char(b']') => in_range = false,
            Token::Char(c @ (b'+' | b'*' | b'/' | b'%' | b'^' | b'(' | b'-'))
                if in_range && !(c == b'-' && after_open) =>
            {
                refuse(
                    Feature::PromqlDurationExpr,
                    "arithmetic in a range (a duration expression) is not enabled".into(),
                )?;
            }
            Token::Space => continue,
            _ => {}
        }
        after_open = false;
    }
    Ok(())
}

/// The first token after `pos` that is not space: a character (`"` for a string) or a word.
fn next_significant(text: &str, pos: usize) -> Option<Result<u8, &str>> {
    let mut ahead = Lexer {
        text: text.as_bytes(),
        pos,
    };
    while ahead.pos < text.len() {
        let start = ahead.pos;
        match ahead.next_token() {
            Token::Space => continue,
            Token::Char(c) => return Some(Ok(c)),
            Token::Word { end } => return Some(Err(&text[start..end])),
            Token::String { .. } => return Some(Ok(b'"')),
        }
    }
    None
}

/// Parses a query with the crate, behind the checker boundary, and runs `read` on its syntax
/// tree there too (a tree walk recurses as deep as the tree): the one way other modules reach
/// the crate's parser. `None` when the query is past the bounds or does not parse.
pub fn with_tree<T>(query: &str, read: impl FnOnce(&parser::Expr) -> T) -> Option<T> {
    boundary::guarded(Language::Promql, query, |q| {
        parser::parse(q).ok().map(|e| read(&e))
    })
    .ok()
    .flatten()
}

/// A significant token before a number, as far as its meaning goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sig {
    Char(u8),
    Offset,
    Other,
}

/// Where a template tag stands in a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Inside a string literal: `{service="{{args.svc}}"}`.
    String,
    /// Inside a range or after `offset`: `[{{args.window}}]`.
    Duration,
    /// Glued to a name: `{{args.prefix}}_requests_total`.
    NameFragment,
    /// Anywhere else: a metric name or a number.
    Expression,
}

fn slot(query: &str, start: usize, end: usize) -> Slot {
    let mut lexer = Lexer::new(query);
    let mut bracket = false;
    while lexer.pos < start {
        match lexer.next_token() {
            Token::String { end: e } if e > start => return Slot::String,
            Token::Char(b'[') => bracket = true,
            Token::Char(b']') => bracket = false,
            _ => {}
        }
    }
    if bracket {
        return Slot::Duration;
    }
    let before = query[..start].trim_end();
    if before.ends_with("offset") {
        return Slot::Duration;
    }
    let glued =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if glued(query[..start].chars().next_back()) || glued(query[end..].chars().next()) {
        return Slot::NameFragment;
    }
    Slot::Expression
}

/// Rewrites what the crate gets wrong or does slowly, before it parses:
/// - regex matchers are checked here with Go's syntax (`\Q...\E` included, which Rust's regex
///   engine lacks) and, when the regex cannot match the empty string, turned into the equality
///   matcher with the same emptiness, so the crate does not compile a regex per matcher (that
///   compilation was half of all lint time);
/// - backtick strings holding a backslash become double-quoted strings;
/// - `anchored`/`smoothed` used as names are renamed (keywords only behind a feature flag).
fn rewrite(query: &str) -> Result<String, QueryProblem> {
    let mut out = String::with_capacity(query.len());
    let mut lexer = Lexer::new(query);
    let mut last = 0;
    // The byte offset of the `~` of a `=~` or `!~` that the next string belongs to.
    let mut match_op: Option<usize> = None;
    // The last two significant tokens, and whether a `[...]` is open: what a number means.
    let mut prev = [Sig::Other; 2];
    let mut in_range = false;
    while lexer.pos < query.len() {
        let at = lexer.pos;
        let token = lexer.next_token();
        let sig = match token {
            Token::Space => None,
            Token::Char(c) => Some(Sig::Char(c)),
            Token::Word { end } if &query[at..end] == "offset" => Some(Sig::Offset),
            _ => Some(Sig::Other),
        };
        match sig {
            Some(Sig::Char(b'[')) => in_range = true,
            Some(Sig::Char(b']' | b':')) => in_range = false,
            _ => {}
        }
        match token {
            Token::String { end } => {
                if let Some(tilde) = match_op.take() {
                    let regex = unquote(&query[at..end]);
                    match go_regex::analyze(&regex) {
                        Err(e) => {
                            return Err(QueryProblem::Invalid(format!(
                                "invalid regular expression \"{}\" in a label matcher: {e}",
                                String::from_utf8_lossy(&regex)
                            )));
                        }
                        Ok(a) if !a.matches_empty => {
                            out.push_str(&query[last..tilde]);
                            // `=~` becomes `=`, `!~` becomes `!=`.
                            if query.as_bytes()[tilde - 1] == b'!' {
                                out.push('=');
                            }
                            last = tilde + 1;
                        }
                        Ok(_) => {
                            // Valid for Go and able to match "": the crate gets a regex with
                            // the same emptiness that its own (Rust) regex engine accepts.
                            out.push_str(&query[last..at]);
                            out.push_str("\"\"");
                            last = end;
                            prev = [Sig::Other, prev[0]];
                            continue;
                        }
                    }
                }
                if query.as_bytes()[at] == b'`' {
                    out.push_str(&query[last..at]);
                    out.push('"');
                    // Without its closing quote (the query ends inside the string) the
                    // body runs to the end.
                    let closed = end > at + 1 && query.as_bytes()[end - 1] == b'`';
                    let body_end = if closed { end - 1 } else { end };
                    for c in query[at + 1..body_end].chars() {
                        match c {
                            '\\' => out.push_str("\\\\"),
                            '"' => out.push_str("\\\""),
                            c => out.push(c),
                        }
                    }
                    out.push('"');
                    last = end;
                }
            }
            Token::Char(b'~') if at > 0 && matches!(query.as_bytes()[at - 1], b'=' | b'!') => {
                match_op = Some(at);
            }
            Token::Char(c) if c.is_ascii_digit() || c == b'.' => {
                match_op = None;
                if let Some(end) = number::scan(query.as_bytes(), at) {
                    let signed = matches!(prev[0], Sig::Char(b'-' | b'+'));
                    let before = if signed { prev[1] } else { prev[0] };
                    let usage = match before {
                        Sig::Char(b'@') => number::Use::Timestamp {
                            negative: signed && prev[0] == Sig::Char(b'-'),
                        },
                        Sig::Offset => number::Use::Duration,
                        _ if in_range && !signed => number::Use::Duration,
                        _ => number::Use::Value,
                    };
                    number::check(&query[at..end], usage).map_err(QueryProblem::Invalid)?;
                    lexer.pos = end;
                }
            }
            Token::Space => {}
            Token::Word { end } if matches!(&query[at..end], "anchored" | "smoothed") => {
                match_op = None;
                out.push_str(&query[last..at]);
                out.push_str(&query[at..end]);
                out.push_str("_rg");
                last = end;
            }
            _ => match_op = None,
        }
        if let Some(sig) = sig {
            prev = [sig, prev[0]];
        }
    }
    out.push_str(&query[last..]);
    Ok(out)
}

/// The bytes of a PromQL string literal, escapes resolved as Go's `strconv.Unquote` does
/// (backtick strings are raw). The result may be invalid UTF-8 (`"\xff"`), as in Go.
fn unquote(literal: &str) -> Vec<u8> {
    let quote = literal.chars().next().unwrap_or('"');
    let body = literal
        .get(1..literal.len().saturating_sub(1).max(1))
        .unwrap_or_default();
    if quote == '`' {
        return body.as_bytes().to_vec();
    }
    let b = body.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |from: usize, n: usize| -> Option<u32> {
        let digits = body.get(from..from + n)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_hexdigit())
            .then(|| u32::from_str_radix(digits, 16).ok())?
    };
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        let simple = match c {
            b'a' => Some(7),
            b'b' => Some(8),
            b'f' => Some(12),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(11),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let (width, radix_hex) = match c {
            b'x' => (2, true),
            b'u' => (4, true),
            b'U' => (8, true),
            b'0'..=b'7' => (3, false),
            other => {
                out.push(other);
                continue;
            }
        };
        if !radix_hex {
            let digits = body.get(i - 1..i + 2).unwrap_or_default();
            match u32::from_str_radix(digits, 8) {
                Ok(v) if v <= 255 && digits.len() == 3 => {
                    out.push(v as u8);
                    i += 2;
                }
                _ => out.push(c),
            }
            continue;
        }
        match hex(i, width) {
            Some(v) if c == b'x' => out.push(v as u8),
            Some(v) => {
                let ch = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
                out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
            }
            None => {
                out.push(c);
                continue;
            }
        }
        i += width;
    }
    out
}

/// Just enough of PromQL's lexical structure to tell strings, comments and words apart.
struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
}

#[derive(Debug)]
enum Token {
    String { end: usize },
    Word { end: usize },
    Char(u8),
    Space,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            text: text.as_bytes(),
            pos: 0,
        }
    }

    fn next_token(&mut self) -> Token {
        let t = self.text;
        let start = self.pos;
        let c = t[start];
        match c {
            b'"' | b'\'' | b'`' => {
                let mut i = start + 1;
                while i < t.len() && t[i] != c {
                    if t[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                self.pos = (i + 1).min(t.len());
                Token::String { end: self.pos }
            }
            b'#' => {
                while self.pos < t.len() && t[self.pos] != b'\n' {
                    self.pos += 1;
                }
                Token::Space
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while self.pos < t.len()
                    && (t[self.pos].is_ascii_alphanumeric() || matches!(t[self.pos], b'_' | b':'))
                {
                    self.pos += 1;
                }
                Token::Word { end: self.pos }
            }
            c if c.is_ascii_whitespace() => {
                self.pos += 1;
                Token::Space
            }
            c => {
                self.pos += 1;
                Token::Char(c)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn placeholders_fit_their_place() {
        let q = r#"sum(rate(http{svc="{{args.svc}}"}[{{ args.window }}])) / sum(rate(http[5m] offset {{args.off}})) > {{args.threshold}}"#;
        assert_eq!(check(q, &none), Ok(QueryType::Vector));
        assert_eq!(check("{{args.metric}}_total", &none), Ok(QueryType::Vector));
        assert_eq!(check("topk({{args.k}}, x)", &none), Ok(QueryType::Vector));
    }

    #[test]
    fn known_values_are_used() {
        let known = |n: &str| (n == "window").then(|| "banana".to_string());
        assert!(matches!(
            check("rate(x[{{args.window}}])", &known),
            Err(QueryProblem::Invalid(_))
        ));
    }

    #[test]
    fn scalar_and_vector_types() {
        assert_eq!(check("scalar(sum(x))", &none), Ok(QueryType::Scalar));
        assert_eq!(check("sum(x) / sum(y)", &none), Ok(QueryType::Vector));
    }

    #[test]
    fn crate_mistakes_are_worked_around() {
        assert!(check(r"foo{a=~`\d+`}", &none).is_ok());
        assert!(check("anchored{smoothed=\"x\"}", &none).is_ok());
        assert!(check(r#"foo{a=~"\\Qa.b\\E"}"#, &none).is_ok());
        assert!(check(r#"foo{a=~"(unclosed"}"#, &none).is_err());
    }

    fn invalid(q: &str) -> String {
        match check(q, &none) {
            Err(QueryProblem::Invalid(m)) => m,
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn matchers_use_go_regex_syntax() {
        // Go rejects these; Rust's regex syntax accepts them.
        for (re, why) in [
            ("a{1001}", "invalid repeat count: `{1001}`"),
            (".**", "invalid nested repetition operator: `**`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("x{2}{3}", "invalid nested repetition operator: `{2}{3}`"),
            ("[0--9]", "invalid character class range: `0--`"),
            ("[[:foo:]]", "invalid character class range: `[:foo:]`"),
            ("(?x)a", "invalid or unsupported Perl syntax: `(?x`"),
        ] {
            let msg = invalid(&format!("foo{{a=~`{re}`}}"));
            assert!(
                msg.contains(&format!("error parsing regexp: {why}")),
                "{re}: {msg}"
            );
            assert!(msg.starts_with("invalid regular expression"), "{msg}");
        }
        // Go accepts these; Rust's regex engine would not compile them, and the crate never
        // sees them: as `=` when they cannot match "", as an empty regex when they can.
        for q in [
            "foo{a=~\"a{,3}\"}",
            r"foo{a=~`[\d-z]`}",
            r"foo{a=~`[\d-z]*`}",
            r"foo{a!~`\Qa.b\E`}",
            r#"foo{a=~"\\Q(\\E?"}"#,
        ] {
            assert_eq!(check(q, &none), Ok(QueryType::Vector), "{q}");
        }
        // Emptiness still decides whether a selector has a non-empty matcher.
        assert!(check(r#"{a=~"a{,3}"}"#, &none).is_ok());
        assert!(invalid(r#"{a=~"(a{,3})?"}"#).contains("non-empty matcher"));
        assert!(check(r#"{a!~"(a{,3})?"}"#, &none).is_ok());
        // A `\x` escape in the PromQL string that is not UTF-8 is invalid, as in Go.
        assert!(invalid(r#"foo{a=~"\xff"}"#).contains("invalid UTF-8"));
    }

    #[test]
    fn numbers_follow_go() {
        assert_eq!(
            invalid("x > 1e1000"),
            "error parsing number: strconv.ParseFloat: parsing \"1e1000\": value out of range"
        );
        assert!(invalid("foo @ 9223372036854775808").contains("timestamp out of bounds"));
        assert!(invalid("foo @ -9223372036854775808").contains("timestamp out of bounds"));
        assert_eq!(invalid("foo offset 9.5e10"), "duration out of range");
        assert_eq!(invalid("rate(foo[9.5e10])"), "duration out of range");
        for ok in [
            "x > 1e308",
            "x > 1e-1000",
            "x > 0x1F",
            "foo @ 1700000000",
            "rate(foo[300])",
            "foo offset 60",
            "foo[5m:30s]",
            "http_5xx_total > 5",
        ] {
            assert!(check(ok, &none).is_ok(), "{ok}: {:?}", check(ok, &none));
        }
    }

    #[test]
    fn feature_flags_are_refused_unless_enabled() {
        let cases = [
            ("limitk(2, x)", Feature::PromqlExperimentalFunctions),
            (
                "limit_ratio by (a) (0.5, x)",
                Feature::PromqlExperimentalFunctions,
            ),
            (
                "sort_by_label(x, \"a\")",
                Feature::PromqlExperimentalFunctions,
            ),
            ("info(x)", Feature::PromqlExperimentalFunctions),
            ("mad_over_time(x[5m])", Feature::PromqlExperimentalFunctions),
            (
                "double_exponential_smoothing(x[5m], 0.5, 0.5)",
                Feature::PromqlExperimentalFunctions,
            ),
            (
                "ts_of_max_over_time(x[5m])",
                Feature::PromqlExperimentalFunctions,
            ),
            ("a + fill(0) b", Feature::PromqlBinopFillModifiers),
            (
                "a + on(x) fill_left (0) b",
                Feature::PromqlBinopFillModifiers,
            ),
            ("rate(x[5m * 2])", Feature::PromqlDurationExpr),
            ("x offset (1h + 5m)", Feature::PromqlDurationExpr),
            ("x[step()]", Feature::PromqlDurationExpr),
        ];
        for (q, feature) in cases {
            let Err(QueryProblem::Invalid(msg)) = disabled_feature(q, &[]) else {
                panic!("{q} accepted by default")
            };
            assert!(
                msg.contains(&format!("--enable-feature={}", feature.flag())),
                "{q}: {msg}"
            );
            assert_eq!(disabled_feature(q, &[feature]), Ok(()), "{q}");
        }
        // Names that are only names, and what needs no flag.
        for q in [
            "info",
            "sum by (info, limitk) (x)",
            "x{fill=\"1\"}",
            "x @ start()",
            "x offset -5m",
            "rate(x[{{args.service-name}}])",
            "x[5m:1m]",
            r#"x{a=~"(info|limitk)(.*)"}"#,
        ] {
            assert_eq!(disabled_feature(q, &[]), Ok(()), "{q}");
        }
    }

    #[test]
    fn guards() {
        assert!(matches!(
            check(&"x".repeat(16 * 1024 + 1), &none),
            Err(QueryProblem::Refused(Refusal::TooLong { .. }))
        ));
        let deep = format!("{}x{}", "sum(".repeat(100), ")".repeat(100));
        assert!(matches!(
            check(&deep, &none),
            Err(QueryProblem::Refused(Refusal::TooDeep { depth: 100, .. }))
        ));
    }

    #[test]
    fn errors_quote_the_parser() {
        let Err(QueryProblem::Invalid(msg)) = check("sum(rate(x[5m])", &none) else {
            panic!()
        };
        assert!(!msg.is_empty());
    }
}
