//! Helpers shared by the integration tests: the binary, temporary directories, and certificate
//! checks through the real `openssl` (`.ci/run` installs it when it is missing).

#![allow(dead_code)]

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

/// Runs `openssl ARGS`, returning stdout on success and `Err(stderr)` on failure. Panics when
/// openssl is not installed: the certificate checks must not be skipped silently.
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

/// A tool from the environment variable `var`, else `name` on PATH. Panics with how to install
/// it: a test that needs a real tool fails without it, it is never skipped.
pub fn tool(var: &str, name: &str, install: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.exists(), "{var}={} does not exist", p.display());
        return p;
    }
    on_path(name).unwrap_or_else(|| {
        panic!("{name} not found: run `export {var}=$({install})` (or put {name} on PATH)")
    })
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

/// The real helm (`HELM`, or helm on PATH).
pub fn helm_path() -> PathBuf {
    tool("HELM", "helm", ".ci/install-helm")
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

/// A tool `.ci/tools.sh` installs: the path in `var`, else where `.ci/tools.sh` puts it. Panics with a
/// message saying how to install it; these tests never skip.
pub fn cached_tool(var: &str, default_rel: &str, what: &str) -> PathBuf {
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

/// The `v1alpha1` schema of one of Argo's CRDs in the shared corpus (`crds/<file>`), made to
/// reject unknown fields as the apiserver's strict field validation does (without it, the
/// apiserver drops them silently).
pub fn strict_crd_schema(file: &str) -> Value {
    let path = repo().join("../shared/corpus/crds").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared corpus must be beside the checkout)",
            path.display()
        )
    });
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
