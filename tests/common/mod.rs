//! Helpers shared by the integration tests that drive real external tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The directory `.ci/tools.sh` installs the tools into when `ROLLOUT_GUARD_TOOLS` is unset.
fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ROLLOUT_GUARD_TOOLS") {
        return dir.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_default();
    cache.join("rollout-guard-ci")
}

/// A tool the tests need: the path in `var`, else where `.ci/tools.sh` puts it. Panics with a
/// message saying how to install it; these tests never skip.
pub fn tool(var: &str, default_rel: &str, what: &str) -> PathBuf {
    let path = match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => tools_dir().join(default_rel),
    };
    assert!(
        path.is_file(),
        "{what} is missing: {} does not exist. Install the test tools with \
         `source .ci/tools.sh` (what .ci/run does), or point {var} at it.",
        path.display()
    );
    path
}

/// A fresh directory under the system's temporary directory, unique to this call (tests run
/// in parallel in one process).
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rg-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The checkout's directory.
pub fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
