//! rollout-guard: one policy engine for Argo Rollouts, used as an admission webhook, an offline
//! linter and a mutator. See `DESIGN` notes in the README for the data flow:
//! bytes -> [`manifest`] -> [`engine::review`] -> a report, a patch or an AdmissionResponse.

pub mod admission;
pub mod analyze;
pub mod catalog;
pub mod certs;
pub mod certs_cli;
pub mod check;
pub mod cluster;
pub mod engine;
pub mod fix;
pub mod lint;
pub mod manifest;
pub mod mutate;
pub mod policy;
pub mod report;
pub mod rules;
pub mod server;

/// How many threads the CPU-bound passes use: the cores available, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}
