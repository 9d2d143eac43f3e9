//! The Argo Rollouts object model as rollout-guard reads it: lenient views over the JSON (a field
//! of the wrong type reads as absent; the rules report it), each with the keys and pointers of
//! what it reads.

pub mod args;
pub mod rollout;
