//! Runs planned analyses against Prometheus: one instant query per metric, or a backtest over a
//! window. This is where the network is touched; deciding what a value means is left to the
//! pure modules.
//!
//! A backtest fetches values with `query_range` where that gives what `/api/v1/query` would
//! give at each timestamp, and with instant queries elsewhere. Prometheus evaluates a range query
//! at `start + k*step` exactly as an instant query at that time (same lookback, same `@` and
//! `offset` handling), so for an expression whose type (read with promql-parser) is an instant
//! vector or a scalar the values are the same. Two things differ: a range answer's series are
//! sorted by labels while an instant answer keeps the evaluation's order (`sort_desc`, `topk`),
//! which changes `result[0]`; and a range query refuses range-vector and string expressions.
//! So a timestamp where more than one series answered is queried again with `/api/v1/query`,
//! and an expression of another type (or one promql-parser cannot read) is queried with
//! `/api/v1/query` at every timestamp. Timestamps are multiples of the step.

use super::convert::{self, Instant, Value};
use super::counting::{sliding, Verdict};
use super::plan::{Analysis, Metric, Problem, Prometheus, Provider};
use super::prom::{Answer, Client, Unreachable};
use super::report::{self, AnalysisReport, MetricReport, Point, ProblemReport, Report};

/// A measurement's phase and Argo's message.
pub type Decided = (Verdict, Option<String>);

/// Decides a measurement from a value: Argo's `EvaluateResult` (`check::condition::measure`).
pub type Classify<'a> = &'a dyn Fn(Option<&str>, Option<&str>, &Value) -> Decided;

/// [`Classify`] with state (the per-metric memo of a backtest).
type Decide<'a> = &'a mut dyn FnMut(Option<&str>, Option<&str>, &Value) -> Decided;

/// Points a range query returns at most (Prometheus refuses more than 11,000).
const RANGE_POINTS: i64 = 10_000;

/// When and how to measure.
#[derive(Clone, Debug)]
pub struct Options {
    /// The evaluation time (instant), or the end of the backtest window; milliseconds.
    pub at_ms: i64,
    /// The backtest window: its text as given (`24h`) and its length in milliseconds.
    pub since: Option<(String, i64)>,
    /// `--step` in milliseconds; default each metric's interval, else one minute.
    pub step_ms: Option<i64>,
}

/// Runs every analysis. `Err` when a Prometheus server cannot be reached or does not answer as
/// Prometheus does (exit 2).
pub fn run(
    analyses: &[Analysis],
    opts: &Options,
    client: &Client,
    classify: Classify,
    progress: &mut dyn FnMut(&str),
) -> Result<Report, Unreachable> {
    let mut out = Vec::new();
    for a in analyses {
        let mut ar = AnalysisReport {
            object: a.object.clone(),
            at: a.at.clone(),
            templates: a.templates.clone(),
            problem: a.problem.as_ref().map(|p| match p {
                Problem::Usage(m) => ProblemReport {
                    kind: "usage",
                    message: m.clone(),
                },
                Problem::RunError(m) => ProblemReport {
                    kind: "run",
                    message: m.clone(),
                },
            }),
            metrics: Vec::new(),
        };
        if a.problem.is_none() {
            for m in &a.metrics {
                ar.metrics
                    .push(metric(m, opts, client, classify, progress)?);
            }
        }
        out.push(ar);
    }
    let usage = out
        .iter()
        .any(|a| a.problem.as_ref().is_some_and(|p| p.kind == "usage"));
    let fails = out.iter().any(|a| {
        a.problem.as_ref().is_some_and(|p| p.kind == "run")
            || a.metrics.iter().any(MetricReport::fails)
    });
    Ok(Report {
        version: report::VERSION,
        mode: if opts.since.is_some() {
            "backtest"
        } else {
            "instant"
        },
        time: report::time_text(opts.at_ms),
        since: opts.since.as_ref().map(|(s, _)| s.clone()),
        analyses: out,
        outcome: if usage {
            "usage"
        } else if fails {
            "fail"
        } else {
            "pass"
        },
    })
}

fn metric(
    m: &Metric,
    opts: &Options,
    client: &Client,
    classify: Classify,
    progress: &mut dyn FnMut(&str),
) -> Result<MetricReport, Unreachable> {
    let mut r = MetricReport {
        template: m.template.clone(),
        name: m.name.clone(),
        provider: "prometheus".into(),
        not_run: None,
        dry_run: m.dry_run,
        address: None,
        query: None,
        success_condition: m.success.clone(),
        failure_condition: m.failure.clone(),
        measurement: None,
        backtest: None,
    };
    let p = match &m.provider {
        Provider::Prometheus(p) => p,
        Provider::NotRun { provider, reason } => {
            r.provider = provider.clone();
            r.not_run = Some(reason.clone());
            return Ok(r);
        }
    };
    r.address = Some(p.address.clone());
    r.query = Some(p.query.clone());
    let measure = |at_ms: i64| -> Result<Point, Unreachable> {
        let answer = client.get(
            p,
            "/api/v1/query",
            &[("query", p.query.clone()), ("time", seconds(at_ms))],
        )?;
        let instant = read(p, &answer, convert::instant)?;
        Ok(point(m, at_ms, instant, &mut |s, f, v| classify(s, f, v)))
    };
    let Some((since_text, since_ms)) = &opts.since else {
        r.measurement = Some(report::measurement(&measure(opts.at_ms)?));
        return Ok(r);
    };
    let step = opts
        .step_ms
        .or(m.interval.map(|s| (s * 1000.0).round() as i64))
        .unwrap_or(60_000)
        .max(1);
    let end = opts.at_ms.div_euclid(step) * step;
    let start = end - since_ms.div_euclid(step) * step;
    let times: Vec<i64> = (0..=(end - start) / step)
        .map(|k| start + k * step)
        .collect();
    progress(&format!(
        "{}: {} timestamps from {} to {}",
        m.name,
        times.len(),
        report::time_text(start),
        report::time_text(end)
    ));
    use crate::lang::promql::QueryType;
    let kind = crate::lang::promql::query_type(&p.query);
    let scalar = kind == Some(QueryType::Scalar);
    let mut by_range: Vec<Option<Value>> = vec![None; times.len()];
    let mut method = "query";
    if matches!(kind, Some(QueryType::Vector | QueryType::Scalar)) {
        if let Some(values) = ranged(p, &times, step, scalar, client)? {
            by_range = values;
            method = "query_range";
        }
    }
    let mut points = Vec::with_capacity(times.len());
    // The evaluator is pure and a day of values repeats a lot: decide each distinct value once.
    let mut decided: std::collections::HashMap<(bool, Vec<u64>), Decided> =
        std::collections::HashMap::new();
    let mut memo = |s: Option<&str>, f: Option<&str>, v: &Value| {
        let key = (
            matches!(v, Value::Scalar(_)),
            v.numbers().iter().map(|x| x.to_bits()).collect(),
        );
        decided
            .entry(key)
            .or_insert_with(|| classify(s, f, v))
            .clone()
    };
    let mut instants = 0;
    let mut last = std::time::Instant::now();
    for (i, (&t, v)) in times.iter().zip(by_range).enumerate() {
        let p = match v {
            Some(v) => point(m, t, Instant::Value(v), &mut memo),
            None => {
                instants += 1;
                if last.elapsed().as_secs() >= 2 {
                    progress(&format!("{}: {}/{} timestamps", m.name, i, times.len()));
                    last = std::time::Instant::now();
                }
                measure(t)?
            }
        };
        points.push(p);
    }
    let method = match (method, instants) {
        ("query_range", 0) => "query_range".to_string(),
        ("query_range", n) => {
            format!("query_range+query ({n} timestamps where several series answered)")
        }
        _ => "query".to_string(),
    };
    let phases: Vec<Verdict> = points.iter().map(|p| p.phase).collect();
    let runs = sliding(&m.limits, &phases);
    let condition = match (&m.success, &m.failure) {
        (Some(s), Some(f)) => format!("{s}` / failure `{f}"),
        (Some(s), None) => s.clone(),
        (None, Some(f)) => format!("failure {f}"),
        (None, None) => String::new(),
    };
    r.backtest = Some(report::backtest(
        &points,
        &runs,
        step as f64 / 1000.0,
        method,
        since_text,
        &condition,
    ));
    Ok(r)
}

/// The value at each timestamp from range queries; `None` at a timestamp that needs an instant
/// query (several series, or no scalar point). `Ok(None)` when Prometheus refused the range
/// query: then every timestamp is queried alone, as Argo would.
fn ranged(
    p: &Prometheus,
    times: &[i64],
    step: i64,
    scalar: bool,
    client: &Client,
) -> Result<Option<Vec<Option<Value>>>, Unreachable> {
    let start = times[0];
    let mut numbers: Vec<Vec<f64>> = vec![Vec::new(); times.len()];
    for chunk in times.chunks(RANGE_POINTS as usize) {
        let (from, to) = (chunk[0], chunk[chunk.len() - 1]);
        let params = [
            ("query", p.query.clone()),
            ("start", seconds(from)),
            ("end", seconds(to)),
            ("step", seconds(step)),
        ];
        let answer = client.get(p, "/api/v1/query_range", &params)?;
        let series = match read(p, &answer, convert::range)? {
            Ok(series) => series,
            Err(_) => return Ok(None),
        };
        for s in series {
            for (t, v) in s {
                let k = t - start;
                if k >= 0 && k % step == 0 && ((k / step) as usize) < numbers.len() {
                    numbers[(k / step) as usize].push(v);
                }
            }
        }
    }
    Ok(Some(
        numbers
            .into_iter()
            .map(|ns| match (scalar, ns.len()) {
                (true, 1) => Some(Value::Scalar(ns[0])),
                (true, _) => None,
                (false, 0 | 1) => Some(Value::Vector(ns)),
                (false, _) => None,
            })
            .collect(),
    ))
}

/// An answer read with `parse`: Prometheus answers its own errors (400, 422, 503) with a JSON
/// body, which is a measurement Error as in Argo; anything else that is not a 2xx answer, or
/// a body that is not Prometheus's, means the server is not usable.
fn read<T>(
    p: &Prometheus,
    a: &Answer,
    parse: fn(&[u8]) -> Result<T, String>,
) -> Result<T, Unreachable> {
    let snippet = || {
        let text = String::from_utf8_lossy(&a.body[..a.body.len().min(200)])
            .trim()
            .to_string();
        if text.is_empty() {
            String::new()
        } else {
            format!(": {text}")
        }
    };
    match parse(&a.body) {
        Ok(v) if (200..300).contains(&a.status) || is_api_error(&a.body) => Ok(v),
        Ok(_) => Err(Unreachable(format!(
            "{}: HTTP {}{}",
            p.address,
            a.status,
            snippet()
        ))),
        Err(e) if (200..300).contains(&a.status) => Err(Unreachable(format!(
            "{}: the answer is not Prometheus's: {e}",
            p.address
        ))),
        Err(_) => Err(Unreachable(format!(
            "{}: HTTP {}{}",
            p.address,
            a.status,
            snippet()
        ))),
    }
}

fn is_api_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .is_some_and(|v| v.get("status").and_then(|s| s.as_str()) == Some("error"))
}

fn point(m: &Metric, at_ms: i64, answer: Instant, classify: Decide) -> Point {
    match answer {
        Instant::Value(v) => {
            let (phase, message) = classify(m.success.as_deref(), m.failure.as_deref(), &v);
            Point {
                time_ms: at_ms,
                numbers: v.numbers().to_vec(),
                phase,
                value: Some(v.argo_text()),
                message,
            }
        }
        Instant::Error(message) => Point {
            time_ms: at_ms,
            numbers: Vec::new(),
            phase: Verdict::Error,
            value: None,
            message: Some(message),
        },
    }
}

/// Milliseconds as the seconds Prometheus reads (`1700000000.5`).
fn seconds(ms: i64) -> String {
    let (s, frac) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    if frac == 0 {
        s.to_string()
    } else {
        format!("{s}.{frac:03}")
    }
}
