//! Checks of the languages embedded in manifests: Argo argument tags, Go durations, PromQL (with
//! its Go regular expressions and Go number literals) and the expr language of conditions.

pub mod args;
pub mod boundary;
pub mod condition;
pub mod duration;
pub mod empty;
pub mod go_regex;
pub mod memo;
pub mod number;
pub mod probe;
pub mod prometheus_features;
pub mod promql;
