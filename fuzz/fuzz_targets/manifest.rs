//! The manifest reader and the engine on any bytes: every document that parses is reviewed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollout_guard::engine::{self, Context};
use rollout_guard::manifest::{self, Document};
use rollout_guard::policy::Policy;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    let policy = POLICY.get_or_init(Policy::embedded);
    let lookup = rollout_guard::lookup::shipped::lookup();
    let parsed = manifest::parse_bytes(data);
    for doc in parsed.documents {
        if let Document::Object { object, .. } = doc {
            let _ = engine::review(&object, &Context { policy, lookup: &lookup });
        }
    }
});
