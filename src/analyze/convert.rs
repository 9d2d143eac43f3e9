//! Prometheus HTTP API answers turned into what Argo gives a condition
//! (`metricproviders/prometheus/prometheus.go`, `processResponse`): a vector becomes
//! `[]float64`, a scalar `float64`, any other type is a measurement Error with Argo's message.

use serde_json::Value as Json;

/// Argo's message for a matrix or string answer.
pub const UNSUPPORTED: &str = "Prometheus metric type not supported";

/// What a condition is evaluated against.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Vector(Vec<f64>),
    Scalar(f64),
}

impl Value {
    /// The measurement's value as Argo records it: `[0.5,1]` for a vector, `0.5` for a scalar,
    /// numbers printed as Go's `strconv.FormatFloat(f, 'f', -1, 64)` does.
    pub fn argo_text(&self) -> String {
        match self {
            Value::Scalar(v) => go_float(*v),
            Value::Vector(vs) => {
                let items: Vec<String> = vs.iter().map(|v| go_float(*v)).collect();
                format!("[{}]", items.join(","))
            }
        }
    }

    /// The numbers it holds.
    pub fn numbers(&self) -> &[f64] {
        match self {
            Value::Scalar(v) => std::slice::from_ref(v),
            Value::Vector(vs) => vs,
        }
    }
}

/// A float as Go prints a Prometheus sample value.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// One answer of `/api/v1/query`.
#[derive(Clone, Debug, PartialEq)]
pub enum Instant {
    Value(Value),
    /// A measurement Error, with the message Argo records.
    Error(String),
}

/// One series of a `/api/v1/query_range` answer: (milliseconds, value) points.
pub type Series = Vec<(i64, f64)>;

/// Reads an instant query's answer. `Err` when the body is not a Prometheus API answer at all
/// (the caller reports it as a broken server, not as a measurement).
pub fn instant(body: &[u8]) -> Result<Instant, String> {
    let data = match envelope(body)? {
        Ok(data) => data,
        Err(message) => return Ok(Instant::Error(message)),
    };
    let kind = data.get("resultType").and_then(Json::as_str);
    let result = data.get("result");
    match (kind, result) {
        (Some("vector"), Some(Json::Array(items))) => {
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                values.push(sample(item.get("value"))?.1);
            }
            Ok(Instant::Value(Value::Vector(values)))
        }
        (Some("scalar"), Some(point)) => Ok(Instant::Value(Value::Scalar(sample(Some(point))?.1))),
        (Some("matrix" | "string"), _) => Ok(Instant::Error(UNSUPPORTED.into())),
        (Some(other), _) => Err(format!("unknown resultType {other:?}")),
        (None, _) => Err("the answer has no data.resultType".into()),
    }
}

/// Reads a range query's answer: the series, or the query's error as Argo would record it.
pub fn range(body: &[u8]) -> Result<Result<Vec<Series>, String>, String> {
    let data = match envelope(body)? {
        Ok(data) => data,
        Err(message) => return Ok(Err(message)),
    };
    if data.get("resultType").and_then(Json::as_str) != Some("matrix") {
        return Err("a range query answered with something other than a matrix".into());
    }
    let Some(Json::Array(items)) = data.get("result") else {
        return Err("the answer has no data.result list".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(Json::Array(points)) = item.get("values") else {
            return Err("a series has no values list".into());
        };
        let mut series = Vec::with_capacity(points.len());
        for p in points {
            series.push(sample(Some(p))?);
        }
        out.push(series);
    }
    Ok(Ok(out))
}

/// The `data` of a successful answer, or `Err(message)` for `status: error` in the form
/// client_golang reports it to Argo (`errorType: error`).
fn envelope(body: &[u8]) -> Result<Result<serde_json::Map<String, Json>, String>, String> {
    let json: Json = serde_json::from_slice(body).map_err(|e| {
        let start = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        format!("not a Prometheus API answer ({e}): {start:?}")
    })?;
    match json.get("status").and_then(Json::as_str) {
        Some("success") => match json.get("data") {
            Some(Json::Object(data)) => Ok(Ok(data.clone())),
            _ => Err("the answer has no data object".into()),
        },
        Some("error") => {
            let kind = json
                .get("errorType")
                .and_then(Json::as_str)
                .unwrap_or("error");
            let message = json.get("error").and_then(Json::as_str).unwrap_or("");
            Ok(Err(format!("{kind}: {message}")))
        }
        _ => Err("the answer has no status".into()),
    }
}

/// A `[timestamp, "value"]` pair: milliseconds and the float.
fn sample(point: Option<&Json>) -> Result<(i64, f64), String> {
    let bad = || format!("a sample is not [time, \"value\"]: {point:?}");
    let Some(Json::Array(pair)) = point else {
        return Err(bad());
    };
    let [time, value] = pair.as_slice() else {
        return Err(bad());
    };
    let seconds = time.as_f64().ok_or_else(bad)?;
    let text = value.as_str().ok_or_else(bad)?;
    Ok((
        (seconds * 1000.0).round() as i64,
        parse_float(text).ok_or_else(bad)?,
    ))
}

/// Prometheus writes floats as Go's `strconv.FormatFloat`: `NaN`, `+Inf`, `-Inf` or a number.
fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_scalar_and_other_types() {
        let v = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.93"]},{"metric":{"a":"b"},"value":[1.5,"NaN"]}]}}"#;
        let Instant::Value(Value::Vector(xs)) = instant(v).unwrap() else {
            panic!()
        };
        assert_eq!(xs[0], 0.93);
        assert!(xs[1].is_nan());
        let s = br#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#;
        assert_eq!(
            instant(s).unwrap(),
            Instant::Value(Value::Scalar(f64::INFINITY))
        );
        let m = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(instant(m).unwrap(), Instant::Error(UNSUPPORTED.into()));
        let e = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert_eq!(
            instant(e).unwrap(),
            Instant::Error("bad_data: parse error".into())
        );
    }

    #[test]
    fn malformed_answers_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"<html>",
            b"{}",
            br#"{"status":"success"}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"scalar","result":"1"}}"#,
            br#"{"status":"success","data":{"resultType":"bogus","result":[]}}"#,
        ] {
            assert!(instant(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
        assert!(
            range(br#"{"status":"success","data":{"resultType":"matrix","result":[{}]}}"#).is_err()
        );
    }

    #[test]
    fn range_series() {
        let r = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[60,"1"],[120.5,"-Inf"]]}]}}"#;
        let series = range(r).unwrap().unwrap();
        assert_eq!(series[0][0], (60_000, 1.0));
        assert_eq!(series[0][1], (120_500, f64::NEG_INFINITY));
    }

    #[test]
    fn argo_value_text() {
        assert_eq!(
            Value::Vector(vec![0.5, 1.0, f64::NAN]).argo_text(),
            "[0.5,1,NaN]"
        );
        assert_eq!(Value::Vector(vec![]).argo_text(), "[]");
        assert_eq!(Value::Scalar(f64::NEG_INFINITY).argo_text(), "-Inf");
    }
}
