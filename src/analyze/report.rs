//! The report of an `analyze` run, as data (serialised as the stable `--format json`,
//! `"version": 1`), the summary of a backtest, and the human rendering. Pure: no I/O.

use super::convert::go_float;
use super::counting::{AnalysisOutcome, RunOutcome, Verdict};
use serde::Serialize;

/// The JSON format's version; bumped on any incompatible change.
pub const VERSION: u32 = 1;

/// Everything one `analyze` run found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub version: u32,
    /// `instant` (one measurement at `time`) or `backtest` (`since` up to `time`).
    pub mode: &'static str,
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    pub analyses: Vec<AnalysisReport>,
    /// `pass`, `fail` or `usage`: what the exit code (0, 1, 2) says.
    pub outcome: &'static str,
}

/// One analysis: a template alone, or a Rollout's analysis block.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisReport {
    pub object: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    pub templates: Vec<String>,
    /// Why it was not run (`usage`), or the Error the AnalysisRun itself would end in (`run`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<ProblemReport>,
    pub metrics: Vec<MetricReport>,
    /// A backtest's runs of the whole analysis (its metrics combined as Argo combines them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backtest: Option<AnalysisBacktest>,
}

impl AnalysisReport {
    /// True when this analysis makes the run fail (exit 1): the AnalysisRun would end in
    /// Error, a backtest's analysis run would not have been Successful, or (one measurement) a
    /// metric that is not a dry run measured anything but Successful.
    pub fn fails(&self) -> bool {
        if self.problem.as_ref().is_some_and(|p| p.kind == "run") {
            return true;
        }
        match &self.backtest {
            Some(b) => b.runs.failed + b.runs.error + b.runs.inconclusive > 0,
            None => self.metrics.iter().any(MetricReport::fails),
        }
    }
}

/// The analysis runs of a backtest: one started at every step of the window.
#[derive(Clone, Debug, Serialize)]
pub struct AnalysisBacktest {
    pub runs: RunCounts,
    /// The first run that ended Failed (Error, Inconclusive), the metric that decided it and
    /// Argo's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failed_run: Option<RunStart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_errored_run: Option<RunStart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_inconclusive_run: Option<RunStart>,
    pub summary: String,
}

/// Why an analysis did not run.
#[derive(Clone, Debug, Serialize)]
pub struct ProblemReport {
    /// `usage` (this tool needs more input) or `run` (Argo's AnalysisRun would end in Error).
    pub kind: &'static str,
    pub message: String,
}

/// One metric's result.
#[derive(Clone, Debug, Serialize)]
pub struct MetricReport {
    pub template: String,
    pub name: String,
    pub provider: String,
    /// Set when the metric was not run, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// Listed in `dryRun`: reported, not counted in the outcome (as Argo ignores it).
    pub dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The query after argument substitution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measurement: Option<Measurement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backtest: Option<Backtest>,
}

impl MetricReport {
    /// True when this metric makes the run fail (exit 1).
    pub fn fails(&self) -> bool {
        if self.dry_run {
            return false;
        }
        let measured = self
            .measurement
            .as_ref()
            .is_some_and(|m| m.phase != Verdict::Successful);
        let backtested = self
            .backtest
            .as_ref()
            .is_some_and(|b| b.runs.failed + b.runs.error + b.runs.inconclusive > 0);
        measured || backtested
    }
}

/// One measurement, as Argo records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measurement {
    pub time: String,
    pub phase: Verdict,
    /// The value Argo records (`[0.97]`, `0.5`); absent when the query errored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Measurement phases counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub successful: usize,
    pub failed: usize,
    pub inconclusive: usize,
    pub error: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Successful => self.successful += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::Inconclusive => self.inconclusive += 1,
            Verdict::Error => self.error += 1,
        }
    }
}

/// Runs of the sliding window counted by how they ended.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub started: usize,
    pub successful: usize,
    pub failed: usize,
    pub inconclusive: usize,
    pub error: usize,
    /// Still running when the window ended (a metric with no count, or a run started near
    /// the end).
    pub incomplete: usize,
}

/// A metric evaluated at every step of the window, and the runs started at each step.
#[derive(Clone, Debug, Serialize)]
pub struct Backtest {
    pub from: String,
    pub to: String,
    pub step_seconds: f64,
    /// How the values were fetched: `query_range`, `query`, or `query_range+query`.
    pub method: String,
    pub measurements: Counts,
    /// Every timestamp whose measurement was Failed.
    pub failed_at: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<Measurement>,
    /// The finite values measured, lowest and highest (NaN and infinities are counted apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_max: Option<f64>,
    pub nan_values: usize,
    /// Measurements whose vector was empty (no series matched: a wrong label, or no traffic).
    pub empty_results: usize,
    pub runs: RunCounts,
    /// Start of the first run that ended Failed, and Argo's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failed_run: Option<RunStart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_errored_run: Option<RunStart>,
    /// Text traces: the value (`▁`..`█`, `·` no number) and the phase (`.` `F` `E` `?`),
    /// one column per bucket of steps.
    pub trace_values: String,
    pub trace_phases: String,
    pub summary: String,
}

/// The start of one simulated run and how it ended.
#[derive(Clone, Debug, Serialize)]
pub struct RunStart {
    pub time: String,
    /// The metric whose run decided (an analysis's runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    pub reason: String,
}

/// One evaluated timestamp of a backtest.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub time_ms: i64,
    /// The numbers of the value (a vector's elements, or the scalar).
    pub numbers: Vec<f64>,
    pub phase: Verdict,
    pub value: Option<String>,
    pub message: Option<String>,
}

/// An RFC 3339 UTC time for milliseconds since the epoch.
pub fn time_text(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{ms}ms"))
}

/// Columns of the text trace at most.
const TRACE_WIDTH: usize = 72;

/// Summarises a metric's points and the runs started at each point.
#[allow(clippy::too_many_arguments)]
pub fn backtest(
    points: &[Point],
    runs: &[RunOutcome],
    step_seconds: f64,
    method: String,
    since: &str,
    condition: &str,
) -> Backtest {
    let mut counts = Counts::default();
    let mut failed_at = Vec::new();
    let mut first_error = None;
    let (mut lo, mut hi, mut nan) = (f64::INFINITY, f64::NEG_INFINITY, 0);
    let empty = points
        .iter()
        .filter(|p| p.value.as_deref() == Some("[]"))
        .count();
    for p in points {
        counts.add(p.phase);
        if p.phase == Verdict::Failed {
            failed_at.push(time_text(p.time_ms));
        }
        if p.phase == Verdict::Error && first_error.is_none() {
            first_error = Some(measurement(p));
        }
        for &v in &p.numbers {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            } else {
                nan += 1;
            }
        }
    }
    let mut rc = RunCounts {
        started: runs.len(),
        ..RunCounts::default()
    };
    let mut first_failed_run = None;
    let mut first_errored_run = None;
    for (r, p) in runs.iter().zip(points) {
        let start = || RunStart {
            time: time_text(p.time_ms),
            metric: None,
            reason: r.reason.clone(),
        };
        match r.verdict {
            None => rc.incomplete += 1,
            Some(Verdict::Successful) => rc.successful += 1,
            Some(Verdict::Inconclusive) => rc.inconclusive += 1,
            Some(Verdict::Error) => {
                rc.error += 1;
                first_errored_run.get_or_insert_with(start);
            }
            Some(Verdict::Failed) => {
                rc.failed += 1;
                first_failed_run.get_or_insert_with(start);
            }
        }
    }
    let (value_min, value_max) = if lo <= hi {
        (Some(lo), Some(hi))
    } else {
        (None, None)
    };
    let (trace_values, trace_phases) = traces(points, value_min, value_max);
    let mut summary = runs_sentence("metric", since, &rc, first_failed_run.as_ref());
    match (value_min, value_max) {
        (Some(lo), Some(hi)) => summary.push_str(&format!(
            "; the measured value ranged {}-{}",
            short(lo),
            short(hi)
        )),
        _ => summary.push_str("; no number was measured"),
    }
    if !condition.is_empty() {
        summary.push_str(&format!(" against `{condition}`"));
    }
    if empty > 0 {
        summary.push_str(&format!(
            "; {empty} of {} measurements had no series (an empty result)",
            points.len()
        ));
    }
    Backtest {
        from: points
            .first()
            .map(|p| time_text(p.time_ms))
            .unwrap_or_default(),
        to: points
            .last()
            .map(|p| time_text(p.time_ms))
            .unwrap_or_default(),
        step_seconds,
        method,
        measurements: counts,
        failed_at,
        first_error,
        value_min,
        value_max,
        nan_values: nan,
        empty_results: empty,
        runs: rc,
        first_failed_run,
        first_errored_run,
        trace_values,
        trace_phases,
        summary,
    }
}

/// "started at any of N times in the last 24h, this analysis would have Failed 3 times
/// (first at ...), errored 0 times": the sentence of the issue's example, for a metric or an
/// analysis.
fn runs_sentence(
    what: &str,
    since: &str,
    rc: &RunCounts,
    first_failed: Option<&RunStart>,
) -> String {
    let mut s = format!(
        "started at any of {} times in the last {since}, this {what} would have Failed {} time{}",
        rc.started,
        rc.failed,
        plural(rc.failed)
    );
    if let Some(f) = first_failed {
        s.push_str(&format!(" (first at {}", f.time));
        if let Some(m) = &f.metric {
            s.push_str(&format!(", metric {m}: {}", f.reason));
        }
        s.push(')');
    }
    s.push_str(&format!(", errored {} time{}", rc.error, plural(rc.error)));
    if rc.inconclusive > 0 {
        s.push_str(&format!(
            ", been Inconclusive {} time{}",
            rc.inconclusive,
            plural(rc.inconclusive)
        ));
    }
    if rc.incomplete > 0 {
        s.push_str(&format!(
            "; {} run{} still going when the window ended",
            rc.incomplete,
            if rc.incomplete == 1 { " was" } else { "s were" }
        ));
    }
    s
}

/// Summarises the analysis runs started at `starts` (milliseconds); `names` are the metrics
/// the outcomes' `metric` indexes.
pub fn analysis_backtest(
    starts: &[i64],
    outcomes: &[AnalysisOutcome],
    names: &[String],
    since: &str,
) -> AnalysisBacktest {
    let mut rc = RunCounts {
        started: outcomes.len(),
        ..RunCounts::default()
    };
    let (mut failed, mut errored, mut inconclusive) = (None, None, None);
    for (o, &t) in outcomes.iter().zip(starts) {
        let start = || RunStart {
            time: time_text(t),
            metric: o.metric.and_then(|i| names.get(i).cloned()),
            reason: o.reason.clone(),
        };
        match o.verdict {
            None => rc.incomplete += 1,
            Some(Verdict::Successful) => rc.successful += 1,
            Some(Verdict::Failed) => {
                rc.failed += 1;
                failed.get_or_insert_with(start);
            }
            Some(Verdict::Error) => {
                rc.error += 1;
                errored.get_or_insert_with(start);
            }
            Some(Verdict::Inconclusive) => {
                rc.inconclusive += 1;
                inconclusive.get_or_insert_with(start);
            }
        }
    }
    let summary = runs_sentence("analysis", since, &rc, failed.as_ref());
    AnalysisBacktest {
        runs: rc,
        first_failed_run: failed,
        first_errored_run: errored,
        first_inconclusive_run: inconclusive,
        summary,
    }
}

/// A value for people: at most four decimals, trailing zeros dropped (the JSON keeps it whole).
pub fn short(v: f64) -> String {
    if !v.is_finite() || v.abs() >= 1e15 {
        return go_float(v);
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A point's measurement.
pub fn measurement(p: &Point) -> Measurement {
    Measurement {
        time: time_text(p.time_ms),
        phase: p.phase,
        value: p.value.clone(),
        message: p.message.clone(),
    }
}

/// The value and phase traces: each column is a bucket of consecutive points, drawn with its
/// lowest number and its worst phase, so a short dip stays visible.
fn traces(points: &[Point], lo: Option<f64>, hi: Option<f64>) -> (String, String) {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if points.is_empty() {
        return (String::new(), String::new());
    }
    let per = points.len().div_ceil(TRACE_WIDTH);
    let mut values = String::new();
    let mut phases = String::new();
    for bucket in points.chunks(per) {
        let low = bucket
            .iter()
            .flat_map(|p| p.numbers.iter().copied())
            .filter(|v| v.is_finite())
            .fold(f64::INFINITY, f64::min);
        values.push(match (lo, hi) {
            (Some(lo), Some(hi)) if low.is_finite() => {
                let level = if hi > lo { (low - lo) / (hi - lo) } else { 1.0 };
                BARS[((level * 7.0).round() as usize).min(7)]
            }
            _ => '·',
        });
        let worst = bucket
            .iter()
            .map(|p| p.phase)
            .max()
            .unwrap_or(Verdict::Successful);
        phases.push(match worst {
            Verdict::Successful => '.',
            Verdict::Inconclusive => '?',
            Verdict::Error => 'E',
            Verdict::Failed => 'F',
        });
    }
    (values, phases)
}

/// The human rendering: per analysis a compact table, and for a backtest the traces and the
/// summary sentence of each metric.
pub fn human(r: &Report) -> String {
    let mut out = String::new();
    for a in &r.analyses {
        out.push_str(&a.object);
        if let Some(at) = &a.at {
            out.push_str(&format!(" {at}"));
        }
        if !a.templates.is_empty() && a.templates != [a.object.clone()] {
            out.push_str(&format!(" ({})", a.templates.join(", ")));
        }
        out.push('\n');
        if let Some(p) = &a.problem {
            let label = if p.kind == "run" {
                "the AnalysisRun would end in Error"
            } else {
                "not run"
            };
            out.push_str(&format!("  {label}: {}\n\n", p.message));
            continue;
        }
        let rows: Vec<[String; 4]> = a.metrics.iter().map(row).collect();
        let header = if r.mode == "backtest" {
            [
                "METRIC",
                "MEASURED ok/fail/inc/err",
                "RUNS fail/err/inc/ok/open",
                "VALUES",
            ]
        } else {
            ["METRIC", "RESULT", "VALUE", "MESSAGE"]
        };
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 4]| {
            let mut s = String::from("  ");
            for (i, c) in cells.iter().enumerate() {
                if i == 3 {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
            }
            format!("{}\n", s.trim_end())
        };
        out.push_str(&line(header));
        for row in &rows {
            out.push_str(&line([&row[0], &row[1], &row[2], &row[3]]));
        }
        for m in &a.metrics {
            if let Some(b) = &m.backtest {
                out.push_str(&format!("  {}  {}\n", m.name, b.trace_values));
                out.push_str(&format!(
                    "  {}  {}\n",
                    " ".repeat(m.name.chars().count()),
                    b.trace_phases
                ));
                out.push_str(&format!("  {}: {}\n", m.name, b.summary));
                if let Some(first) = b.failed_at.first() {
                    out.push_str(&format!(
                        "  {}: {} failed measurement{}, the first at {first}\n",
                        m.name,
                        b.failed_at.len(),
                        plural(b.failed_at.len())
                    ));
                }
                if let Some(e) = &b.first_error {
                    out.push_str(&format!(
                        "  {}: first error at {}: {}\n",
                        m.name,
                        e.time,
                        e.message.as_deref().unwrap_or("")
                    ));
                }
            }
        }
        if let Some(b) = &a.backtest {
            out.push_str(&format!("  analysis: {}\n", b.summary));
            for (what, run) in [
                ("error", &b.first_errored_run),
                ("inconclusive", &b.first_inconclusive_run),
            ] {
                if let Some(run) = run {
                    out.push_str(&format!(
                        "  analysis: first {what} at {}, metric {}: {}\n",
                        run.time,
                        run.metric.as_deref().unwrap_or("-"),
                        run.reason
                    ));
                }
            }
        }
        out.push('\n');
    }
    let not_run = r
        .analyses
        .iter()
        .filter(|a| a.problem.as_ref().is_some_and(|p| p.kind == "usage"))
        .count();
    let analyses = |n: usize| format!("{n} analys{}", if n == 1 { "is" } else { "es" });
    let verdict = match (r.outcome, not_run) {
        ("pass", _) => "would pass".to_string(),
        ("fail", 0) => "would fail".to_string(),
        ("fail", n) => format!("would fail ({} not run)", analyses(n)),
        _ => format!("could not run {}", analyses(not_run)),
    };
    let mode = match &r.since {
        Some(since) => format!("backtest of the last {since} up to {}", r.time),
        None => format!("instant at {}", r.time),
    };
    out.push_str(&format!("rollout-guard analyze: {verdict} ({mode})\n"));
    out
}

fn row(m: &MetricReport) -> [String; 4] {
    let name = if m.dry_run {
        format!("{} (dryRun)", m.name)
    } else {
        m.name.clone()
    };
    if let Some(why) = &m.not_run {
        return [name, "not run".into(), m.provider.clone(), why.clone()];
    }
    if let Some(b) = &m.backtest {
        let c = &b.measurements;
        let r = &b.runs;
        let range = match (b.value_min, b.value_max) {
            (Some(lo), Some(hi)) => format!("{}-{}", short(lo), short(hi)),
            _ => "-".into(),
        };
        return [
            name,
            format!(
                "{}/{}/{}/{}",
                c.successful, c.failed, c.inconclusive, c.error
            ),
            format!(
                "{}/{}/{}/{}/{}",
                r.failed, r.error, r.inconclusive, r.successful, r.incomplete
            ),
            range,
        ];
    }
    match &m.measurement {
        Some(x) => [
            name,
            x.phase.as_str().into(),
            x.value.clone().unwrap_or_else(|| "-".into()),
            x.message.clone().unwrap_or_default(),
        ],
        None => [name, "-".into(), "-".into(), String::new()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::counting::{sliding, Limits};

    fn point(i: i64, v: f64, phase: Verdict) -> Point {
        Point {
            time_ms: 1_700_000_000_000 + i * 60_000,
            numbers: vec![v],
            phase,
            value: Some(format!("[{}]", go_float(v))),
            message: None,
        }
    }

    #[test]
    fn summary_counts_runs_and_the_value_range() {
        let points: Vec<Point> = (0..10)
            .map(|i| {
                if i == 4 || i == 5 {
                    point(i, 0.9, Verdict::Failed)
                } else {
                    point(i, 1.0, Verdict::Successful)
                }
            })
            .collect();
        let limits = Limits {
            count: Some(3),
            failure_limit: 1,
            ..Limits::default()
        };
        let phases: Vec<Verdict> = points.iter().map(|p| p.phase).collect();
        let runs = sliding(&limits, &phases);
        let b = backtest(
            &points,
            &runs,
            60.0,
            "query_range".into(),
            "10m",
            "result[0] >= 0.95",
        );
        assert_eq!(b.measurements.failed, 2);
        assert_eq!(
            b.failed_at,
            [time_text(1_700_000_240_000), time_text(1_700_000_300_000)]
        );
        // Runs starting at 3 and 4 see both failures within three measurements.
        assert_eq!((b.runs.failed, b.runs.incomplete), (2, 2));
        assert_eq!(
            b.first_failed_run.as_ref().unwrap().time,
            time_text(1_700_000_180_000)
        );
        assert_eq!(
            b.summary,
            format!(
                "started at any of 10 times in the last 10m, this metric would have Failed 2 times (first at {}), errored 0 times; 2 runs were still going when the window ended; the measured value ranged 0.9-1 against `result[0] >= 0.95`",
                time_text(1_700_000_180_000)
            )
        );
        assert_eq!(b.trace_phases, "....FF....");
        assert_eq!(b.trace_values.chars().nth(4), Some('▁'));
        assert_eq!(b.trace_values.chars().next(), Some('█'));
    }

    #[test]
    fn short_values() {
        assert_eq!(short(0.8928571428571429), "0.8929");
        assert_eq!(short(1.0), "1");
        assert_eq!(short(-0.00001), "0");
        assert_eq!(short(f64::NAN), "NaN");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(time_text(0), "1970-01-01T00:00:00Z");
    }
}
