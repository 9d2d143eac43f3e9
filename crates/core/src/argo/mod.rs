//! The Argo Rollouts object model as rollout-guard reads it: lenient views over the JSON (a field
//! of the wrong type reads as absent; the rules report it), each with the keys and pointers of
//! what it reads.

pub mod args;
pub mod rollout;
pub mod template;

use serde_json::Value;

/// A scalar's text as Argo would substitute it.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}
