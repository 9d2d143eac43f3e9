//! Mutation: what the policy injects ([`plan`], as JSON Patch operations) and that patch written
//! back into a manifest's own text ([`source`], by [`edit`]s rendered in its style by
//! [`render`]), for `rollout-guard mutate`, `lint --fix` and `lint --diff`.

pub mod edit;
pub mod plan;
pub mod render;
pub mod source;

pub use plan::*;
