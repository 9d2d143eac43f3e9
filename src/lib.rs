//! rollout-guard: one policy engine for Argo Rollouts, used as an admission webhook, an offline
//! linter and a mutator. The engine is the `rollout-guard-core` crate (no I/O, re-exported
//! here under the same paths); this crate holds the edges around it: reading the linter's
//! input ([`input`]), writing fixes ([`fix`]), rendering reports ([`render`]), the webhook
//! ([`server`], [`admission`]), the cluster lookup ([`cluster`]), `analyze` and certificates.

pub use rollout_guard_core::{
    argo, engine, lang, lint, lookup, manifest, mutation, policy, report, rules, source, threads,
};

pub mod admission;
pub mod analyze;
pub mod certs;
pub mod certs_cli;
pub mod cluster;
pub mod fix;
pub mod input;
pub mod render;
pub mod server;
