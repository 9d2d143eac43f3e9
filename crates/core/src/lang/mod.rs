//! The languages embedded in manifests, each parsed behind one checker boundary: Go durations,
//! PromQL (with its Go regular expressions and Go number literals) and the expr language of
//! conditions, with what Argo will make of a condition ([`probe`], [`empty`]).

pub mod boundary;
pub mod condition;
pub mod duration;
pub mod empty;
pub mod go_regex;
pub mod number;
pub mod probe;
pub mod prometheus_features;
pub mod promql;
pub mod verdicts;
