//! Argo's counting of measurements into a metric's result (`analysis/analysis.go`:
//! `runMeasurements` keeps the counters, `assessMetricStatus` and
//! `assessMetricFailureInconclusiveOrError` decide; `consecutiveSuccessLimit` as added in
//! argo-rollouts #3970, v1.8), and the sliding window of the backtest: one simulated run started
//! at every timestamp.

use serde::Serialize;

/// What a measurement, or a metric's whole run, came to. Ordered as Argo ranks completed phases
/// (`utils/analysis/helpers.go`, `analysisStatusOrder`): a later variant is worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Verdict {
    Successful,
    Inconclusive,
    Error,
    Failed,
}

impl Verdict {
    /// The phase name as Argo writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Successful => "Successful",
            Verdict::Inconclusive => "Inconclusive",
            Verdict::Error => "Error",
            Verdict::Failed => "Failed",
        }
    }
}

/// The fields of a metric that decide when its run ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Argo's `EffectiveCount`: `count`, or 1 with neither `count` nor `interval`; `None` when
    /// the metric runs until another limit ends it.
    pub count: Option<u32>,
    /// `failureLimit` (default 0; -1 disables it).
    pub failure_limit: i64,
    /// `inconclusiveLimit` (default 0).
    pub inconclusive_limit: i64,
    /// `consecutiveErrorLimit` (default 4).
    pub consecutive_error_limit: i64,
    /// `consecutiveSuccessLimit` (default 0: disabled).
    pub consecutive_success_limit: i64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            count: Some(1),
            failure_limit: 0,
            inconclusive_limit: 0,
            consecutive_error_limit: 4,
            consecutive_success_limit: 0,
        }
    }
}

/// How one run of a metric ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// `None`: the measurements ran out before the metric completed.
    pub verdict: Option<Verdict>,
    /// Measurements the run took.
    pub measurements: usize,
    /// Argo's reason, e.g. `failed (3) > failureLimit (2)`.
    pub reason: String,
}

/// Argo's `MetricResult` counters.
#[derive(Default)]
struct Counters {
    count: i64,
    failed: i64,
    inconclusive: i64,
    consecutive_error: i64,
    consecutive_success: i64,
}

/// Runs one metric over `phases` (its measurements in order) as the AnalysisRun controller
/// would, stopping at the first measurement after which the metric is complete.
pub fn assess(limits: &Limits, phases: impl IntoIterator<Item = Verdict>) -> RunOutcome {
    let mut c = Counters::default();
    let mut taken = 0;
    for phase in phases {
        taken += 1;
        match phase {
            Verdict::Error => {
                c.consecutive_error += 1;
                c.consecutive_success = 0;
            }
            other => {
                c.count += 1;
                c.consecutive_error = 0;
                match other {
                    Verdict::Successful => c.consecutive_success += 1,
                    Verdict::Failed => {
                        c.failed += 1;
                        c.consecutive_success = 0;
                    }
                    _ => {
                        c.inconclusive += 1;
                        c.consecutive_success = 0;
                    }
                }
            }
        }
        if let Some((verdict, reason)) = limit_breached(limits, &c) {
            return RunOutcome {
                verdict: Some(verdict),
                measurements: taken,
                reason,
            };
        }
        let success_applies = limits.consecutive_success_limit > 0;
        if success_applies && c.consecutive_success >= limits.consecutive_success_limit {
            return RunOutcome {
                verdict: Some(Verdict::Successful),
                measurements: taken,
                reason: format!(
                    "consecutiveSuccessLimit ({}) reached",
                    limits.consecutive_success_limit
                ),
            };
        }
        if let Some(count) = limits.count {
            if c.count >= i64::from(count) {
                let failure_applies = limits.failure_limit >= 0;
                // Count reached with no limit crossed: which limit was meant to decide says
                // how it ends (#3970).
                let verdict = match (failure_applies, success_applies) {
                    (true, true) => Verdict::Inconclusive,
                    (false, true) => Verdict::Failed,
                    _ => Verdict::Successful,
                };
                return RunOutcome {
                    verdict: Some(verdict),
                    measurements: taken,
                    reason: format!("count ({count}) reached"),
                };
            }
        }
    }
    RunOutcome {
        verdict: None,
        measurements: taken,
        reason: "still running when the measurements ran out".into(),
    }
}

/// `assessMetricFailureInconclusiveOrError`: a later check overrides an earlier one, so a
/// consecutive-error breach wins over a failure breach.
fn limit_breached(limits: &Limits, c: &Counters) -> Option<(Verdict, String)> {
    let mut out = None;
    if limits.failure_limit >= 0 && c.failed > limits.failure_limit {
        out = Some((
            Verdict::Failed,
            format!(
                "failed ({}) > failureLimit ({})",
                c.failed, limits.failure_limit
            ),
        ));
    }
    if c.inconclusive > limits.inconclusive_limit {
        out = Some((
            Verdict::Inconclusive,
            format!(
                "inconclusive ({}) > inconclusiveLimit ({})",
                c.inconclusive, limits.inconclusive_limit
            ),
        ));
    }
    if c.consecutive_error > limits.consecutive_error_limit {
        out = Some((
            Verdict::Error,
            format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({})",
                c.consecutive_error, limits.consecutive_error_limit
            ),
        ));
    }
    out
}

/// One run started at every measurement: run `i` sees `phases[i..]`.
pub fn sliding(limits: &Limits, phases: &[Verdict]) -> Vec<RunOutcome> {
    let mut out: Vec<RunOutcome> = Vec::with_capacity(phases.len());
    // With no count and no success streak, only a limit ends a run; a later start sees a
    // subset of the same measurements, so once a run is still going at the end every later
    // one is too. This keeps a week of steps from costing a square of its length.
    let only_limits_end = limits.count.is_none() && limits.consecutive_success_limit <= 0;
    for i in 0..phases.len() {
        if only_limits_end && out.last().is_some_and(|r| r.verdict.is_none()) {
            let mut r = out[i - 1].clone();
            r.measurements = phases.len() - i;
            out.push(r);
            continue;
        }
        out.push(assess(limits, phases[i..].iter().copied()));
    }
    out
}

/// One metric's simulated runs in a backtest: `runs[k]` started at `start_ms + k * step_ms`.
#[derive(Clone, Copy, Debug)]
pub struct MetricRuns<'a> {
    pub start_ms: i64,
    pub step_ms: i64,
    pub runs: &'a [RunOutcome],
    /// Listed in `dryRun`: its verdict neither ends nor decides the analysis run.
    pub dry_run: bool,
}

/// How one whole analysis run ended, and which metric decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisOutcome {
    /// `None`: some metric was still running when the measurements ran out.
    pub verdict: Option<Verdict>,
    /// The index (in the `metrics` given) of the metric whose run decided a bad verdict.
    pub metric: Option<usize>,
    pub reason: String,
}

/// The analysis runs started at each of `starts`, as the AnalysisRun controller combines its
/// metrics: the run is terminating as soon as one metric that is not a dry run has completed
/// Failed, Error or Inconclusive (`utils/analysis/helpers.go`, `IsTerminating`), the metrics
/// still running are then stopped and count as Successful, and the run takes the worst phase of
/// its completed metrics (`analysis/analysis.go`, `assessRunStatus`). So the bad metric that
/// completes first decides; metrics completing at the same time, the worst of them.
///
/// A metric measured on a coarser grid than `starts` joins a run at its first measurement at or
/// after the run's start.
pub fn analysis_runs(starts: &[i64], metrics: &[MetricRuns]) -> Vec<AnalysisOutcome> {
    starts
        .iter()
        .map(|&t| {
            // (end time, verdict, metric, reason) of the bad run that decides.
            let mut decided: Option<(i64, Verdict, usize, &str)> = None;
            let mut running = false;
            for (i, m) in metrics.iter().enumerate().filter(|(_, m)| !m.dry_run) {
                let Some((first, run)) = m.run_from(t) else {
                    running = true;
                    continue;
                };
                match run.verdict {
                    None => running = true,
                    Some(Verdict::Successful) => {}
                    Some(bad) => {
                        let end = first + (run.measurements as i64 - 1) * m.step_ms.max(1);
                        if decided.is_none_or(|(e, v, ..)| end < e || (end == e && bad > v)) {
                            decided = Some((end, bad, i, &run.reason));
                        }
                    }
                }
            }
            match decided {
                Some((_, verdict, i, reason)) => AnalysisOutcome {
                    verdict: Some(verdict),
                    metric: Some(i),
                    reason: reason.to_string(),
                },
                None if running => AnalysisOutcome {
                    verdict: None,
                    metric: None,
                    reason: "still running when the measurements ran out".into(),
                },
                None => AnalysisOutcome {
                    verdict: Some(Verdict::Successful),
                    metric: None,
                    reason: "every metric completed Successful".into(),
                },
            }
        })
        .collect()
}

impl MetricRuns<'_> {
    /// The metric's run that an analysis run started at `t` takes part in, and the time of
    /// its first measurement; `None` past the metric's last start.
    fn run_from(&self, t: i64) -> Option<(i64, &RunOutcome)> {
        let step = self.step_ms.max(1);
        let k = ((t - self.start_ms).max(0) + step - 1) / step;
        let run = self.runs.get(usize::try_from(k).ok()?)?;
        Some((self.start_ms + k * step, run))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::*;

    fn limits(count: Option<u32>, failure_limit: i64) -> Limits {
        Limits {
            count,
            failure_limit,
            ..Limits::default()
        }
    }

    #[test]
    fn failure_limit_is_exceeded_not_reached() {
        let l = limits(Some(5), 2);
        let o = assess(&l, [Failed, Successful, Failed, Failed, Successful]);
        assert_eq!(o.verdict, Some(Failed));
        assert_eq!(o.measurements, 4);
        assert_eq!(o.reason, "failed (3) > failureLimit (2)");
        let o = assess(&l, [Failed, Successful, Failed, Successful, Successful]);
        assert_eq!(
            (o.verdict, o.reason.as_str()),
            (Some(Successful), "count (5) reached")
        );
    }

    #[test]
    fn errors_do_not_count_and_reset_on_a_measurement() {
        let l = limits(Some(2), 0);
        // Four errors in a row are tolerated (default limit 4), the fifth is not.
        let o = assess(&l, [Error, Error, Error, Error, Successful, Successful]);
        assert_eq!((o.verdict, o.measurements), (Some(Successful), 6));
        let o = assess(&l, [Error; 5]);
        assert_eq!(o.verdict, Some(Error));
        assert_eq!(
            o.reason,
            "consecutiveErrors (5) > consecutiveErrorLimit (4)"
        );
    }

    #[test]
    fn inconclusive_and_running_forever() {
        let o = assess(&limits(None, 0), [Successful, Inconclusive]);
        assert_eq!(o.verdict, Some(Inconclusive));
        let o = assess(&limits(None, 0), [Successful; 10]);
        assert_eq!((o.verdict, o.measurements), (None, 10));
    }

    #[test]
    fn consecutive_success_limit() {
        let mut l = limits(Some(6), -1);
        l.consecutive_success_limit = 2;
        let o = assess(&l, [Failed, Successful, Failed, Successful, Successful]);
        assert_eq!((o.verdict, o.measurements), (Some(Successful), 5));
        let o = assess(
            &l,
            [Failed, Successful, Failed, Successful, Failed, Successful],
        );
        assert_eq!(o.verdict, Some(Failed), "count reached without the streak");
        l.failure_limit = 5;
        let o = assess(
            &l,
            [Failed, Successful, Failed, Successful, Failed, Successful],
        );
        assert_eq!(
            o.verdict,
            Some(Inconclusive),
            "both limits apply, neither decided"
        );
    }

    #[test]
    fn sliding_window_starts_a_run_at_every_measurement() {
        let phases = [
            Successful, Failed, Failed, Successful, Successful, Successful,
        ];
        let runs = sliding(&limits(Some(3), 1), &phases);
        let verdicts: Vec<_> = runs.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [
                Some(Failed),
                Some(Failed),
                Some(Successful),
                Some(Successful),
                None,
                None
            ]
        );
    }

    #[test]
    fn unbounded_runs_after_an_unfinished_one_are_unfinished() {
        let l = limits(None, 1);
        let phases = [Failed, Successful, Failed, Successful, Successful, Failed];
        let fast = sliding(&l, &phases);
        let slow: Vec<RunOutcome> = (0..phases.len())
            .map(|i| assess(&l, phases[i..].iter().copied()))
            .collect();
        assert_eq!(fast, slow);
        let verdicts: Vec<_> = fast.iter().map(|r| r.verdict).collect();
        assert_eq!(
            verdicts,
            [Some(Failed), Some(Failed), Some(Failed), None, None, None]
        );
    }

    #[test]
    fn the_bad_metric_that_completes_first_decides_the_analysis() {
        let outcome = |verdict, measurements, reason: &str| RunOutcome {
            verdict,
            measurements,
            reason: reason.into(),
        };
        // Metric a fails after 5 measurements, b errors after 3: b ends the run first.
        let a = [outcome(Some(Failed), 5, "failed")];
        let b = [outcome(Some(Error), 3, "errors")];
        let m = |runs, dry_run| MetricRuns {
            start_ms: 0,
            step_ms: 60,
            runs,
            dry_run,
        };
        let r = analysis_runs(&[0], &[m(&a, false), m(&b, false)]);
        assert_eq!((r[0].verdict, r[0].metric), (Some(Error), Some(1)));
        assert_eq!(r[0].reason, "errors");
        // At the same time, the worst; a dry-run metric decides nothing.
        let b = [outcome(Some(Inconclusive), 5, "inc")];
        let r = analysis_runs(&[0], &[m(&b, false), m(&a, false)]);
        assert_eq!(r[0].verdict, Some(Failed));
        let r = analysis_runs(&[0], &[m(&a, true)]);
        assert_eq!(r[0].verdict, Some(Successful));
        // A bad verdict ends the run although another metric is still running.
        let open = [outcome(None, 9, "open")];
        let r = analysis_runs(&[0], &[m(&open, false), m(&a, false)]);
        assert_eq!(r[0].verdict, Some(Failed));
        let ok = [outcome(Some(Successful), 2, "ok")];
        let r = analysis_runs(&[0], &[m(&open, false), m(&ok, false)]);
        assert_eq!(r[0].verdict, None);
        // A coarser metric joins at its next measurement; past its last start, still running.
        let coarse = MetricRuns {
            start_ms: 0,
            step_ms: 120,
            runs: &[
                outcome(Some(Successful), 1, "ok"),
                outcome(Some(Failed), 1, "f"),
            ],
            dry_run: false,
        };
        let r = analysis_runs(&[0, 60, 120, 180], &[coarse]);
        let v: Vec<_> = r.iter().map(|o| o.verdict).collect();
        assert_eq!(v, [Some(Successful), Some(Failed), Some(Failed), None]);
    }

    #[test]
    fn argo_order_of_phases() {
        assert!(Failed > Error && Error > Inconclusive && Inconclusive > Successful);
    }
}
