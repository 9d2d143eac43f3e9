//! The one place `analyze` decides a measurement: the same evaluator `lint` predicts with
//! (`check::condition::measure`, Argo's `evaluate.EvaluateResult`), on the value converted from
//! Prometheus's answer.

use super::convert::Value;
use super::counting::Verdict;
use crate::lang::condition::{measure, Phase, ResultValue};

/// The phase and message Argo would record for `value` under these conditions.
pub fn classify(
    success: Option<&str>,
    failure: Option<&str>,
    value: &Value,
) -> (Verdict, Option<String>) {
    let result = match value {
        Value::Vector(xs) => ResultValue::Vector(xs.clone()),
        Value::Scalar(x) => ResultValue::Scalar(*x),
    };
    let m = measure(success, failure, &result);
    let verdict = match m.phase {
        Phase::Successful => Verdict::Successful,
        Phase::Failed => Verdict::Failed,
        Phase::Inconclusive => Verdict::Inconclusive,
        Phase::Error => Verdict::Error,
    };
    (verdict, m.message)
}
