//! Argo conditions: any text through the condition checker and evaluator behind the checker
//! boundary, against each kind of result Argo hands a condition.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollout_guard::lang::condition::{self, ResultType, ResultValue};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = condition::syntax_error(text);
    for ty in [ResultType::Vector, ResultType::Scalar, ResultType::Unknown] {
        let _ = condition::static_error(text, ty);
    }
    for result in [
        ResultValue::Vector(vec![]),
        ResultValue::Vector(vec![0.5, f64::NAN]),
        ResultValue::Scalar(f64::INFINITY),
    ] {
        let _ = condition::measure(Some(text), None, &result);
        let _ = condition::measure(None, Some(text), &result);
    }
});
