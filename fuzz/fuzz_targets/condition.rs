//! Argo conditions: any text through the condition checker behind the checker boundary.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rollout_guard::check::condition::syntax_error(text);
        let _ = rollout_guard::check::condition::indexes_result(text);
        let _ = rollout_guard::check::condition::guards_empty_result(text);
    }
});
