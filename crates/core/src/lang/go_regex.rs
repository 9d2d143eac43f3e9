//! Regular expressions checked as Go's `regexp/syntax` parses them (Perl flags, as Prometheus
//! compiles label matchers), following `src/regexp/syntax/parse.go`: the accepted grammar, the
//! repeat limits, UTF-8 validity and Go's error wording. It also tells whether the regex can
//! match the empty string, which decides whether a matcher is "empty" in PromQL.
//!
//! The parser is a loop over the input with an explicit stack of open groups, so no input can
//! drive it into deep recursion (the webhook runs it on anyone's query).

/// What Go's parser says about a valid regex, as far as PromQL cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// True when the whole regex can match the empty string.
    pub matches_empty: bool,
}

/// A parse error, printed as Go prints it: ``error parsing regexp: CODE: `EXPR` ``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoRegexError {
    /// Go's `ErrorCode` text, e.g. `invalid nested repetition operator`.
    pub code: &'static str,
    /// The offending part of the expression.
    pub expr: String,
}

impl std::fmt::Display for GoRegexError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

const INVALID_CHAR_CLASS_RANGE: &str = "invalid character class range";
const INVALID_ESCAPE: &str = "invalid escape sequence";
const INVALID_NAMED_CAPTURE: &str = "invalid named capture";
const INVALID_PERL_OP: &str = "invalid or unsupported Perl syntax";
const INVALID_REPEAT_OP: &str = "invalid nested repetition operator";
const INVALID_REPEAT_SIZE: &str = "invalid repeat count";
const INVALID_UTF8: &str = "invalid UTF-8";
const MISSING_BRACKET: &str = "missing closing ]";
const MISSING_PAREN: &str = "missing closing )";
const MISSING_REPEAT_ARGUMENT: &str = "missing argument to repetition operator";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const UNEXPECTED_PAREN: &str = "unexpected )";
const NESTING_DEPTH: &str = "expression nests too deeply";

/// Go's `maxRepeat`: the largest count in `x{n,m}`, and the largest product of nested counts.
const MAX_REPEAT: u32 = 1000;
/// Go's `maxHeight`: the deepest parse tree accepted.
const MAX_HEIGHT: u32 = 1000;

/// Parses `re` (the bytes of the unquoted PromQL string, which may hold invalid UTF-8 from
/// `\x` escapes) with Go's `syntax.Perl` flags.
pub fn analyze(re: &[u8]) -> Result<Analysis, GoRegexError> {
    Parser { s: re }.run()
}

/// A parsed piece: all that validity and emptiness depend on.
#[derive(Clone, Copy, Debug)]
struct Node {
    nullable: bool,
    /// The largest product of `{n,m}` counts on any path down the tree (saturating).
    repeats: u32,
    height: u32,
}

impl Node {
    const fn atom(nullable: bool) -> Node {
        Node {
            nullable,
            repeats: 1,
            height: 1,
        }
    }
}

/// An alternative being read: a concatenation of pieces; only the last may still be repeated.
#[derive(Default)]
struct Concat {
    done: Option<Node>,
    count: usize,
    last: Option<Node>,
}

impl Concat {
    fn push(&mut self, n: Node) {
        if let Some(prev) = self.last.take() {
            self.fold(prev);
        }
        self.last = Some(n);
    }

    fn fold(&mut self, n: Node) {
        self.count += 1;
        self.done = Some(match self.done {
            None => n,
            Some(d) => Node {
                nullable: d.nullable && n.nullable,
                repeats: d.repeats.max(n.repeats),
                height: d.height.max(n.height),
            },
        });
    }

    fn finish(mut self) -> Node {
        if let Some(prev) = self.last.take() {
            self.fold(prev);
        }
        match self.done {
            None => Node::atom(true),
            Some(n) if self.count > 1 => Node {
                height: n.height + 1,
                ..n
            },
            Some(n) => n,
        }
    }
}

/// An open group (or the whole regex) with the alternatives read so far.
struct Group {
    capture: bool,
    alternatives: Option<Node>,
    count: usize,
    current: Concat,
}

impl Group {
    fn new(capture: bool) -> Group {
        Group {
            capture,
            alternatives: None,
            count: 0,
            current: Concat::default(),
        }
    }

    fn bar(&mut self) {
        let n = std::mem::take(&mut self.current).finish();
        self.count += 1;
        self.alternatives = Some(match self.alternatives {
            None => n,
            Some(a) => Node {
                nullable: a.nullable || n.nullable,
                repeats: a.repeats.max(n.repeats),
                height: a.height.max(n.height),
            },
        });
    }

    fn finish(mut self) -> Node {
        self.bar();
        let mut n = self.alternatives.unwrap_or(Node::atom(true));
        if self.count > 1 {
            n.height += 1;
        }
        if self.capture {
            n.height += 1;
        }
        n
    }
}

struct Parser<'a> {
    s: &'a [u8],
}

fn err(code: &'static str, expr: &[u8]) -> GoRegexError {
    GoRegexError {
        code,
        expr: String::from_utf8_lossy(expr).into_owned(),
    }
}

/// Go's `nextRune`: the rune at `i` and the index after it; at the end, no rune and `i`.
fn next_rune(s: &[u8], i: usize) -> Result<(Option<char>, usize), GoRegexError> {
    if i >= s.len() {
        return Ok((None, i));
    }
    let width = match s[i] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 0,
    };
    let c = s
        .get(i..i + width)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| t.chars().next());
    match c {
        Some(c) if width > 0 => Ok((Some(c), i + width)),
        _ => Err(err(INVALID_UTF8, &s[i..])),
    }
}

fn check_utf8(s: &[u8]) -> Result<(), GoRegexError> {
    let mut i = 0;
    while i < s.len() {
        i = next_rune(s, i)?.1;
    }
    Ok(())
}

fn unhex(c: Option<char>) -> Option<u32> {
    c.and_then(|c| c.to_digit(16))
}

fn is_octal(s: &[u8], i: usize) -> bool {
    matches!(s.get(i), Some(b'0'..=b'7'))
}

impl Parser<'_> {
    fn run(&self) -> Result<Analysis, GoRegexError> {
        let s = self.s;
        let mut groups = vec![Group::new(false)];
        let mut i = 0;
        // Where the repetition operator just read began, when the last thing read was one.
        let mut last_repeat: Option<usize> = None;
        while i < s.len() {
            let mut repeat = None;
            match s[i] {
                b'(' => {
                    if s.get(i + 1) == Some(&b'?') {
                        i = self.perl_flags(i, &mut groups)?;
                    } else {
                        groups.push(Group::new(true));
                        i += 1;
                    }
                }
                b'|' => {
                    top(&mut groups).bar();
                    i += 1;
                }
                b')' => {
                    if groups.len() < 2 {
                        return Err(err(UNEXPECTED_PAREN, s));
                    }
                    let node = groups.pop().map(Group::finish).unwrap_or(Node::atom(true));
                    check_height(node, s)?;
                    top(&mut groups).current.push(node);
                    i += 1;
                }
                b'^' | b'$' => {
                    top(&mut groups).current.push(Node::atom(true));
                    i += 1;
                }
                b'.' => {
                    top(&mut groups).current.push(Node::atom(false));
                    i += 1;
                }
                b'[' => {
                    i = self.class(i)?;
                    top(&mut groups).current.push(Node::atom(false));
                }
                b'*' | b'+' | b'?' => {
                    let (min, max) = match s[i] {
                        b'*' => (0, -1),
                        b'+' => (1, -1),
                        _ => (0, 1),
                    };
                    let after =
                        self.repeat(&mut groups, (min, max, false), i, i + 1, last_repeat)?;
                    repeat = Some(i);
                    i = after;
                }
                b'{' => match parse_repeat(s, i) {
                    None => {
                        top(&mut groups).current.push(Node::atom(false));
                        i += 1;
                    }
                    Some((min, max, after)) => {
                        if min < 0
                            || min > MAX_REPEAT as i64
                            || max > MAX_REPEAT as i64
                            || (max >= 0 && min > max)
                        {
                            return Err(err(INVALID_REPEAT_SIZE, &s[i..after]));
                        }
                        let after =
                            self.repeat(&mut groups, (min, max, true), i, after, last_repeat)?;
                        repeat = Some(i);
                        i = after;
                    }
                },
                b'\\' => {
                    i = self.escape(i, &mut groups)?;
                }
                _ => {
                    i = next_rune(s, i)?.1;
                    top(&mut groups).current.push(Node::atom(false));
                }
            }
            last_repeat = repeat;
        }
        if groups.len() != 1 {
            return Err(err(MISSING_PAREN, s));
        }
        let node = groups.pop().map(Group::finish).unwrap_or(Node::atom(true));
        check_height(node, s)?;
        Ok(Analysis {
            matches_empty: node.nullable,
        })
    }

    /// Applies a repetition (`*`, `+`, `?` or `{min,max}`, `max` -1 for none) read from
    /// `start` to `after` to the last piece; returns where reading goes on.
    fn repeat(
        &self,
        groups: &mut [Group],
        (min, max, counted): (i64, i64, bool),
        start: usize,
        mut after: usize,
        last_repeat: Option<usize>,
    ) -> Result<usize, GoRegexError> {
        let s = self.s;
        if s.get(after) == Some(&b'?') {
            after += 1;
        }
        if let Some(last) = last_repeat {
            // Perl forbids stacking repetitions: `a**` is an error, not a doubled star.
            return Err(err(INVALID_REPEAT_OP, &s[last..after]));
        }
        let concat = &mut top(groups).current;
        let Some(sub) = concat.last else {
            return Err(err(MISSING_REPEAT_ARGUMENT, &s[start..after]));
        };
        let factor = if !counted {
            1
        } else if max == 0 {
            // `x{0}` is never checked further down in Go.
            0
        } else {
            (if max < 0 { min } else { max }).max(1) as u32
        };
        let repeats = if factor == 0 {
            1
        } else {
            sub.repeats.saturating_mul(factor).min(MAX_REPEAT + 1)
        };
        let node = Node {
            nullable: min == 0 || sub.nullable,
            repeats,
            height: sub.height + 1,
        };
        check_height(node, s)?;
        if counted && (min >= 2 || max >= 2) && node.repeats > MAX_REPEAT {
            return Err(err(INVALID_REPEAT_SIZE, &s[start..after]));
        }
        concat.last = Some(node);
        Ok(after)
    }

    /// `(?flags)`, `(?flags:`, `(?P<name>` or `(?<name>` at `i`.
    fn perl_flags(&self, i: usize, groups: &mut Vec<Group>) -> Result<usize, GoRegexError> {
        let s = self.s;
        let t = &s[i..];
        let named_p = t.len() > 4 && t[2] == b'P' && t[3] == b'<';
        let named = t.len() > 3 && t[2] == b'<';
        if named_p || named {
            let begin = if named_p { 4 } else { 3 };
            let Some(end) = t.iter().position(|&b| b == b'>') else {
                check_utf8(t)?;
                return Err(err(INVALID_NAMED_CAPTURE, t));
            };
            let name = &t[begin..end];
            check_utf8(name)?;
            if name.is_empty() || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                return Err(err(INVALID_NAMED_CAPTURE, &t[..=end]));
            }
            groups.push(Group::new(true));
            return Ok(i + end + 1);
        }
        let mut j = i + 2;
        let mut negated = false;
        let mut saw_flag = false;
        while j < s.len() {
            let (c, next) = next_rune(s, j)?;
            j = next;
            match c {
                Some('i' | 'm' | 's' | 'U') => saw_flag = true,
                Some('-') if !negated => {
                    negated = true;
                    saw_flag = false;
                }
                Some(c @ (':' | ')')) if !negated || saw_flag => {
                    if c == ':' {
                        groups.push(Group::new(false));
                    }
                    return Ok(j);
                }
                _ => break,
            }
        }
        Err(err(INVALID_PERL_OP, &s[i..j]))
    }

    /// A backslash sequence outside a class at `i`.
    fn escape(&self, i: usize, groups: &mut [Group]) -> Result<usize, GoRegexError> {
        let s = self.s;
        match s.get(i + 1) {
            Some(b'A' | b'B' | b'z') => {
                top(groups).current.push(Node::atom(true));
                return Ok(i + 2);
            }
            // A word boundary: the empty text has none.
            Some(b'b') => {
                top(groups).current.push(Node::atom(false));
                return Ok(i + 2);
            }
            Some(b'C') => return Err(err(INVALID_ESCAPE, &s[i..i + 2])),
            Some(b'Q') => {
                let body = &s[i + 2..];
                let (lit, rest) = match body.windows(2).position(|w| w == b"\\E") {
                    Some(p) => (&body[..p], i + 2 + p + 2),
                    None => (body, s.len()),
                };
                let mut k = 0;
                while k < lit.len() {
                    k = next_rune(lit, k)?.1;
                    top(groups).current.push(Node::atom(false));
                }
                return Ok(rest);
            }
            _ => {}
        }
        if let Some(after) = self.unicode_class(i)? {
            top(groups).current.push(Node::atom(false));
            return Ok(after);
        }
        if let Some(after) = perl_class(s, i) {
            top(groups).current.push(Node::atom(false));
            return Ok(after);
        }
        let (_, after) = self.single_escape(i)?;
        top(groups).current.push(Node::atom(false));
        Ok(after)
    }

    /// Go's `parseEscape`: one escaped character at `i` (a backslash); the rune and the index
    /// after it.
    fn single_escape(&self, i: usize) -> Result<(u32, usize), GoRegexError> {
        let s = self.s;
        let invalid = |end: usize| Err(err(INVALID_ESCAPE, &s[i..end.min(s.len())]));
        if i + 1 >= s.len() {
            return Err(err(TRAILING_BACKSLASH, b""));
        }
        let (c, mut t) = next_rune(s, i + 1)?;
        let Some(c) = c else {
            return Err(err(TRAILING_BACKSLASH, b""));
        };
        match c {
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok((c as u32, t)),
            '1'..='7' if !is_octal(s, t) => invalid(t),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    if !is_octal(s, t) {
                        break;
                    }
                    r = r * 8 + (s[t] - b'0') as u32;
                    t += 1;
                }
                Ok((r, t))
            }
            'x' => {
                if t >= s.len() {
                    return invalid(t);
                }
                let (c, next) = next_rune(s, t)?;
                t = next;
                if c == Some('{') {
                    let mut digits = 0;
                    let mut r: u32 = 0;
                    loop {
                        if t >= s.len() {
                            return invalid(t);
                        }
                        let (c, next) = next_rune(s, t)?;
                        t = next;
                        if c == Some('}') {
                            break;
                        }
                        let Some(v) = unhex(c) else {
                            return invalid(t);
                        };
                        r = r * 16 + v;
                        if r > 0x10ffff {
                            return invalid(t);
                        }
                        digits += 1;
                    }
                    if digits == 0 {
                        return invalid(t);
                    }
                    return Ok((r, t));
                }
                let (y, next) = next_rune(s, t)?;
                t = next;
                match (unhex(c), unhex(y)) {
                    (Some(x), Some(y)) => Ok((x * 16 + y, t)),
                    _ => invalid(t),
                }
            }
            'a' => Ok((7, t)),
            'f' => Ok((12, t)),
            'n' => Ok((10, t)),
            'r' => Ok((13, t)),
            't' => Ok((9, t)),
            'v' => Ok((11, t)),
            _ => invalid(t),
        }
    }

    /// Go's `parseUnicodeClass`: `\pN`, `\p{Name}`, `\P{^Name}` at `i`; `None` when `i` holds
    /// no `\p`/`\P`.
    fn unicode_class(&self, i: usize) -> Result<Option<usize>, GoRegexError> {
        let s = self.s;
        if s.get(i) != Some(&b'\\') || !matches!(s.get(i + 1), Some(b'p' | b'P')) {
            return Ok(None);
        }
        let (c, t) = next_rune(s, i + 2)?;
        let (seq_end, name) = if c != Some('{') {
            (t, &s[i + 2..t])
        } else {
            let Some(end) = s[i..].iter().position(|&b| b == b'}').map(|p| i + p) else {
                check_utf8(&s[i..])?;
                return Err(err(INVALID_CHAR_CLASS_RANGE, &s[i..]));
            };
            let name = &s[i + 3..end];
            check_utf8(name)?;
            (end + 1, name)
        };
        let name = name.strip_prefix(b"^").unwrap_or(name);
        if !unicode_name_known(name) {
            return Err(err(INVALID_CHAR_CLASS_RANGE, &s[i..seq_end]));
        }
        Ok(Some(seq_end))
    }

    /// Go's `parseClass`: a bracketed class starting at `i`; the index after it.
    fn class(&self, i: usize) -> Result<usize, GoRegexError> {
        let s = self.s;
        let whole = &s[i..];
        let mut t = i + 1;
        if s.get(t) == Some(&b'^') {
            t += 1;
        }
        let mut first = true;
        while t >= s.len() || s[t] != b']' || first {
            first = false;
            if s.len() > t + 2 && s[t] == b'[' && s[t + 1] == b':' {
                if let Some(p) = s[t + 2..].windows(2).position(|w| w == b":]") {
                    let end = t + 2 + p + 2;
                    let name = &s[t..end];
                    if !POSIX_CLASSES.contains(&name) {
                        return Err(err(INVALID_CHAR_CLASS_RANGE, name));
                    }
                    t = end;
                    continue;
                }
            }
            if let Some(after) = self.unicode_class(t)? {
                t = after;
                continue;
            }
            if let Some(after) = perl_class(s, t) {
                t = after;
                continue;
            }
            let range_start = t;
            let (lo, after) = self.class_char(t, whole)?;
            t = after;
            if s.len() >= t + 2 && s[t] == b'-' && s[t + 1] != b']' {
                let (hi, after) = self.class_char(t + 1, whole)?;
                t = after;
                if hi < lo {
                    return Err(err(INVALID_CHAR_CLASS_RANGE, &s[range_start..t]));
                }
            }
        }
        Ok(t + 1)
    }

    fn class_char(&self, t: usize, whole: &[u8]) -> Result<(u32, usize), GoRegexError> {
        let s = self.s;
        if t >= s.len() {
            return Err(err(MISSING_BRACKET, whole));
        }
        if s[t] == b'\\' {
            return self.single_escape(t);
        }
        let (c, after) = next_rune(s, t)?;
        Ok((c.map_or(0, |c| c as u32), after))
    }
}

fn top(groups: &mut [Group]) -> &mut Group {
    let last = groups.len() - 1;
    &mut groups[last]
}

fn check_height(n: Node, s: &[u8]) -> Result<(), GoRegexError> {
    if n.height > MAX_HEIGHT {
        return Err(err(NESTING_DEPTH, s));
    }
    Ok(())
}

/// `\d \D \s \S \w \W` at `i`: the index after it.
fn perl_class(s: &[u8], i: usize) -> Option<usize> {
    (s.get(i) == Some(&b'\\')
        && matches!(s.get(i + 1), Some(b'd' | b'D' | b's' | b'S' | b'w' | b'W')))
    .then_some(i + 2)
}

/// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` at `i` as (min, max, end), max -1 for none and
/// min -1 when a number is too large; `None` when it is not a repetition (then `{` is literal).
fn parse_repeat(s: &[u8], i: usize) -> Option<(i64, i64, usize)> {
    let (mut min, mut t) = parse_int(s, i + 1)?;
    let max;
    if t >= s.len() {
        return None;
    }
    if s[t] != b',' {
        max = min;
    } else {
        t += 1;
        if t >= s.len() {
            return None;
        }
        if s[t] == b'}' {
            max = -1;
        } else {
            let (m, after) = parse_int(s, t)?;
            t = after;
            max = m;
            if m < 0 {
                min = -1;
            }
        }
    }
    (s.get(t) == Some(&b'}')).then_some((min, max, t + 1))
}

/// Go's `parseInt`: decimal digits without a leading zero; -1 when 1e8 or more.
fn parse_int(s: &[u8], i: usize) -> Option<(i64, usize)> {
    if !s.get(i).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    if s[i] == b'0' && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut t = i;
    let mut n: i64 = 0;
    while t < s.len() && s[t].is_ascii_digit() {
        if n >= 0 {
            n = if n >= 100_000_000 {
                -1
            } else {
                n * 10 + (s[t] - b'0') as i64
            };
        }
        t += 1;
    }
    Some((n, t))
}

const POSIX_CLASSES: &[&[u8]] = &[
    b"[:alnum:]",
    b"[:alpha:]",
    b"[:ascii:]",
    b"[:blank:]",
    b"[:cntrl:]",
    b"[:digit:]",
    b"[:graph:]",
    b"[:lower:]",
    b"[:print:]",
    b"[:punct:]",
    b"[:space:]",
    b"[:upper:]",
    b"[:word:]",
    b"[:xdigit:]",
    b"[:^alnum:]",
    b"[:^alpha:]",
    b"[:^ascii:]",
    b"[:^blank:]",
    b"[:^cntrl:]",
    b"[:^digit:]",
    b"[:^graph:]",
    b"[:^lower:]",
    b"[:^print:]",
    b"[:^punct:]",
    b"[:^space:]",
    b"[:^upper:]",
    b"[:^word:]",
    b"[:^xdigit:]",
];

/// Go's `unicode.Categories` keys.
const CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Cn", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn",
    "N", "Nd", "Nl", "No", "P", "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm",
    "So", "Z", "Zl", "Zp", "Zs",
];

/// Whether Go knows the Unicode class `name`. Go versions differ: older ones look names up
/// exactly, newer ones (`canonicalName`) ignore case, `_`, `-` and spaces and add `Assigned`,
/// `ASCII` and long category aliases. A name any of them accepts is accepted; for script names
/// (about 160 of them) the Unicode tables of `regex_syntax` stand in for Go's `unicode.Scripts`.
fn unicode_name_known(name: &[u8]) -> bool {
    let Ok(name) = std::str::from_utf8(name) else {
        return false;
    };
    if name == "Any" || CATEGORIES.contains(&name) {
        return true;
    }
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b' '))
    {
        return false;
    }
    let canonical: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .enumerate()
        .map(|(k, c)| {
            if k == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if matches!(canonical.as_str(), "Any" | "Assigned" | "Ascii" | "Lc")
        || CATEGORIES.contains(&canonical.as_str())
    {
        return true;
    }
    // Scripts and long category names; `regex_syntax` matches them loosely, as newer Go does.
    regex_syntax::Parser::new()
        .parse(&format!("\\p{{{name}}}"))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(re: &str) -> Result<bool, String> {
        analyze(re.as_bytes())
            .map(|a| a.matches_empty)
            .map_err(|e| e.to_string())
    }

    fn rejected(re: &str) -> String {
        check(re).expect_err(re)
    }

    #[test]
    fn go_rejects_what_rust_accepts() {
        assert_eq!(
            rejected("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(
            rejected(".**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            rejected("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            rejected("x{2}{3}"),
            "error parsing regexp: invalid nested repetition operator: `{2}{3}`"
        );
        assert_eq!(
            rejected("[0--9]"),
            "error parsing regexp: invalid character class range: `0--`"
        );
        assert_eq!(
            rejected("[[:foo:]]"),
            "error parsing regexp: invalid character class range: `[:foo:]`"
        );
        assert_eq!(
            rejected("(?x)a"),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?x`"
        );
    }

    #[test]
    fn go_accepts_what_rust_rejects() {
        assert_eq!(check("a{,3}"), Ok(false));
        assert_eq!(check(r"[\d-z]"), Ok(false));
        assert_eq!(check(r"\Qa.b\E+"), Ok(false));
        assert_eq!(check(r"x{"), Ok(false));
        assert_eq!(check(r"a{01}"), Ok(false));
    }

    #[test]
    fn nested_repeats_are_limited_by_their_product() {
        assert!(check("(a{10}){100}").is_ok());
        assert_eq!(
            rejected("(a{10}){101}"),
            "error parsing regexp: invalid repeat count: `{101}`"
        );
        assert_eq!(
            rejected("((a{2}){2}){251}?"),
            "error parsing regexp: invalid repeat count: `{251}?`"
        );
        // `x{0}` is not looked into, and stars do not count.
        assert!(check("((a{1000}){0}){1000}").is_ok());
        assert!(check("((a*)+){1000}").is_ok());
        assert_eq!(
            rejected("a{1000,2}"),
            "error parsing regexp: invalid repeat count: `{1000,2}`"
        );
        assert_eq!(
            rejected("a{100000000}"),
            "error parsing regexp: invalid repeat count: `{100000000}`"
        );
    }

    #[test]
    fn flags_groups_and_escapes() {
        for ok in [
            "(?i)abc",
            "(?i-s:a.b)",
            "(?U)a+",
            "(?m)^a$",
            "(?P<name>x)",
            "(?<name>x)",
            r"\pL\p{Greek}\PN\p{^Han}\pZ",
            r"[\p{Lu}[:alpha:][:^digit:]\x{10FFFF}\x41\101\0]",
            r"\A\z\b\B",
            r"\.\_\-",
            "[]a]",
            "[^]a]",
            "[a-]",
            "a*?",
            "a{2}?",
            "a(?i)*",
            "()*",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
        }
        let cases = [
            ("(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`"),
            ("(?P=name)", "invalid or unsupported Perl syntax: `(?P`"),
            ("(?P<n!>x)", "invalid named capture: `(?P<n!>`"),
            ("(?P<name", "invalid named capture: `(?P<name`"),
            (r"\8", "invalid escape sequence: `\\8`"),
            (r"\1", "invalid escape sequence: `\\1`"),
            (r"\C", "invalid escape sequence: `\\C`"),
            (r"\xZ1", "invalid escape sequence: `\\xZ1`"),
            (r"\x{110000}", "invalid escape sequence: `\\x{110000`"),
            (r"[\b]", "invalid escape sequence: `\\b`"),
            ("a\\", "trailing backslash at end of expression: ``"),
            (
                r"\p{Klingon}",
                "invalid character class range: `\\p{Klingon}`",
            ),
            (r"\p{Greek", "invalid character class range: `\\p{Greek`"),
            ("[abc", "missing closing ]: `[abc`"),
            ("[z-a]", "invalid character class range: `z-a`"),
            ("(abc", "missing closing ): `(abc`"),
            ("abc)", "unexpected ): `abc)`"),
            ("*a", "missing argument to repetition operator: `*`"),
            ("a|*", "missing argument to repetition operator: `*`"),
            ("(+)", "missing argument to repetition operator: `+`"),
            ("a*?*", "invalid nested repetition operator: `*?*`"),
        ];
        for (re, want) in cases {
            assert_eq!(
                rejected(re),
                format!("error parsing regexp: {want}"),
                "{re}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let e = analyze(b"a\xffb").unwrap_err();
        assert_eq!(e.code, INVALID_UTF8);
        assert!(analyze("é+".as_bytes()).is_ok());
    }

    #[test]
    fn emptiness() {
        for (re, empty) in [
            ("", true),
            (".*", true),
            ("a?", true),
            ("a|", true),
            ("(a|b)*c?", true),
            ("^$", true),
            ("a{0,3}", true),
            ("(?:)", true),
            (r"\Q\E", true),
            ("a", false),
            (".+", false),
            ("a|b", false),
            ("(a|)b", false),
            ("a{1,3}", false),
            ("[^a]", false),
            (r"\b", false),
            ("5..", false),
        ] {
            assert_eq!(check(re), Ok(empty), "{re}");
        }
    }

    #[test]
    fn deep_input_neither_recurses_nor_panics() {
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(analyze(deep.as_bytes()).unwrap_err().code, NESTING_DEPTH);
        let shallow = format!("{}a{}", "(?:".repeat(5000), ")".repeat(5000));
        assert!(analyze(shallow.as_bytes()).is_ok());
        let open = "(".repeat(100_000);
        assert_eq!(analyze(open.as_bytes()).unwrap_err().code, MISSING_PAREN);
        for s in [
            "[", "\\", "\\x", "\\x{", "(?", "(?P<", "\\p", "\\p{", "{1,", "[[:", "[a-",
        ] {
            assert!(analyze(s.as_bytes()).is_err() || s.starts_with('{'), "{s}");
        }
    }
}
