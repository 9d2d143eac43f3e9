//! `successCondition` / `failureCondition` checks (RG104–RG106). Argo evaluates conditions with
//! the expr language, binding `result` to the provider's value.

/// Compiles a condition with the expr-language parser; the error text is the parser's.
pub fn syntax_error(condition: &str) -> Option<String> {
    static MEMO: super::memo::Memo<Option<String>> = super::memo::Memo::new();
    MEMO.get_or(condition, || {
        match super::boundary::guarded(super::boundary::Language::Condition, condition, |c| {
            expr::compile(c).err().map(|e| one_line(&e.to_string()))
        }) {
            Ok(verdict) => verdict,
            Err(refusal) => Some(refusal.to_string()),
        }
    })
}

/// A parser error on one line, at most 300 characters: the expr parser quotes the whole input,
/// which for a long condition would repeat it in every message.
fn one_line(error: &str) -> String {
    let flat = error.trim().replace('\n', " ");
    if flat.chars().count() <= 300 {
        return flat;
    }
    let mut short: String = flat.chars().take(300).collect();
    short.push('…');
    short
}

/// The identifier-level tokens of a condition, strings removed, so that `"result[0]"` inside a
/// string literal does not count.
fn code(condition: &str) -> String {
    let mut out = String::with_capacity(condition.len());
    let mut quote = None;
    let mut escaped = false;
    for c in condition.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                out.push_str("\"\"");
            }
            None => out.push(c),
        }
    }
    out
}

/// Positions right after each whole-word `result` in `code`.
fn result_uses(code: &str) -> Vec<usize> {
    let bytes = code.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    code.match_indices("result")
        .filter(|(i, _)| *i == 0 || !word(bytes[i - 1]))
        .map(|(i, _)| i + "result".len())
        .filter(|end| {
            *end == bytes.len() || !(bytes[*end].is_ascii_alphanumeric() || bytes[*end] == b'_')
        })
        .collect()
}

/// True when the condition indexes `result` (`result[0]`).
pub fn indexes_result(condition: &str) -> bool {
    let code = code(condition);
    result_uses(&code)
        .into_iter()
        .any(|end| code[end..].trim_start().starts_with('['))
}

/// True when the condition guards against an empty result before indexing it.
pub fn guards_empty_result(condition: &str) -> bool {
    let code: String = code(condition)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    code.contains("len(result)")
        || code.contains("result==nil")
        || code.contains("result!=nil")
        || code.contains("isNil(result")
        || code.contains("all(result")
        || code.contains("any(result")
        || code.contains("none(result")
}

/// True when the condition tests for NaN.
pub fn tests_nan(condition: &str) -> bool {
    code(condition).contains("isNaN(")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        assert!(syntax_error("result[0] >= 0.95").is_none());
        assert!(syntax_error("len(result) == 0 || result[0] >= 0.95").is_none());
        assert!(syntax_error("result[0] >= ").is_some());
        assert!(syntax_error("result[0] >== 1").is_some());
    }

    #[test]
    fn indexing_and_guards() {
        assert!(indexes_result("result[0] > 1"));
        assert!(indexes_result("result [0] > 1"));
        assert!(!indexes_result("result > 1"));
        assert!(!indexes_result("myresult[0] > 1"));
        assert!(!indexes_result("\"result[0]\" == x"));
        assert!(guards_empty_result("len(result) == 0 || result[0] >= 0.95"));
        assert!(!guards_empty_result("result[0] >= 0.95"));
        assert!(tests_nan("isNaN(result[0]) || result[0] < 0.9"));
    }
}
