//! PromQL checking for RG102: Argo argument substitution, guards against pathological input,
//! and work-arounds for the places where `promql-parser` rejects valid PromQL.

use super::args;
use super::boundary::{self, Language, Refusal};
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
    static MEMO: super::memo::Memo<Result<QueryType, QueryProblem>> = super::memo::Memo::new();
    MEMO.get_or(query, || {
        let rewritten = rewrite(query)?;
        boundary::guarded(Language::Promql, &rewritten, parse_now).map_err(QueryProblem::Refused)?
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
    Ok(match expr.value_type() {
        ValueType::Vector => QueryType::Vector,
        ValueType::Scalar => QueryType::Scalar,
        ValueType::Matrix => QueryType::Matrix,
        ValueType::String => QueryType::String,
    })
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
    while lexer.pos < query.len() {
        let at = lexer.pos;
        let token = lexer.next_token();
        match token {
            Token::String { end } => {
                if let Some(tilde) = match_op.take() {
                    let regex = unquote(&query[at..end]);
                    match regex_syntax::Parser::new().parse(&go_quotes_to_rust(&regex)) {
                        Err(e) => {
                            let why = e.to_string();
                            let why = why.lines().last().unwrap_or_default().trim().to_string();
                            return Err(QueryProblem::Invalid(format!(
                                "invalid regular expression \"{regex}\" in a label matcher: {why}"
                            )));
                        }
                        Ok(hir) if hir.properties().minimum_len().is_some_and(|n| n > 0) => {
                            out.push_str(&query[last..tilde]);
                            // `=~` becomes `=`, `!~` becomes `!=`.
                            if query.as_bytes()[tilde - 1] == b'!' {
                                out.push('=');
                            }
                            last = tilde + 1;
                        }
                        Ok(_) => {}
                    }
                }
                if query.as_bytes()[at] == b'`' {
                    out.push_str(&query[last..at]);
                    out.push('"');
                    for c in query[at + 1..end.saturating_sub(1).max(at + 1)].chars() {
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
    }
    out.push_str(&query[last..]);
    Ok(out)
}

/// The text of a PromQL string literal (quotes removed, escapes resolved as Go does for the
/// common cases; backtick strings are raw).
fn unquote(literal: &str) -> String {
    let quote = literal.chars().next().unwrap_or('"');
    let body = literal
        .get(1..literal.len().saturating_sub(1).max(1))
        .unwrap_or_default();
    if quote == '`' {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `\Qa.b\E` (a literal run in Go's RE2) becomes `a\.b`.
fn go_quotes_to_rust(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut rest = re;
    while let Some(start) = rest.find("\\Q") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let (literal, tail) = match after.find("\\E") {
            Some(end) => (&after[..end], &after[end + 2..]),
            None => (after, ""),
        };
        out.push_str(&regex_syntax::escape(literal));
        rest = tail;
    }
    out.push_str(rest);
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
