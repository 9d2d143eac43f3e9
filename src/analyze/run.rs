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
use super::counting::{analysis_runs, sliding, MetricRuns, RunOutcome, Verdict};
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

/// Failed requests in a row after which a server that answered before counts as gone.
const FAILURES_IN_A_ROW: u32 = 3;

/// Requests to the servers of a run, and how each has answered so far. A server that never
/// answered is unreachable (exit 2); once one has answered, a failed request is what Argo
/// records as that measurement's Error, until several in a row say the server is gone.
struct Link<'a> {
    client: &'a Client,
    /// Per address: answered once, and failures since the last answer.
    servers: std::collections::HashMap<String, (bool, u32)>,
}

impl Link<'_> {
    /// `Ok(Err(message))`: this request failed, the run goes on; `Err`: stop (exit 2).
    fn get(
        &mut self,
        p: &Prometheus,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Result<Answer, String>, Unreachable> {
        let state = self.servers.entry(p.address.clone()).or_default();
        match self.client.get(p, path, params) {
            Ok(a) => {
                *state = (true, 0);
                Ok(Ok(a))
            }
            Err(e) if state.0 && state.1 + 1 < FAILURES_IN_A_ROW => {
                state.1 += 1;
                Ok(Err(e.0))
            }
            Err(e) if state.0 => Err(Unreachable(format!(
                "{e} (it answered earlier queries, then failed {FAILURES_IN_A_ROW} in a row)"
            ))),
            Err(e) => Err(e),
        }
    }
}

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
    let mut link = Link {
        client,
        servers: Default::default(),
    };
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
            backtest: None,
        };
        if a.problem.is_none() {
            let mut backtested = Vec::new();
            for m in &a.metrics {
                let (report, runs) = metric(m, opts, &mut link, classify, progress)?;
                if let Some(runs) = runs {
                    backtested.push((report.name.clone(), m.dry_run, runs));
                }
                ar.metrics.push(report);
            }
            if let Some((since, _)) = &opts.since {
                ar.backtest = Some(combine(&backtested, since));
            }
        }
        out.push(ar);
    }
    let usage = out
        .iter()
        .any(|a| a.problem.as_ref().is_some_and(|p| p.kind == "usage"));
    // A failure found is the news, whatever else could not run.
    let fails = out.iter().any(AnalysisReport::fails);
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
        outcome: if fails {
            "fail"
        } else if usage {
            "usage"
        } else {
            "pass"
        },
    })
}

/// One metric's backtest runs: the first start, the step, and the run started at each step.
type Runs = (i64, i64, Vec<RunOutcome>);

/// The analysis runs of a backtest, from its metrics' runs.
fn combine(metrics: &[(String, bool, Runs)], since: &str) -> report::AnalysisBacktest {
    let views: Vec<MetricRuns> = metrics
        .iter()
        .map(|(_, dry_run, (start_ms, step_ms, runs))| MetricRuns {
            start_ms: *start_ms,
            step_ms: *step_ms,
            runs,
            dry_run: *dry_run,
        })
        .collect();
    let mut starts: Vec<i64> = views
        .iter()
        .flat_map(|m| (0..m.runs.len() as i64).map(|k| m.start_ms + k * m.step_ms))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let outcomes = analysis_runs(&starts, &views);
    let names: Vec<String> = metrics.iter().map(|(n, ..)| n.clone()).collect();
    report::analysis_backtest(&starts, &outcomes, &names, since)
}

fn metric(
    m: &Metric,
    opts: &Options,
    link: &mut Link,
    classify: Classify,
    progress: &mut dyn FnMut(&str),
) -> Result<(MetricReport, Option<Runs>), Unreachable> {
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
    // The server to query, or the error Argo's provider setup ends every measurement in.
    let p: Result<&Prometheus, &str> = match &m.provider {
        Provider::Prometheus(p) => Ok(p),
        Provider::Rejected(message) => Err(message),
        Provider::NotRun { provider, reason } => {
            r.provider = provider.clone();
            r.not_run = Some(reason.clone());
            return Ok((r, None));
        }
    };
    if let Ok(p) = p {
        r.address = Some(p.address.clone());
        r.query = Some(p.query.clone());
    }
    // One measurement at `at_ms`: Argo's provider run, or the error its setup ends in.
    let measure = |link: &mut Link, at_ms: i64| -> Result<Point, Unreachable> {
        let p = match p {
            Ok(p) => p,
            Err(message) => return Ok(error_point(at_ms, message.to_string())),
        };
        let params = [("query", p.query.clone()), ("time", seconds(at_ms))];
        let answer = match link.get(p, "/api/v1/query", &params)? {
            Ok(answer) => answer,
            Err(message) => return Ok(error_point(at_ms, message)),
        };
        let instant = read(p, &answer, convert::instant)?;
        Ok(point(m, at_ms, instant, &mut |s, f, v| classify(s, f, v)))
    };
    let Some((since_text, since_ms)) = &opts.since else {
        r.measurement = Some(report::measurement(&measure(link, opts.at_ms)?));
        return Ok((r, None));
    };
    let step = opts
        .step_ms
        .or(m.interval.map(|s| (s * 1000.0).round() as i64))
        .unwrap_or(60_000)
        .max(1);
    // Multiples of the step, so that metrics with one step measure at the same times.
    let end = opts.at_ms.div_euclid(step) * step;
    let start = end - since_ms.div_euclid(step) * step;
    let times: Vec<i64> = (0..=(end - start) / step)
        .map(|k| start + k * step)
        .collect();
    progress(&format!(
        "{}: {} timestamps from {} to {}{}",
        m.name,
        times.len(),
        report::time_text(start),
        report::time_text(end),
        if end == opts.at_ms {
            String::new()
        } else {
            format!(
                " (the end is rounded down to a multiple of the {} s step)",
                report::short(step as f64 / 1000.0)
            )
        }
    ));
    use crate::lang::promql::QueryType;
    let mut by_range: Vec<Option<Value>> = vec![None; times.len()];
    let mut method = "query";
    if let Ok(p) = p {
        let kind = crate::lang::promql::query_type(&p.query);
        if matches!(kind, Some(QueryType::Vector | QueryType::Scalar)) {
            let scalar = kind == Some(QueryType::Scalar);
            if let Some(values) = ranged(p, &times, step, scalar, link)? {
                by_range = values;
                method = "query_range";
            }
        }
    } else {
        method = "none";
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
                measure(link, t)?
            }
        };
        points.push(p);
    }
    let method = match (method, instants) {
        ("query_range", 0) => "query_range".to_string(),
        ("query_range", n) => {
            format!("query_range+query ({n} timestamps queried alone: several series answered, or the range query failed)")
        }
        (other, _) => other.to_string(),
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
    Ok((r, Some((start, step, runs))))
}

/// The value at each timestamp from range queries; `None` at a timestamp that needs an instant
/// query (several series, no scalar point, or a range request that failed after the server had
/// answered). `Ok(None)` when Prometheus refused the range query: then every timestamp is
/// queried alone, as Argo would.
fn ranged(
    p: &Prometheus,
    times: &[i64],
    step: i64,
    scalar: bool,
    link: &mut Link,
) -> Result<Option<Vec<Option<Value>>>, Unreachable> {
    let start = times[0];
    let mut numbers: Vec<Vec<f64>> = vec![Vec::new(); times.len()];
    let mut fetched = vec![false; times.len()];
    for (c, chunk) in times.chunks(RANGE_POINTS as usize).enumerate() {
        let (from, to) = (chunk[0], chunk[chunk.len() - 1]);
        let params = [
            ("query", p.query.clone()),
            ("start", seconds(from)),
            ("end", seconds(to)),
            ("step", seconds(step)),
        ];
        let Ok(answer) = link.get(p, "/api/v1/query_range", &params)? else {
            continue;
        };
        let series = match read(p, &answer, convert::range)? {
            Ok(series) => series,
            Err(_) => return Ok(None),
        };
        let first = c * RANGE_POINTS as usize;
        fetched[first..first + chunk.len()].fill(true);
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
            .zip(fetched)
            .map(|(ns, fetched)| match (fetched, scalar, ns.len()) {
                (false, ..) => None,
                (true, true, 1) => Some(Value::Scalar(ns[0])),
                (true, true, _) => None,
                (true, false, 0 | 1) => Some(Value::Vector(ns)),
                (true, false, _) => None,
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
        Instant::Error(message) => error_point(at_ms, message),
    }
}

fn error_point(time_ms: i64, message: String) -> Point {
    Point {
        time_ms,
        numbers: Vec::new(),
        phase: Verdict::Error,
        value: None,
        message: Some(message),
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
