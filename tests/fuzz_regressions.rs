//! Every input in `fuzz/regressions/TARGET/` goes through what that fuzz target runs, in
//! process: the crashes the fuzzers (and the hostile inputs) found stay fixed. A crash
//! artifact from `fuzz/artifacts/TARGET/` is added by copying it there under a name that says
//! what it broke.

use rollout_guard::admission::{self, Webhook};
use rollout_guard::engine::{self, Context};
use rollout_guard::lang::condition::{self, ResultType, ResultValue};
use rollout_guard::manifest::{self, Document};
use rollout_guard::policy::Policy;
use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs each input on a thread with the 2 MiB stack of a tokio worker, where the webhook runs
/// its reviews: a stack overflow aborts the test binary, a panic fails the test naming the input.
fn replay(target: &str, run: fn(&[u8])) {
    let cases = inputs(target);
    for (name, bytes) in cases {
        std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || run(&bytes))
            .unwrap()
            .join()
            .unwrap_or_else(|_| panic!("{target}/{name} panicked"));
    }
}

#[test]
fn manifest() {
    replay("manifest", |data| {
        let policy = Policy::embedded();
        let lookup = rollout_guard::lookup::shipped::lookup();
        for doc in manifest::parse_bytes(data).documents {
            if let Document::Object { object, .. } = doc {
                engine::review(
                    &object,
                    &Context {
                        policy: &policy,
                        lookup: &lookup,
                    },
                );
            }
        }
    });
}

#[test]
fn condition() {
    replay("condition", |data| {
        let text = String::from_utf8_lossy(data);
        let _ = condition::syntax_error(&text);
        for ty in [ResultType::Vector, ResultType::Scalar, ResultType::Unknown] {
            let _ = condition::static_error(&text, ty);
        }
        for result in [ResultValue::Vector(vec![]), ResultValue::Scalar(f64::NAN)] {
            let _ = condition::measure(Some(&text), None, &result);
        }
    });
}

#[test]
fn promql() {
    replay("promql", |data| {
        let text = String::from_utf8_lossy(data);
        let _ = rollout_guard::lang::promql::check(&text, &|_| None);
    });
}

#[test]
fn admission() {
    replay("admission", |data| {
        let policy = Policy::embedded();
        let lookup = rollout_guard::lookup::shipped::lookup();
        if let Ok(outcome) = admission::handle(Webhook::Mutate, data, &policy, &lookup) {
            serde_json::from_slice::<serde_json::Value>(&outcome.body).expect("a JSON answer");
        }
    });
}

#[test]
fn fix() {
    replay("fix", |data| {
        let policy = Policy::embedded();
        let lookup = rollout_guard::lookup::shipped::lookup();
        let ctx = Context {
            policy: &policy,
            lookup: &lookup,
        };
        if let Ok(m) = rollout_guard::mutation::source::mutate_source(data, &ctx, "") {
            if let (false, Ok(text)) = (m.changed.is_empty(), m.text) {
                let again =
                    rollout_guard::mutation::source::mutate_source(text.as_bytes(), &ctx, "")
                        .expect("the fixed text parses");
                assert!(again.changed.is_empty(), "fixing twice changed it:\n{text}");
            }
        }
    });
}
