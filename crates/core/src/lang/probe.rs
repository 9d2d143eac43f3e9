//! The condition table every condition rule reads: a metric's `successCondition` and
//! `failureCondition` evaluated as Argo would (see [`super::condition`]) against the results a
//! query of its type can return, giving Argo's phase for each.

use super::condition::{self, Measurement, Phase, ResultType, ResultValue};

/// A result the query might return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    /// A vector query that matches no series (no traffic yet, a renamed label).
    Empty,
    /// One series.
    OneSample,
    /// Several series.
    Several,
    /// One series whose value is NaN (a ratio with no traffic: 0/0).
    NaN,
    /// One series whose value is +Inf (a ratio over a zero denominator).
    Inf,
    /// A scalar query's number.
    Number,
    /// A scalar query's NaN.
    ScalarNaN,
    /// A scalar query's +Inf.
    ScalarInf,
}

const VECTOR_PROBES: [Probe; 5] = [
    Probe::Empty,
    Probe::OneSample,
    Probe::Several,
    Probe::NaN,
    Probe::Inf,
];
const SCALAR_PROBES: [Probe; 3] = [Probe::Number, Probe::ScalarNaN, Probe::ScalarInf];

impl Probe {
    /// The value Argo binds to `result` for this probe.
    pub fn result(self) -> ResultValue {
        match self {
            Probe::Empty => ResultValue::Vector(vec![]),
            Probe::OneSample => ResultValue::Vector(vec![0.5]),
            Probe::Several => ResultValue::Vector(vec![0.5, 0.5, 0.5]),
            Probe::NaN => ResultValue::Vector(vec![f64::NAN]),
            Probe::Inf => ResultValue::Vector(vec![f64::INFINITY]),
            Probe::Number => ResultValue::Scalar(0.5),
            Probe::ScalarNaN => ResultValue::Scalar(f64::NAN),
            Probe::ScalarInf => ResultValue::Scalar(f64::INFINITY),
        }
    }

    /// How a message names the probe.
    pub fn describe(self) -> &'static str {
        match self {
            Probe::Empty => "an empty result",
            Probe::OneSample => "a one-sample result",
            Probe::Several => "a several-sample result",
            Probe::NaN => "a NaN result",
            Probe::Inf => "a +Inf result",
            Probe::Number => "a number",
            Probe::ScalarNaN => "a NaN result",
            Probe::ScalarInf => "a +Inf result",
        }
    }

    /// True for the NaN probes.
    pub fn is_nan(self) -> bool {
        matches!(self, Probe::NaN | Probe::ScalarNaN)
    }
}

/// Which condition a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Success,
    Failure,
}

impl Which {
    /// The metric field holding the condition.
    pub fn key(self) -> &'static str {
        match self {
            Which::Success => "successCondition",
            Which::Failure => "failureCondition",
        }
    }
}

/// One probe's row: Argo's measurement, the condition that errored, whether NaN was tested.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub probe: Probe,
    pub measurement: Measurement,
    /// The condition whose error made the measurement an Error.
    pub erred: Option<Which>,
    /// Some condition called `isNaN` on this result.
    pub tested_nan: bool,
}

/// A metric's conditions read once against Argo's environment for the result type.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table {
    /// A condition Argo cannot compile (syntax, a name the environment lacks, or a type error
    /// for this result type): every measurement errors.
    pub compile_errors: Vec<(Which, String)>,
    /// One row per probe of the result type; with an unknown type, the probes of each type
    /// both conditions compile against.
    pub rows: Vec<Row>,
}

impl Table {
    /// The row of a probe, when the table has it.
    pub fn row(&self, probe: Probe) -> Option<&Row> {
        self.rows.iter().find(|r| r.probe == probe)
    }
}

/// Per condition text and result type, what each probe gives: the pure, memoised part.
#[derive(Clone, Debug)]
struct Reading {
    compile: Result<(), String>,
    /// For each probe of the type, the condition's evaluation; `None` when it does not
    /// compile, the type is unknown, or this checker cannot evaluate it.
    probes: Option<Vec<(Probe, condition::Evaluation)>>,
}

fn reading(text: &str, ty: ResultType) -> Reading {
    static VERDICTS: super::verdicts::Verdicts<Reading> = super::verdicts::Verdicts::new();
    VERDICTS.get_or(&format!("{ty:?}\u{0}{text}"), || {
        let compile = match condition::syntax_error(text) {
            // The crate failed, not Argo: say nothing about this condition.
            Some(e) if condition::is_unsupported(&e) => {
                return Reading {
                    compile: Ok(()),
                    probes: None,
                }
            }
            Some(e) => Err(e),
            None => condition::static_error(text, ty).map_or(Ok(()), Err),
        };
        let probes = match (&compile, ty) {
            (Err(_), _) | (_, ResultType::Unknown) => None,
            (Ok(()), ResultType::Vector) => eval_all(text, &VECTOR_PROBES),
            (Ok(()), ResultType::Scalar) => eval_all(text, &SCALAR_PROBES),
        };
        Reading { compile, probes }
    })
}

fn eval_all(text: &str, probes: &[Probe]) -> Option<Vec<(Probe, condition::Evaluation)>> {
    let results: Vec<ResultValue> = probes.iter().map(|p| p.result()).collect();
    let evals: Vec<_> = probes
        .iter()
        .copied()
        .zip(condition::eval_many(text, &results))
        .collect();
    let unsupported = evals.iter().any(|(_, e)| {
        e.value
            .as_ref()
            .is_err_and(|m| condition::is_unsupported(m))
    });
    (!unsupported).then_some(evals)
}

/// Builds the table for a metric's conditions (`None` or empty: unset, as Argo reads them).
pub fn table(success: Option<&str>, failure: Option<&str>, ty: ResultType) -> Table {
    let conditions: Vec<(Which, &str)> = [(Which::Success, success), (Which::Failure, failure)]
        .into_iter()
        .filter_map(|(w, t)| Some((w, t.filter(|t| !t.is_empty())?)))
        .collect();
    let mut out = Table::default();
    for &(which, text) in &conditions {
        if let Err(e) = reading(text, ty).compile {
            out.compile_errors.push((which, e));
        }
    }
    if !out.compile_errors.is_empty() {
        return out;
    }
    let types: &[ResultType] = match ty {
        ResultType::Unknown => &[ResultType::Vector, ResultType::Scalar],
        _ => std::slice::from_ref(&ty),
    };
    for &t in types {
        let readings: Vec<(Which, Reading)> = conditions
            .iter()
            .map(|&(w, text)| (w, reading(text, t)))
            .collect();
        // With an unknown type, a type that one condition cannot compile against is not it.
        // A condition this checker cannot evaluate leaves the table without rows.
        if readings
            .iter()
            .any(|(_, r)| r.compile.is_err() || r.probes.is_none())
        {
            continue;
        }
        let probes: &[Probe] = match t {
            ResultType::Scalar => &SCALAR_PROBES,
            _ => &VECTOR_PROBES,
        };
        for (i, &probe) in probes.iter().enumerate() {
            out.rows.push(row(probe, &readings, i));
        }
    }
    out
}

/// Argo's `EvaluateResult` over the two conditions' evaluations on one probe.
fn row(probe: Probe, readings: &[(Which, Reading)], i: usize) -> Row {
    let mut verdict = [None, None];
    let mut tested_nan = false;
    for (which, reading) in readings {
        let Some(eval) = reading
            .probes
            .as_ref()
            .and_then(|p| p.get(i))
            .map(|(_, e)| e)
        else {
            continue;
        };
        tested_nan |= eval.tested_nan;
        match &eval.value {
            Ok(v) => verdict[*which as usize] = Some(*v),
            Err(message) => {
                return Row {
                    probe,
                    measurement: Measurement {
                        phase: Phase::Error,
                        message: Some(message.clone()),
                    },
                    erred: Some(*which),
                    tested_nan,
                }
            }
        }
    }
    Row {
        probe,
        measurement: Measurement {
            phase: condition::combine(verdict[0], verdict[1]),
            message: None,
        },
        erred: None,
        tested_nan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phases(s: Option<&str>, f: Option<&str>, ty: ResultType) -> Vec<(Probe, Phase)> {
        table(s, f, ty)
            .rows
            .iter()
            .map(|r| (r.probe, r.measurement.phase))
            .collect()
    }

    #[test]
    fn guarded_vector_condition() {
        use Phase::*;
        assert_eq!(
            phases(
                Some("len(result) == 0 || result[0] >= 0.4"),
                None,
                ResultType::Vector
            ),
            [
                (Probe::Empty, Successful),
                (Probe::OneSample, Successful),
                (Probe::Several, Successful),
                (Probe::NaN, Failed),
                (Probe::Inf, Successful),
            ]
        );
    }

    #[test]
    fn index_before_guard_errors_on_empty() {
        let t = table(
            Some("result[0] >= 0.9 || len(result) == 0"),
            None,
            ResultType::Vector,
        );
        let empty = t.row(Probe::Empty).unwrap();
        assert_eq!(empty.measurement.phase, Phase::Error);
        assert_eq!(empty.erred, Some(Which::Success));
    }

    #[test]
    fn failure_only_passes_nan_unless_it_asks() {
        let t = table(None, Some("result[0] < 0.9"), ResultType::Vector);
        let nan = t.row(Probe::NaN).unwrap();
        assert_eq!(nan.measurement.phase, Phase::Successful);
        assert!(!nan.tested_nan);
        let t = table(
            None,
            Some("isNaN(result[0]) || result[0] < 0.9"),
            ResultType::Vector,
        );
        assert_eq!(t.row(Probe::NaN).unwrap().measurement.phase, Phase::Failed);
    }

    #[test]
    fn compile_errors_for_the_type() {
        let t = table(Some("result < 0.5"), None, ResultType::Vector);
        assert_eq!(t.compile_errors.len(), 1);
        assert!(t.rows.is_empty());
        assert!(table(Some("result < 0.5"), None, ResultType::Scalar)
            .compile_errors
            .is_empty());
        // Unknown type: only the scalar rows, since result < 0.5 cannot be a vector's.
        let t = table(Some("result < 0.5"), None, ResultType::Unknown);
        assert!(t.compile_errors.is_empty());
        assert_eq!(t.rows.len(), 3);
        assert!(!table(Some("result < args.x"), None, ResultType::Unknown)
            .compile_errors
            .is_empty());
    }

    #[test]
    fn a_condition_the_crate_cannot_evaluate_gives_no_verdict() {
        // Go's expr accepts `{a: -1}.a`; the crate panics on it: no row, no compile error.
        let t = table(Some("{a: -1}.a == -1"), None, ResultType::Vector);
        assert!(t.compile_errors.is_empty() && t.rows.is_empty(), "{t:?}");
    }
}
