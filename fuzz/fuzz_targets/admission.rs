//! The webhook's core: any body as an AdmissionReview, through /mutate's handler. The answer
//! is an error or a response that parses as JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollout_guard::admission::{self, Webhook};
use rollout_guard::policy::Policy;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    let policy = POLICY.get_or_init(Policy::embedded);
    let lookup = rollout_guard::lookup::shipped::lookup();
    if let Ok(outcome) = admission::handle(Webhook::Mutate, data, policy, &lookup) {
        let v: serde_json::Value = serde_json::from_slice(&outcome.body).expect("the response is JSON");
        assert!(v["response"]["allowed"].is_boolean());
    }
});
