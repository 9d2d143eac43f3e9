//! PromQL queries: any text, with argument tags, through RG102's checker.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rollout_guard::lang::promql::check(text, &|_| None);
        let _ = rollout_guard::lang::promql::check(text, &|name| Some(name.to_string()));
    }
});
