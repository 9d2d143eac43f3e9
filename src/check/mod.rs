//! Checks of the languages embedded in manifests: Argo argument tags, Go durations, PromQL and
//! the expr language of conditions.

pub mod args;
pub mod boundary;
pub mod condition;
pub mod duration;
pub mod empty;
pub mod memo;
pub mod probe;
pub mod promql;
