//! Durations as Argo Rollouts reads them: Go's `time.ParseDuration` for metrics, and whole
//! seconds or a Go duration for pause steps.

/// Seconds in a Go duration such as `1m30s`, `500ms` or `0`; `None` when Go would refuse it.
pub fn go_seconds(text: &str) -> Option<f64> {
    super::boundary::admit(super::boundary::Language::Duration, text).ok()?;
    let (negative, mut rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(if negative { -total } else { total })
}

/// Seconds in a pause duration: an integer, a string of whole seconds, or a Go duration.
pub fn pause_seconds(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_i64().map(|n| n as f64),
        serde_json::Value::String(s) => s
            .parse::<i32>()
            .ok()
            .map(f64::from)
            .or_else(|| go_seconds(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_seconds("1m30s"), Some(90.0));
        assert_eq!(go_seconds("500ms"), Some(0.5));
        assert_eq!(go_seconds("1.5h"), Some(5400.0));
        assert_eq!(go_seconds("0"), Some(0.0));
        assert_eq!(go_seconds("30"), None);
        assert_eq!(go_seconds("1 m"), None);
        assert_eq!(go_seconds("5d"), None);
        assert_eq!(go_seconds(""), None);
    }

    #[test]
    fn pause_accepts_bare_seconds() {
        assert_eq!(pause_seconds(&serde_json::json!(30)), Some(30.0));
        assert_eq!(pause_seconds(&serde_json::json!("30")), Some(30.0));
        assert_eq!(pause_seconds(&serde_json::json!("1m")), Some(60.0));
        assert_eq!(pause_seconds(&serde_json::json!("soon")), None);
    }
}
