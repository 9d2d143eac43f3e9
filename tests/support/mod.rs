//! Helpers shared by the integration tests: the binary, temporary directories, what a test
//! needs from outside the checkout (tools, the shared corpus; skipped without them unless
//! `ROLLOUT_GUARD_REQUIRE_TOOLS=1`), `rollout-guard serve` as a process ([`serve`]), and
//! certificate checks through the real `openssl`.

#![allow(dead_code)]

pub mod serve;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `cmd` with `input` on its standard input; its output and errors are captured.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// The `rollout-guard` binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rollout-guard"))
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory under the system's temporary directory, `rg-NAME-PID-N`: unique to
/// this call (tests run in parallel in one process, and test processes in parallel on one
/// machine), removed when dropped. A failing test keeps it, and says where, to look into.
/// Derefs to its path.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rg-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for TempDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} (the test failed)", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs `openssl ARGS`, returning stdout on success and `Err(stderr)` on failure. Panics when
/// openssl is not installed: the tests that check certificates `require!(OPENSSL)` first.
pub fn openssl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}): install it (apt-get install openssl; .ci/run does)")
        });
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The DNS subject alternative names of a PEM certificate file, as openssl decodes them.
pub fn dns_sans(cert: &Path) -> Vec<String> {
    let text = openssl(&[
        "x509",
        "-noout",
        "-ext",
        "subjectAltName",
        "-in",
        cert.to_str().unwrap(),
    ])
    .unwrap();
    let mut sans: Vec<String> = text
        .split([',', '\n'])
        .map(str::trim)
        .filter_map(|s| s.strip_prefix("DNS:"))
        .map(str::to_string)
        .collect();
    sans.sort();
    sans
}

/// True when `cert` chains to `ca` and is a TLS server certificate for `host`.
pub fn verifies_for_host(ca: &Path, cert: &Path, host: &str) -> Result<(), String> {
    openssl(&[
        "verify",
        "-CAfile",
        ca.to_str().unwrap(),
        "-purpose",
        "sslserver",
        "-verify_hostname",
        host,
        cert.to_str().unwrap(),
    ])
    .map(drop)
}

/// The public key of a certificate and of a private key, to check that they belong together.
pub fn public_keys(cert: &Path, key: &Path) -> (String, String) {
    let from_cert = openssl(&["x509", "-noout", "-pubkey", "-in", cert.to_str().unwrap()]).unwrap();
    let from_key = openssl(&["pkey", "-pubout", "-in", key.to_str().unwrap()]).unwrap();
    (from_cert, from_key)
}

/// Decodes standard base64.
pub fn b64(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap_or_else(|e| panic!("not base64 ({e}): {text:.60}"))
}

/// `name` in one of the directories of PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

/// A TCP port free on loopback at the moment of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Parses a YAML stream with the crate's own loader into its non-empty documents.
pub fn parse_yaml_stream(text: &str) -> Vec<Value> {
    rollout_guard::manifest::yaml::parse_stream(text)
        .unwrap_or_else(|(_, e)| panic!("YAML does not parse: {e:?}\n{text}"))
        .into_iter()
        .filter_map(|d| d.root)
        .map(|n| rollout_guard::manifest::yaml::to_json(&n))
        .filter(|v| !v.is_null())
        .collect()
}

// What some tests need from outside the checkout: real tools (`.ci/test` installs them) and
// the shared corpus beside the checkout. A test asks for them first, with `require!(NEED)`;
// when one is missing it is skipped with a message saying what to install, unless
// `ROLLOUT_GUARD_REQUIRE_TOOLS=1` (which `.ci/test`, and so CI, sets): then it fails.

/// Something a test needs that may be missing from a fresh clone.
pub struct Need {
    /// What it is, as the skip message names it.
    pub what: &'static str,
    /// How to get it.
    pub install: &'static str,
    /// Where it is, or why it is not there.
    find: fn() -> Result<PathBuf, String>,
}

/// The real helm: `HELM`, or helm on PATH.
pub const HELM: Need = Need {
    what: "helm",
    install: "`.ci/test` installs it (`export HELM=$(.ci/install-helm)`)",
    find: || from_var_or_path("HELM", "helm"),
};

/// kubernetes-validate, with the Kubernetes API schemas: `KUBERNETES_VALIDATE`, or on PATH.
pub const KUBERNETES_VALIDATE: Need = Need {
    what: "kubernetes-validate",
    install: "`.ci/test` installs it \
              (`export KUBERNETES_VALIDATE=$(.ci/install-kubernetes-validate)`)",
    find: || from_var_or_path("KUBERNETES_VALIDATE", "kubernetes-validate"),
};

/// pre-commit: `ROLLOUT_GUARD_PRE_COMMIT`, or where `.ci/tools.sh` installs it.
pub const PRE_COMMIT: Need = Need {
    what: "pre-commit",
    install: "`.ci/test` installs it (`source .ci/tools.sh`)",
    find: || from_var_or_cache("ROLLOUT_GUARD_PRE_COMMIT", "pre-commit/bin/pre-commit"),
};

/// Microsoft's SARIF multitool: `ROLLOUT_GUARD_SARIF_MULTITOOL`, or where `.ci/tools.sh` puts it.
pub const SARIF_MULTITOOL: Need = Need {
    what: "Microsoft's SARIF multitool",
    install: "`.ci/test` installs it (`source .ci/tools.sh`)",
    find: || {
        from_var_or_cache(
            "ROLLOUT_GUARD_SARIF_MULTITOOL",
            "sarif-multitool/package/Sarif.Multitool",
        )
    },
};

/// The SARIF 2.1.0 JSON schema shipped with the multitool: `ROLLOUT_GUARD_SARIF_SCHEMA`, or
/// where `.ci/tools.sh` puts it.
pub const SARIF_SCHEMA: Need = Need {
    what: "the SARIF 2.1.0 JSON schema",
    install: "`.ci/test` installs it (`source .ci/tools.sh`)",
    find: || {
        from_var_or_cache(
            "ROLLOUT_GUARD_SARIF_SCHEMA",
            "sarif-multitool/package/sarif-2.1.0.json",
        )
    },
};

/// openssl on PATH.
pub const OPENSSL: Need = Need {
    what: "openssl",
    install: "`.ci/test` installs it (`apt-get install openssl`)",
    find: || on_path("openssl").ok_or_else(|| "not on PATH".into()),
};

/// curl on PATH.
pub const CURL: Need = Need {
    what: "curl",
    install: "`.ci/test` installs it (`apt-get install curl`)",
    find: || on_path("curl").ok_or_else(|| "not on PATH".into()),
};

/// patch(1) on PATH.
pub const PATCH: Need = Need {
    what: "patch",
    install: "`.ci/test` installs it (`apt-get install patch`)",
    find: || on_path("patch").ok_or_else(|| "not on PATH".into()),
};

/// Prometheus and promtool on PATH (the path is prometheus's).
pub const PROMETHEUS: Need = Need {
    what: "prometheus and promtool",
    install: "`.ci/test` installs them (`apt-get install prometheus`, Debian's package has both)",
    find: || {
        on_path("promtool").ok_or("promtool is not on PATH")?;
        on_path("prometheus").ok_or_else(|| "prometheus is not on PATH".into())
    },
};

/// The shared corpus and fixtures beside the checkout (`../shared`, read in place), or
/// `ROLLOUT_GUARD_SHARED`.
pub const SHARED: Need = Need {
    what: "the shared corpus",
    install: "it must be beside the checkout as ../shared (`.ci/test` requires it)",
    find: || {
        let dir = std::env::var_os("ROLLOUT_GUARD_SHARED")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("../shared"));
        for sub in ["corpus", "fixtures"] {
            if !dir.join(sub).is_dir() {
                return Err(format!("{} is missing", dir.join(sub).display()));
            }
        }
        Ok(dir)
    },
};

/// True when a missing tool fails the test rather than skipping it: `.ci/test` (what CI runs)
/// sets `ROLLOUT_GUARD_REQUIRE_TOOLS=1`.
pub fn tools_required() -> bool {
    std::env::var_os("ROLLOUT_GUARD_REQUIRE_TOOLS").is_some_and(|v| v == "1")
}

impl Need {
    /// Where it is. `None` after printing why the test is skipped; a panic instead under
    /// `ROLLOUT_GUARD_REQUIRE_TOOLS=1`.
    pub fn require(&self) -> Option<PathBuf> {
        match (self.find)() {
            Ok(path) => Some(path),
            Err(why) => {
                let message = format!("{} not found ({why}); {}", self.what, self.install);
                assert!(
                    !tools_required(),
                    "{message}. ROLLOUT_GUARD_REQUIRE_TOOLS=1: tests never skip"
                );
                // Straight to stderr, past the test harness's capture: a skip is always seen.
                use std::io::Write as _;
                let test = std::thread::current();
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped {}: {message}",
                    test.name().unwrap_or("test")
                );
                None
            }
        }
    }

    /// Where it is, for helpers of tests that have already required it: a panic saying how to
    /// install it when it is missing.
    pub fn path(&self) -> PathBuf {
        (self.find)()
            .unwrap_or_else(|why| panic!("{} not found ({why}); {}", self.what, self.install))
    }
}

/// Returns from the test, skipped, when the `Need` is missing (see [`Need::require`]);
/// otherwise its path.
#[macro_export]
macro_rules! require {
    ($($need:expr),+ $(,)?) => {
        ($(match $need.require() {
            Some(path) => path,
            None => return,
        }),+)
    };
}

/// One `#[test]` per case of a table, so that one failing case hides no other:
/// `cases! { check: name => (arg, ...), ... }` makes `fn name() { check(arg, ...) }` for each.
#[macro_export]
macro_rules! cases {
    ($check:path: $($name:ident => ($($arg:expr),* $(,)?)),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $check($($arg),*)
            }
        )+
    };
}

/// The shared corpus directory, `../shared` (see [`SHARED`]); for tests that required it.
pub fn shared() -> PathBuf {
    SHARED.path()
}

/// A tool from the environment variable `var`, else `name` on PATH.
fn from_var_or_path(var: &str, name: &str) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.exists() {
            Ok(p)
        } else {
            Err(format!("{var}={} does not exist", p.display()))
        };
    }
    on_path(name).ok_or_else(|| format!("{var} is unset and {name} is not on PATH"))
}

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

/// A file `.ci/tools.sh` installs: the path in `var`, else where `.ci/tools.sh` puts it.
fn from_var_or_cache(var: &str, default_rel: &str) -> Result<PathBuf, String> {
    let path = match std::env::var_os(var) {
        Some(p) => PathBuf::from(p),
        None => tools_dir().join(default_rel),
    };
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

/// The `v1alpha1` schema of one of Argo's CRDs in the shared corpus (`crds/<file>`), made to
/// reject unknown fields as the apiserver's strict field validation does (without it, the
/// apiserver drops them silently).
pub fn strict_crd_schema(file: &str) -> Value {
    let path = shared().join("corpus/crds").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let crd = parse_yaml_stream(&text).remove(0);
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1alpha1")
        .unwrap_or_else(|| panic!("{file}: no v1alpha1 version"));
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    strict(&mut schema);
    schema
}

fn strict(schema: &mut Value) {
    if let Some(map) = schema.as_object_mut() {
        let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserve
        {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        for v in map.values_mut() {
            strict(v);
        }
    } else if let Some(items) = schema.as_array_mut() {
        items.iter_mut().for_each(strict);
    }
}

/// Every object of a reviewed kind under `dir` (`../shared/corpus` or the captured
/// AdmissionReviews), named by file and object: the documents of each YAML file, and the
/// `request.object` of each CREATE or UPDATE AdmissionReview (`*.json`).
pub fn reviewed_objects(dir: &Path) -> Vec<(String, rollout_guard::manifest::Object)> {
    use rollout_guard::manifest::{self, Document, Object};
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .unwrap_or_else(|e| {
                    panic!(
                        "{}: {e} (the shared corpus must be beside the checkout)",
                        path.display()
                    )
                })
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            stack.extend(entries.into_iter().rev());
            continue;
        }
        let name = path.display().to_string();
        if name.ends_with(".yaml") || name.ends_with(".yml") {
            for doc in manifest::parse_bytes(&std::fs::read(&path).unwrap()).documents {
                if let Document::Object { object, .. } = doc {
                    out.push((format!("{name}: {}", object.name), *object));
                }
            }
        } else if name.ends_with(".json") {
            let Ok(review) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap()) else {
                continue;
            };
            let request = &review["request"];
            if matches!(request["operation"].as_str(), Some("CREATE" | "UPDATE")) {
                if let Some(obj) = Object::from_value(request["object"].clone()) {
                    out.push((name, obj));
                }
            }
        }
    }
    out
}
