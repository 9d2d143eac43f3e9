//! `successCondition` / `failureCondition` as Argo evaluates them (RG104–RG106).
//!
//! Argo (`utils/evaluate/evaluate.go`, `EvaluateResult` / `EvalCondition`) compiles each
//! condition with Go's expr against an environment holding `result` and its helpers (`asInt`,
//! `asFloat`, `isNaN`, `isInf`, `isNil`, `default`), runs it, and requires a bool. Prometheus
//! (`metricproviders/prometheus/prometheus.go`, `processResponse`) binds `result` to a
//! `[]float64` for a vector query (an empty, non-nil slice when nothing matches) and to a
//! `float64` for a scalar one.
//!
//! The conditions are parsed and run with the `expr-lang` crate, through [`compile`] and
//! [`run`] only. Where the crate and Go's expr differ, this module follows Go:
//! - Go type-checks the whole expression at compile time against the result's type, so a
//!   vector compared as a number, or a name the environment lacks, fails every measurement even
//!   on a branch not taken; the crate only fails when it reaches the branch. [`static_error`]
//!   runs the condition over a sweep of results of the type and treats a type or name error on
//!   any of them as the compile error Go reports.
//! - Go errors on `result[0]` of an empty slice ("index out of range"); the crate yields nil,
//!   which compares unequal to everything. The empty probe is therefore also run with `result`
//!   bound to a value that has length 0 but cannot be indexed, and that index error wins.
//! - The helpers are Argo's: `isNil`/`default` look at the provider's result, not their
//!   argument; `asInt`/`asFloat` parse strings as Go's `strconv` and fail on what it rejects.

use super::boundary::{self, Language};
use expr::{Context, Environment, Program, Value};
use std::sync::LazyLock;

/// What a provider hands a condition as `result` (Prometheus: a vector query gives
/// `[]float64`, a scalar `float64`).
#[derive(Clone, Debug, PartialEq)]
pub enum ResultValue {
    Vector(Vec<f64>),
    Scalar(f64),
}

/// Argo's AnalysisPhase of one measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    Successful,
    Failed,
    Inconclusive,
    Error,
}

/// One measurement as Argo records it: the phase, and Argo's message when it errored.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    pub phase: Phase,
    pub message: Option<String>,
}

/// The Go type of `result` the condition is compiled against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultType {
    /// `[]float64`: a Prometheus vector query.
    Vector,
    /// `float64`: a Prometheus scalar query.
    Scalar,
    /// Not known (templated or unparsed query, another provider): only what holds for every
    /// type is checked.
    Unknown,
}

impl ResultValue {
    /// The type Argo compiles a condition against for this value.
    pub fn result_type(&self) -> ResultType {
        match self {
            ResultValue::Vector(_) => ResultType::Vector,
            ResultValue::Scalar(_) => ResultType::Scalar,
        }
    }
}

/// Evaluates a metric's conditions against one result exactly as Argo's
/// `evaluate.EvaluateResult` does.
pub fn measure(success: Option<&str>, failure: Option<&str>, result: &ResultValue) -> Measurement {
    // Argo tests `metric.SuccessCondition != ""`: an empty condition is no condition.
    let success = success.filter(|s| !s.is_empty());
    let failure = failure.filter(|s| !s.is_empty());
    let ty = result.result_type();
    let mut verdicts = [None, None];
    for (slot, text) in verdicts.iter_mut().zip([success, failure]) {
        if let Some(text) = text {
            match eval_condition(text, ty, result) {
                Ok(v) => *slot = Some(v),
                Err(message) => {
                    return Measurement {
                        phase: Phase::Error,
                        message: Some(message),
                    }
                }
            }
        }
    }
    Measurement {
        phase: combine(verdicts[0], verdicts[1]),
        message: None,
    }
}

/// `EvaluateResult`'s decision from the two conditions' values (`None`: the condition is unset).
pub(crate) fn combine(success: Option<bool>, failure: Option<bool>) -> Phase {
    let (success, failure) = match (success, failure) {
        (None, None) => return Phase::Successful,
        (Some(s), None) => (s, !s),
        (None, Some(f)) => (!f, f),
        (Some(s), Some(f)) => (s, f),
    };
    if failure {
        Phase::Failed
    } else if !success {
        Phase::Inconclusive
    } else {
        Phase::Successful
    }
}

/// One condition run on one result, and whether the run asked `isNaN`.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The condition's value, or Argo's error message.
    pub value: Result<bool, String>,
    /// The run called `isNaN`: the author thought about NaN on this path.
    pub tested_nan: bool,
}

/// Evaluates one condition against one result as Argo's `EvalCondition` does.
pub fn eval(text: &str, result: &ResultValue) -> Evaluation {
    eval_many(text, std::slice::from_ref(result)).remove(0)
}

/// [`eval`] on several results, compiling the condition once.
pub fn eval_many(text: &str, results: &[ResultValue]) -> Vec<Evaluation> {
    let program = compile(text);
    results
        .iter()
        .map(|result| {
            NAN_ASKED.with(|c| c.set(false));
            let value = match &program {
                Err(e) => Err(e.clone()),
                Ok(p) => match static_error(text, result.result_type()) {
                    Some(e) => Err(e),
                    None => evaluate(p, result),
                },
            };
            Evaluation {
                value,
                tested_nan: NAN_ASKED.with(|c| c.get()),
            }
        })
        .collect()
}

thread_local! {
    static NAN_ASKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One condition against one result: Argo's `EvalCondition`.
fn eval_condition(text: &str, ty: ResultType, result: &ResultValue) -> Result<bool, String> {
    let program = compile(text)?;
    if let Some(err) = static_error(text, ty) {
        return Err(err);
    }
    evaluate(&program, result)
}

/// Runs a compiled condition on one result, with Go's out-of-range index error on an empty
/// vector and Argo's bool check on the output.
fn evaluate(program: &Program, result: &ResultValue) -> Result<bool, String> {
    if matches!(result, ResultValue::Vector(v) if v.is_empty()) {
        if let Err(Failure::Index(i)) = run(program, Binding::Unindexable) {
            return Err(format!("index out of range: {i} (array length is 0)"));
        }
    }
    match run(program, Binding::Value(result)) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("expected bool, but got {}", go_type(&other))),
        Err(f) => Err(f.message()),
    }
}

/// The compile error Go's expr reports for this condition against `result` of type `ty`, when
/// the crate's parser accepts it: a type or name error reached on any result of the type.
pub fn static_error(text: &str, ty: ResultType) -> Option<String> {
    static VERDICTS: super::verdicts::Verdicts<Option<String>> = super::verdicts::Verdicts::new();
    let key = format!("{ty:?}\u{0}{text}");
    VERDICTS.get_or(&key, || {
        let program = compile(text).ok()?;
        let sweep = sweep(ty);
        for value in &sweep {
            if let Err(Failure::Static(msg)) = run(&program, Binding::Value(value)) {
                // Type errors depend on the type; name errors do not, so with an unknown
                // result type only a missing name is certain. On a one-sample vector the
                // crate's nil for `result[1]` would pass for a type error, so only names count.
                let one_sample = matches!(value, ResultValue::Vector(v) if v.len() == 1);
                let typed = ty != ResultType::Unknown && !one_sample;
                if typed || msg.starts_with("unknown name") {
                    return Some(msg);
                }
            }
        }
        None
    })
}

/// The compile error of a condition's syntax, with the crate's message on one line.
pub fn syntax_error(text: &str) -> Option<String> {
    compile(text).err()
}

/// Results of a type that take each branch a threshold comparison can take.
fn sweep(ty: ResultType) -> Vec<ResultValue> {
    const VALUES: [f64; 8] = [0.0, 0.5, 1.0, -1.0, 100.0, 1e9, f64::NAN, f64::INFINITY];
    let mut out = Vec::new();
    if ty != ResultType::Scalar {
        // Three samples, so that `result[1]` / `result[2]` are in range and a type error is
        // not confused with the crate's nil for an index past the end.
        out.extend(VALUES.iter().map(|&v| ResultValue::Vector(vec![v; 3])));
        out.extend(VALUES.iter().map(|&v| ResultValue::Vector(vec![v])));
    }
    if ty != ResultType::Vector {
        out.extend(VALUES.iter().map(|&v| ResultValue::Scalar(v)));
    }
    out
}

/// What `result` is bound to for one run.
enum Binding<'a> {
    Value(&'a ResultValue),
    /// Length 0 but not indexable: `result[i]` fails where Go's would be out of range, while
    /// `len(result)`, `result == nil` and `isNil(result)` behave as for an empty slice.
    Unindexable,
}

/// Why a run failed, sorted by when Go's expr would have failed.
#[derive(Debug)]
enum Failure {
    /// A type or name error: Go's checker rejects the condition when compiling it.
    Static(String),
    /// `result[i]` on the unindexable binding.
    Index(i64),
    /// An error Go's expr also raises only while running (`%` by zero, a helper's panic).
    Runtime(String),
}

impl Failure {
    fn message(self) -> String {
        match self {
            Failure::Static(m) | Failure::Runtime(m) => m,
            Failure::Index(i) => format!("index out of range: {i}"),
        }
    }
}

/// Marks a helper's error that Go's checker would raise at compile time.
const STATIC_MARK: &str = "\u{1}static:";

/// Compiles a condition: every parse goes through here, behind the size and depth limits and a
/// panic boundary. A condition that parses but could build a value far larger than its text
/// ([`unbounded`]) is not run: the checker cannot evaluate it.
fn compile(text: &str) -> Result<Program, String> {
    match boundary::guarded(Language::Condition, text, expr::compile) {
        Ok(Ok(program)) => match unbounded(text) {
            Some(why) => Err(format!("{UNSUPPORTED} ({why})")),
            None => Ok(program),
        },
        Ok(Err(e)) => Err(one_line(&e.to_string())),
        Err(boundary::Refusal::Crashed { .. }) => Err(format!("{UNSUPPORTED} (its parser failed)")),
        Err(refusal) => Err(refusal.to_string()),
    }
}

/// Collection functions whose second argument is run once per element: nested, their costs
/// multiply.
const PER_ELEMENT: &[&str] = &[
    "all",
    "any",
    "one",
    "none",
    "map",
    "filter",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "groupBy",
    "sortBy",
    "count",
    "sum",
];

/// Names whose result can be far larger than the text that asks for it: `repeat("x", 1e6)`, a
/// `replace` of the empty string, `reduce` doubling an accumulator, `let` bindings reused,
/// strings split or decoded into long lists.
const GROWING: &[&str] = &[
    "let",
    "repeat",
    "replace",
    "reduce",
    "split",
    "splitAfter",
    "fromJSON",
    "fromBase64",
];

/// Per-element functions nested deeper than this are not run.
const MAX_PER_ELEMENT_DEPTH: usize = 2;

/// Elements of array literals, all together, beyond which a condition is not run.
const MAX_LITERAL_ELEMENTS: usize = 256;

/// Why running `text` could take memory or time out of proportion to its size, if it could:
/// a range (`1..100000000` is a list of that many numbers), a [`GROWING`] name, per-element
/// functions nested more than [`MAX_PER_ELEMENT_DEPTH`] deep (`map(result, map(result, ...))`
/// multiplies), or more than [`MAX_LITERAL_ELEMENTS`] literal elements to multiply. Within these,
/// a run handles at most a few tens of thousands of values. Real conditions use none of them;
/// one that does is left unjudged rather than run (the webhook must not be the thing that
/// falls over).
pub fn unbounded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    // For each open bracket: whether it opened a per-element function's arguments, and
    // whether it is an array literal.
    let mut open: Vec<(bool, bool)> = Vec::new();
    let (mut depth, mut literal_elements) = (0usize, 0usize);
    let mut last_word: Option<&str> = None;
    let mut after_value = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != c {
                    if bytes[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                after_value = true;
                last_word = None;
            }
            b'.' if bytes.get(i + 1) == Some(&b'.') => {
                return Some("it builds a range with `..`, a list as long as its bounds".into());
            }
            b'(' | b'[' | b'{' => {
                let per_element = c == b'(' && last_word.is_some_and(|w| PER_ELEMENT.contains(&w));
                let literal = c == b'[' && !after_value;
                if per_element {
                    depth += 1;
                    if depth > MAX_PER_ELEMENT_DEPTH {
                        return Some(format!(
                            "it nests per-element functions {depth} deep; the checker runs at most {MAX_PER_ELEMENT_DEPTH}"
                        ));
                    }
                }
                if literal && bytes.get(i + 1) != Some(&b']') {
                    literal_elements += 1;
                }
                open.push((per_element, literal));
                after_value = false;
                last_word = None;
            }
            b')' | b']' | b'}' => {
                if let Some((per_element, _)) = open.pop() {
                    depth -= usize::from(per_element);
                }
                after_value = true;
                last_word = None;
            }
            b',' => {
                if open.last().is_some_and(|(_, literal)| *literal) {
                    literal_elements += 1;
                }
                after_value = false;
                last_word = None;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c == b'#' => {
                let start = i;
                while i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphanumeric() || bytes[i + 1] == b'_')
                {
                    i += 1;
                }
                let word = &text[start..=i];
                if GROWING.contains(&word) {
                    return Some(format!(
                        "it calls `{word}`, whose result can be far larger than the condition"
                    ));
                }
                last_word = Some(word);
                after_value = true;
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                after_value = false;
                last_word = None;
            }
        }
        if literal_elements > MAX_LITERAL_ELEMENTS {
            return Some(format!(
                "its list literals hold more than {MAX_LITERAL_ELEMENTS} elements"
            ));
        }
        i += 1;
    }
    None
}

/// How an error of this checker (not of Argo) starts: the crate panicked on a condition Go's
/// expr may well accept, so nothing can be said about it.
pub const UNSUPPORTED: &str = "rollout-guard's expression engine cannot evaluate this condition";

/// True when `message` is this checker's failure rather than Argo's verdict.
pub fn is_unsupported(message: &str) -> bool {
    message.starts_with(UNSUPPORTED)
}

/// Runs a compiled condition: every evaluation goes through here, behind a panic boundary.
fn run(program: &Program, binding: Binding) -> Result<Value, Failure> {
    let mut ctx = Context::default();
    ctx.insert(
        "result",
        match binding {
            Binding::Value(ResultValue::Scalar(f)) => Value::Float(*f),
            Binding::Value(ResultValue::Vector(v)) => {
                Value::Array(v.iter().map(|&f| Value::Float(f)).collect())
            }
            Binding::Unindexable => Value::String(String::new()),
        },
    );
    let unindexable = matches!(binding, Binding::Unindexable);
    let err = match boundary::contain(Language::Condition, || ENV.run(program, &ctx)) {
        Ok(Ok(v)) => return Ok(v),
        Ok(Err(e)) => one_line(&e.to_string()),
        Err(_) => {
            return Err(Failure::Runtime(format!(
                "{UNSUPPORTED} (its evaluator failed)"
            )))
        }
    };
    Err(classify(&err, unindexable))
}

/// Sorts the crate's error text into Go's compile-time and run-time errors.
fn classify(err: &str, unindexable: bool) -> Failure {
    if let Some(rest) = err.strip_prefix(STATIC_MARK) {
        return Failure::Static(rest.to_string());
    }
    if unindexable {
        if let Some(i) = err
            .strip_prefix("Invalid operand for operator []: Integer(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|n| n.parse().ok())
        {
            return Failure::Index(i);
        }
    }
    // A builtin or operator of a crate feature this build leaves out (`now()`, `matches`):
    // Go's expr has it, so the crate's refusal says nothing about Argo.
    if err.contains("requires expr-lang's") || err.contains("requires the `") {
        return Failure::Runtime(format!("{UNSUPPORTED} ({err})"));
    }
    if let Some(name) = err.strip_prefix("unknown variable: ") {
        return Failure::Static(format!("unknown name {name}"));
    }
    if let Some(name) = err.strip_prefix("Unknown function: ") {
        return Failure::Static(format!("unknown name {name}"));
    }
    const STATIC: [&str; 6] = [
        "Invalid operand",
        "Invalid condition",
        "invalid range",
        "unknown method",
        "Invalid slice index",
        "Invalid argument",
    ];
    let builtin_misuse = err.contains("() takes");
    if STATIC.iter().any(|p| err.starts_with(p)) || builtin_misuse {
        Failure::Static(err.to_string())
    } else {
        Failure::Runtime(err.to_string())
    }
}

/// Go's `%T` of a value the condition returned instead of a bool.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "int",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::Nil => "<nil>",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) | Value::KeyedMap(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

fn one_line(s: &str) -> String {
    // The parser quotes the input; a long condition is not repeated whole in every message.
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= 300 {
        return flat;
    }
    let mut short: String = flat.chars().take(300).collect();
    short.push('…');
    short
}

/// The crate's builtins plus Argo's helpers, bound once.
static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_function("isNaN", |c| {
        NAN_ASKED.with(|asked| asked.set(true));
        float_arg("isNaN", &c.args).map(|f| f.is_nan().into())
    });
    env.add_function("isInf", |c| {
        float_arg("isInf", &c.args).map(|f| f.is_infinite().into())
    });
    // Argo's isNil and default ignore their first argument and look at the provider's
    // result, which Prometheus never leaves nil (an empty vector is an empty slice).
    env.add_function("isNil", |c| {
        arity("isNil", &c.args, 1)?;
        Ok(Value::Bool(false))
    });
    env.add_function("default", |c| {
        arity("default", &c.args, 2)?;
        c.ctx
            .get("result")
            .cloned()
            .ok_or_else(|| expr::Error::ExprError("unknown name result".into()))
    });
    env.add_function("asInt", |c| {
        arity("asInt", &c.args, 1)?;
        go_as_int(&c.args[0])
            .map(Value::Integer)
            .map_err(expr::Error::ExprError)
    });
    env.add_function("asFloat", |c| {
        arity("asFloat", &c.args, 1)?;
        go_as_float(&c.args[0])
            .map(Value::Float)
            .map_err(expr::Error::ExprError)
    });
    env
});

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), expr::Error> {
    match args.len().cmp(&n) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(expr::Error::ExprError(format!(
            "{STATIC_MARK}not enough arguments to call {name}"
        ))),
        std::cmp::Ordering::Greater => Err(expr::Error::ExprError(format!(
            "{STATIC_MARK}too many arguments to call {name}"
        ))),
    }
}

/// A `float64` parameter: Go's checker also takes an integer (it converts the literal).
fn float_arg(name: &str, args: &[Value]) -> Result<f64, expr::Error> {
    arity(name, args, 1)?;
    match &args[0] {
        Value::Float(f) => Ok(*f),
        Value::Integer(i) => Ok(*i as f64),
        other => Err(expr::Error::ExprError(format!(
            "{STATIC_MARK}cannot use {} as argument (type float64) to call {name}",
            go_type_of_arg(other)
        ))),
    }
}

fn go_type_of_arg(v: &Value) -> &'static str {
    match v {
        // The only array a condition has is result (or one built from it).
        Value::Array(_) => "[]float64",
        other => go_type(other),
    }
}

/// Argo's `asInt`: numbers convert as Go's `int64(x)`, strings parse as
/// `strconv.ParseInt(s, 10, 64)`; anything else panics, which expr turns into an error.
fn go_as_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Integer(i) => Ok(*i),
        // Go's float-to-int conversion of NaN, ±Inf or out-of-range values gives the
        // "indefinite integer" on amd64 (i64::MIN); Rust's `as` saturates instead.
        Value::Float(f) if f.is_finite() && f.abs() < 9_223_372_036_854_775_808.0 => Ok(*f as i64),
        Value::Float(_) => Ok(i64::MIN),
        Value::String(s) => parse_go_int(s),
        other => Err(format!(
            "asInt() not supported on {} {}",
            go_type(other),
            go_print(other)
        )),
    }
}

fn parse_go_int(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax"));
    }
    s.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing {s:?}: value out of range"))
}

/// Argo's `asFloat`: numbers convert, strings parse as `strconv.ParseFloat(s, 64)`.
fn go_as_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Integer(i) => Ok(*i as f64),
        Value::String(s) => parse_go_float(s),
        other => Err(format!(
            "asFloat() not supported on {} {}",
            go_type(other),
            go_print(other)
        )),
    }
}

/// `strconv.ParseFloat(s, 64)` for decimal input: Go's special words (`Inf`, `+Infinity`,
/// `NaN`, any case), and a range error where Rust would quietly round to infinity. Hexadecimal
/// floats (`0x1p-2`), which Go also accepts, are not read.
fn parse_go_float(s: &str) -> Result<f64, String> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s).to_ascii_lowercase();
    let syntax = || format!("strconv.ParseFloat: parsing {s:?}: invalid syntax");
    match unsigned.as_str() {
        "inf" | "infinity" => {
            return Ok(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        // Go takes a NaN only unsigned.
        "nan" if unsigned.len() == s.len() => return Ok(f64::NAN),
        _ => {}
    }
    let ok_chars = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'));
    if !ok_chars
        || !unsigned
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return Err(syntax());
    }
    let f: f64 = s.parse().map_err(|_| syntax())?;
    if f.is_infinite() {
        return Err(format!(
            "strconv.ParseFloat: parsing {s:?}: value out of range"
        ));
    }
    Ok(f)
}

fn go_print(v: &Value) -> String {
    match v {
        Value::Bool(b) => b.to_string(),
        Value::Nil => "<nil>".into(),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(v: &[f64]) -> ResultValue {
        ResultValue::Vector(v.to_vec())
    }

    fn phase(success: Option<&str>, failure: Option<&str>, r: &ResultValue) -> Phase {
        measure(success, failure, r).phase
    }

    fn error(success: &str, r: &ResultValue) -> String {
        let m = measure(Some(success), None, r);
        assert_eq!(m.phase, Phase::Error, "{success} on {r:?}");
        m.message.unwrap()
    }

    #[test]
    fn evaluate_result_decision_table() {
        let r = vector(&[0.95]);
        assert_eq!(phase(None, None, &r), Phase::Successful);
        assert_eq!(phase(Some(""), Some(""), &r), Phase::Successful);
        assert_eq!(phase(Some("result[0] > 0.9"), None, &r), Phase::Successful);
        assert_eq!(phase(Some("result[0] > 0.99"), None, &r), Phase::Failed);
        assert_eq!(phase(None, Some("result[0] < 0.9"), &r), Phase::Successful);
        assert_eq!(phase(None, Some("result[0] < 0.99"), &r), Phase::Failed);
        assert_eq!(
            phase(Some("result[0] > 0.99"), Some("result[0] < 0.5"), &r),
            Phase::Inconclusive
        );
        // Failure wins when both hold.
        assert_eq!(
            phase(Some("result[0] > 0.9"), Some("result[0] > 0.9"), &r),
            Phase::Failed
        );
        // The success condition's error stops evaluation before the failure condition.
        let m = measure(Some("result[1] > 0"), Some("true"), &vector(&[]));
        assert_eq!(m.phase, Phase::Error);
        assert_eq!(
            m.message.as_deref(),
            Some("index out of range: 1 (array length is 0)")
        );
    }

    #[test]
    fn scalar_results() {
        let r = ResultValue::Scalar(0.5);
        assert_eq!(phase(Some("result < 1"), None, &r), Phase::Successful);
        assert_eq!(phase(Some("result > 1"), None, &r), Phase::Failed);
        assert!(error("result[0] > 1", &r).starts_with("Invalid operand"));
    }

    #[test]
    fn go_vector_compared_as_number_fails_to_compile() {
        // Go's checker: `[]float64 < float64` is a mismatched-types compile error, on every
        // measurement, even behind a short-circuit the crate would not evaluate.
        assert!(error("result < 0.5", &vector(&[0.1])).starts_with("Invalid operands"));
        assert_eq!(
            phase(Some("len(result) == 0 || result < 0.5"), None, &vector(&[])),
            Phase::Error
        );
        assert!(static_error("len(result) == 0 || result < 0.5", ResultType::Vector).is_some());
        assert!(static_error("result < 0.5", ResultType::Scalar).is_none());
    }

    #[test]
    fn go_unknown_names_fail_to_compile() {
        for text in [
            "$.statusCode == 200",
            "result < args.threshold",
            "foo(result)",
        ] {
            let msg = static_error(text, ResultType::Unknown).unwrap_or_default();
            assert!(msg.starts_with("unknown name"), "{text}: {msg}");
        }
        // Behind a branch the crate never takes on this result, Go still rejects it.
        assert_eq!(
            error("result[0] > 0.5 || nope > 1", &vector(&[1.0])),
            "unknown name nope"
        );
    }

    #[test]
    fn go_index_out_of_range_errors_where_the_crate_gives_nil() {
        // The crate returns nil for `[][0]`, and `nil == 0` is false: Go errors.
        assert_eq!(
            error("result[0] == 0", &vector(&[])),
            "index out of range: 0 (array length is 0)"
        );
        assert_eq!(
            phase(
                Some("result[0] >= 0.9 || len(result) == 0"),
                None,
                &vector(&[])
            ),
            Phase::Error
        );
        assert_eq!(
            phase(
                Some("len(result) == 0 || result[0] >= 0.9"),
                None,
                &vector(&[])
            ),
            Phase::Successful
        );
        // An empty vector is an empty, non-nil slice: isNil is false, so no guard.
        assert_eq!(
            phase(
                Some("isNil(result) || result[0] >= 0.9"),
                None,
                &vector(&[])
            ),
            Phase::Error
        );
        assert_eq!(
            phase(Some("result == nil"), None, &vector(&[])),
            Phase::Failed
        );
        assert_eq!(
            phase(Some("all(result, # > 0.9)"), None, &vector(&[])),
            Phase::Successful
        );
    }

    #[test]
    fn go_division_is_float_and_len_is_int() {
        assert_eq!(
            phase(Some("1 / 2 == 0.5"), None, &vector(&[])),
            Phase::Successful
        );
        assert_eq!(
            phase(Some("len(result) == 2"), None, &vector(&[1.0, 2.0])),
            Phase::Successful
        );
        assert_eq!(
            phase(Some("result[0] / 0 > 1e300"), None, &vector(&[1.0])),
            Phase::Successful
        );
        assert_eq!(
            error("len(result) % 0 == 0", &vector(&[1.0])),
            "integer divide by zero"
        );
    }

    #[test]
    fn go_nan_compares_false() {
        let nan = vector(&[f64::NAN]);
        assert_eq!(phase(Some("result[0] >= 0.9"), None, &nan), Phase::Failed);
        assert_eq!(
            phase(None, Some("result[0] < 0.9"), &nan),
            Phase::Successful
        );
        assert_eq!(
            phase(Some("result[0] == result[0]"), None, &nan),
            Phase::Failed
        );
        assert_eq!(phase(None, Some("isNaN(result[0])"), &nan), Phase::Failed);
        assert_eq!(
            phase(
                Some("isInf(result)"),
                None,
                &ResultValue::Scalar(f64::INFINITY)
            ),
            Phase::Successful
        );
        assert!(error("isNaN(result)", &vector(&[1.0])).contains("[]float64"));
    }

    #[test]
    fn go_as_int_of_a_fraction_string_errors() {
        assert_eq!(
            error("asInt(\"1.5\") == 1", &vector(&[])),
            "strconv.ParseInt: parsing \"1.5\": invalid syntax"
        );
        assert_eq!(
            phase(Some("asInt(\"-12\") == -12"), None, &vector(&[])),
            Phase::Successful
        );
        assert_eq!(
            phase(Some("asInt(result[0]) == 1"), None, &vector(&[1.9])),
            Phase::Successful
        );
        assert_eq!(
            phase(Some("asFloat(\"1.5\") == 1.5"), None, &vector(&[])),
            Phase::Successful
        );
        assert_eq!(
            phase(Some("asFloat(\"Inf\") > 1"), None, &vector(&[])),
            Phase::Successful
        );
        assert!(error("asFloat(\"1e400\") > 1", &vector(&[])).ends_with("value out of range"));
        assert!(error("asFloat(\"x\") > 1", &vector(&[])).ends_with("invalid syntax"));
    }

    #[test]
    fn default_returns_the_providers_result() {
        assert_eq!(
            phase(
                Some("default(result, 0) == result"),
                None,
                &ResultValue::Scalar(2.0)
            ),
            Phase::Successful
        );
    }

    #[test]
    fn non_bool_output_errors() {
        assert_eq!(
            error("result[0]", &vector(&[1.0])),
            "expected bool, but got float64"
        );
        assert_eq!(
            error("len(result)", &vector(&[1.0])),
            "expected bool, but got int"
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_crash() {
        let deep = format!("{}1{}", "(".repeat(3000), ")".repeat(3000));
        assert_eq!(
            syntax_error(&deep).unwrap(),
            "the condition is 6001 bytes; the limit is 4096"
        );
        let deep = format!("{}1{}", "(".repeat(300), ")".repeat(300));
        assert_eq!(
            syntax_error(&deep).unwrap(),
            "the condition is nested 300 deep; the limit is 64"
        );
        assert!(syntax_error(&"!".repeat(1000))
            .unwrap()
            .contains("operators"));
        assert!(syntax_error(&"1 ? ".repeat(200)).unwrap().contains("deep"));
        // The crate panics evaluating this; the boundary turns it into an error.
        let m = measure(Some("{a: -1}.a == -1"), None, &vector(&[]));
        assert_eq!(m.phase, Phase::Error, "{m:?}");
        assert!(
            is_unsupported(m.message.as_deref().unwrap_or_default()),
            "{m:?}"
        );
        assert!(syntax_error(&"x".repeat(4097)).unwrap().contains("bytes"));
    }

    #[test]
    fn features_the_build_leaves_out_are_not_argos_errors() {
        for text in ["now() != nil", "\"a\" matches \"a\""] {
            let m = measure(Some(text), None, &vector(&[1.0]));
            assert!(
                is_unsupported(m.message.as_deref().unwrap_or_default()),
                "{text}: {m:?}"
            );
            assert!(static_error(text, ResultType::Vector).is_none(), "{text}");
        }
    }

    #[test]
    fn hostile_conditions_never_crash() {
        let inputs = [
            "result[",
            "\"unterminated",
            "((((",
            "result[0] ?? 1",
            "result | filter(# > 1)",
            "let x = 1; x > 0",
            "result[-1] > 0",
            "result[1:] == []",
            "1..3 == [1, 2, 3]",
            "map(result, # * 2)[0] > 1",
            "{a: -1}.a",
            "-9223372036854775808 < 0",
            "99999999999999999999 > 1",
            "'\\u{ffffff}' == ''",
            "result[9223372036854775807] > 0",
            "result[-9223372036854775808] > 0",
        ];
        for text in inputs {
            for r in [vector(&[]), vector(&[1.0]), ResultValue::Scalar(f64::NAN)] {
                let _ = measure(Some(text), Some(text), &r);
            }
            let _ = static_error(text, ResultType::Unknown);
        }
    }

    #[test]
    fn conditions_that_could_outgrow_their_text_are_not_run() {
        for bomb in [
            "len(1..100000000) > 0",
            "all(1..100000000, # > 0)",
            "len(repeat(repeat(\"a\", 1000000), 1000000)) > 0",
            "let a = \"xx\"; let b = a + a; len(b) > 0",
            "len(map(result, map(result, map(result, 1)))) > 0",
            "len(reduce([1, 1, 1], #acc + #acc, \"x\")) > 0",
        ] {
            let why = unbounded(bomb).unwrap_or_else(|| panic!("{bomb}"));
            let e = eval(bomb, &ResultValue::Vector(vec![1.0; 3]));
            assert!(
                e.value
                    .as_ref()
                    .is_err_and(|m| is_unsupported(m) && m.contains(&why)),
                "{bomb}: {:?}",
                e.value
            );
        }
        let many = format!("len([{}]) > 0", vec!["1"; 300].join(","));
        assert!(unbounded(&many).is_some());
        // What real conditions do stays runnable; text in strings, member access and indexing
        // are not ranges, calls or literals.
        for fine in [
            "result[0] >= 0.95",
            "len(result) == 0 || all(result, {# >= 0.9})",
            "len(filter(result, # > 0.5)) > 0",
            "map(result, #) == [1.0, 2.0]",
            "asFloat(\"1..2\") > 0 || 'let' == 'let'",
            "result[0] > 1.5 && isNaN(result[0]) == false",
            "result[len(result) - 1] < 1",
        ] {
            assert_eq!(unbounded(fine), None, "{fine}");
        }
        assert_eq!(
            phase(
                Some("len(filter(result, # > 0.5)) > 0"),
                None,
                &vector(&[0.9])
            ),
            Phase::Successful
        );
    }

    #[test]
    fn syntax() {
        assert!(syntax_error("result[0] >= 0.95").is_none());
        assert!(syntax_error("len(result) == 0 || result[0] >= 0.95").is_none());
        assert!(syntax_error("result[0] >= ").is_some());
        assert!(syntax_error("result[0] >== 1").is_some());
    }
}
