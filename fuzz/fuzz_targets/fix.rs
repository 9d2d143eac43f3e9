//! `--fix`'s edit of a file's text: any bytes. When the fix writes a text, that text parses,
//! and fixing it again changes nothing (the mutation is idempotent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollout_guard::engine::Context;
use rollout_guard::mutation;
use rollout_guard::policy::Policy;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    let policy = POLICY.get_or_init(Policy::embedded);
    let lookup = rollout_guard::lookup::shipped::lookup();
    let ctx = Context { policy, lookup: &lookup };
    let Ok(mutated) = mutation::source::mutate_source(data, &ctx, "") else { return };
    if mutated.changed.is_empty() {
        return;
    }
    let Ok(text) = mutated.text else { return };
    let again = mutation::source::mutate_source(text.as_bytes(), &ctx, "").expect("the fixed text parses");
    assert!(again.changed.is_empty(), "a second fix changed the fixed text:\n{text}");
});
