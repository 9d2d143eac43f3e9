//! Verdicts remembered by their input text: a bounded memo of the pure checks. Real repositories repeat the same
//! conditions and queries across many templates; a webhook sees the same object again on every
//! update. The checks are pure functions of the text, so remembering them changes no verdict.

use std::collections::HashMap;
use std::sync::Mutex;

/// Remembers up to `CAPACITY` results; when full it starts over rather than tracking recency.
pub struct Verdicts<V> {
    map: Mutex<Option<HashMap<String, V>>>,
}

const CAPACITY: usize = 4096;

impl<V: Clone> Verdicts<V> {
    /// An empty memo (usable in a `static`).
    pub const fn new() -> Self {
        Verdicts {
            map: Mutex::new(None),
        }
    }

    /// The remembered result for `key`, or `compute()` remembered. The computation runs outside
    /// the lock, so two threads may both compute a new key; both get the same answer.
    pub fn get_or(&self, key: &str, compute: impl FnOnce() -> V) -> V {
        if let Ok(guard) = self.map.lock() {
            if let Some(v) = guard.as_ref().and_then(|m| m.get(key)) {
                return v.clone();
            }
        }
        let value = compute();
        if let Ok(mut guard) = self.map.lock() {
            let map = guard.get_or_insert_with(HashMap::new);
            if map.len() >= CAPACITY {
                map.clear();
            }
            map.insert(key.to_string(), value.clone());
        }
        value
    }
}

impl<V: Clone> Default for Verdicts<V> {
    fn default() -> Self {
        Self::new()
    }
}
