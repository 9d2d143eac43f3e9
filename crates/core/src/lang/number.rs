//! PromQL number literals as Prometheus reads them: the lexer's `scanNumber`
//! (`promql/parser/lex.go`) decides where a number ends, and the parser's `number()`
//! (`promql/parser/parse.go`) converts it with Go's `strconv.ParseInt(s, 0, 64)`, falling back
//! to `strconv.ParseFloat(s, 64)`; a conversion error is a parse error. `promql-parser` reads
//! numbers with Rust's float parsing, which turns `1e1000` into infinity instead.

/// Where the number literal starting at `at` ends, when one starts there and is not the number
/// part of a duration (`5m`) or an identifier: Prometheus's `scanNumber`.
pub fn scan(s: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    let digit_run = |i: &mut usize, hex: bool| {
        while *i < s.len() && (s[*i].is_ascii_digit() || (hex && s[*i].is_ascii_hexdigit())) {
            *i += 1;
        }
    };
    let hex = s.get(i) == Some(&b'0') && matches!(s.get(i + 1), Some(b'x' | b'X'));
    if hex {
        i += 2;
    }
    digit_run(&mut i, hex);
    if s.get(i) == Some(&b'.') {
        i += 1;
        digit_run(&mut i, hex);
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        digit_run(&mut i, false);
    }
    let digits = s[at..i].iter().any(u8::is_ascii_digit);
    let glued = s
        .get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':');
    (digits && !glued).then_some(i)
}

/// What a number literal stands for, which sets its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// A float value.
    Value,
    /// Seconds after `@` (`negative` when a `-` precedes): Prometheus's `setTimestamp` keeps
    /// them within int64.
    Timestamp { negative: bool },
    /// Seconds as a duration (`[300]`, `offset 60`): int64 nanoseconds in Go.
    Duration,
}

/// Checks a scanned literal as Prometheus's `number()` converts it, then against the bounds of
/// its use; the error is Prometheus's.
pub fn check(text: &str, usage: Use) -> Result<(), String> {
    convert(text)?;
    let Ok(v) = text.parse::<f64>() else {
        return Ok(());
    };
    match usage {
        Use::Value => Ok(()),
        Use::Timestamp { negative } => {
            let ts = if negative { -v } else { v };
            if ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                return Err(format!("timestamp out of bounds for @ modifier: {ts:.6}"));
            }
            Ok(())
        }
        Use::Duration if v * 1e9 >= i64::MAX as f64 => Err("duration out of range".into()),
        Use::Duration => Ok(()),
    }
}

fn convert(text: &str) -> Result<(), String> {
    let failed = |why: &str| {
        Err(format!(
            "error parsing number: strconv.ParseFloat: parsing \"{text}\": {why}"
        ))
    };
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        // ParseInt takes it when it fits an int64; ParseFloat wants a `p` exponent otherwise.
        return match i64::from_str_radix(hex, 16) {
            Ok(_) => Ok(()),
            Err(_) => failed("invalid syntax"),
        };
    }
    match text.parse::<f64>() {
        // Go's ParseFloat reports overflow (not underflow, which gives 0) as out of range.
        Ok(v) if v.is_infinite() => failed("value out of range"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(s: &str) -> Option<&str> {
        scan(s.as_bytes(), 0).map(|end| &s[..end])
    }

    #[test]
    fn scans_like_the_lexer() {
        assert_eq!(literal("1e1000 + 1"), Some("1e1000"));
        assert_eq!(literal("0x1F)"), Some("0x1F"));
        assert_eq!(literal(".5"), Some(".5"));
        assert_eq!(literal("5.)"), Some("5."));
        assert_eq!(literal("5e-3"), Some("5e-3"));
        assert_eq!(literal("5m]"), None);
        assert_eq!(literal("1_000"), None);
        assert_eq!(literal("."), None);
    }

    #[test]
    fn converts_like_parse_float() {
        assert_eq!(
            convert("1e1000"),
            Err(
                "error parsing number: strconv.ParseFloat: parsing \"1e1000\": value out of range"
                    .into()
            )
        );
        assert!(convert("1e-1000").is_ok(), "underflow is 0 in Go");
        assert!(convert("1.7976931348623157e308").is_ok());
        assert!(convert("0755").is_ok());
        assert!(convert("0x7fffffffffffffff").is_ok());
        assert!(convert("0xffffffffffffffffff").is_err());
        assert!(convert(&"9".repeat(300)).is_ok());
        assert!(convert(&"9".repeat(400)).is_err());
    }

    #[test]
    fn bounds_of_timestamps_and_durations() {
        let ts = |negative| Use::Timestamp { negative };
        assert!(check("1700000000", ts(false)).is_ok());
        assert_eq!(
            check("9223372036854775808.000000", ts(false)),
            Err("timestamp out of bounds for @ modifier: 9223372036854775808.000000".into())
        );
        assert!(check("9223372036854775808", ts(true)).is_err());
        assert!(check("9.5e10", Use::Value).is_ok());
        assert!(check("9.2e9", Use::Duration).is_ok());
        assert_eq!(
            check("9.5e10", Use::Duration),
            Err("duration out of range".into())
        );
    }
}
