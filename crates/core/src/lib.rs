//! rollout-guard's core: one policy engine for Argo Rollouts, with no I/O. The webhook, the
//! linter, `mutate`/`--fix` and `analyze` (the `rollout-guard` crate) are edges around it.
//!
//! The data flow: bytes -> [`manifest`] (documents, with positions) -> [`engine::review`] (the
//! [`rules`] over the [`argo`] view of each object, the [`mutation`] plan, the [`policy`]'s
//! severities, templates from the [`lookup`]) -> findings and a JSON Patch. [`lint`] runs that
//! over sources into a [`report`]; [`mutation::source`] writes the patch back into YAML text.

pub mod argo;
pub mod engine;
pub mod lang;
pub mod lint;
pub mod lookup;
pub mod manifest;
pub mod mutation;
pub mod policy;
pub mod report;
pub mod rules;
pub mod source;

/// How many threads the CPU-bound passes use: the cores available, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}
